"""Planning: the demo's history as dated events (sales, payments, work) that
add up to each client's final balance. Nothing is written here."""

import datetime
import random
from dataclasses import dataclass, field, replace

from django.core.management.base import CommandError

from agreements.domain import charged_minutes
from agreements.models import CreditPolicy, TermEndAction, Tier, WorkType
from billing.models import InvoiceKind
from demo.seed.clients import GENERIC_SUBJECTS, NOTES, NOTES_IT, TECHNICIANS, WORK_TYPE_WEIGHTS, WORKED_MINUTES
from demo.seed.specs import (
    AFTER_HOURS,
    HISTORY_DAYS,
    MAX_FILL_MINUTES,
    NON_BILLABLE,
    NORMAL,
    SEED,
    ClientSpec,
    Scripted,
)


@dataclass(frozen=True)
class Sale:
    """A block sold and its invoice issued that day: the client's first is a purchase, later ones reloads."""

    on: datetime.date
    client: str
    tier_hours: int
    kind: str = InvoiceKind.BLOCK
    first: bool = False  # of the client's FirstAgreement, not its main one


@dataclass(frozen=True)
class Payment:
    """The payment of the invoice of the sale of `sale_on`."""

    on: datetime.date
    client: str
    sale_on: datetime.date


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
    by_client: bool = False  # logged for the client: the services choose the agreement


@dataclass(frozen=True)
class RenewalRun:
    """The daily renewal run on a day it has work: a renewal invoice to issue or a term to close."""

    on: datetime.date


@dataclass
class Planner:
    """Turns the client specs into dated events; needs the rates from the database."""

    today: datetime.date
    tiers: dict[int, Tier]
    work_types: dict[str, WorkType]
    # Reproducible demo data, not security.
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))  # nosec B311

    def plan(self, spec: ClientSpec) -> list[Sale | Payment | Work | RenewalRun]:
        events = [*self.plan_main(spec), *self.plan_first(spec), *self.plan_renewals(spec)]
        if spec.first is not None:
            # Every entry is logged for the client, as a PSA without agreement picking would.
            events = [replace(e, by_client=True) if isinstance(e, Work) else e for e in events]
        return events

    def plan_first(self, spec: ClientSpec) -> list[Sale | Payment | Work]:
        if spec.first is None:
            return []
        first = spec.first
        sale = Sale(self.days_ago(first.terms.days_ago or 0), spec.name, first.hours, first=True)
        payment = Payment(sale.on + datetime.timedelta(days=spec.pays_after_days), spec.name, sale.on)
        work = [self.scripted_work(spec, 500 + index, item) for index, item in enumerate(first.scripted)]
        charged = sum(self.charged(spec, w.work_type, w.minutes, first.terms.increment) for w in work)
        if self.tiers[first.hours].minutes - charged != first.final_balance or any(w.on < payment.on for w in work):
            raise CommandError(f"The demo plan for {spec.name}'s {first.terms.name} does not add up.")
        return [sale, payment, *work]

    def plan_renewals(self, spec: ClientSpec) -> list[Payment | RenewalRun]:
        """The renewal run on the renewing term's invoice day and the day after its end
        and grace, when those are in the past; the renewal invoice's payment."""
        terms = spec.agreement
        if terms.term_end_action != TermEndAction.RENEW or terms.days_left is None:
            return []
        ends_on = self.days_ago(-terms.days_left)
        invoice_on = ends_on - datetime.timedelta(days=terms.renewal_invoice_days or 0)
        events: list[Payment | RenewalRun] = []
        if invoice_on <= self.today:
            events.append(RenewalRun(invoice_on))
            if spec.renewal_pays_after_days is not None:
                events.append(
                    Payment(invoice_on + datetime.timedelta(days=spec.renewal_pays_after_days), spec.name, invoice_on)
                )
        # The default grace: none (the term's last day is its end).
        close_on = ends_on + datetime.timedelta(days=1)
        if close_on <= self.today:
            events.append(RenewalRun(close_on))
        if any(event.on > self.today for event in events):
            raise CommandError(f"The demo plan for {spec.name} pays its renewal after today.")
        return events

    def plan_main(self, spec: ClientSpec) -> list[Sale | Payment | Work]:
        sales = [
            Sale(self.days_ago(days), spec.name, hours, InvoiceKind.BLOCK if index == 0 else InvoiceKind.RELOAD)
            for index, (days, hours) in enumerate(spec.blocks)
        ]
        payments = [
            Payment(sale.on + datetime.timedelta(days=spec.pays_after_days), spec.name, sale.on) for sale in sales
        ]
        if payments[-1].on > self.today:
            raise CommandError(f"The demo plan for {spec.name} pays its last block after today.")
        scripted = [self.scripted_work(spec, index, item) for index, item in enumerate(spec.scripted)]
        events: list[Sale | Payment | Work] = [*sales, *payments, *scripted]
        if not spec.planned_work:
            return events
        subjects = self.subject_pool(spec)
        balance = 0
        for index, (sale, payment) in enumerate(zip(sales, payments, strict=True)):
            last = index == len(sales) - 1
            end = self.today if last else sales[index + 1].on - datetime.timedelta(days=1)
            # Hours usable when paid are used from the payment on: until then
            # the client waits (no work is planned between a sale and its payment).
            usable = sale.on if spec.agreement.credit == CreditPolicy.IMMEDIATE else payment.on
            if any(sale.on <= w.on < usable for w in scripted) or usable > end:
                raise CommandError(f"The demo plan for {spec.name} uses the block of {sale.on} before it is paid.")
            # A block is bought again when the balance runs low, so earlier periods end near the threshold.
            leave = spec.final_balance if last else self.rng.randrange(30, spec.agreement.threshold + 1, 30)
            balance += self.tiers[sale.tier_hours].minutes
            budget = (
                balance
                - leave
                - sum(self.charged(spec, w.work_type, w.minutes) for w in scripted if usable <= w.on <= end)
            )
            if budget < 0:
                raise CommandError(f"The demo plan for {spec.name} does not add up (period from {sale.on}).")
            start = max(usable, self.days_ago(HISTORY_DAYS))
            events += self.period(spec, start, end, budget, subjects, first_ticket=len(scripted) + 1000 * index)
            balance = leave
        return events

    def days_ago(self, days: int) -> datetime.date:
        return self.today - datetime.timedelta(days=days)

    def charged(self, spec: ClientSpec, work_type: str, minutes: int, increment: int | None = None) -> int:
        """What the services will charge: the same domain rule, with the multipliers as stored."""
        return charged_minutes(
            minutes=minutes,
            increment=increment or spec.agreement.increment,
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
