"""Writing the demo: users, clients and agreements, then the planned history
replayed through the services, each step under the clock of its own day.

Why a travelled clock: the services stamp what they do with the present
(an invoice's issue date and number, a payment's date, every ledger row and
audit event), and rightly refuse a payment older than its invoice or a date
in the future. Rather than give them a "pretend it is another day" argument
that real callers must never use, the seed runs each step with the clock
set to that step's moment (time-machine), so the real services write
exactly what they would have written that day: invoices issued when their
blocks were sold and numbered in date order, payments days later, time
charged the day it was worked.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import time_machine
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Role, User
from agreements import services
from agreements.models import (
    Agreement,
    Client,
    TermEndAction,
    Ticket,
    TicketStatus,
    Tier,
    TimeEntry,
    TopupMode,
    WorkType,
)
from billing import services as billing_services
from billing.models import Invoice, PaymentMethod, SellerProfile
from billing.selectors import seller_profile_get
from demo.seed.clients import ADMIN_USERNAME, BILLING, CLIENTS, MSP_DOMAIN, STAFF, TECHNICIANS, WORK_TYPE_WEIGHTS
from demo.seed.plan import Payment, Planner, RenewalRun, Sale, Work
from demo.seed.specs import (
    CLOSE_AFTER_DAYS,
    DEMO_PASSWORD,
    EMERGENCY,
    FIRST_TICKET_NUMBER,
    AgreementSpec,
    ClientSpec,
    Person,
)
from notifications.models import EmailStatus, OutgoingEmail
from notifications.services import email_send, renewals_run
from reports.services import client_seats_set

# The working day starts here; a day's steps follow each other a few minutes apart.
DAY_STARTS_AT = datetime.time(8, 30)
STEP = datetime.timedelta(minutes=6)


@contextmanager
def on_day(day: datetime.date, step: int = 0) -> Iterator[None]:
    """Run the block with the clock at `day`'s `step`-th moment, standing still."""
    moment = timezone.make_aware(datetime.datetime.combine(day, DAY_STARTS_AT)) + step * STEP
    with time_machine.travel(moment, tick=False):
        yield


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


def agreement_start(spec: ClientSpec, today: datetime.date) -> datetime.date:
    return today - datetime.timedelta(
        days=spec.agreement.days_ago if spec.agreement.days_ago is not None else spec.blocks[0][0]
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
    if spec.seats:
        client_seats_set(client=client, seats=spec.seats)
    return create_agreement(
        client, spec.agreement, today, tiers, work_types, default_start=agreement_start(spec, today)
    )


def create_agreement(
    client: Client,
    terms: AgreementSpec,
    today: datetime.date,
    tiers: dict[int, Tier],
    work_types: dict[str, WorkType],
    *,
    default_start: datetime.date,
    position: int | None = None,
) -> Agreement:
    renews = terms.term_end_action == TermEndAction.RENEW
    return services.agreement_create(
        client=client,
        work_types=[work_types[name] for name in terms.work_types],
        position=position,
        name=terms.name,
        starts_on=today - datetime.timedelta(days=terms.days_ago) if terms.days_ago is not None else default_start,
        ends_on=today + datetime.timedelta(days=terms.days_left) if terms.days_left is not None else None,
        low_balance_threshold_minutes=terms.threshold,
        billing_increment_minutes=terms.increment,
        rounding_mode=terms.rounding,
        overage_policy=terms.overage,
        overage_limit_minutes=terms.overage_limit,
        credit_policy=terms.credit,
        topup_mode=TopupMode.CHARGE if terms.reload_tier_hours is not None else TopupMode.ISSUE,
        reload_tier=tiers[terms.reload_tier_hours] if terms.reload_tier_hours is not None else None,
        term_end_action=terms.term_end_action,
        renewal_tier=tiers[terms.renewal_tier_hours] if renews and terms.renewal_tier_hours else None,
        renewal_invoice_days=terms.renewal_invoice_days if renews else None,
        rollover_policy=terms.rollover_policy,
        rollover_cap_minutes=terms.rollover_cap_minutes,
    )


def create_first_agreement(
    spec: ClientSpec, client: Client, today: datetime.date, tiers: dict[int, Tier], work_types: dict[str, WorkType]
) -> Agreement:
    """The client's FirstAgreement, put first in its order (new agreements go last)."""
    assert spec.first is not None
    return create_agreement(
        client, spec.first.terms, today, tiers, work_types, default_start=agreement_start(spec, today), position=1
    )


@dataclass
class Replayer:
    """Replays the planned events through the services, in date order, each on its own day."""

    agreements: dict[str, Agreement]  # each client's main agreement
    firsts: dict[str, Agreement]  # the FirstAgreement of the clients that have one
    users: dict[str, User]
    tiers: dict[int, Tier]
    work_types: dict[str, WorkType]
    tickets: dict[tuple[str, int], Ticket] = field(default_factory=dict)
    invoices: dict[tuple[str, datetime.date], Invoice] = field(default_factory=dict)  # by (client, sale day)

    def run(self, events: Sequence[Sale | Payment | Work | RenewalRun]) -> None:
        # A day's sales first, then its payments, then its work: a block paid
        # that morning pays for that day's time. The renewal run is the
        # nightly job's: after the day's work.
        order = {Sale: 0, Payment: 1, Work: 2, RenewalRun: 3}
        steps: dict[datetime.date, int] = defaultdict(int)
        for event in sorted(events, key=lambda event: (event.on, order[type(event)])):
            with on_day(event.on, steps[event.on]):
                if isinstance(event, Sale):
                    self.sell(event)
                elif isinstance(event, Payment):
                    self.pay(event)
                elif isinstance(event, RenewalRun):
                    self.renew(event)
                else:
                    self.log(event)
            steps[event.on] += 1

    def sell(self, sale: Sale) -> None:
        """Sold as staff sell: the block and its invoice, issued that day."""
        self.invoices[(sale.client, sale.on)] = billing_services.invoice_sell_block(
            agreement=(self.firsts if sale.first else self.agreements)[sale.client],
            actor=self.users[BILLING.username],
            tier=self.tiers[sale.tier_hours],
            starts_on=sale.on,
            kind=sale.kind,
        )

    def pay(self, payment: Payment) -> None:
        """The client's ACH payment arrives: recorded that day, for the invoice's total."""
        invoice = self.invoices[(payment.client, payment.sale_on)]
        billing_services.payment_record(
            invoice=invoice,
            amount=invoice.total,
            method=PaymentMethod.ACH,
            reference=f"ACH-{invoice.number}",
            paid_on=payment.on,
            actor=self.users[BILLING.username],
        )

    def renew(self, run: RenewalRun) -> None:
        """The renewal job's run of that day: renewal invoices issued (their notices
        queued as pending emails), terms past their end renewed or ended."""
        report = renewals_run(send=lambda email_id: None, today=run.on)
        if report.failed:
            raise CommandError(f"The demo's renewal run of {run.on} failed: {report.failed}")
        # Sent on their day, as the worker would have: left pending, a running
        # demo's first sweep would send a September notice dated today.
        notices = OutgoingEmail.objects.filter(status=EmailStatus.PENDING, invoice__in=report.invoiced)
        for email_id in notices.values_list("pk", flat=True):
            email_send(email_id=email_id)
        for invoice in report.invoiced:
            self.invoices[(invoice.client.name, run.on)] = invoice

    def log(self, work: Work) -> None:
        agreement = self.agreements[work.client]
        if work.ticket not in self.tickets:
            # Numbered as the PSA would: one sequence for all clients, in the order tickets were opened.
            self.tickets[work.ticket] = services.ticket_get_or_create(
                client=agreement.client, number=str(FIRST_TICKET_NUMBER + len(self.tickets)), subject=work.subject
            )
        if work.by_client:
            services.time_entry_log_for_client(
                client=agreement.client,
                technician=self.users[work.technician],
                ticket=self.tickets[work.ticket],
                work_date=work.on,
                minutes=work.minutes,
                work_type=self.work_types[work.work_type],
                notes=work.notes,
            )
            return
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


def check_balances(agreements: dict[str, Agreement], firsts: dict[str, Agreement]) -> None:
    """The services decide every charge; fail loudly if the plan and they disagree."""
    expected = [(agreements[spec.name], spec.final_balance) for spec in CLIENTS]
    expected += [(firsts[spec.name], spec.first.final_balance) for spec in CLIENTS if spec.first is not None]
    for stale, balance in expected:
        agreement = Agreement.objects.select_related("client").get(pk=stale.pk)
        if agreement.balance_minutes != balance:
            raise CommandError(
                f"{agreement.client.name} ({agreement.name}) ended at {agreement.balance_minutes} min, "
                f"the plan said {balance} min."
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
    tiers, work_types = load_price_list()
    # The MSP was there before its first client; each client joins when its agreement starts.
    first_day = min(agreement_start(spec, today) for spec in CLIENTS)
    with on_day(first_day):
        create_seller_profile()
        users = create_msp_users()
        ensure_admin()
    agreements, firsts = {}, {}
    for spec in CLIENTS:
        with on_day(agreement_start(spec, today)):
            agreements[spec.name] = create_client(spec, today, tiers, work_types)
        if spec.first is not None:
            with on_day(today - datetime.timedelta(days=spec.first.terms.days_ago or 0)):
                firsts[spec.name] = create_first_agreement(spec, agreements[spec.name].client, today, tiers, work_types)
    planner = Planner(today=today, tiers=tiers, work_types=work_types)
    events = [event for spec in CLIENTS for event in planner.plan(spec)]
    Replayer(agreements=agreements, firsts=firsts, users=users, tiers=tiers, work_types=work_types).run(events)
    close_quiet_tickets(today)
    check_balances(agreements, firsts)


def find_conflicts() -> list[str]:
    """Demo names already taken by real data: refuse rather than mix the two."""
    taken = list(User.objects.filter(username__in=demo_usernames()[1:]).values_list("username", flat=True))
    taken += Client.objects.filter(name__in=[spec.name for spec in CLIENTS]).values_list("name", flat=True)
    return taken
