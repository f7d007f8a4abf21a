"""Monthly statements: what a client's prepaid hours did in one month, as a
PDF, emailed once per client and month.

Figures follow the ledger as recorded (like the revenue reports): the
opening balance is every ledger entry recorded before the month, the closing
balance every entry recorded by its end, and the lines in between — blocks
bought, time charged, corrections, expiries, adjustments — add up from one
to the other exactly.

Exactly once: each email is an OutgoingEmail row with the topic
"statement:<client public id>:<YYYY-MM>", unique per kind and recipient, so a
second run (or two at once) records nothing new; rows are sent only after the
transaction that created them commits, by the notifications machinery.
"""

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agreements.models import Agreement, Block, ChargeQuestion, Client, LedgerEntry, LedgerKind, TimeEntry
from agreements.runway import runway_of, with_runway
from billing.models import Invoice
from billing.pdf import STATIC_BASE, html_to_pdf
from billing.selectors import seller_profile_get
from notifications import services as notification_services
from notifications.models import EmailKind, OutgoingEmail
from reports.selectors import add_months, day_end

TEMPLATE = "reports/statement_pdf.html"


@dataclass(frozen=True)
class EntryLine:
    day: datetime.date
    ticket: str
    subject: str
    technician: str
    work_type: str
    worked_minutes: int
    charged_minutes: int
    # The part outside business hours (entries with a start time): its minutes and what it charged.
    after_hours_minutes: int = 0
    after_hours_charged_minutes: int = 0


@dataclass(frozen=True)
class MovementLine:
    day: datetime.date
    description: str
    minutes: int


@dataclass(frozen=True)
class QuestionLine:
    """A charge the client questioned in the period, and what came of it (so far)."""

    day: datetime.date
    entry_day: datetime.date
    ticket: str
    charged_minutes: int
    reason: str
    outcome: str
    reply: str
    credited_minutes: int


@dataclass(frozen=True)
class AgreementBalanceLine:
    """One agreement's balance on a statement, in minutes."""

    agreement: Agreement
    opening: int  # at the start of the period
    closing: int  # at its end
    pending: int  # what its invoices open at the end of the period add once paid

    @property
    def once_paid(self) -> int:
        return self.closing + self.pending


@dataclass(frozen=True)
class OpenInvoiceLine:
    """A block invoice open at the end of the period whose hours were not credited yet."""

    number: str
    agreement_name: str
    minutes: int
    due_on: datetime.date


@dataclass
class Statement:
    client: Client
    month: datetime.date
    last_day: datetime.date
    opening_minutes: int = 0
    closing_minutes: int = 0
    blocks: list[Block] = field(default_factory=list)
    entries: list[EntryLine] = field(default_factory=list)
    movements: list[MovementLine] = field(default_factory=list)  # corrections, expiries, adjustments...
    agreements: list[tuple[Agreement, object]] = field(default_factory=list)  # with their runway
    balances: list[AgreementBalanceLine] = field(default_factory=list)
    open_invoices: list[OpenInvoiceLine] = field(default_factory=list)
    questions: list[QuestionLine] = field(default_factory=list)

    @property
    def purchased_minutes(self) -> int:
        return sum(block.purchased for block in self.blocks if not block.is_goodwill)

    @property
    def goodwill_minutes(self) -> int:
        """Free hours granted in the period: listed with the blocks, never counted as bought."""
        return sum(block.purchased for block in self.blocks if block.is_goodwill)

    @property
    def charged_minutes(self) -> int:
        return sum(line.charged_minutes for line in self.entries)

    @property
    def other_minutes(self) -> int:
        return sum(line.minutes for line in self.movements)

    @property
    def blocks_amount(self) -> Decimal:
        return sum((block.amount for block in self.blocks), Decimal("0.00"))


def parse_month(text: str) -> datetime.date:
    """`2026-03` → 2026-03-01; ValueError otherwise."""
    return datetime.datetime.strptime(text.strip(), "%Y-%m").date()


def previous_month(today: datetime.date) -> datetime.date:
    return add_months(today, -1)


def _month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime, datetime.date]:
    last_day = add_months(month, 1) - datetime.timedelta(days=1)
    start = timezone.make_aware(datetime.datetime.combine(month, datetime.time.min))
    return start, day_end(last_day), last_day


_OTHER = {
    LedgerKind.EXPIRY: _("Unused hours expired"),
    LedgerKind.ADJUSTMENT: _("Adjustment"),
    LedgerKind.CANCELLATION: _("Block sale cancelled"),
    LedgerKind.REINSTATED: _("Hours given back once paid"),
    LedgerKind.REFUND: _("Unused hours refunded"),
    LedgerKind.FORFEIT: _("Unused hours forfeited"),
    LedgerKind.SETTLEMENT: _("Earlier overage repaid from a new block"),
    LedgerKind.OVERAGE_BILLED: _("Overage billed on an invoice"),
    LedgerKind.ROLLOVER: _("Unused hours rolled over to the new term"),
    LedgerKind.MOVE_OUT: _("Unused hours moved to another agreement"),
    LedgerKind.MOVE_IN: _("Unused hours moved from another agreement"),
    LedgerKind.EXPIRY_CHANGE: _("Expiry date changed"),
    LedgerKind.OPENING_BALANCE: _("Opening balance brought over"),
}


def _movement_text(kind: str, reason: str) -> str:
    what = str(_OTHER[kind])
    # Translators: a balance movement on a statement and the reason staff gave for it.
    return gettext("%(what)s: %(reason)s") % {"what": what, "reason": reason} if reason else what


def statement_build(*, client: Client, month: datetime.date) -> Statement:
    """The statement's figures: a handful of grouped queries whatever the month's size."""
    start, end, last_day = _month_bounds(month)
    statement = Statement(client=client, month=month, last_day=last_day)
    ledger = LedgerEntry.objects.filter(agreement__client=client)
    balances = ledger.aggregate(
        opening=Coalesce(Sum("minutes", filter=Q(created_at__lt=start)), 0),
        closing=Coalesce(Sum("minutes", filter=Q(created_at__lt=end)), 0),
    )
    statement.opening_minutes, statement.closing_minutes = balances["opening"], balances["closing"]
    in_month = ledger.filter(created_at__gte=start, created_at__lt=end)

    statement.blocks = list(
        Block.objects.filter(ledger__in=in_month.filter(kind__in=[LedgerKind.PURCHASE, LedgerKind.GOODWILL]))
        .annotate(purchased=Sum("ledger__minutes"), credited_on=TruncDate("ledger__created_at"))
        .order_by("starts_on", "pk")
    )

    debited = (
        TimeEntry.objects.filter(ledger__in=in_month.filter(kind=LedgerKind.DEBIT))
        .annotate(debited=Sum("ledger__minutes"))
        .select_related("ticket", "technician", "work_type")
    )
    free = TimeEntry.objects.filter(
        agreement__client=client,
        charged_minutes=0,
        voided_at__isnull=True,
        work_date__gte=month,
        work_date__lte=last_day,
    ).select_related("ticket", "technician", "work_type")
    lines = [(entry, -entry.debited) for entry in debited] + [(entry, 0) for entry in free]
    statement.entries = sorted(
        (
            EntryLine(
                day=entry.work_date,
                ticket=entry.ticket.number,
                subject=entry.ticket.subject,
                technician=entry.technician.get_full_name() or entry.technician.username,
                work_type=entry.work_type.name,
                worked_minutes=entry.minutes,
                charged_minutes=charged,
                after_hours_minutes=entry.after_hours_minutes,
                after_hours_charged_minutes=entry.after_hours_charged_minutes,
            )
            for entry, charged in lines
        ),
        key=lambda line: (line.day, line.ticket),
    )

    reversals = (
        in_month.filter(kind=LedgerKind.REVERSAL)
        .values("time_entry__work_date", "time_entry__ticket__number", "created_at__date")
        .annotate(total=Sum("minutes"))
        .order_by("created_at__date")
    )
    others = (
        in_month.filter(kind__in=list(_OTHER))
        .annotate(day=TruncDate("created_at"))
        .values("day", "kind", "reason")
        .annotate(total=Sum("minutes"))
        # A settlement or a rollover moves minutes (net zero) and says nothing new;
        # an expiry change moves none, but the client must see the new date.
        .filter(~Q(total=0) | Q(kind=LedgerKind.EXPIRY_CHANGE))
        .order_by("day", "kind")
    )
    # The lines read in the client's language, like the PDF they go on.
    with translation.override(client.language):
        movements = [
            MovementLine(
                day=row["created_at__date"],
                description=gettext("Correction: entry of %(date)s on ticket #%(ticket)s voided")
                % {
                    "date": date_format(row["time_entry__work_date"], "d M Y"),
                    "ticket": row["time_entry__ticket__number"],
                },
                minutes=row["total"],
            )
            for row in reversals
        ]
        movements += [
            MovementLine(day=row["day"], description=_movement_text(row["kind"], row["reason"]), minutes=row["total"])
            for row in others
        ]
        movements += [
            MovementLine(
                day=row["day"],
                description=gettext("Credited after your question: entry of %(date)s on ticket #%(ticket)s")
                % {
                    "date": date_format(row["time_entry__work_date"], "d M Y"),
                    "ticket": row["time_entry__ticket__number"],
                },
                minutes=row["minutes"],
            )
            for row in in_month.filter(kind=LedgerKind.QUESTION_CREDIT)
            .annotate(day=TruncDate("created_at"))
            .values("day", "time_entry__work_date", "time_entry__ticket__number", "minutes")
            .order_by("day", "pk")
        ]
        statement.questions = [
            QuestionLine(
                day=timezone.localdate(question.created_at),
                entry_day=question.time_entry.work_date,
                ticket=question.time_entry.ticket.number,
                charged_minutes=question.time_entry.charged_minutes,
                reason=question.reason,
                outcome=question.get_status_display(),
                reply=question.reply,
                credited_minutes=question.credited_minutes,
            )
            for question in ChargeQuestion.objects.filter(
                time_entry__agreement__client=client, created_at__gte=start, created_at__lt=end
            )
            .select_related("time_entry__ticket")
            .order_by("created_at", "pk")
        ]
    statement.movements = sorted(movements, key=lambda line: line.day)

    statement.balances, statement.open_invoices = _balances(client, start, end, last_day)

    today = min(timezone.localdate(), last_day)
    agreements = with_runway(client.agreements.filter(starts_on__lte=last_day), today=today).order_by("position")
    statement.agreements = [(agreement, runway_of(agreement, today=today)) for agreement in agreements]
    return statement


def _open_block_invoices(client: Client, end: datetime.datetime, last_day: datetime.date) -> list[Invoice]:
    """Block invoices issued by the end of the period and, at its end, neither
    paid nor void, with hours not credited yet: paying them adds those hours.
    (Hours credited at sale are in the closing balance already.)"""
    return list(
        Invoice.objects.filter(client=client, block__isnull=False, issued_on__lte=last_day)
        .exclude(paid_at__lt=end)
        .exclude(voided_at__lt=end)
        .filter(Q(block__credited_at__isnull=True) | Q(block__credited_at__gte=end))
        .select_related("block", "agreement")
        .order_by("issued_on", "number_year", "number_sequence")
    )


def _balances(
    client: Client, start: datetime.datetime, end: datetime.datetime, last_day: datetime.date
) -> tuple[list[AgreementBalanceLine], list[OpenInvoiceLine]]:
    """Each agreement's balance at the start and end of the period (the ledger
    as recorded, like the client's totals), and once its open invoices are paid."""
    sums = {
        row["agreement"]: row
        for row in LedgerEntry.objects.filter(agreement__client=client)
        .values("agreement")
        .annotate(
            opening=Coalesce(Sum("minutes", filter=Q(created_at__lt=start)), 0),
            closing=Coalesce(Sum("minutes", filter=Q(created_at__lt=end)), 0),
        )
    }
    invoices = _open_block_invoices(client, end, last_day)
    pending: dict[int, int] = {}
    for invoice in invoices:
        pending[invoice.agreement_id] = pending.get(invoice.agreement_id, 0) + invoice.block.minutes
    agreements = client.agreements.filter(starts_on__lte=last_day).order_by("position", "pk")
    lines = [
        AgreementBalanceLine(
            agreement=agreement,
            opening=sums.get(agreement.pk, {}).get("opening", 0),
            closing=sums.get(agreement.pk, {}).get("closing", 0),
            pending=pending.get(agreement.pk, 0),
        )
        for agreement in agreements
    ]
    open_lines = [
        OpenInvoiceLine(
            number=invoice.number,
            agreement_name=invoice.agreement.name,
            minutes=invoice.block.minutes,
            due_on=invoice.due_on,
        )
        for invoice in invoices
    ]
    return lines, open_lines


def statement_pdf(statement: Statement) -> bytes:
    seller = seller_profile_get()
    # A client's document speaks the client's language, like its invoices.
    with translation.override(statement.client.language):
        html = render_to_string(TEMPLATE, {"s": statement, "seller": seller, "static_base": STATIC_BASE})
    return html_to_pdf(html)


def statement_filename(statement: Statement) -> str:
    return f"Statement-{statement.month:%Y-%m}.pdf"


def clients_with_activity(month: datetime.date):
    """Clients whose balance moved, or who had time logged, during the month."""
    start, end, last_day = _month_bounds(month)
    moved = LedgerEntry.objects.filter(agreement__client=OuterRef("pk"), created_at__gte=start, created_at__lt=end)
    worked = TimeEntry.objects.filter(
        agreement__client=OuterRef("pk"), voided_at__isnull=True, work_date__gte=month, work_date__lte=last_day
    )
    return Client.objects.filter(Exists(moved) | Exists(worked)).order_by("name")


def statement_topic(client: Client, month: datetime.date) -> str:
    return f"statement:{client.public_id}:{month:%Y-%m}"


@dataclass
class StatementRun:
    month: datetime.date
    recorded: list[int] = field(default_factory=list)  # email ids created by this run
    clients: int = 0  # clients that got (new) emails
    skipped: list[str] = field(default_factory=list)  # why some clients got none

    def lines(self) -> list[str]:
        return [
            f"{self.month:%Y-%m}: {len(self.recorded)} statement email(s) to {self.clients} client(s)",
            *self.skipped,
        ]


def statement_send(*, client: Client, month: datetime.date, send: Callable[[int], None]) -> list[int] | str:
    """Email one client its statement for `month`, once: the ids of the emails
    recorded now, or why none were."""
    topic = statement_topic(client, month)
    if OutgoingEmail.objects.filter(topic=topic, kind=EmailKind.STATEMENT).exists():
        return "already sent"
    agreement = client.agreements.order_by("status", "-starts_on").first()  # "active" sorts before "ended"
    if agreement is None:
        return "no agreement"
    recipients = notification_services.client_billing_recipients(agreement)
    if not recipients:
        return "no billing email or billing contact"
    statement = statement_build(client=client, month=month)
    stored = default_storage.save(f"statements/{uuid.uuid4().hex}.pdf", ContentFile(statement_pdf(statement)))
    with transaction.atomic():
        created = notification_services.notice_record(
            agreement_id=agreement.pk,
            kind=EmailKind.STATEMENT,
            topic=topic,
            recipients=recipients,
            context={"statement": statement, "month": month},
            attachment=(stored, statement_filename(statement)),
        )
        for email_id in created:
            # Queued after commit: a worker must never look for a row that is not there yet.
            # Catch-up if the broker loses it: the sweep resends every pending email that is due.
            transaction.on_commit(lambda email_id=email_id: send(email_id))
    if not created:
        default_storage.delete(stored)  # another run got there first
        return "already sent"
    return created


def check_month(month: datetime.date) -> None:
    if month > timezone.localdate().replace(day=1):
        raise ValueError("A statement can only be sent for a month that has begun.")


def statements_send(*, month: datetime.date, send: Callable[[int], None]) -> StatementRun:
    """Email every client with activity in `month` its statement, once.

    Safe to run again or concurrently: a client whose statement emails exist
    is skipped; if two runs render the same statement at once, the unique
    (topic, kind, recipient) keeps one email per recipient and the loser
    removes the PDF it saved.
    """
    check_month(month)
    run = StatementRun(month=month)
    for client in clients_with_activity(month):
        outcome = statement_send(client=client, month=month, send=send)
        if isinstance(outcome, list):
            run.recorded += outcome
            run.clients += 1
        elif outcome != "already sent":
            run.skipped.append(f"{client}: {outcome}")
    return run
