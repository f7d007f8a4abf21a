"""The staff reports, each computed by grouped queries whose row count does
not grow with the ledger (per client, per month, per work type...).

Money from minutes, exactly. A block's minutes are worth `rate` per hour, so
minutes × rate / 60 is rarely a whole cent. The database sums
`minutes × rate-in-cents` as an integer ("cent-minutes": exact on PostgreSQL
and on SQLite, where decimals are floats but these products are integers
far below 2^53); Python divides by 6000 and rounds once per figure shown. The
roll-forward (opening + purchased − recognised − breakage − cancelled −
refunded = closing) holds exactly in cent-minutes; each figure is rounded half-up to
the cent on its own when displayed.

Dates. The ledger is immutable and every row carries the moment it was
recorded (`created_at`), so deferred revenue "as of" a date is the sum of the
rows recorded up to the end of that day (in TIME_ZONE): a closed month never
changes when someone logs late time or voids an entry — the correction lands
in the month it was made, as in any set of books.
"""

import calendar
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Count,
    DateField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Round, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from agreements.domain import money
from agreements.models import (
    Agreement,
    AgreementStatus,
    ChargeQuestion,
    Client,
    LedgerEntry,
    LedgerKind,
    QuestionStatus,
    TimeEntry,
)
from agreements.runway import WINDOW_DAYS, WINDOW_WEEKS, Runway, RunwayRanking
from billing.models import Invoice, InvoiceKind, InvoiceStatus, Payment

CENT_MINUTES_PER_UNIT = 6000  # 100 cents × 60 minutes


def value_of(cent_minutes: int) -> Decimal:
    """Cent-minutes as money, rounded half-up to the cent."""
    return money(Decimal(cent_minutes) / CENT_MINUTES_PER_UNIT)


def _cent_minutes() -> Sum:
    """Σ minutes × the block's rate in cents, as an exact integer on every database."""
    rate_cents = Round(F("block__rate") * Value(100))
    return Cast(Sum(F("minutes") * rate_cents), BigIntegerField())


def day_end(day: datetime.date) -> datetime.datetime:
    """The first moment after `day` in the project's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def same_day_months_before(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` earlier, or that month's last day if it is shorter."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def months_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """First days of every month from `first`'s to `last`'s, inclusive."""
    months, current = [], month_start(first)
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


# ---------------------------------------------------------------------------
# Deferred revenue


@dataclass(slots=True)
class DeferredRow:
    client_id: int
    client_name: str
    client_public_id: str
    currency: str
    minutes: int
    cent_minutes: int

    @property
    def amount(self) -> Decimal:
        return value_of(self.cent_minutes)


@dataclass(frozen=True)
class DeferredReport:
    as_of: datetime.date
    rows: list[DeferredRow]

    @property
    def totals(self) -> dict[str, Decimal]:
        """Per currency, rounded once from the exact sum (not a sum of rounded rows)."""
        sums: dict[str, int] = defaultdict(int)
        for row in self.rows:
            sums[row.currency] += row.cent_minutes
        return {currency: value_of(total) for currency, total in sorted(sums.items())}

    @property
    def total_minutes(self) -> int:
        return sum(row.minutes for row in self.rows)


def deferred_revenue(*, as_of: datetime.date, clients: QuerySet[Client] | None = None) -> DeferredReport:
    """Unused minutes of every block at the end of `as_of` × the block's rate, per client.

    The ledger rows carry the block they took minutes from (oldest first, as
    the services allocated them), so this is one grouped sum: no replay.
    """
    entries = LedgerEntry.objects.filter(block__isnull=False, created_at__lt=day_end(as_of))
    if clients is not None:
        entries = entries.filter(agreement__client__in=clients)
    grouped = (
        entries.order_by()
        .values("agreement__client_id", "agreement__client__name", "agreement__client__public_id", "block__currency")
        .annotate(net_minutes=Sum("minutes"), cent_minutes=_cent_minutes())
        .filter(~Q(net_minutes=0))
        .order_by("agreement__client__name", "block__currency")
        # Tuples, not dicts: one row per client, so per-row cost is the report's cost.
        .values_list(
            "agreement__client_id",
            "agreement__client__name",
            "agreement__client__public_id",
            "block__currency",
            "net_minutes",
            "cent_minutes",
        )
    )
    rows = [DeferredRow(pk, name, str(public_id), currency, m, cm) for pk, name, public_id, currency, m, cm in grouped]
    return DeferredReport(as_of=as_of, rows=rows)


# ---------------------------------------------------------------------------
# Recognised revenue per month (the roll-forward of deferred revenue)

# How each kind of block-tied ledger row moves deferred revenue.
# An imported opening balance enters deferred revenue like a sale: the client
# paid for those hours before Blockhours, at the rate the import gives.
_PURCHASED = {LedgerKind.PURCHASE, LedgerKind.OPENING_BALANCE}
_CONSUMED = {LedgerKind.DEBIT, LedgerKind.REVERSAL, LedgerKind.ADJUSTMENT, LedgerKind.SETTLEMENT}
# Breakage: hours the client paid for and will never use, expired or given up.
_EXPIRED = {LedgerKind.EXPIRY, LedgerKind.FORFEIT}
# Hours taken back after a failed debit and given back once paid net out.
_CANCELLED = {LedgerKind.CANCELLATION, LedgerKind.REINSTATED}
# Unused minutes moved at a renewal from a block into its carry-over block,
# at the same rate: a transfer inside deferred revenue, neither a purchase nor
# breakage. Its two rows net to zero; kept as a figure so the roll-forward
# still ties if they ever fell either side of a month end.
# Hours moved between two agreements of a client go the same way: out of one
# block and into another at the same rate.
_TRANSFERRED = {LedgerKind.ROLLOVER, LedgerKind.MOVE_OUT, LedgerKind.MOVE_IN}
# Goodwill hours were given, not sold: minutes in, at a rate of 0 (no money deferred).
_GRANTED = {LedgerKind.GOODWILL}
_REFUNDED = {LedgerKind.REFUND}
# A block's expiry date moved: no minutes, nothing to book.
_DATES_ONLY = {LedgerKind.EXPIRY_CHANGE}


@dataclass
class RevenueMonth:
    """One month of one currency, in minutes and cent-minutes (exact).

    recognised = minutes consumed (time, adjustments, overage repaid from a
    block, net of reversals) × rate; breakage = expired or forfeited minutes
    × rate; cancelled = unused blocks whose sale was voided; refunded = unused
    minutes of paid blocks given back on a credit note × rate; transferred =
    rolled over at a renewal or moved to another agreement of the client (net
    zero: the minutes stay deferred at their rate); granted = goodwill minutes,
    free, so always zero in money.
    """

    month: datetime.date
    currency: str
    opening_minutes: int = 0
    opening_cm: int = 0
    purchased_minutes: int = 0
    purchased_cm: int = 0
    recognised_minutes: int = 0
    recognised_cm: int = 0
    breakage_minutes: int = 0
    breakage_cm: int = 0
    cancelled_minutes: int = 0
    cancelled_cm: int = 0
    transferred_minutes: int = 0
    transferred_cm: int = 0
    refunded_minutes: int = 0
    refunded_cm: int = 0
    granted_minutes: int = 0
    granted_cm: int = 0

    @property
    def closing_minutes(self) -> int:
        return (
            self.opening_minutes
            + self.purchased_minutes
            - self.recognised_minutes
            - self.breakage_minutes
            - self.cancelled_minutes
            + self.transferred_minutes
            - self.refunded_minutes
            + self.granted_minutes
        )

    @property
    def closing_cm(self) -> int:
        return (
            self.opening_cm
            + self.purchased_cm
            - self.recognised_cm
            - self.breakage_cm
            - self.cancelled_cm
            + self.transferred_cm
            - self.refunded_cm
            + self.granted_cm
        )

    opening = property(lambda self: value_of(self.opening_cm))
    purchased = property(lambda self: value_of(self.purchased_cm))
    recognised = property(lambda self: value_of(self.recognised_cm))
    breakage = property(lambda self: value_of(self.breakage_cm))
    cancelled = property(lambda self: value_of(self.cancelled_cm))
    refunded = property(lambda self: value_of(self.refunded_cm))
    closing = property(lambda self: value_of(self.closing_cm))

    @property
    def earned(self) -> Decimal:
        """Recognised revenue plus breakage: what the month earned."""
        return value_of(self.recognised_cm + self.breakage_cm)


def recognised_revenue(
    *, first: datetime.date, last: datetime.date, clients: QuerySet[Client] | None = None
) -> list[RevenueMonth]:
    """Month by month from `first`'s month to `last`'s: two grouped queries
    (the opening balance, then the movements by month and kind)."""
    start = month_start(first)
    entries = LedgerEntry.objects.filter(block__isnull=False)
    if clients is not None:
        entries = entries.filter(agreement__client__in=clients)
    start_moment = timezone.make_aware(datetime.datetime.combine(start, datetime.time.min))
    opening = {
        row["block__currency"]: row
        for row in entries.filter(created_at__lt=start_moment)
        .order_by()
        .values("block__currency")
        .annotate(net_minutes=Sum("minutes"), cent_minutes=_cent_minutes())
    }
    movements = (
        entries.filter(created_at__gte=start_moment, created_at__lt=day_end(last))
        .annotate(month=TruncMonth("created_at", output_field=DateField()))
        .order_by()
        .values("month", "kind", "block__currency")
        .annotate(net_minutes=Sum("minutes"), cent_minutes=_cent_minutes())
    )
    by_month: dict[tuple[datetime.date, str], list[dict]] = defaultdict(list)
    currencies = set(opening)
    for row in movements:
        by_month[(_as_date(row["month"]), row["block__currency"])].append(row)
        currencies.add(row["block__currency"])
    months: list[RevenueMonth] = []
    for currency in sorted(currencies):
        minutes = opening.get(currency, {}).get("net_minutes") or 0
        cent_minutes = int(opening.get(currency, {}).get("cent_minutes") or 0)
        for month in months_between(start, last):
            item = RevenueMonth(month=month, currency=currency, opening_minutes=minutes, opening_cm=cent_minutes)
            for row in by_month.get((month, currency), []):
                kind, m, cm = row["kind"], row["net_minutes"], int(row["cent_minutes"])
                if kind in _PURCHASED:
                    item.purchased_minutes += m
                    item.purchased_cm += cm
                elif kind in _CONSUMED:
                    item.recognised_minutes -= m
                    item.recognised_cm -= cm
                elif kind in _EXPIRED:
                    item.breakage_minutes -= m
                    item.breakage_cm -= cm
                elif kind in _CANCELLED:
                    item.cancelled_minutes -= m
                    item.cancelled_cm -= cm
                elif kind in _TRANSFERRED:
                    item.transferred_minutes += m
                    item.transferred_cm += cm
                elif kind in _REFUNDED:
                    item.refunded_minutes -= m
                    item.refunded_cm -= cm
                elif kind in _DATES_ONLY:
                    continue
                elif kind in _GRANTED:
                    item.granted_minutes += m
                    item.granted_cm += cm
                else:  # a kind added later must not vanish from the books silently
                    raise ValueError(f"Ledger kind {kind!r} has no place in the revenue roll-forward")
            months.append(item)
            minutes, cent_minutes = item.closing_minutes, item.closing_cm
    return months


# ---------------------------------------------------------------------------
# Usage

USAGE_DIMENSIONS = {
    "client": (gettext_lazy("Client"), ("agreement__client_id", "agreement__client__name")),
    "technician": (
        gettext_lazy("Technician"),
        ("technician_id", "technician__username", "technician__first_name", "technician__last_name"),
    ),
    "work_type": (gettext_lazy("Work type"), ("work_type_id", "work_type__name")),
    "month": (gettext_lazy("Month"), ()),
}


@dataclass(slots=True)
class UsageRow:
    month: datetime.date
    label: str
    entries: int
    worked_minutes: int  # billable work types, as logged
    charged_minutes: int  # after rounding and multiplier
    non_billable_minutes: int  # worked on non-billable (0×) work types


def usage(
    *, first: datetime.date, last: datetime.date, by: str = "client", clients: QuerySet[Client] | None = None
) -> list[UsageRow]:
    """Time worked and charged per month and `by` (client, technician, work
    type, or month alone), void entries left out: one grouped query."""
    if by not in USAGE_DIMENSIONS:
        raise ValueError(f"Unknown usage dimension {by!r}")
    entries = TimeEntry.objects.filter(voided_at__isnull=True, work_date__gte=first, work_date__lte=last)
    if clients is not None:
        entries = entries.filter(agreement__client__in=clients)
    billable = Q(work_type__multiplier__gt=0)
    keys = USAGE_DIMENSIONS[by][1]
    grouped = (
        # Cast in SQL: the rows arrive as dates, with no per-row conversion in Python.
        entries.annotate(month=Cast(TruncMonth("work_date"), DateField()))
        .order_by()
        .values("month", *keys)
        .annotate(
            entries=Count("pk"),
            worked=Coalesce(Sum("minutes", filter=billable), 0),
            charged=Coalesce(Sum("charged_minutes"), 0),
            non_billable=Coalesce(Sum("minutes", filter=~billable), 0),
        )
        .order_by("month", *keys[1:2])
        .values_list("month", "entries", "worked", "charged", "non_billable", *keys[1:])
    )
    label = _USAGE_LABELS[by]
    return [
        UsageRow(month, label(names), entries, worked, charged, non_billable)
        for month, entries, worked, charged, non_billable, *names in grouped
    ]


def _technician_label(names: list[str]) -> str:
    username, first, last = names
    return f"{first} {last}".strip() or username


_USAGE_LABELS = {
    "client": lambda names: names[0],
    "technician": _technician_label,
    "work_type": lambda names: names[0],
    "month": lambda names: "",
}


# ---------------------------------------------------------------------------
# Runway


@dataclass(frozen=True)
class RunwayRow:
    agreement: Agreement
    runway: Runway


def runway_method() -> str:
    """How the runway figures are computed, in the reader's language."""
    return gettext(
        "Burn rate = minutes charged on the agreement's non-void time entries worked in the last "
        "%(days)s days (today included) ÷ %(weeks)s, per week. The hours are used at that rate oldest block "
        "first, then those held by no block; a block is usable up to and including its expiry date, and what "
        "is left of it then expires unused (shown as expiring unused). Run-out = whichever comes first: "
        "today + balance ÷ daily burn, or the expiry of the hours left; in whole days; today when the balance "
        "is used up; unknown when nothing was charged in the window and some hours never expire."
    ) % {"days": WINDOW_DAYS, "weeks": WINDOW_WEEKS}


def runway_ranking(*, today: datetime.date, include_ended: bool = False, limit: int | None = None) -> list[RunwayRow]:
    """Every agreement (or the first `limit`), soonest run-out first, no burn
    last: with the rule and the ranking of agreements.runway."""
    agreements = Agreement.objects.select_related("client")
    if not include_ended:
        agreements = agreements.filter(status=AgreementStatus.ACTIVE)
    ranked = RunwayRanking(agreements, today=today).ranked(limit)
    return [RunwayRow(agreement=a, runway=runway) for a, runway in ranked]


# ---------------------------------------------------------------------------
# Cash


@dataclass
class CashMonth:
    month: datetime.date
    currency: str
    invoiced: Decimal = Decimal("0.00")
    invoices: int = 0
    collected: Decimal = Decimal("0.00")
    outstanding: Decimal = Decimal("0.00")  # issued by month end, not yet paid at month end
    overdue: Decimal = Decimal("0.00")  # of which due by month end
    reloads_raised: int = 0
    reloads_raised_amount: Decimal = Decimal("0.00")
    reloads_paid: int = 0  # of the reloads raised that month, paid by now
    reloads_paid_amount: Decimal = Decimal("0.00")


def cash(*, first: datetime.date, last: datetime.date) -> list[CashMonth]:
    """Invoiced, collected, outstanding and overdue per month and currency.

    Void invoices are left out altogether (a voided sale was never owed);
    drafts were never sent. Outstanding at a month's end = invoiced up to
    then − collected up to then; overdue = the part of that due by the
    month's end. Three grouped queries, from the beginning of time so the
    running balances are right.
    """
    live = Invoice.objects.filter(status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID], issued_on__lte=last)
    reload = Q(kind=InvoiceKind.RELOAD)
    reload_paid = reload & Q(status=InvoiceStatus.PAID)
    zero = Value(Decimal("0.00"))
    issued = (
        live.annotate(month=TruncMonth("issued_on", output_field=DateField()))
        .order_by()
        .values("month", "currency")
        .annotate(
            invoiced=Sum("total"),
            count=Count("pk"),
            reloads=Count("pk", filter=reload),
            reloads_amount=Coalesce(Sum("total", filter=reload), zero),
            reloads_paid=Count("pk", filter=reload_paid),
            reloads_paid_amount=Coalesce(Sum("total", filter=reload_paid), zero),
        )
    )
    due = (
        live.annotate(month=TruncMonth("due_on", output_field=DateField()))
        .order_by()
        .values("month", "currency")
        .annotate(due_total=Sum("total"))
    )
    paid = (
        Payment.objects.filter(invoice__in=live, paid_on__lte=last)
        .annotate(
            month=TruncMonth("paid_on", output_field=DateField()),
            due_month=TruncMonth("invoice__due_on", output_field=DateField()),
        )
        .order_by()
        .values("month", "due_month", "invoice__currency")
        .annotate(total=Sum("amount"))
    )
    issued_by = {(_as_date(r["month"]), r["currency"]): r for r in issued}
    due_by = {(_as_date(r["month"]), r["currency"]): r["due_total"] for r in due}
    paid_rows = [(_as_date(r["month"]), _as_date(r["due_month"]), r["invoice__currency"], r["total"]) for r in paid]
    currencies = sorted({c for _, c in issued_by} | {c for _, c in due_by} | {c for _, _, c, _ in paid_rows})
    result = []
    for currency in currencies:
        for month in months_between(first, last):
            item = CashMonth(month=month, currency=currency)
            row = issued_by.get((month, currency))
            if row:
                item.invoiced, item.invoices = money(row["invoiced"]), row["count"]
                item.reloads_raised, item.reloads_raised_amount = row["reloads"], money(row["reloads_amount"])
                item.reloads_paid, item.reloads_paid_amount = row["reloads_paid"], money(row["reloads_paid_amount"])
            item.collected = money(sum((t for m, _, c, t in paid_rows if m == month and c == currency), Decimal(0)))
            invoiced_to_date = sum(
                (r["invoiced"] for (m, c), r in issued_by.items() if m <= month and c == currency), 0
            )
            collected_to_date = sum((t for m, _, c, t in paid_rows if m <= month and c == currency), 0)
            item.outstanding = money(Decimal(invoiced_to_date) - collected_to_date)
            due_to_date = sum((t for (m, c), t in due_by.items() if m <= month and c == currency), 0)
            paid_on_due = sum((t for m, d, c, t in paid_rows if m <= month and d <= month and c == currency), 0)
            item.overdue = money(Decimal(due_to_date) - paid_on_due)
            result.append(item)
    return result


# ---------------------------------------------------------------------------
# MSA candidates


@dataclass(frozen=True)
class MsaRow:
    client: Client
    seats: int
    spend: Decimal  # invoiced (before tax) over the trailing months
    monthly_spend: Decimal
    msa_monthly: Decimal  # seats × the per-seat monthly price

    @property
    def is_candidate(self) -> bool:
        return self.seats > 0 and self.monthly_spend >= self.msa_monthly

    @property
    def difference(self) -> Decimal:
        """How much more (positive) the client spends a month than the MSA would cost."""
        return self.monthly_spend - self.msa_monthly


@dataclass(frozen=True)
class MsaReport:
    first: datetime.date
    last: datetime.date
    months: int
    seat_price: Decimal
    currency: str
    rows: list[MsaRow] = field(default_factory=list)


def msa_candidates(*, today: datetime.date, candidates_only: bool = False) -> MsaReport:
    """Block clients' trailing spend next to what a flat-rate agreement would
    cost them: invoices of the REPORTS_MSA_TRAILING_MONTHS months up to today
    (block purchases, reloads, overage; before tax, void left out). One query."""
    months = max(settings.REPORTS_MSA_TRAILING_MONTHS, 1)
    seat_price = settings.REPORTS_MSA_SEAT_PRICE
    first = same_day_months_before(today, months) + datetime.timedelta(days=1)
    last = today
    in_window = Q(
        invoices__status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID],
        invoices__issued_on__gte=first,
        invoices__issued_on__lte=last,
    )
    clients = (
        Client.objects.filter(is_active=True)
        .annotate(
            spend=Coalesce(Sum("invoices__subtotal", filter=in_window), Value(Decimal("0.00"))),
            seats=Coalesce(F("report_profile__seats"), Value(0), output_field=IntegerField()),
        )
        .filter(Q(spend__gt=0) | Q(seats__gt=0))
        .order_by("name")
    )
    rows = []
    for client in clients:
        row = MsaRow(
            client=client,
            seats=client.seats,
            spend=money(client.spend),
            monthly_spend=money(client.spend / months),
            msa_monthly=money(seat_price * client.seats),
        )
        if row.is_candidate or not candidates_only:
            rows.append(row)
    rows.sort(key=lambda r: (not r.is_candidate, -r.difference if r.seats else Decimal(0), r.client.name))
    return MsaReport(
        first=first, last=last, months=months, seat_price=seat_price, currency=settings.DEFAULT_CURRENCY, rows=rows
    )


# ---------------------------------------------------------------------------
# Questioned charges: how often, about whom, and how fast they are answered

QUESTION_DIMENSIONS = {
    "client": (gettext_lazy("Client"), "time_entry__agreement__client__name"),
    "technician": (gettext_lazy("Technician"), "time_entry__technician__username"),
}


@dataclass(frozen=True)
class QuestionRow:
    label: str
    raised: int
    open: int
    explained: int
    credited: int
    corrected: int
    credited_minutes: int
    median_minutes_to_resolve: int | None  # None: none answered yet


def question_report(
    *, first: datetime.date, last: datetime.date, by: str = "client", clients: QuerySet[Client] | None = None
) -> list[QuestionRow]:
    """Questions raised from `first` to `last` (inclusive) per client or technician,
    most questioned first. The median counts answered questions only, in whole
    minutes from raised to answered (the lower middle of an even count)."""
    field_name = QUESTION_DIMENSIONS[by][1]
    questions = ChargeQuestion.objects.filter(
        created_at__gte=timezone.make_aware(datetime.datetime.combine(first, datetime.time.min)),
        created_at__lt=day_end(last),
    )
    if clients is not None:
        questions = questions.filter(time_entry__agreement__client__in=clients)
    grouped: dict[str, list] = defaultdict(list)
    for label, status, credited, created_at, resolved_at in questions.values_list(
        field_name, "status", "credited_minutes", "created_at", "resolved_at"
    ).iterator(chunk_size=2000):
        grouped[label].append((status, credited, created_at, resolved_at))
    rows = []
    for label, items in grouped.items():
        waits = sorted(int((done - raised).total_seconds() // 60) for _s, _c, raised, done in items if done)
        rows.append(
            QuestionRow(
                label=label,
                raised=len(items),
                open=sum(1 for status, *_ in items if status == QuestionStatus.OPEN),
                explained=sum(1 for status, *_ in items if status == QuestionStatus.EXPLAINED),
                credited=sum(1 for status, *_ in items if status == QuestionStatus.CREDITED),
                corrected=sum(1 for status, *_ in items if status == QuestionStatus.CORRECTED),
                credited_minutes=sum(credited for _s, credited, *_ in items),
                median_minutes_to_resolve=waits[(len(waits) - 1) // 2] if waits else None,
            )
        )
    return sorted(rows, key=lambda row: (-row.raised, row.label))
