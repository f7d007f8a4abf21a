"""Which block pays first: the agreement's burn order, shared by the ledger's
allocation and the runway forecast (agreements.domain.in_burn_order)."""

import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from agreements import services
from agreements.domain import in_burn_order
from agreements.models import Agreement, BurnOrder, LedgerEntry, LedgerKind
from agreements.runway import Expiring, forecast, runway_of, with_runway
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, TicketFactory, work_type

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 3)
NOW = datetime.datetime(2026, 12, 3, 9, tzinfo=datetime.UTC)


def on(n):
    return TODAY + datetime.timedelta(days=n)


def fake(pk, starts, expires, created=0):
    return SimpleNamespace(
        pk=pk,
        starts_on=on(starts),
        expires_on=None if expires is None else on(expires),
        created_at=NOW + datetime.timedelta(minutes=created),
    )


def test_oldest_first_orders_by_start_then_sale():
    blocks = [fake(3, -10, 5), fake(1, -30, None), fake(2, -10, 99, created=-1), fake(4, -10, 1, created=-1)]
    assert [b.pk for b in in_burn_order(blocks, BurnOrder.OLDEST_FIRST)] == [1, 2, 4, 3]


def test_soonest_expiring_first_puts_blocks_that_never_expire_last_and_ties_by_age():
    blocks = [
        fake(1, -60, None),
        fake(2, -30, 40),
        fake(3, -20, 10),
        fake(4, -40, 10),  # same expiry as 3, started earlier
        fake(5, -5, None),
        fake(6, -40, 10, created=5),  # same expiry and start as 4, sold later
    ]
    assert [b.pk for b in in_burn_order(blocks, BurnOrder.SOONEST_EXPIRING_FIRST)] == [4, 6, 3, 2, 1, 5]


def test_an_unknown_burn_order_is_a_programming_error():
    with pytest.raises(ValueError):
        in_burn_order([], "newest_first")


# ---------------------------------------------------------------------------
# The ledger records which block each minute came from, in the agreement's order


def sell(agreement, *, hours, starts_days_ago, expires_in=None):
    today = timezone.localdate()
    block = services.block_sell(
        agreement=agreement,
        actor=None,
        hours=hours,
        starts_on=today - datetime.timedelta(days=starts_days_ago),
        expires_on=None if expires_in is None else today + datetime.timedelta(days=expires_in),
    )
    return services.block_credit(block=block)


def log(agreement, technician, minutes, days_ago=0):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate() - datetime.timedelta(days=days_ago),
        minutes=minutes,
        work_type=work_type(),
    )


def taken(entry):
    return [
        (row.block_id, row.minutes)
        for row in LedgerEntry.objects.filter(time_entry=entry, kind=LedgerKind.DEBIT).order_by("pk")
    ]


@pytest.fixture
def three_blocks(client_a):
    """Oldest: 10 h expiring in 30 days; then 5 h expiring in 10 days; newest: 2 h that never expire."""

    def make(burn_order):
        agreement = AgreementFactory(client=client_a, burn_order=burn_order, billing_increment_minutes=1)
        old = sell(agreement, hours=10, starts_days_ago=60, expires_in=30)
        soon = sell(agreement, hours=5, starts_days_ago=30, expires_in=10)
        forever = sell(agreement, hours=2, starts_days_ago=10)
        return agreement, old, soon, forever

    return make


def test_oldest_first_takes_the_oldest_block_then_splits_into_the_next(three_blocks, technician):
    agreement, old, soon, forever = three_blocks(BurnOrder.OLDEST_FIRST)
    first = log(agreement, technician, 540)
    assert taken(first) == [(old.pk, -540)]
    second = log(agreement, technician, 90)  # 60 left in the oldest, 30 from the next
    assert taken(second) == [(old.pk, -60), (soon.pk, -30)]
    old.refresh_from_db(), soon.refresh_from_db(), forever.refresh_from_db()
    assert (old.minutes_left, soon.minutes_left, forever.minutes_left) == (0, 270, 120)
    assert assert_balance_is_ledger_sum(agreement) == 17 * 60 - 630


def test_soonest_expiring_first_takes_the_block_expiring_first_then_splits(three_blocks, technician):
    agreement, old, soon, forever = three_blocks(BurnOrder.SOONEST_EXPIRING_FIRST)
    first = log(agreement, technician, 240)
    assert taken(first) == [(soon.pk, -240)]
    second = log(agreement, technician, 90)  # 60 left in the 5 h block, 30 from the 10 h one
    assert taken(second) == [(soon.pk, -60), (old.pk, -30)]
    third = log(agreement, technician, 600)  # 570 left in the 10 h block, then the block that never expires
    assert taken(third) == [(old.pk, -570), (forever.pk, -30)]
    old.refresh_from_db(), soon.refresh_from_db(), forever.refresh_from_db()
    assert (old.minutes_left, soon.minutes_left, forever.minutes_left) == (0, 0, 90)
    assert assert_balance_is_ledger_sum(agreement) == 90


def test_an_adjustment_that_deducts_follows_the_burn_order_too(three_blocks, staff):
    agreement, old, soon, forever = three_blocks(BurnOrder.SOONEST_EXPIRING_FIRST)
    entries = services.ledger_adjust(agreement=agreement, minutes=-320, reason="Correction", author=staff)
    assert [(e.block_id, e.minutes) for e in entries] == [(soon.pk, -300), (old.pk, -20)]


def test_a_void_gives_each_block_back_what_it_paid(three_blocks, technician, staff):
    agreement, old, soon, forever = three_blocks(BurnOrder.SOONEST_EXPIRING_FIRST)
    entry = log(agreement, technician, 330)
    services.time_entry_void(time_entry=entry, actor=staff, reason="Wrong client")
    old.refresh_from_db(), soon.refresh_from_db()
    assert (old.minutes_left, soon.minutes_left) == (600, 300)
    assert assert_balance_is_ledger_sum(agreement) == 17 * 60


def test_an_expired_block_is_skipped_whatever_the_order(client_a, technician):
    agreement = AgreementFactory(client=client_a, burn_order=BurnOrder.SOONEST_EXPIRING_FIRST)
    lapsed = sell(agreement, hours=1, starts_days_ago=20, expires_in=-1)  # expired yesterday, not yet swept
    later = sell(agreement, hours=1, starts_days_ago=20, expires_in=5)
    entry = log(agreement, technician, 30)
    assert taken(entry) == [(later.pk, -30)]
    # Work done two days ago, while the first block was still valid, comes from it.
    earlier = log(agreement, technician, 30, days_ago=2)
    assert taken(earlier) == [(lapsed.pk, -30)]


# ---------------------------------------------------------------------------
# The runway simulates the same order


def test_an_older_block_that_never_expires_outlasts_a_newer_block_that_expires():
    # 10 min a day (560 in 8 weeks); 640 min that never expire (older), 600 expiring on day 20.
    # Oldest first: the 640 are drawn on; the 600 are never reached and expire whole on day 20;
    # the 640 last 64 days (640 / 10). The run-out is day 64, not the expiry date.
    blocks = [(640, None), (600, on(20))]
    assert forecast(balance=1240, burn_window_minutes=560, blocks=blocks, today=TODAY) == (
        64,
        (Expiring(on=on(20), minutes=600),),
    )
    # Soonest expiring first: the 600 are drawn on days 0-20 (21 days × 10 = 210), 390 expire
    # on day 20; the 640 then last from day 21 for 64 days: run-out day 85.
    blocks = [(600, on(20)), (640, None)]
    assert forecast(balance=1240, burn_window_minutes=560, blocks=blocks, today=TODAY) == (
        85,
        (Expiring(on=on(20), minutes=390),),
    )


def test_an_older_block_expiring_later_than_a_newer_one():
    # Oldest first, 10 a day: 640 expiring on day 30, then 600 expiring on day 20.
    # Days 0-20 draw 210 from the first; the second expires whole on day 20 (600 lost);
    # days 21-30 draw 100 more; 330 expire on day 30: nothing is left then, run-out day 30.
    blocks = [(640, on(30)), (600, on(20))]
    assert forecast(balance=1240, burn_window_minutes=560, blocks=blocks, today=TODAY) == (
        30,
        (Expiring(on=on(20), minutes=600), Expiring(on=on(30), minutes=330)),
    )
    # With 100 pool minutes as well, they last 10 days from day 31: run-out day 41.
    assert forecast(balance=1340, burn_window_minutes=560, blocks=blocks, today=TODAY)[0] == 41


def test_runway_of_an_agreement_follows_its_burn_order(client_a, technician):
    today = timezone.localdate()
    runs = {}
    for burn_order in BurnOrder.values:
        agreement = AgreementFactory(client=client_a, burn_order=burn_order, billing_increment_minutes=1)
        sell(agreement, hours=20, starts_days_ago=90)  # never expires
        log(agreement, technician, 560, days_ago=3)  # 10 min a day; 640 left in the first block
        expiring = sell(agreement, hours=10, starts_days_ago=1, expires_in=20)
        runway = runway_of(with_runway(Agreement.objects.filter(pk=agreement.pk), today=today).get(), today=today)
        runs[burn_order] = (runway.days, runway.expiring)
        # The ledger draws on the block the forecast starts with.
        entry = log(agreement, technician, 10)
        runs[burn_order] += (taken(entry)[0][0] == expiring.pk,)
    expiry = today + datetime.timedelta(days=20)
    assert runs == {
        BurnOrder.OLDEST_FIRST: (64, (Expiring(on=expiry, minutes=600),), False),
        BurnOrder.SOONEST_EXPIRING_FIRST: (85, (Expiring(on=expiry, minutes=390),), True),
    }


def day_by_day(blocks, pool, per_day):
    """The ledger's rule played one day at a time: each day takes `per_day` minutes from the
    first block in the order still valid that day, then the next, then the pool; at the end of
    its expiry date a block loses what is left. Returns (run-out day, {date: minutes lost})."""
    left = [[minutes, expires] for minutes, expires in blocks]
    balance = sum(minutes for minutes, _ in blocks) + pool
    runout = 0 if balance <= 0 else None
    lost = {}

    def expire(on):
        nonlocal balance, runout
        for block in left:
            if block[1] is not None and block[1] == on and block[0]:
                lost[on] = lost.get(on, 0) + block[0]
                balance -= block[0]
                block[0] = 0
                if runout is None and balance <= 0:
                    runout = max(on, 0)

    for past in sorted({e for _, e in left if e is not None and e < 0}):
        expire(past)
    d = 0
    while runout is None or any(block[0] for block in left):
        need = per_day
        for block in left:
            if block[1] is None or block[1] >= d:
                take = min(block[0], need)
                block[0] -= take
                need -= take
        balance -= per_day  # the rest, if any, from the pool
        if runout is None and balance <= 0:
            runout = d if balance < 0 else d + 1
        expire(d)
        d += 1
    return runout, lost


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 600), st.none() | st.integers(-3, 80)), max_size=5),
    st.integers(-300, 400),
    st.integers(1, 40),
)
def test_the_forecast_is_the_ledger_played_day_by_day(blocks, pool, per_day):
    dated = [(minutes, None if d is None else on(d)) for minutes, d in blocks]
    days, expiring = forecast(
        balance=sum(m for m, _ in blocks) + pool, burn_window_minutes=per_day * 56, blocks=dated, today=TODAY
    )
    runout, lost = day_by_day(blocks, pool, per_day)
    assert days == runout
    assert expiring == tuple(Expiring(on=on(d), minutes=m) for d, m in sorted(lost.items()))
