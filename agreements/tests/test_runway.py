import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from agreements import services
from agreements.models import Agreement, TimeEntry
from agreements.runway import (
    WINDOW_DAYS,
    Expiring,
    RunwayRanking,
    daily_balances,
    forecast,
    runway_attach,
    runway_of,
    sort_by_runway,
    with_runway,
)
from agreements.tests.assertions import assert_burn_is_entry_sum
from agreements.tests.factories import AgreementFactory, ClientFactory, TicketFactory, work_type

pytestmark = pytest.mark.django_db


def log(agreement, technician, minutes, days_ago):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate() - datetime.timedelta(days=days_ago),
        minutes=minutes,
        work_type=work_type(),
    )


@pytest.fixture
def stocked(agreement, staff):
    services.ledger_adjust(agreement=agreement, minutes=100 * 60, reason="Opening balance", author=staff)
    return agreement


def test_it_averages_charged_minutes_over_eight_weeks(stocked, technician):
    log(stocked, technician, 240, 0)
    log(stocked, technician, 240, 55)  # first day inside the window
    log(stocked, technician, 600, 56)  # just outside: not counted
    voided = log(stocked, technician, 120, 3)
    services.time_entry_void(time_entry=voided, actor=technician, reason="wrong client")
    today = timezone.localdate()
    agreement = with_runway(Agreement.objects.filter(pk=stocked.pk), today=today).get()
    runway = runway_of(agreement, today=today)
    assert agreement.burn_window_minutes == 480
    assert runway.burn_per_week == 60
    balance = 6000 - 240 - 240 - 600
    assert agreement.balance_minutes == balance
    assert runway.days == balance * 56 // 480
    assert runway.runs_out_on == today + datetime.timedelta(days=balance * 56 // 480)


def test_no_usage_means_unknown_runway(stocked):
    agreement = with_runway(Agreement.objects.filter(pk=stocked.pk)).get()
    assert runway_of(agreement).days is None and runway_of(agreement).runs_out_on is None


def test_an_exhausted_agreement_runs_out_today(agreement, staff, technician):
    services.ledger_adjust(agreement=agreement, minutes=60, reason="One hour", author=staff)
    log(agreement, technician, 60, 1)
    today = timezone.localdate()
    runway = runway_of(with_runway(Agreement.objects.filter(pk=agreement.pk), today=today).get(), today=today)
    assert runway.days == 0 and runway.runs_out_on == today


def test_one_query_for_any_number_of_agreements(technician, staff):
    for n in range(30):
        agreement = AgreementFactory(client=ClientFactory(name=f"C{n}"))
        services.ledger_adjust(agreement=agreement, minutes=600, reason="x", author=staff)
        log(agreement, technician, 15 * (n + 1), n)
    with CaptureQueriesContext(connection) as queries:
        rows = sort_by_runway(with_runway(Agreement.objects.all()), runway=runway_of)
        history = daily_balances([a.pk for a in rows])
    # The annotated agreements, their blocks with minutes left, the chart history.
    assert len(queries) == 3
    assert len(rows) == 30 and all(history[a.pk] for a in rows)
    days = [runway_of(a).days for a in rows]
    assert days == sorted(days)


# ---------------------------------------------------------------------------
# Expiry: hours run out at whichever comes first, and what expires unused

TODAY = datetime.date(2026, 12, 3)


def days(n):
    return TODAY + datetime.timedelta(days=n)


def test_without_expiry_the_forecast_is_balance_over_daily_burn():
    # 560 min in 8 weeks = 10 min a day.
    assert forecast(balance=1000, burn_window_minutes=560, blocks=[(600, None)], today=TODAY) == (100, ())
    assert forecast(balance=599, burn_window_minutes=560, blocks=[(600, None)], today=TODAY) == (59, ())
    assert forecast(balance=0, burn_window_minutes=560, blocks=[], today=TODAY) == (0, ())
    assert forecast(balance=600, burn_window_minutes=0, blocks=[(600, None)], today=TODAY) == (None, ())


def test_hours_expiring_before_they_are_used_run_out_on_the_expiry_date():
    # 10 min a day, usable through day 20 (21 days counting today): 210 used, 390 lost.
    result = forecast(balance=600, burn_window_minutes=560, blocks=[(600, days(20))], today=TODAY)
    assert result == (20, (Expiring(on=days(20), minutes=390),))


def test_an_expiring_block_used_up_in_time_loses_nothing():
    assert forecast(balance=100, burn_window_minutes=560, blocks=[(100, days(20))], today=TODAY) == (10, ())
    # Exactly used up on its expiry date.
    assert forecast(balance=210, burn_window_minutes=560, blocks=[(210, days(20))], today=TODAY) == (21, ())


def test_several_blocks_with_different_expiries_then_hours_that_never_expire():
    blocks = [(300, days(10)), (300, days(5)), (300, None)]
    result = forecast(balance=1000, burn_window_minutes=560, blocks=blocks, today=TODAY)
    # Oldest first: 110 of the first used by day 10, 190 lost; the second
    # expires on day 5 while the first is in use: all 300 lost; then 300 in
    # the third block and the pool's 100 (never expire) at 10 a day.
    assert result == (51, (Expiring(on=days(5), minutes=300), Expiring(on=days(10), minutes=190)))


def test_pool_minutes_never_expire():
    assert forecast(balance=600, burn_window_minutes=560, blocks=[], today=TODAY) == (60, ())
    assert forecast(balance=600, burn_window_minutes=0, blocks=[], today=TODAY) == (None, ())
    # After an expiring block is lost, the pool carries on.
    result = forecast(balance=900, burn_window_minutes=560, blocks=[(600, days(20))], today=TODAY)
    assert result == (20 + 1 + 30, (Expiring(on=days(20), minutes=390),))


def test_without_burn_every_expiring_hour_is_at_risk():
    blocks = [(600, days(20)), (300, days(40))]
    expiring = (Expiring(on=days(20), minutes=600), Expiring(on=days(40), minutes=300))
    assert forecast(balance=900, burn_window_minutes=0, blocks=blocks, today=TODAY) == (40, expiring)
    # Hours that never expire remain: no run-out date, the same hours at risk.
    assert forecast(balance=960, burn_window_minutes=0, blocks=blocks, today=TODAY) == (None, expiring)


def test_with_overage_owed_the_expiry_that_takes_the_balance_to_zero_is_the_run_out():
    # 100 min balance: 600 in a block, 500 owed. 60 used by day 5, then 540 expire: below zero that day.
    result = forecast(balance=100, burn_window_minutes=560, blocks=[(600, days(5))], today=TODAY)
    assert result == (5, (Expiring(on=days(5), minutes=540),))
    # The same debt without expiry: 100 min at 10 a day.
    assert forecast(balance=100, burn_window_minutes=560, blocks=[(600, None)], today=TODAY) == (10, ())


def test_a_block_past_expiry_not_yet_swept_is_lost_already():
    result = forecast(balance=60, burn_window_minutes=560, blocks=[(60, days(-1))], today=TODAY)
    assert result == (0, (Expiring(on=days(-1), minutes=60),))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5000), st.none() | st.integers(-3, 400)), max_size=5),
    st.integers(-600, 3000),
    st.integers(0, 5000),
)
def test_expiry_only_ever_brings_the_run_out_forward(blocks, pool, burn):
    dated = [(minutes, None if d is None else days(d)) for minutes, d in blocks]
    balance = sum(minutes for minutes, _ in blocks) + pool
    plain, _ = forecast(balance=balance, burn_window_minutes=burn, blocks=[(m, None) for m, _ in blocks], today=TODAY)
    result, expiring = forecast(balance=balance, burn_window_minutes=burn, blocks=dated, today=TODAY)
    if burn and balance > 0:
        assert plain == balance * WINDOW_DAYS // burn
    assert sum(item.minutes for item in expiring) <= sum(m for m, d in blocks if d is not None)
    if plain is not None:
        assert result is not None and 0 <= result <= plain
    if not any(d is not None for _, d in blocks):
        assert (result, expiring) == (plain, ())


def expiring_block(agreement, *, hours, expires_on, starts_on):
    block = services.block_sell(
        agreement=agreement, actor=None, hours=hours, starts_on=starts_on, expires_on=expires_on
    )
    return services.block_credit(block=block)


def test_runway_of_an_agreement_honours_its_blocks_expiry(agreement, technician, staff):
    today = timezone.localdate()
    expiring_block(
        agreement,
        hours=30,
        starts_on=today - datetime.timedelta(days=60),
        expires_on=today + datetime.timedelta(days=20),
    )
    log(agreement, technician, 840, 3)  # 15 min a day; taken from the block: 960 min left in it
    services.ledger_adjust(agreement=agreement, minutes=300, reason="Goodwill", author=staff)  # the pool
    fetched = with_runway(Agreement.objects.filter(pk=agreement.pk), today=today).get()
    assert fetched.forecast_days == (960 + 300) * 56 // 840 == 84  # blind to expiry
    runway = runway_of(fetched, today=today)
    # 315 of the block's 960 used through its expiry day (21 days at 15), 645 lost; then 300 pool minutes.
    assert runway.expiring == (Expiring(on=today + datetime.timedelta(days=20), minutes=645),)
    assert runway.expiring_unused_minutes == 645 and runway.expiring_on == today + datetime.timedelta(days=20)
    assert runway.days == 21 + 20
    assert runway.runs_out_on == today + datetime.timedelta(days=41)


def test_an_agreement_without_expiring_blocks_keeps_its_runway(agreement, technician):
    today = timezone.localdate()
    block = services.block_sell(
        agreement=agreement, actor=None, hours=20, starts_on=today - datetime.timedelta(days=60)
    )
    services.block_credit(block=block)
    log(agreement, technician, 840, 3)
    runway = runway_of(with_runway(Agreement.objects.filter(pk=agreement.pk), today=today).get(), today=today)
    assert (runway.days, runway.expiring, runway.expiring_unused_minutes, runway.expiring_on) == (24, (), 0, None)


def test_the_expiry_queries_stay_constant(technician):
    today = timezone.localdate()

    def make(count):
        for n in range(count):
            agreement = AgreementFactory(client=ClientFactory(name=f"E{count}-{n}"))
            for months in (1, 2):
                expiring_block(
                    agreement,
                    hours=10,
                    starts_on=today - datetime.timedelta(days=30),
                    expires_on=today + datetime.timedelta(days=30 * months),
                )
            log(agreement, technician, 30 + n, 1)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            rows = [runway_of(a, today=today) for a in with_runway(Agreement.objects.all(), today=today)]
        assert len(rows) == Agreement.objects.count() and all(row.expiring for row in rows)
        return len(captured)

    make(2)
    few = queries()
    make(20)
    assert queries() == few == 2


def test_a_ranking_pages_exactly_like_sorting_everything(technician):
    today = timezone.localdate()
    # (hours, expires in days or None, minutes logged): plain burns, yearly blocks, idle ones, ties.
    shapes = [(10, None, 60), (10, 5, 60), (10, None, 0), (20, 40, 120), (10, None, 60), (10, 200, 30), (30, None, 0)]
    shapes += [(10, 3, 0), (10, None, 300), (20, 10, 300), (10, None, 60), (10, 60, 0)]
    for n, (hours, expires_in, used) in enumerate(shapes):
        agreement = AgreementFactory(client=ClientFactory(name=f"{'ab'[n % 2]}{'Cc'[n % 3 % 2]} {n:02}"))
        expiring_block(
            agreement,
            hours=hours,
            starts_on=today - datetime.timedelta(days=30),
            expires_on=None if expires_in is None else today + datetime.timedelta(days=expires_in),
        )
        if used:
            log(agreement, technician, used, 2)
    everything = list(
        with_runway(Agreement.objects.select_related("client"), today=today).order_by("client__name", "pk")
    )
    for descending in (False, True):
        expected = sort_by_runway(everything, runway=lambda a: runway_of(a, today=today), descending=descending)
        ranking = RunwayRanking(Agreement.objects.select_related("client"), today=today, descending=descending)
        assert [a for a, _ in ranking.ranked()] == expected
        assert len(ranking) == len(shapes)
        for size in (1, 3, 5):
            pages = [ranking[start : start + size] for start in range(0, len(shapes), size)]
            assert [a for page in pages for a in page] == expected
        with CaptureQueriesContext(connection) as queries:
            ranking[3:6]
        # The first ids by the index, the expiring or stale ids, those agreements, their blocks.
        assert len(queries) == 4
    runways = [runway_of(a, today=today) for a, _ in RunwayRanking(Agreement.objects.all(), today=today).ranked()]
    days = [r.days for r in runways]
    # No burn, all expiring in 3 days; expiring before use in 5 and in 10 days; two idle, nothing expiring.
    assert days[:3] == [3, 5, 10] and days[-2:] == [None, None]


def cached_burn(agreement):
    return tuple(Agreement.objects.values_list("burn_minutes", "burn_computed_on").get(pk=agreement.pk))


def test_the_cached_burn_follows_every_log_void_and_correction(stocked, technician):
    today = timezone.localdate()
    first = log(stocked, technician, 240, 0)
    assert cached_burn(stocked) == (240, today)
    log(stocked, technician, 600, 56)  # outside the window: the cache is recounted, unchanged
    assert cached_burn(stocked) == (240, today)
    second = log(stocked, technician, 120, 55)
    assert cached_burn(stocked) == (360, today)
    services.time_entry_void(time_entry=second, actor=technician, reason="wrong client")
    assert cached_burn(stocked) == (240, today)
    services.time_entry_correct(time_entry=first, actor=technician, reason="typo", minutes=60)
    assert cached_burn(stocked) == (60, today)


def test_an_entry_moves_the_burn_counted_today_without_a_recount(stocked, technician):
    today = timezone.localdate()
    log(stocked, technician, 240, 0)  # counted for today from here on
    with CaptureQueriesContext(connection) as captured:
        entry = log(stocked, technician, 90, 55)  # the window's first day
    assert cached_burn(stocked) == (330, today)
    # Moved in the balance's UPDATE: no statement sums the entries.
    assert not [q["sql"] for q in captured.captured_queries if "SUM(" in q["sql"].upper()]
    log(stocked, technician, 600, 56)  # a day before the window: no change
    assert cached_burn(stocked) == (330, today)
    services.time_entry_void(time_entry=entry, actor=technician, reason="wrong client")
    assert cached_burn(stocked) == (240, today)
    old = TimeEntry.objects.get(charged_minutes=600)
    services.time_entry_void(time_entry=old, actor=technician, reason="wrong client")  # outside: no change
    assert cached_burn(stocked) == (240, today)
    assert_burn_is_entry_sum(stocked, today)


def test_a_future_dated_entry_is_outside_the_window(stocked, technician):
    today = timezone.localdate()
    future = log(stocked, technician, 120, 0)  # today's entry, dated after yesterday
    with time_machine.travel(timezone.now() - datetime.timedelta(days=1)):
        yesterday = timezone.localdate()
        log(stocked, technician, 30, 0)  # counted on another day: recounted for yesterday, the future entry left out
        assert cached_burn(stocked) == (30, yesterday)
        services.time_entry_void(time_entry=future, actor=technician, reason="wrong day")  # moved: no change
        assert cached_burn(stocked) == (30, yesterday)
        assert_burn_is_entry_sum(stocked, yesterday)
    assert with_runway(Agreement.objects.filter(pk=stocked.pk), today=today).get().burn_window_minutes == 30


def test_a_burn_counted_on_another_day_is_recounted_by_the_next_entry(stocked, technician):
    today = timezone.localdate()
    log(stocked, technician, 240, 0)
    voided = log(stocked, technician, 60, 1)
    # As if counted yesterday and the nightly recount had not run: a wrong figure the entry must not move.
    Agreement.objects.filter(pk=stocked.pk).update(burn_minutes=5, burn_computed_on=today - datetime.timedelta(days=1))
    log(stocked, technician, 30, 0)
    assert cached_burn(stocked) == (330, today)
    Agreement.objects.filter(pk=stocked.pk).update(burn_minutes=7, burn_computed_on=None)  # never counted
    services.time_entry_void(time_entry=voided, actor=technician, reason="wrong client")
    assert cached_burn(stocked) == (270, today)
    assert_burn_is_entry_sum(stocked, today)


def test_the_nightly_recount_slides_the_window(stocked, technician, staff):
    from agreements.runway import burn_recompute, burn_refresh_stale
    from agreements.tasks import recompute_burn

    today = timezone.localdate()
    other = AgreementFactory(client=ClientFactory(name="Other"))
    services.ledger_adjust(agreement=other, minutes=600, reason="Opening balance", author=staff)
    log(stocked, technician, 240, 55)  # leaves the window tomorrow
    log(stocked, technician, 60, 0)
    log(other, technician, 30, 0)
    tomorrow = today + datetime.timedelta(days=1)
    with CaptureQueriesContext(connection) as captured:
        assert burn_recompute(today=tomorrow) == 2
    # Every agreement: the rows locked, then one UPDATE (per 5,000), whatever their number.
    statements = [q["sql"].split()[0] for q in captured if "SAVEPOINT" not in q["sql"]]
    assert statements == ["SELECT", "UPDATE"]
    assert cached_burn(stocked) == (60, tomorrow) and cached_burn(other) == (30, tomorrow)
    # Pages recount only what is left from an earlier day: nothing, then one row.
    assert burn_refresh_stale(today=tomorrow) == 0
    Agreement.objects.filter(pk=other.pk).update(burn_minutes=999, burn_computed_on=today)
    assert burn_refresh_stale(today=tomorrow) == 1
    assert cached_burn(other) == (30, tomorrow)
    assert recompute_burn() == 2  # the beat task: today again
    assert cached_burn(stocked) == (300, today)


def test_a_burn_counted_on_another_day_is_not_read(stocked, technician):
    today = timezone.localdate()
    log(stocked, technician, 240, 0)
    # As if the nightly recount had not run yet: the stale figure is ignored, the entries counted.
    Agreement.objects.filter(pk=stocked.pk).update(burn_minutes=5, burn_computed_on=today - datetime.timedelta(days=1))
    assert with_runway(Agreement.objects.filter(pk=stocked.pk), today=today).get().burn_window_minutes == 240
    ranked = RunwayRanking(Agreement.objects.all(), today=today)
    assert [(a.pk, r.days) for a, r in ranked.ranked(1)] == [(stocked.pk, (6000 - 240) * WINDOW_DAYS // 240)]


def test_recompute_burn_is_in_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["recompute-burn"]
    assert entry["task"] == "agreements.tasks.recompute_burn"


@pytest.mark.parametrize("cache", ["counted today", "counted yesterday"])
def test_runway_attach_reads_one_agreement_as_with_runway_does(agreement, technician, staff, cache):
    today = timezone.localdate()
    expiring_block(
        agreement,
        hours=30,
        starts_on=today - datetime.timedelta(days=60),
        expires_on=today + datetime.timedelta(days=20),
    )
    log(agreement, technician, 840, 3)
    log(agreement, technician, 600, 56)  # outside the window
    services.ledger_adjust(agreement=agreement, minutes=300, reason="Goodwill", author=staff)
    if cache == "counted yesterday":  # the stale figure is never read: the entries are counted
        Agreement.objects.filter(pk=agreement.pk).update(
            burn_minutes=5, burn_computed_on=today - datetime.timedelta(days=1)
        )
    annotated = with_runway(Agreement.objects.filter(pk=agreement.pk), today=today).get()
    with CaptureQueriesContext(connection) as captured:
        attached = runway_attach(Agreement.objects.get(pk=agreement.pk), today=today)
    assert len(captured) == (2 if cache == "counted yesterday" else 1) + 1  # the get, the count, the blocks
    assert (attached.burn_window_minutes, attached.burn_per_week) == (annotated.burn_window_minutes, 105) == (840, 105)
    assert [b.pk for b in attached.runway_blocks] == [b.pk for b in annotated.runway_blocks]
    assert runway_of(attached, today=today) == runway_of(annotated, today=today)
    # 1,800 - 840 - 600 = 360 left in the block, 21 days at 15 a day use 315: 45 expire unused.
    assert runway_of(attached, today=today).expiring == (Expiring(on=today + datetime.timedelta(days=20), minutes=45),)
