"""`manage.py seed_demo`: a realistic demo MSP, built only through agreements.services.

Every balance change goes through the services (sell a block, mark it paid,
log time), so the demo ledger is exactly what real use would have written.
Dates are relative to today and every random choice comes from one seeded
generator, so runs on the same day build the same data. The history is
replayed in date order across all clients, so tickets, time entries and
ledger rows are created in the order they would have happened.

A second run finds the demo staff user and changes nothing.
"""

import datetime
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from agreements import services
from agreements.domain import charged_minutes, format_minutes
from agreements.models import (
    Agreement,
    Client,
    CreditPolicy,
    OveragePolicy,
    RoundingMode,
    Ticket,
    TicketStatus,
    Tier,
    TimeEntry,
    WorkType,
)
from billing import services as billing_services
from billing.models import PaymentMethod, SellerProfile
from billing.selectors import seller_profile_get

# Demo data only, documented to sign in to the seeded demo.
DEMO_PASSWORD = "blockhours-demo"  # nosec B105
SEED = 20240917
# About four months of time entries, ending today.
HISTORY_DAYS = 115
FIRST_TICKET_NUMBER = 24101
# A "fill" entry may use up to this much of what is left, so totals come out exact.
MAX_FILL_MINUTES = 240
# Tickets with no work for this long are shown closed, the rest open.
CLOSE_AFTER_DAYS = 10

NORMAL, AFTER_HOURS, EMERGENCY, NON_BILLABLE = "Normal", "After-hours", "Emergency", "Non-billable"


# ---------------------------------------------------------------------------
# The demo, as data


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    email: str
    receives_invoices: bool = True
    title: str = ""


@dataclass(frozen=True)
class Scripted:
    """A hand-written entry that tells part of the client's story, with its own ticket."""

    days_ago: int
    work_type: str
    minutes: int
    subject: str
    notes: str
    technician: str


@dataclass(frozen=True)
class AgreementSpec:
    name: str = "Prepaid support hours"
    threshold: int = 120
    increment: int = 15
    rounding: str = RoundingMode.UP
    overage: str = OveragePolicy.REJECT
    overage_limit: int = 0
    credit: str = CreditPolicy.ON_PAYMENT
    reload_tier_hours: int | None = None  # set: auto-reload with this tier
    work_types: tuple[str, ...] = ()  # empty: every work type
    days_ago: int | None = None  # term start; default: the first block's sale
    days_left: int | None = None  # fixed term ending this many days from today


@dataclass(frozen=True)
class ClientSpec:
    name: str
    scenario: str
    billing_email: str
    billing_address: str
    contacts: tuple[Person, ...]
    blocks: tuple[tuple[int, int], ...]  # (days ago, tier hours), oldest first
    final_balance: int  # minutes left today: what this client demonstrates
    agreement: AgreementSpec = AgreementSpec()
    hourly_rate: Decimal = Decimal("100.00")
    billing_name: str = ""
    subjects: tuple[str, ...] = ()
    scripted: tuple[Scripted, ...] = ()
    currency: str = ""  # empty: the site's default
    language: str = "en"  # of the client's invoices, statements and emails; its tickets too


MSP_DOMAIN = "lakeside-it.example"
STAFF = Person("morgan.lee", "Morgan", "Lee", f"morgan@{MSP_DOMAIN}", title="owner")
BILLING = Person("priya.shah", "Priya", "Shah", f"billing@{MSP_DOMAIN}", title="billing")
TECHNICIANS = (
    Person("jamie.cole", "Jamie", "Cole", f"jamie@{MSP_DOMAIN}"),
    Person("ravi.nair", "Ravi", "Nair", f"ravi@{MSP_DOMAIN}"),
    Person("ana.torres", "Ana", "Torres", f"ana@{MSP_DOMAIN}"),
)
ADMIN_USERNAME = "admin"

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        name="Northwind Logistics",
        scenario="healthy: 30 h blocks, any overage billed at the hourly rate",
        billing_email="ap@northwind-logistics.example",
        billing_address="4100 Harbor Industrial Pkwy\nTacoma, WA 98421",
        hourly_rate=Decimal("125.00"),
        contacts=(
            Person("tom.becker", "Tom", "Becker", "tom.becker@northwind-logistics.example"),
            Person("grace.okafor", "Grace", "Okafor", "grace.okafor@northwind-logistics.example", False),
        ),
        blocks=((112, 30), (52, 30)),
        final_balance=1290,
        agreement=AgreementSpec(threshold=240, overage=OveragePolicy.BILL_OVERAGE),
        subjects=(
            "Warehouse handheld scanners not syncing",
            "Label printer at dock 4 prints blank labels",
            "Forklift tablet lost Wi-Fi after AP firmware update",
            "Dispatch screen wall: second monitor not detected",
        ),
        scripted=(
            Scripted(
                days_ago=47,
                work_type=EMERGENCY,
                minutes=150,
                subject="Ransomware alert on a warehouse PC",
                notes="Called out at 6 a.m.: isolated the PC, confirmed the EDR stopped the encryption, "
                "reimaged it and restored the user's files from last night's backup.",
                technician="ravi.nair",
            ),
        ),
    ),
    ClientSpec(
        name="Pinecrest Family Dental",
        scenario="auto-reload: a 20 h block is added when low",
        billing_email="office@pinecrest-dental.example",
        billing_address="218 Pinecrest Road, Suite 3\nAsheville, NC 28803",
        contacts=(
            Person("dana.whitfield", "Dana", "Whitfield", "dana@pinecrest-dental.example"),
            Person("marisol.vega", "Marisol", "Vega", "marisol@pinecrest-dental.example", False),
        ),
        blocks=((114, 20), (70, 20), (23, 20)),
        final_balance=930,
        agreement=AgreementSpec(credit=CreditPolicy.IMMEDIATE, reload_tier_hours=20),
        subjects=(
            "Imaging bridge error on operatory 3",
            "Intraoral camera driver broken after Windows update",
            "Front desk card reader not connecting",
            "Practice software backup verification",
        ),
    ),
    ClientSpec(
        name="Harbor Veterinary Clinic",
        scenario="exhausted: new time is refused until a block is sold",
        billing_email="accounts@harborvet.example",
        billing_address="77 Wharf Street\nPortland, ME 04101",
        contacts=(Person("ellen.marsh", "Ellen", "Marsh", "ellen@harborvet.example"),),
        blocks=((108, 10), (55, 10)),
        final_balance=0,
        subjects=(
            "Practice management system slow at front desk",
            "Prescription label printer jams",
            "X-ray workstation cannot reach the image server",
        ),
        scripted=(
            Scripted(
                days_ago=19,
                work_type=NON_BILLABLE,
                minutes=30,
                subject="Follow-up on replaced network switch (warranty RMA)",
                notes="No charge: chased the vendor's RMA for the switch we replaced.",
                technician="jamie.cole",
            ),
        ),
    ),
    ClientSpec(
        name="Brightline Accounting",
        scenario="near its threshold: a few more tickets trigger a reload",
        billing_email="billing@brightline-cpa.example",
        billing_address="9 Commerce Square, 5th floor\nHartford, CT 06103",
        hourly_rate=Decimal("110.00"),
        contacts=(
            Person("howard.lin", "Howard", "Lin", "howard.lin@brightline-cpa.example"),
            Person("keisha.brown", "Keisha", "Brown", "keisha.brown@brightline-cpa.example", False),
        ),
        blocks=((98, 20),),
        final_balance=150,
        # Accountants bill in tenths of an hour themselves and expect the same.
        agreement=AgreementSpec(increment=6, rounding=RoundingMode.NEAREST),
        subjects=(
            "Tax software update before the filing deadline",
            "Client portal uploads failing",
            "Scanner profiles for tax season",
        ),
        scripted=(
            Scripted(
                days_ago=12,
                work_type=NORMAL,
                minutes=5,
                subject="Quick advice: is this 'IRS' email genuine?",
                notes="Five-minute call: phishing; told them not to click and reported it.",
                technician="ana.torres",
            ),
        ),
    ),
    ClientSpec(
        name="Oakridge Law Group",
        scenario="low: at or below its threshold, a reload is due",
        billing_email="accounting@oakridgelaw.example",
        billing_address="1500 Oak Street\nBoise, ID 83702",
        hourly_rate=Decimal("120.00"),
        contacts=(
            Person("rebecca.stein", "Rebecca", "Stein", "rstein@oakridgelaw.example", False),
            Person("carlos.mendez", "Carlos", "Mendez", "cmendez@oakridgelaw.example"),
        ),
        blocks=((110, 10), (64, 20)),
        final_balance=105,
        agreement=AgreementSpec(threshold=180, overage=OveragePolicy.ALLOW_NEGATIVE, overage_limit=120),
        subjects=(
            "Case management sync errors",
            "Document search not indexing new files",
            "E-filing certificate renewal",
            "Conference room display for depositions",
        ),
    ),
    ClientSpec(
        name="Summit Ridge Credit Union",
        scenario="yearly block: unused hours expire with the term",
        billing_name="Summit Ridge Federal Credit Union",
        billing_email="finance@summitridgecu.example",
        billing_address="300 Summit Avenue\nBoulder, CO 80302",
        hourly_rate=Decimal("130.00"),
        contacts=(
            Person("jordan.reyes", "Jordan", "Reyes", "jreyes@summitridgecu.example", False),
            Person("linda.park", "Linda", "Park", "lpark@summitridgecu.example"),
        ),
        blocks=((340, 30),),
        final_balance=540,
        agreement=AgreementSpec(name="Annual support hours", days_ago=340, days_left=21),
        subjects=(
            "Teller workstation replacement",
            "Core banking client update",
            "Quarterly vulnerability scan findings",
            "Drive-up window intercom PC reboots",
        ),
    ),
    ClientSpec(
        name="Maple Street Bakery",
        scenario="new client: one 10 h block, normal and after-hours work only",
        billing_email="hello@maplestreetbakery.example",
        billing_address="42 Maple Street\nBurlington, VT 05401",
        hourly_rate=Decimal("95.00"),
        contacts=(Person("sofia.marino", "Sofia", "Marino", "sofia@maplestreetbakery.example"),),
        blocks=((38, 10),),
        final_balance=300,
        agreement=AgreementSpec(work_types=(NORMAL, AFTER_HOURS)),
        subjects=(
            "POS terminal offline",
            "Guest Wi-Fi separate from the registers",
            "Online ordering tablet keeps logging out",
        ),
    ),
    ClientSpec(
        name="Studio Dentistico Bianchi",
        scenario="Italian client, in euros: low, its reload invoice and emails in Italian",
        billing_email="amministrazione@studiobianchi.example",
        billing_address="Via Solferino 12\n20121 Milano MI\nItalia",
        hourly_rate=Decimal("80.00"),
        currency="EUR",
        language="it",
        contacts=(Person("giulia.bianchi", "Giulia", "Bianchi", "giulia@studiobianchi.example"),),
        blocks=((75, 20),),
        final_balance=90,
        agreement=AgreementSpec(name="Ore di assistenza prepagate"),
        subjects=(
            "Il gestionale dello studio non si avvia",
            "Stampante delle ricette non stampa",
            "Backup notturno non riuscito",
            "Nuova postazione in reception",
            "Il Wi-Fi degli ospiti non funziona",
            "Aggiornamento del software radiografico",
        ),
    ),
)

GENERIC_SUBJECTS = (
    "Outlook keeps asking for the password",
    "New hire onboarding: laptop and Microsoft 365 account",
    "Printer on the second floor offline",
    "VPN drops every few minutes",
    "Backup job failed overnight",
    "Set up MFA for all users",
    "Shared drive permissions for the finance team",
    "Phishing email reported: check mailbox rules",
    "Teams calls drop audio",
    "Scan to email stopped working",
    "Monthly server patching",
    "Offboarding: disable account and forward mail",
    "Replace failing drive in the NAS",
    "Wi-Fi dead spot in the conference room",
    "Migrate user to a new PC",
    "Firewall firmware update",
)
NOTES = {
    NORMAL: (
        "Remote session with the user; fixed and confirmed working.",
        "Checked the logs, applied the vendor's fix, tested.",
        "Phone call: walked the user through it.",
        "On site: diagnosed and fixed; tested with the user.",
        "Follow-up: confirmed the problem has not come back.",
        "Updated the client's documentation after the change.",
    ),
    AFTER_HOURS: (
        "Evening window so staff were not interrupted: updates applied, rebooted, checked services.",
        "After hours at the client's request; change made and verified.",
    ),
    NON_BILLABLE: (
        "No charge: follow-up on our own earlier fix.",
        "No charge: vendor warranty call.",
    ),
}
# The same notes for clients served in Italian.
NOTES_IT = {
    NORMAL: (
        "Sessione remota con l'utente: risolto e verificato.",
        "Controllati i log, applicata la correzione del fornitore, provato.",
        "Telefonata: guidato l'utente passo passo.",
        "In sede: diagnosticato e risolto, provato con l'utente.",
        "Verifica successiva: il problema non si è ripresentato.",
    ),
    AFTER_HOURS: ("Fuori orario su richiesta del cliente: modifica eseguita e verificata.",),
    NON_BILLABLE: ("Senza addebito: verifica di un nostro intervento precedente.",),
}
WORKED_MINUTES = {
    NORMAL: (5, 10, 15, 20, 25, 30, 30, 45, 45, 60, 60, 75, 90, 120, 150, 180),
    AFTER_HOURS: (30, 60, 90, 120),
    NON_BILLABLE: (10, 15, 20, 30),
}
# Randomly drawn work is mostly normal; the one emergency is scripted.
WORK_TYPE_WEIGHTS = {NORMAL: 85, AFTER_HOURS: 10, NON_BILLABLE: 5}


# ---------------------------------------------------------------------------
# Planning: the history as dated events, adding up to each client's final balance


@dataclass(frozen=True)
class Sale:
    on: datetime.date
    client: str
    tier_hours: int


@dataclass(frozen=True)
class Work:
    on: datetime.date
    client: str
    ticket: tuple[str, int]  # (client, ticket index within the client)
    subject: str
    technician: str
    work_type: str
    minutes: int
    notes: str


@dataclass
class Planner:
    """Turns the client specs into dated events; needs the rates from the database."""

    today: datetime.date
    tiers: dict[int, Tier]
    work_types: dict[str, WorkType]
    # Reproducible demo data, not security.
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))  # nosec B311

    def plan(self, spec: ClientSpec) -> list[Sale | Work]:
        sales = [Sale(self.days_ago(days), spec.name, hours) for days, hours in spec.blocks]
        scripted = [self.scripted_work(spec, index, item) for index, item in enumerate(spec.scripted)]
        events: list[Sale | Work] = [*sales, *scripted]
        subjects = self.subject_pool(spec)
        balance = 0
        for index, sale in enumerate(sales):
            last = index == len(sales) - 1
            end = self.today if last else sales[index + 1].on - datetime.timedelta(days=1)
            # A block is bought again when the balance runs low, so earlier periods end near the threshold.
            leave = spec.final_balance if last else self.rng.randrange(30, spec.agreement.threshold + 1, 30)
            balance += self.tiers[sale.tier_hours].minutes
            budget = (
                balance
                - leave
                - sum(self.charged(spec, w.work_type, w.minutes) for w in scripted if sale.on <= w.on <= end)
            )
            if budget < 0:
                raise CommandError(f"The demo plan for {spec.name} does not add up (period from {sale.on}).")
            start = max(sale.on, self.days_ago(HISTORY_DAYS))
            events += self.period(spec, start, end, budget, subjects, first_ticket=len(scripted) + 1000 * index)
            balance = leave
        return events

    def days_ago(self, days: int) -> datetime.date:
        return self.today - datetime.timedelta(days=days)

    def charged(self, spec: ClientSpec, work_type: str, minutes: int) -> int:
        """What the services will charge: the same domain rule, with the multipliers as stored."""
        return charged_minutes(
            minutes=minutes,
            increment=spec.agreement.increment,
            rounding_mode=spec.agreement.rounding,
            multiplier=self.work_types[work_type].multiplier,
        )

    def scripted_work(self, spec: ClientSpec, index: int, item: Scripted) -> Work:
        return Work(
            self.days_ago(item.days_ago),
            spec.name,
            (spec.name, index),
            item.subject,
            item.technician,
            item.work_type,
            item.minutes,
            item.notes,
        )

    def period(
        self,
        spec: ClientSpec,
        start: datetime.date,
        end: datetime.date,
        budget: int,
        subjects: list[str],
        first_ticket: int,
    ) -> list[Work]:
        """Random work between two dates whose charged minutes add up to exactly `budget`."""
        pieces = sorted(
            (
                (self.work_date(work_type, start, end), work_type, minutes)
                for work_type, minutes in self.pieces(spec, budget)
            ),
            key=lambda piece: piece[0],
        )
        work: list[Work] = []
        ticket_index, ticket_left, technician, subject = first_ticket, 0, "", ""
        for on, work_type, minutes in pieces:
            # A ticket takes one to three entries, close together, by one technician.
            if ticket_left == 0 or (work and (on - work[-1].on).days > 7):
                ticket_index += 1
                ticket_left = self.rng.choice((1, 1, 2, 2, 3))
                technician = self.rng.choice(TECHNICIANS).username
                subject = subjects.pop() if subjects else self.rng.choice(spec.subjects or GENERIC_SUBJECTS)
            ticket_left -= 1
            notes = self.rng.choice((NOTES if spec.language == "en" else NOTES_IT)[work_type])
            work.append(Work(on, spec.name, (spec.name, ticket_index), subject, technician, work_type, minutes, notes))
        return work

    def pieces(self, spec: ClientSpec, budget: int) -> list[tuple[str, int]]:
        """(work type, worked minutes) drawn at random until the charged minutes reach `budget` exactly."""
        pieces: list[tuple[str, int]] = []
        left = budget
        allowed = [
            name for name in WORK_TYPE_WEIGHTS if not spec.agreement.work_types or name in spec.agreement.work_types
        ]
        while left > 0:
            work_type = self.rng.choices(allowed, weights=[WORK_TYPE_WEIGHTS[name] for name in allowed])[0]
            minutes = self.rng.choice(WORKED_MINUTES[work_type])
            charged = self.charged(spec, work_type, minutes)
            # Only whole increments keep the rest payable by one normal entry; draw again otherwise.
            if charged % spec.agreement.increment or (charged == 0 and work_type != NON_BILLABLE):
                continue
            if charged > left:
                if left > MAX_FILL_MINUTES:
                    continue
                work_type, minutes, charged = NORMAL, left, left
            pieces.append((work_type, minutes))
            left -= charged
        return pieces

    def work_date(self, work_type: str, start: datetime.date, end: datetime.date) -> datetime.date:
        """A random date in the period; office work moves off weekends (after-hours may stay)."""
        on = start + datetime.timedelta(days=self.rng.randint(0, (end - start).days))
        if work_type == AFTER_HOURS or on.weekday() < 5:
            return on
        friday = on - datetime.timedelta(days=on.weekday() - 4)
        monday = on + datetime.timedelta(days=7 - on.weekday())
        return friday if friday >= start else monday if monday <= end else on

    def subject_pool(self, spec: ClientSpec) -> list[str]:
        """The client's ticket subjects in random order, each used once before generic repeats."""
        # The generic subjects are English: a client in another language repeats its own.
        subjects = [*GENERIC_SUBJECTS, *spec.subjects] if spec.language == "en" else [*spec.subjects] * 4
        self.rng.shuffle(subjects)
        return subjects


# ---------------------------------------------------------------------------
# Writing: users, clients and agreements, then the history through the services


def demo_people() -> list[Person]:
    return [STAFF, BILLING, *TECHNICIANS, *(contact for spec in CLIENTS for contact in spec.contacts)]


def demo_usernames() -> list[str]:
    """Every demo login, in the order the table shows them."""
    return [ADMIN_USERNAME, *(person.username for person in demo_people())]


def create_msp_users() -> dict[str, User]:
    users = {}
    for person, role in [
        (STAFF, Role.STAFF),
        (BILLING, Role.STAFF),
        *((tech, Role.TECHNICIAN) for tech in TECHNICIANS),
    ]:
        users[person.username] = User.objects.create_user(
            username=person.username,
            email=person.email,
            password=DEMO_PASSWORD,
            first_name=person.first_name,
            last_name=person.last_name,
            role=role,
        )
    return users


def ensure_admin() -> None:
    """A superuser `admin`, unless someone already made one (its password is then left alone)."""
    if not User.objects.filter(username=ADMIN_USERNAME).exists():
        User.objects.create_superuser(
            username=ADMIN_USERNAME, email=f"admin@{MSP_DOMAIN}", password=DEMO_PASSWORD, role=Role.STAFF
        )


def create_client(
    spec: ClientSpec, today: datetime.date, tiers: dict[int, Tier], work_types: dict[str, WorkType]
) -> Agreement:
    client = services.client_create(
        name=spec.name,
        hourly_rate=spec.hourly_rate,
        billing_email=spec.billing_email,
        billing_address=spec.billing_address,
        billing_name=spec.billing_name,
        currency=spec.currency or None,
        language=spec.language,
    )
    for person in spec.contacts:
        contact = services.client_contact_create(
            client=client,
            username=person.username,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            receives_invoices=person.receives_invoices,
        )
        contact.user.set_password(DEMO_PASSWORD)
        contact.user.save(update_fields=["password"])
    terms = spec.agreement
    starts_on = today - datetime.timedelta(days=terms.days_ago if terms.days_ago is not None else spec.blocks[0][0])
    return services.agreement_create(
        client=client,
        work_types=[work_types[name] for name in terms.work_types],
        name=terms.name,
        starts_on=starts_on,
        ends_on=today + datetime.timedelta(days=terms.days_left) if terms.days_left is not None else None,
        low_balance_threshold_minutes=terms.threshold,
        billing_increment_minutes=terms.increment,
        rounding_mode=terms.rounding,
        overage_policy=terms.overage,
        overage_limit_minutes=terms.overage_limit,
        credit_policy=terms.credit,
        auto_reload=terms.reload_tier_hours is not None,
        reload_tier=tiers[terms.reload_tier_hours] if terms.reload_tier_hours is not None else None,
    )


@dataclass
class Replayer:
    """Replays the planned events through the services, in date order."""

    agreements: dict[str, Agreement]
    users: dict[str, User]
    tiers: dict[int, Tier]
    work_types: dict[str, WorkType]
    tickets: dict[tuple[str, int], Ticket] = field(default_factory=dict)

    def run(self, events: Sequence[Sale | Work]) -> None:
        # Sales before work on the same day: the block pays for that day's time.
        for event in sorted(events, key=lambda event: (event.on, isinstance(event, Work))):
            if isinstance(event, Sale):
                self.sell(event)
            else:
                self.log(event)

    def sell(self, sale: Sale) -> None:
        """Sold as staff sell: an issued invoice for the block, paid by ACH once issued."""
        billing = self.users[BILLING.username]
        invoice = billing_services.invoice_sell_block(
            agreement=self.agreements[sale.client], actor=billing, tier=self.tiers[sale.tier_hours], starts_on=sale.on
        )
        billing_services.payment_record(
            invoice=invoice,
            amount=invoice.total,
            method=PaymentMethod.ACH,
            reference=f"ACH-{invoice.number}",
            # Issued today while the story runs in the past: a payment cannot predate its invoice.
            paid_on=max(sale.on, invoice.issued_on),
            actor=billing,
        )

    def log(self, work: Work) -> None:
        agreement = self.agreements[work.client]
        if work.ticket not in self.tickets:
            # Numbered as the PSA would: one sequence for all clients, in the order tickets were opened.
            self.tickets[work.ticket] = services.ticket_get_or_create(
                client=agreement.client, number=str(FIRST_TICKET_NUMBER + len(self.tickets)), subject=work.subject
            )
        services.time_entry_log(
            agreement=agreement,
            technician=self.users[work.technician],
            ticket=self.tickets[work.ticket],
            work_date=work.on,
            minutes=work.minutes,
            work_type=self.work_types[work.work_type],
            notes=work.notes,
        )


def load_price_list() -> tuple[dict[int, Tier], dict[str, WorkType]]:
    """The tiers and work types of the data migration, as staff may since have edited them."""
    # Newest first, so the oldest tier of each size (the migration's) is the one kept.
    tiers = {tier.hours: tier for tier in Tier.objects.filter(hours__in=(10, 20, 30), is_active=True).order_by("-pk")}
    names = (*WORK_TYPE_WEIGHTS, EMERGENCY)
    work_types = {wt.name: wt for wt in WorkType.objects.filter(name__in=names, is_active=True)}
    missing = [f"{hours} h tier" for hours in (10, 20, 30) if hours not in tiers]
    missing += [name for name in names if name not in work_types]
    if missing:
        raise CommandError(f"The demo needs these active tiers and work types: {', '.join(missing)}.")
    return tiers, work_types


def close_quiet_tickets(today: datetime.date) -> None:
    """Older tickets are done; only recent work stays open. (Status is not a balance: no service needed.)"""
    cutoff = today - datetime.timedelta(days=CLOSE_AFTER_DAYS)
    recent = TimeEntry.objects.filter(work_date__gt=cutoff).values("ticket")
    Ticket.objects.filter(client__name__in=[spec.name for spec in CLIENTS]).exclude(pk__in=recent).update(
        status=TicketStatus.CLOSED
    )


def check_balances(agreements: dict[str, Agreement]) -> None:
    """The services decide every charge; fail loudly if the plan and they disagree."""
    for spec in CLIENTS:
        agreement = Agreement.objects.get(pk=agreements[spec.name].pk)
        if agreement.balance_minutes != spec.final_balance:
            raise CommandError(
                f"{spec.name} ended at {agreement.balance_minutes} min, the plan said {spec.final_balance} min."
            )


def create_seller_profile() -> None:
    """The MSP's own details for invoices (left alone if staff already filled them in)."""
    if seller_profile_get() is None:
        SellerProfile.objects.create(
            name="Northwind Managed IT",
            address="400 Harbour Street, Suite 12\nPortland, ME 04101\nUnited States",
            email="billing@northwind-it.example",
            phone="+1 207 555 0142",
            website="northwind-it.example",
            tax_id="EIN 12-3456789",
            payment_instructions=(
                "ACH or wire to Northwind Managed IT LLC\nCasco Bay Bank · routing 011000015 · account 4417 2290 18\n"
                "Cheques payable to Northwind Managed IT LLC"
            ),
            payment_terms_days=15,
        )


def seed(today: datetime.date) -> None:
    create_seller_profile()
    tiers, work_types = load_price_list()
    users = create_msp_users()
    ensure_admin()
    agreements = {spec.name: create_client(spec, today, tiers, work_types) for spec in CLIENTS}
    planner = Planner(today=today, tiers=tiers, work_types=work_types)
    events = [event for spec in CLIENTS for event in planner.plan(spec)]
    Replayer(agreements=agreements, users=users, tiers=tiers, work_types=work_types).run(events)
    close_quiet_tickets(today)
    check_balances(agreements)


def find_conflicts() -> list[str]:
    """Demo names already taken by real data: refuse rather than mix the two."""
    taken = list(User.objects.filter(username__in=demo_usernames()[1:]).values_list("username", flat=True))
    taken += Client.objects.filter(name__in=[spec.name for spec in CLIENTS]).values_list("name", flat=True)
    return taken


# ---------------------------------------------------------------------------
# The command


class Command(BaseCommand):
    help = "Create a realistic demo (clients, agreements, blocks, months of time entries) and print the logins."

    def handle(self, *args: object, **options: object) -> None:
        # One transaction: a failure leaves nothing behind, and on SQLite the
        # check below and the writes hold the same write lock.
        with transaction.atomic():
            if User.objects.filter(username=STAFF.username).exists():
                self.stdout.write("Demo data already present; nothing changed.")
            else:
                if conflicts := find_conflicts():
                    raise CommandError(f"These demo names are already in use: {', '.join(conflicts)}.")
                try:
                    seed(timezone.localdate())
                except ValidationError as error:
                    raise CommandError(f"Could not create the demo: {'; '.join(error.messages)}") from error
                self.stdout.write(self.style.SUCCESS("Demo data created."))
        self.print_clients()
        self.print_logins()

    def print_clients(self) -> None:
        scenario = {spec.name: spec.scenario for spec in CLIENTS}
        agreements = Agreement.objects.filter(client__name__in=scenario).select_related("client")
        rows = [
            (
                a.client.name,
                format_minutes(a.balance_minutes),
                format_minutes(a.low_balance_threshold_minutes),
                scenario[a.client.name] + (f" (term ends {a.ends_on:%Y-%m-%d})" if a.ends_on else ""),
            )
            for a in agreements
        ]
        self.stdout.write("")
        self.write_table(("Client", "Balance", "Alert at", "Demonstrates"), rows)

    def print_logins(self) -> None:
        users = User.objects.filter(username__in=demo_usernames()).select_related("client_contact__client")
        by_name = {user.username: user for user in users}
        rows = [login_row(by_name[name]) for name in demo_usernames() if name in by_name]
        self.stdout.write(f"\nOpen {settings.SITE_URL}/ and sign in with any of these.")
        self.stdout.write(f'Every demo login uses the password "{DEMO_PASSWORD}".')
        self.stdout.write("")
        self.write_table(("Username", "Role", "Client"), rows)

    def write_table(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for index, row in enumerate([header, *rows]):
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                self.stdout.write("  ".join("-" * width for width in widths))


def login_row(user: User) -> tuple[str, str, str]:
    person = next((p for p in demo_people() if p.username == user.username), None)
    role = user.get_role_display()
    if user.is_superuser:
        # An admin made before the demo keeps its own password; say so rather than print a wrong one.
        role += " (superuser)" if user.check_password(DEMO_PASSWORD) else " (superuser, own password)"
    elif person and person.title:
        role += f" ({person.title})"
    elif person and user.is_client_contact and person.receives_invoices:
        role += " (gets invoices)"
    contact = getattr(user, "client_contact", None)
    return user.username, role, contact.client.name if contact else "all clients"
