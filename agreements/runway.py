"""The runway rule, in one place: how fast an agreement burns its hours,
when they run out, and which of them will expire unused first.

Burn rate = the charged minutes of the agreement's time entries that are not
void, worked in the last 8 weeks (56 days up to and including today), divided
by 8: minutes per week. The daily burn is that ÷ 7.

Run-out: the hours are used at the daily burn, block by block in the
agreement's burn order as the ledger allocates them (agreements.domain.
in_burn_order: oldest first, or soonest expiring first), then the pool
(minutes held by no block: adjustments, which never expire). A block stays
usable up to and including its expiry date; whatever of it is not used by
then is lost at expiry, even while an earlier block in the order is being
drawn on — "expiring unused", the breakage risk. The hours run out on the day
the balance, less what is used and what expires, reaches zero: whichever
comes first of the forecast at the current burn and the expiry of the hours
left. Run-out date = today + the whole days until then; the expiry date
itself when an expiry takes the last of the balance; today when the balance
is already at or below zero. Without burn, hours in expiring blocks all
expire unused; the run-out is then the expiry date that takes the balance to
zero, and unknown (None) while hours that never expire remain. With no
expiring block the result is exactly balance ÷ daily burn, in whole days;
expiry can only bring the run-out forward.

The database annotates the burn and the plain forecast (one query for any
number of agreements); the unused minutes of each agreement's blocks come
with the same queryset in one more query (a prefetch), and the expiry-aware
runway is computed from both here, in exact integers. A list ranked by
runway (`RunwayRanking`) lets the database rank the agreements holding no
expiring minutes (their runway is the plain forecast) and computes only the
others in Python, so a page costs the same few queries at any size.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.db.models import (
    Case,
    DateField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from agreements.domain import in_burn_order
from agreements.models import Agreement, Block, LedgerEntry, LedgerKind, TimeEntry

WINDOW_WEEKS = 8
WINDOW_DAYS = WINDOW_WEEKS * 7
# Rows per UPDATE of the nightly burn recount (a bounded IN list).
RECOUNT_BATCH = 5000

T = TypeVar("T")


def window_start(today: datetime.date) -> datetime.date:
    """The first work date inside the burn-rate window ending `today`."""
    return today - datetime.timedelta(days=WINDOW_DAYS - 1)


def _charged_in_window(today: datetime.date) -> Coalesce:
    """The burn counted from the time entries: the charged minutes of the
    entries not void worked in the window ending `today` (0 when none), for
    the agreement of the outer query."""
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
    return Coalesce(Subquery(charged, output_field=IntegerField()), Value(0))


def burn_refresh(agreement: Agreement, *, today: datetime.date | None = None) -> None:
    """Recount the agreement's cached burn (`Agreement.burn_minutes`) for today
    from its entries, in one UPDATE.

    For the time-entry services, inside their transaction and under the
    agreement's row lock, when `burn_moved` cannot move the cache by the
    entry's minutes: the row was counted on another day (the window has slid
    since), or never.
    """
    today = today or timezone.localdate()
    Agreement.objects.filter(pk=agreement.pk).update(burn_minutes=_charged_in_window(today), burn_computed_on=today)


def burn_moved(locked: Agreement, *, work_date: datetime.date, minutes: int, today: datetime.date) -> int | None:
    """The cached burn once an entry worked on `work_date` adds `minutes` to
    the agreement's time (negative: a void takes them off); None when the
    cache must be recounted instead (`burn_refresh`): it was counted on
    another day, or never.

    `locked` is the agreement row the caller's transaction has locked and
    read, so its cache is current and no other writer can move it before the
    caller writes the result, in the same UPDATE as the balance. The window is
    the one `_charged_in_window` counts: an entry outside it (56 days old or
    more, or dated after today) leaves the burn as it is. O(1), where a
    recount sums every entry in the window, on every entry logged.
    """
    if locked.burn_computed_on != today:
        return None
    if window_start(today) <= work_date <= today:
        return locked.burn_minutes + minutes
    return locked.burn_minutes


def burn_recompute(*, today: datetime.date | None = None, stale_only: bool = False) -> int:
    """Recount the cached burn of every agreement (only of those counted for
    another day than `today`, or never, with `stale_only`) in one UPDATE; the
    number of agreements recounted.

    The window slides every day without any entry changing: entries 56 days
    old leave it, future-dated ones enter it. The nightly `recompute-burn`
    beat entry runs this with `stale_only`, and so do pages ranking by
    runway (nothing to do, one index lookup, once the night's run is done).

    Why stale only: the time-entry services move a row counted for today by
    the entry's minutes (`burn_moved`), so a row counted for today stays
    exact, and a recount must not overwrite it with a count that missed an
    entry. The full recount is for rows nothing else is writing (tests, a
    repair by hand).

    The rows are locked first, in a statement of their own: on PostgreSQL an
    UPDATE that waits for a row locked by an entry being logged would count
    the entries as they were when it began, and miss that entry (logged
    before midnight, committed after the new day's recount began), for a day.
    The recount then runs as a second statement, which sees every entry
    committed while the first one waited.
    """
    today = today or timezone.localdate()
    agreements = Agreement.objects.all()
    if stale_only:
        agreements = agreements.filter(
            Q(burn_computed_on__isnull=True) | Q(burn_computed_on__lt=today) | Q(burn_computed_on__gt=today)
        )
    with transaction.atomic():
        locked = list(agreements.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))
        recounted = 0
        for start in range(0, len(locked), RECOUNT_BATCH):
            recounted += Agreement.objects.filter(pk__in=locked[start : start + RECOUNT_BATCH]).update(
                burn_minutes=_charged_in_window(today), burn_computed_on=today
            )
        return recounted


def burn_refresh_stale(*, today: datetime.date | None = None) -> int:
    """`burn_recompute(stale_only=True)`: what a page ranking by runway runs first."""
    return burn_recompute(today=today, stale_only=True)


def with_runway(agreements: QuerySet[Agreement], *, today: datetime.date | None = None) -> QuerySet[Agreement]:
    """Annotate agreements with `burn_window_minutes` (charged in the window),
    `burn_per_week` (minutes, rounded down) and `forecast_days` (balance ÷
    daily burn, blind to expiry; None = no burn), and prefetch the blocks
    holding unused minutes (`runway_blocks`; `runway_of` puts them in burn order): the two
    queries `runway_of` needs, for any number of agreements.

    The burn is the cached one where it was counted for `today`, and counted
    from the entries for the other rows: the same figure either way.
    """
    today = today or timezone.localdate()
    return (
        agreements.annotate(
            burn_window_minutes=Case(
                When(burn_computed_on=today, then=F("burn_minutes")),
                default=_charged_in_window(today),
                output_field=IntegerField(),
            ),
        )
        .annotate(
            burn_per_week=F("burn_window_minutes") / Value(WINDOW_WEEKS),
            forecast_days=Case(
                When(burn_window_minutes__lte=0, then=Value(None)),
                When(balance_minutes__lte=0, then=Value(0)),
                # Integer division on both SQLite and PostgreSQL: whole days left.
                default=F("balance_minutes") * Value(WINDOW_DAYS) / F("burn_window_minutes"),
                output_field=IntegerField(),
            ),
        )
        .prefetch_related(Prefetch("blocks", queryset=_holding_blocks(), to_attr="runway_blocks"))
    )


def _holding_blocks() -> QuerySet[Block]:
    # Every block with minutes left holds part of the balance (only credited
    # blocks ever receive minutes), in the order the ledger consumes them.
    return (
        Block.objects.filter(minutes_left__gt=0)
        .only("id", "agreement_id", "minutes_left", "expires_on", "starts_on", "created_at")
        .order_by("starts_on", "created_at", "id")
    )


def runway_attach(agreement: Agreement, *, today: datetime.date | None = None) -> Agreement:
    """What `with_runway` annotates (but `forecast_days`, a sort key), for
    one agreement fetched without it: the burn cached for today, else
    counted from the entries, and the blocks holding minutes. One or two
    plain queries, which cost a single row (the API's agreement detail)
    far less Python than building `with_runway`'s annotations."""
    today = today or timezone.localdate()
    if agreement.burn_computed_on == today:
        agreement.burn_window_minutes = agreement.burn_minutes
    else:
        counted = Agreement.objects.filter(pk=agreement.pk).annotate(burn=_charged_in_window(today))
        agreement.burn_window_minutes = counted.values_list("burn", flat=True).get()
    # Integer division, as with_runway's SQL: the burn is never negative.
    agreement.burn_per_week = agreement.burn_window_minutes // WINDOW_WEEKS
    agreement.runway_blocks = list(_holding_blocks().filter(agreement_id=agreement.pk))
    return agreement


@dataclass(frozen=True)
class Expiring:
    """Minutes that will expire unused on `on` at the current burn."""

    on: datetime.date
    minutes: int


@dataclass(frozen=True)
class Runway:
    burn_per_week: int
    days: int | None
    runs_out_on: datetime.date | None
    # Soonest first; empty when every hour will be used before it expires.
    expiring: tuple[Expiring, ...] = ()

    @property
    def is_known(self) -> bool:
        return self.days is not None

    @property
    def expiring_unused_minutes(self) -> int:
        return sum(item.minutes for item in self.expiring)

    @property
    def expiring_on(self) -> datetime.date | None:
        """The first date on which hours expire unused."""
        return self.expiring[0].on if self.expiring else None


def forecast(
    *,
    balance: int,
    burn_window_minutes: int,
    blocks: Iterable[tuple[int, datetime.date | None]],
    today: datetime.date,
) -> tuple[int | None, tuple[Expiring, ...]]:
    """Whole days until the hours run out (None: never, at no burn) and the
    minutes that expire unused on the way, from the balance, the minutes
    charged in the window and the blocks' (minutes left, expiry) in the
    ledger's burn order. Simulated event by event: the first block still
    usable is drawn on until it is used up or the next expiry, where the
    expiring blocks lose what is left of them. Exact integers: with W
    minutes burnt in the window the daily burn is W / 56 minutes, so time is
    counted in units of 1/W day — a day is W units and each minute used
    takes WINDOW_DAYS units.
    """
    lost: dict[datetime.date, int] = defaultdict(int)
    burn = burn_window_minutes
    if burn <= 0:
        # Nothing is used: every expiring minute is lost at its expiry date.
        for minutes, expires_on in blocks:
            if expires_on is not None:
                lost[expires_on] += minutes
        expiring = tuple(Expiring(on=on, minutes=minutes) for on, minutes in sorted(lost.items()))
        left = balance
        if left > 0:
            for item in expiring:
                left -= item.minutes
                if left <= 0:
                    return max((item.on - today).days, 0), expiring
        return None, expiring
    days = 0 if balance <= 0 else None  # set where the balance reaches zero
    remaining = balance  # the balance as it will stand
    position = 0  # units of 1/burn day used from today's start on
    # [minutes left, expiry, end]: a block is usable up to and including its
    # expiry date, so it ends at the start of the next day (in units).
    alive = [
        [minutes, expires_on, None if expires_on is None else ((expires_on - today).days + 1) * burn]
        for minutes, expires_on in blocks
    ]
    while alive:
        current = alive[0]  # the ledger draws from the first block still usable
        ends = [block[2] for block in alive if block[2] is not None]
        next_end = min(ends) if ends else None
        finish = position + current[0] * WINDOW_DAYS
        if next_end is None or finish <= next_end:  # used up before any block expires
            if days is None and remaining - current[0] <= 0:
                days = (position + remaining * WINDOW_DAYS) // burn
            remaining -= current[0]
            position = finish
            alive.pop(0)
            continue
        # A block expires first: the current one is drawn on until then.
        used = max((next_end - position) // WINDOW_DAYS, 0)
        if days is None and remaining - used <= 0:
            days = (position + remaining * WINDOW_DAYS) // burn
        remaining -= used
        current[0] -= used
        position += used * WINDOW_DAYS
        expiring_now = [block for block in alive if block[2] == next_end]
        alive = [block for block in alive if block[2] != next_end]
        for loss, expires_on, _ in expiring_now:
            if loss:
                lost[expires_on] += loss
                if days is None and remaining - loss <= 0:  # the expiry takes the last of the balance
                    days = max((expires_on - today).days, 0)
                remaining -= loss
        if current[2] == next_end:  # its expiry wasted the rest of the day
            position = max(position, next_end)
    if days is None:  # what is left now is the pool, above zero, used last
        days = (position + remaining * WINDOW_DAYS) // burn
    return days, tuple(Expiring(on=on, minutes=minutes) for on, minutes in sorted(lost.items()))


def runway_of(agreement: Agreement, *, today: datetime.date | None = None) -> Runway:
    """The runway of an agreement fetched through `with_runway` (no query)."""
    today = today or timezone.localdate()
    days, expiring = forecast(
        balance=agreement.balance_minutes,
        burn_window_minutes=agreement.burn_window_minutes,
        blocks=[
            (block.minutes_left, block.expires_on)
            for block in in_burn_order(agreement.runway_blocks, agreement.burn_order)
        ],
        today=today,
    )
    return Runway(
        burn_per_week=agreement.burn_per_week,
        days=days,
        runs_out_on=None if days is None else today + datetime.timedelta(days=days),
        expiring=expiring,
    )


def sort_by_runway(items: Iterable[T], *, runway: Callable[[T], Runway], descending: bool = False) -> list[T]:
    """Items by runway days, 'no burn' (unknown) last either way; stable, so
    an order the items already have breaks ties."""
    items = list(items)
    known = [item for item in items if runway(item).is_known]
    unknown = [item for item in items if not runway(item).is_known]
    return sorted(known, key=lambda item: runway(item).days, reverse=descending) + unknown


class RunwayRanking:
    """Agreements (through `with_runway`, here if not yet), soonest run-out first (latest
    with `descending`), unknown (no burn) last either way, then by client name
    and id: a lazy sequence for Django's Paginator and DRF's pagination.

    A slice up to `stop` reads every agreement holding expiring minutes (their
    runway needs the blocks) and only the first `stop` of the others, ranked
    by the database on the plain forecast, which is their runway: five
    queries in all (with the count), whatever the number of agreements.
    """

    ordered = True  # for Paginator: the order is total
    BY_NAME = ("client__name", "pk")

    def __init__(
        self, agreements: QuerySet[Agreement], *, today: datetime.date | None = None, descending: bool = False
    ) -> None:
        self.today = today or timezone.localdate()
        self.descending = descending
        expiring = Block.objects.filter(agreement=OuterRef("pk"), minutes_left__gt=0, expires_on__isnull=False)
        if "forecast_days" not in agreements.query.annotations:  # not fetched through `with_runway` yet
            agreements = with_runway(agreements, today=self.today)
        self._agreements = agreements.annotate(holds_expiring=Exists(expiring))
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self._agreements.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def ranked(self, stop: int | None = None) -> list[tuple[Agreement, Runway]]:
        """The first `stop` (every one when None), each with its runway."""
        candidates = self._agreements
        if stop is not None:
            # The first `stop` of the agreements whose runway is the plain
            # forecast, ranked by the index on it (from the burn cached for
            # today), and every agreement whose runway is computed here:
            # those holding expiring minutes, and those whose burn was counted
            # on another day (pages run burn_refresh_stale first: normally
            # none). Each set read by an index, then fetched by primary key.
            plain = (
                F("plain_runway_days").desc(nulls_last=True)
                if self.descending
                else F("plain_runway_days").asc(nulls_last=True)
            )
            ids = self._agreements.values_list("pk", flat=True)
            first = ids.filter(burn_computed_on=self.today, holds_expiring=False).order_by(plain, *self.BY_NAME)[:stop]
            expiring = Block.objects.filter(minutes_left__gt=0, expires_on__isnull=False).values("agreement_id")
            stale = (
                Q(burn_computed_on__isnull=True)
                | Q(burn_computed_on__lt=self.today)
                | Q(burn_computed_on__gt=self.today)
            )
            others = ids.filter(pk__in=expiring).order_by().union(ids.filter(stale).order_by())
            candidates = candidates.filter(pk__in=[*first, *others])
        # One list in the database's name order (its collation), then a stable
        # sort by runway: ties fall the same way on every page.
        rows = [(a, runway_of(a, today=self.today)) for a in candidates.order_by(*self.BY_NAME)]
        rows = sort_by_runway(rows, runway=lambda row: row[1], descending=self.descending)
        return rows if stop is None else rows[:stop]

    def __getitem__(self, index: slice) -> list[Agreement]:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("RunwayRanking takes slices without a step.")
        return [agreement for agreement, _ in self.ranked(index.stop)[index]]


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
