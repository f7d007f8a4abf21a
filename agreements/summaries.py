"""Aggregate reads for the pages: each is one query whatever the data size.

Callers pass querysets already scoped by agreements.selectors.*_for_user.
"""

import contextlib
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from redis.exceptions import RedisError

from agreements.domain import money
from agreements.models import Agreement, AgreementStatus, Block, TimeEntry

EXPIRING_DAYS = 30
# What a cache read or write raises when its server cannot be reached.
CACHE_ERRORS = (RedisError, OSError)


def _of(rows: QuerySet, agreements: QuerySet[Agreement]) -> QuerySet:
    """`rows` of these agreements; every row when `agreements` is not filtered
    (staff see all), without an `agreement_id IN (SELECT id …)` to compute."""
    if agreements.query.where or agreements.query.is_sliced:
        return rows.filter(agreement__in=agreements)
    return rows.all()


def blocks_with_remaining(agreements: QuerySet[Agreement]) -> QuerySet[Block]:
    """Blocks of these agreements, each annotated with `remaining` minutes (the cached ledger sum)."""
    return (
        _of(Block.objects, agreements)
        .select_related("tier", "agreement", "moved_from__agreement")
        .annotate(remaining=F("minutes_left"))
        .order_by("-starts_on", "-created_at", "-id")
    )


@dataclass(frozen=True)
class BalanceSplit:
    """An agreement's balance as the Blocks table explains it: the minutes its
    blocks still hold, and the rest (`outside`), which no block holds.

    Positive `outside`: minutes credited to the agreement rather than to a
    block (a charge credited back after a question, a staff adjustment, billed
    overage settled). Negative: overage, time charged beyond the blocks'
    hours, that the next credited block repays first or, under bill-overage,
    that is billed at the hourly rate.
    """

    balance: int
    in_blocks: int

    @property
    def outside(self) -> int:
        return self.balance - self.in_blocks

    @property
    def overage(self) -> int:
        return max(-self.outside, 0)


def balance_split(agreement: Agreement, blocks: Iterable[Block]) -> BalanceSplit:
    """Split `agreement`'s balance over `blocks`, every block of it the page
    lists (the cancelled ones may be left out: they hold no minutes)."""
    return BalanceSplit(balance=agreement.balance_minutes, in_blocks=sum(block.minutes_left for block in blocks))


def expiring_filter(today: datetime.date) -> Q:
    """Active agreements whose term, or a block with hours left, ends within 30 days."""
    horizon = today + datetime.timedelta(days=EXPIRING_DAYS)
    block_expiring = Block.objects.filter(
        agreement=OuterRef("pk"),
        expires_on__gte=today,
        expires_on__lte=horizon,
        credited_at__isnull=False,
        cancelled_at__isnull=True,
    )
    return Q(status=AgreementStatus.ACTIVE) & (Q(ends_on__gte=today, ends_on__lte=horizon) | Q(Exists(block_expiring)))


def deferred_revenue(agreements: QuerySet[Agreement]) -> dict[str, Decimal]:
    """Prepaid money not yet earned, per currency: unused minutes (each block's cached
    minutes left) × their block's rate.

    Grouped by rate in the database, multiplied in Decimal here (SQLite would
    multiply decimals as floats).
    """
    rows = (
        _of(Block.objects.filter(minutes_left__gt=0), agreements)
        .order_by()
        .values("currency", "rate")
        .annotate(minutes=Sum("minutes_left"))
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row["currency"]] += row["rate"] * row["minutes"] / 60
    return {currency: money(total) for currency, total in sorted(totals.items())}


def headline_figures(agreements: QuerySet[Agreement], *, today: datetime.date | None = None) -> dict[str, int]:
    """Counts and sums for the staff dashboard, in one query over the agreements."""
    today = today or timezone.localdate()
    active = Q(status=AgreementStatus.ACTIVE)
    figures = agreements.aggregate(
        outstanding_minutes=Coalesce(Sum("balance_minutes", filter=active & Q(balance_minutes__gt=0)), 0),
        low=Count(
            "pk", filter=active & Q(balance_minutes__gt=0) & Q(balance_minutes__lte=F("low_balance_threshold_minutes"))
        ),
        exhausted=Count("pk", filter=active & Q(balance_minutes__lte=0)),
        expiring=Count("pk", filter=expiring_filter(today)),
        active=Count("pk", filter=active),
    )
    month_start = today.replace(day=1)
    figures["charged_this_month"] = _of(
        TimeEntry.objects.filter(voided_at__isnull=True, work_date__gte=month_start, work_date__lte=today), agreements
    ).aggregate(total=Coalesce(Sum("charged_minutes"), 0))["total"]
    return figures


def _figures_key(today: datetime.date) -> str:
    return f"dashboard-figures:{today.isoformat()}"


def figures_lifetime() -> int:
    """Seconds a cached copy of the MSP-wide totals is served: two refresh
    periods, so a page recounts only when the refresh missed a whole run
    (no beat or worker running, the cache emptied) and never serves figures
    older than that."""
    return 2 * settings.DASHBOARD_FIGURES_SECONDS


def _figures_of(agreements: QuerySet[Agreement], *, today: datetime.date) -> dict[str, dict]:
    return {"figures": headline_figures(agreements, today=today), "deferred": deferred_revenue(agreements)}


def dashboard_figures_refresh(*, today: datetime.date | None = None) -> dict[str, dict]:
    """Recount the MSP-wide totals (every agreement) and put them in the cache.

    The `dashboard-figures` beat entry runs it every DASHBOARD_FIGURES_SECONDS,
    so the scan of every agreement and block is paid by a worker, not by the
    one page view a minute that found the cache expired. Safe to run twice or
    at any time: a recount. With the cache down it only counts.
    """
    today = today or timezone.localdate()
    figures = _figures_of(Agreement.objects.all(), today=today)
    if settings.DASHBOARD_FIGURES_SECONDS > 0:
        with contextlib.suppress(*CACHE_ERRORS):
            cache.set(_figures_key(today), figures, figures_lifetime())
    return figures


def dashboard_figures(agreements: QuerySet[Agreement], *, today: datetime.date) -> dict[str, dict]:
    """`headline_figures` and `deferred_revenue` for the staff dashboard.

    Over every agreement (the MSP's view) both scan every agreement and block,
    so they are read from the cache that `dashboard_figures_refresh` fills
    every DASHBOARD_FIGURES_SECONDS off the request path: the page then costs
    the same at any number of clients, and its totals may lag changes by that
    long. Counted here only when the cache holds nothing for today (then kept
    for the next views), or is down. A scoped queryset is always counted.
    """
    if agreements.query.where or agreements.query.is_sliced or settings.DASHBOARD_FIGURES_SECONDS <= 0:
        return _figures_of(agreements, today=today)
    try:
        cached = cache.get(_figures_key(today))
    except CACHE_ERRORS:  # the cache down: the page still answers, computing its totals
        return _figures_of(agreements, today=today)
    if cached is None:  # no refresh yet today (or missed): count, and keep them for the next views
        cached = dashboard_figures_refresh(today=today)
    return cached
