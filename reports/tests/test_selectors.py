"""Each report's exact figures on the known dataset of conftest.py."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Client, CreditPolicy
from agreements.tests.factories import AgreementFactory, ClientFactory, TicketFactory, tier, work_type
from reports import selectors
from reports.services import client_seats_set

D = Decimal
JAN, FEB, MAR = datetime.date(2026, 1, 1), datetime.date(2026, 2, 1), datetime.date(2026, 3, 1)


def test_it_values_unused_minutes_at_each_blocks_rate_as_of_any_date(dataset):
    jan = selectors.deferred_revenue(as_of=datetime.date(2026, 1, 31))
    assert [(r.client_name, r.minutes, r.amount) for r in jan.rows] == [
        ("Acme Dental", 480, D("800.00")),  # A1: 600 − 90 − 30 at $100
        ("Birch Legal", 480, D("960.00")),  # B1: 600 − 120 at $120
    ]
    assert jan.totals == {"USD": D("1760.00")}

    feb = selectors.deferred_revenue(as_of=datetime.date(2026, 2, 28))
    # A1 has 30 min back from the void ($50), A2 1,140 min at $90 ($1,710); B1 expired.
    assert [(r.client_name, r.minutes, r.amount) for r in feb.rows] == [("Acme Dental", 1170, D("1760.00"))]

    mar = selectors.deferred_revenue(as_of=datetime.date(2026, 3, 31))
    assert mar.totals == {"USD": D("1710.00")}
    assert selectors.deferred_revenue(as_of=datetime.date(2025, 12, 31)).rows == []


def test_it_filters_deferred_revenue_by_client(dataset):
    only_birch = Client.objects.filter(pk=dataset.birch.pk)
    report = selectors.deferred_revenue(as_of=datetime.date(2026, 1, 31), clients=only_birch)
    assert report.totals == {"USD": D("960.00")}


def test_it_recognises_revenue_and_breakage_per_month(dataset):
    months = selectors.recognised_revenue(first=JAN, last=datetime.date(2026, 3, 31))
    figures = [
        (m.month, m.opening, m.purchased, m.recognised, m.breakage, m.cancelled, m.closing, m.recognised_minutes)
        for m in months
    ]
    assert figures == [
        (JAN, D("0.00"), D("2200.00"), D("440.00"), D("0.00"), D("0.00"), D("1760.00"), 240),
        # 480 min of A1 ($800) + 60 of A2 ($90) − 30 reversed to A1 ($50); B1's 480 min expire ($960).
        (FEB, D("1760.00"), D("1800.00"), D("840.00"), D("960.00"), D("0.00"), D("1760.00"), 510),
        (MAR, D("1760.00"), D("0.00"), D("50.00"), D("0.00"), D("0.00"), D("1710.00"), 30),
    ]
    assert months[1].breakage_minutes == 480
    assert months[1].earned == D("1800.00")


def test_it_starts_a_later_period_from_the_deferred_balance_then(dataset):
    (march,) = selectors.recognised_revenue(first=MAR, last=datetime.date(2026, 3, 31))
    assert (march.opening, march.closing) == (D("1760.00"), D("1710.00"))


def test_it_sums_usage_by_client_and_month_leaving_void_time_out(dataset):
    rows = selectors.usage(first=JAN, last=datetime.date(2026, 2, 28), by="client")
    assert [
        (r.month, r.label, r.entries, r.worked_minutes, r.charged_minutes, r.non_billable_minutes) for r in rows
    ] == [
        (JAN, "Acme Dental", 1, 90, 90, 0),
        (JAN, "Birch Legal", 1, 120, 120, 0),
        (FEB, "Acme Dental", 2, 360, 540, 45),
    ]


def test_it_sums_usage_by_technician_and_by_work_type(dataset):
    by_tech = selectors.usage(first=JAN, last=datetime.date(2026, 2, 28), by="technician")
    assert [(r.month, r.label, r.worked_minutes, r.charged_minutes, r.non_billable_minutes) for r in by_tech] == [
        (JAN, "Tess Ng", 90, 90, 0),
        (JAN, "Tom Ode", 120, 120, 0),
        (FEB, "Tess Ng", 0, 0, 45),
        (FEB, "Tom Ode", 360, 540, 0),
    ]
    by_type = selectors.usage(first=FEB, last=datetime.date(2026, 2, 28), by="work_type")
    assert [(r.label, r.worked_minutes, r.charged_minutes, r.non_billable_minutes) for r in by_type] == [
        ("After-hours", 360, 540, 0),
        ("Non-billable", 0, 0, 45),
    ]
    by_month = selectors.usage(first=JAN, last=datetime.date(2026, 3, 31), by="month")
    assert [(r.month, r.charged_minutes) for r in by_month] == [(JAN, 210), (FEB, 540)]


def test_it_reports_cash_per_month(dataset):
    months = selectors.cash(first=JAN, last=datetime.date(2026, 3, 31))
    assert [
        (m.month, m.invoices, m.invoiced, m.collected, m.outstanding, m.overdue, m.reloads_raised, m.reloads_paid)
        for m in months
    ] == [
        (JAN, 2, D("2200.00"), D("1000.00"), D("1200.00"), D("0.00"), 0, 0),
        # Inv 2 ($1,200, $700 paid) and the reload ($1,800) are due in February; the void one never counts.
        (FEB, 1, D("1800.00"), D("700.00"), D("2300.00"), D("2300.00"), 1, 0),
        (MAR, 0, D("0.00"), D("0.00"), D("2300.00"), D("2300.00"), 0, 0),
    ]
    assert months[1].reloads_raised_amount == D("1800.00")


def test_it_lists_msa_candidates_by_trailing_spend(dataset, settings):
    settings.REPORTS_MSA_TRAILING_MONTHS = 3
    settings.REPORTS_MSA_SEAT_PRICE = D("150.00")
    client_seats_set(client=dataset.acme, seats=6)
    client_seats_set(client=dataset.birch, seats=3)
    report = selectors.msa_candidates(today=datetime.date(2026, 3, 31))  # Jan 1 to Mar 31
    assert (report.first, report.last) == (JAN, datetime.date(2026, 3, 31))
    assert [(r.client.name, r.seats, r.spend, r.monthly_spend, r.msa_monthly, r.is_candidate) for r in report.rows] == [
        ("Acme Dental", 6, D("2800.00"), D("933.33"), D("900.00"), True),
        ("Birch Legal", 3, D("1200.00"), D("400.00"), D("450.00"), False),
    ]
    only = selectors.msa_candidates(today=datetime.date(2026, 3, 31), candidates_only=True)
    assert [r.client.name for r in only.rows] == ["Acme Dental"]
    # Mid-April the window starts Jan 16: invoice 1 (Jan 5) drops out of Acme's spend.
    april = selectors.msa_candidates(today=datetime.date(2026, 4, 15))
    assert (april.first, april.rows[0].client.name, april.rows[0].spend) == (
        datetime.date(2026, 1, 16),
        "Birch Legal",
        D("1200.00"),
    )
    # A window with no invoices: seats still listed, nobody qualifies; closest to break-even first.
    later = selectors.msa_candidates(today=datetime.date(2026, 9, 1))
    assert [(r.client.name, r.spend, r.difference, r.is_candidate) for r in later.rows] == [
        ("Birch Legal", D("0.00"), D("-450.00"), False),
        ("Acme Dental", D("0.00"), D("-900.00"), False),
    ]


def test_it_ranks_agreements_by_run_out_date(technician, staff):
    today = datetime.date.today()

    def agreement_using(name: str, hours: int, used: int):
        client = ClientFactory(name=name)
        agreement = AgreementFactory(client=client, credit_policy=CreditPolicy.IMMEDIATE)
        agreement_services.block_sell(agreement=agreement, actor=staff, tier=tier(hours), starts_on=agreement.starts_on)
        if used:
            agreement_services.time_entry_log(
                agreement=agreement,
                technician=technician,
                ticket=TicketFactory(client=client),
                work_date=today,
                minutes=used,
                work_type=work_type("Normal"),
            )
        return agreement

    slow = agreement_using("Slow Co", 30, 600)  # 1,200 left, 600 in 8 weeks: 112 days
    fast = agreement_using("Fast Co", 10, 300)  # 300 left, 300 in 8 weeks: 56 days
    idle = agreement_using("Idle Co", 10, 0)  # no burn: last
    rows = selectors.runway_ranking(today=today)
    assert [(r.agreement.pk, r.runway.burn_per_week, r.runway.days) for r in rows] == [
        (fast.pk, 37, 56),
        (slow.pk, 75, 112),
        (idle.pk, 0, None),
    ]
    assert rows[0].runway.runs_out_on == today + datetime.timedelta(days=56)


@pytest.mark.parametrize("bad", [-1, 100_001, True, "3"])
def test_it_refuses_absurd_seat_counts(client_a, bad):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        client_seats_set(client=client_a, seats=bad)


def test_the_dashboard_and_the_report_agree_on_deferred_revenue_today(client_a, client_b, staff, technician):
    """Two computations of one rule: the dashboard's from each block's cached
    minutes left (fast, now only), the report's from the ledger (any date).
    Built through the services, which keep the cache."""
    from django.utils import timezone

    from agreements.models import Agreement
    from agreements.summaries import deferred_revenue as dashboard_deferred_revenue

    today = timezone.localdate()
    for client, minutes in ((client_a, 95), (client_b, 7 * 60 + 13)):
        agreement = AgreementFactory(client=client, billing_increment_minutes=1)
        for hours in (10, 20):
            block = agreement_services.block_sell(
                agreement=agreement, tier=tier(hours), actor=staff, starts_on=agreement.starts_on
            )
            agreement_services.block_mark_paid(block=block, actor=staff)
        entry = agreement_services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=TicketFactory(client=client),
            work_date=today,
            minutes=minutes,
            work_type=work_type(),
        )
        agreement_services.ledger_adjust(agreement=agreement, minutes=-17, reason="Goodwill", author=staff)
    agreement_services.time_entry_void(time_entry=entry, actor=staff, reason="Wrong client")

    report = selectors.deferred_revenue(as_of=today)
    assert report.totals == dashboard_deferred_revenue(Agreement.objects.all())
    assert report.total_minutes == 2 * (30 * 60 - 17) - 95


def test_the_ranking_puts_hours_that_expire_first_ahead(expiring, technician, staff):
    today = timezone.localdate()
    steady = AgreementFactory(client=ClientFactory(name="Steady Co"))
    agreement_services.ledger_adjust(agreement=steady, minutes=700, reason="Opening balance", author=staff)
    agreement_services.time_entry_log(
        agreement=steady,
        technician=technician,
        ticket=TicketFactory(client=steady.client),
        work_date=today,
        minutes=420,
        work_type=work_type(),
    )
    rows = selectors.runway_ranking(today=today)
    # The yearly hours would last 64 days at their burn, but expire in 20 with 645 min unused.
    assert [(r.agreement, r.runway.days, r.runway.expiring_unused_minutes, r.runway.expiring_on) for r in rows] == [
        (expiring, 20, 645, today + datetime.timedelta(days=20)),
        (steady, 37, 0, None),
    ]
    assert [r.agreement for r in selectors.runway_ranking(today=today, limit=1)] == [expiring]
    assert "expiry" in selectors.runway_method()


def test_refunds_and_forfeits_leave_deferred_revenue_separately(dataset):
    from agreements.models import LedgerKind
    from reports.tests.conftest import _ledger, at

    # A2 (20 h at $90, 1,140 min unused): 600 min refunded, 300 forfeited in March.
    _ledger(dataset.acme_agreement, dataset.a2, LedgerKind.REFUND, -600, at(2026, 3, 20), reason="Refunded on CN")
    _ledger(dataset.acme_agreement, dataset.a2, LedgerKind.FORFEIT, -300, at(2026, 3, 21), reason="Given up")

    (march,) = selectors.recognised_revenue(first=MAR, last=datetime.date(2026, 3, 31))

    assert (march.opening, march.recognised, march.breakage, march.refunded, march.cancelled, march.closing) == (
        D("1760.00"),
        D("50.00"),
        D("450.00"),  # forfeited: breakage, earned
        D("900.00"),  # refunded: money going back, not earned
        D("0.00"),
        D("360.00"),  # 1760 − 50 − 450 − 900
    )
    assert (march.breakage_minutes, march.refunded_minutes, march.closing_minutes) == (300, 600, 240)
    assert march.earned == D("500.00")
    assert selectors.deferred_revenue(as_of=datetime.date(2026, 3, 31)).totals == {"USD": D("360.00")}
