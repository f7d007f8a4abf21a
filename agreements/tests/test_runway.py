import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements import services
from agreements.models import Agreement
from agreements.runway import daily_balances, runway_of, with_runway
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
        rows = list(with_runway(Agreement.objects.all()).order_by("runway_days"))
        history = daily_balances([a.pk for a in rows])
    assert len(queries) == 2
    assert len(rows) == 30 and all(history[a.pk] for a in rows)
    days = [a.runway_days for a in rows]
    assert days == sorted(days)
