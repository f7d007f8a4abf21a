"""The runway rule, in one place: how fast an agreement burns its hours and
when it will run out.

Burn rate = the charged minutes of the agreement's time entries that are not
void, worked in the last 8 weeks (56 days up to and including today), divided
by 8: minutes per week. Run-out date = today + balance ÷ daily burn rate,
rounded down to whole days; today when the balance is already at or below
zero; unknown (None) when nothing was charged in those 8 weeks.

Everything is computed by the database as annotations, so a list of any
number of agreements costs the same single query — and can be sorted by
runway there.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Case, DateField, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from agreements.models import Agreement, LedgerEntry, LedgerKind, TimeEntry

WINDOW_WEEKS = 8
WINDOW_DAYS = WINDOW_WEEKS * 7


def window_start(today: datetime.date) -> datetime.date:
    """The first work date inside the burn-rate window ending `today`."""
    return today - datetime.timedelta(days=WINDOW_DAYS - 1)


def with_runway(agreements: QuerySet[Agreement], *, today: datetime.date | None = None) -> QuerySet[Agreement]:
    """Annotate agreements with `burn_window_minutes` (charged in the window),
    `burn_per_week` (minutes, rounded down) and `runway_days` (None = no burn).
    """
    today = today or timezone.localdate()
    charged = (
        TimeEntry.objects.filter(
            agreement=OuterRef("pk"),
            voided_at__isnull=True,
            work_date__gte=window_start(today),
            work_date__lte=today,
        )
        .order_by()
        .values("agreement")
        .annotate(total=Sum("charged_minutes"))
        .values("total")
    )
    return agreements.annotate(
        burn_window_minutes=Coalesce(Subquery(charged, output_field=IntegerField()), Value(0)),
    ).annotate(
        burn_per_week=F("burn_window_minutes") / Value(WINDOW_WEEKS),
        runway_days=Case(
            When(burn_window_minutes__lte=0, then=Value(None)),
            When(balance_minutes__lte=0, then=Value(0)),
            # Integer division on both SQLite and PostgreSQL: whole days left.
            default=F("balance_minutes") * Value(WINDOW_DAYS) / F("burn_window_minutes"),
            output_field=IntegerField(),
        ),
    )


@dataclass(frozen=True)
class Runway:
    burn_per_week: int
    days: int | None
    runs_out_on: datetime.date | None

    @property
    def is_known(self) -> bool:
        return self.days is not None


def runway_of(agreement: Agreement, *, today: datetime.date | None = None) -> Runway:
    """The runway of an agreement fetched through `with_runway` (no query)."""
    today = today or timezone.localdate()
    days = agreement.runway_days
    return Runway(
        burn_per_week=agreement.burn_per_week,
        days=days,
        runs_out_on=None if days is None else today + datetime.timedelta(days=days),
    )


def runway_order(descending: bool = False):
    """Ordering by runway with 'no burn' (unknown) last either way."""
    expression = F("runway_days")
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


def daily_balances(agreement_ids: list[int]) -> dict[int, list[tuple[datetime.date, int]]]:
    """Each agreement's balance at the end of every day it moved, oldest first
    (for burn-down charts): one grouped query for any number of agreements.

    A movement counts on the day it is about: time (and its reversal) on the
    work date, a block's purchase on the day the block starts, anything else
    on the day it was recorded. So a late-logged ticket or a void shows where
    the work happened, not where the paperwork did.
    """
    day = Coalesce(
        F("time_entry__work_date"),
        Case(When(kind=LedgerKind.PURCHASE, then=F("block__starts_on")), output_field=DateField()),
        TruncDate("created_at"),
        output_field=DateField(),
    )
    rows = (
        LedgerEntry.objects.filter(agreement_id__in=agreement_ids)
        .annotate(day=day)
        .order_by()
        .values("agreement_id", "day")
        .annotate(change=Sum("minutes"))
        .order_by("agreement_id", "day")
    )
    history: dict[int, list[tuple[datetime.date, int]]] = {pk: [] for pk in agreement_ids}
    running: dict[int, int] = {}
    for row in rows:
        pk = row["agreement_id"]
        running[pk] = running.get(pk, 0) + row["change"]
        history[pk].append((row["day"], running[pk]))
    return history
