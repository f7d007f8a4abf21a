"""The charging rules end to end through agreements.services: the minimum
billable time, and entries with a start time split by the MSP's calendar
into a business-hours and an after-hours debit."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import BusinessHours, Holiday, LedgerEntry, LedgerKind, TimeEntry, WorkType
from agreements.services.calendar import business_hours_set, holiday_add, holiday_remove
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, work_type
from audit.models import AuditAction, AuditEvent

T = datetime.time
TODAY = timezone.localdate()
# A Wednesday and a Saturday in the past: time is never logged for a future date.
WEDNESDAY = TODAY - datetime.timedelta(days=(TODAY.weekday() - 2) % 7 or 7)
SATURDAY = TODAY - datetime.timedelta(days=(TODAY.weekday() - 5) % 7 or 7)


def sell_paid(agreement, staff, hours=10):
    block = services.block_sell(agreement=agreement, actor=staff, hours=hours, starts_on=agreement.starts_on)
    return services.block_mark_paid(block=block, actor=staff)


def log(agreement, technician, ticket, minutes, *, kind="Normal", on=WEDNESDAY, started_at=None):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=on,
        minutes=minutes,
        work_type=work_type(kind),
        started_at=started_at,
    )


def debits(entry):
    return sorted(
        LedgerEntry.objects.filter(time_entry=entry, kind=LedgerKind.DEBIT).values_list("after_hours", "minutes")
    )


@pytest.fixture
def calendar_agreement(client_a, staff):
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=15)
    sell_paid(agreement, staff)
    return agreement


def test_the_default_calendar_opens_weekdays_8_to_5_and_after_hours_is_flagged(db):
    assert list(BusinessHours.objects.values_list("weekday", "opens", "closes")) == [
        *[(day, T(8, 0), T(17, 0)) for day in range(5)],
        (5, None, None),
        (6, None, None),
    ]
    assert list(WorkType.objects.filter(is_after_hours=True).values_list("name", "multiplier")) == [
        ("After-hours", work_type("After-hours").multiplier)
    ]


def test_16_30_for_90_minutes_charges_30_normal_and_60_after_hours_as_two_debits(
    calendar_agreement, technician, ticket
):
    entry = log(calendar_agreement, technician, ticket, 90, started_at=T(16, 30))
    assert (entry.charged_minutes, entry.after_hours_minutes, entry.after_hours_charged_minutes) == (120, 60, 90)
    assert debits(entry) == [(False, -30), (True, -90)]
    reasons = set(LedgerEntry.objects.filter(time_entry=entry).values_list("after_hours", "reason"))
    assert reasons == {(False, "Business-hours part"), (True, "After-hours part")}
    assert assert_balance_is_ledger_sum(calendar_agreement) == 600 - 120


def test_without_a_start_time_the_entry_is_charged_as_before(calendar_agreement, technician, ticket):
    entry = log(calendar_agreement, technician, ticket, 90)
    assert (entry.charged_minutes, entry.after_hours_minutes, entry.started_at) == (90, 0, None)
    assert debits(entry) == [(False, -90)]


def test_an_entry_inside_business_hours_is_one_normal_debit(calendar_agreement, technician, ticket):
    entry = log(calendar_agreement, technician, ticket, 60, started_at=T(9, 0))
    assert (entry.charged_minutes, entry.after_hours_charged_minutes) == (60, 0)
    assert debits(entry) == [(False, -60)]


def test_weekends_and_holidays_are_after_hours_unless_the_agreement_says_otherwise(client_a, staff, technician, ticket):
    holiday_add(date=WEDNESDAY, name="Founders' day", actor=staff)
    strict = AgreementFactory(client=client_a)
    sell_paid(strict, staff)
    assert log(strict, technician, ticket, 60, on=SATURDAY, started_at=T(10, 0)).charged_minutes == 90
    assert log(strict, technician, ticket, 60, on=WEDNESDAY, started_at=T(10, 0)).charged_minutes == 90
    lenient = AgreementFactory(client=client_a, weekends_holidays_after_hours=False)
    sell_paid(lenient, staff)
    assert log(lenient, technician, ticket, 60, on=SATURDAY, started_at=T(10, 0)).charged_minutes == 60
    assert log(lenient, technician, ticket, 60, on=WEDNESDAY, started_at=T(10, 0)).charged_minutes == 60
    # Its weekday evenings stay after-hours.
    assert (
        log(
            lenient, technician, ticket, 60, on=WEDNESDAY - datetime.timedelta(days=1), started_at=T(20, 0)
        ).charged_minutes
        == 90
    )


def test_a_higher_work_type_keeps_its_rate_and_zero_rate_stays_zero(calendar_agreement, technician, ticket):
    emergency = log(calendar_agreement, technician, ticket, 90, kind="Emergency", started_at=T(16, 30))
    assert (emergency.charged_minutes, emergency.after_hours_charged_minutes) == (180, 120)
    free = log(calendar_agreement, technician, ticket, 90, kind="Non-billable", started_at=T(16, 30))
    assert (free.charged_minutes, free.after_hours_minutes, debits(free)) == (0, 60, [])


def test_the_minimum_raises_the_rounded_time(client_a, staff, technician, ticket):
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=6, minimum_billable_minutes=15)
    sell_paid(agreement, staff)
    assert log(agreement, technician, ticket, 5).charged_minutes == 15
    assert log(agreement, technician, ticket, 20).charged_minutes == 24
    assert log(agreement, technician, ticket, 5, kind="After-hours").charged_minutes == 23  # 15 × 1.5 = 22.5
    assert log(agreement, technician, ticket, 5, kind="Non-billable").charged_minutes == 0
    # With a start time: 16:58 for 5 min is 2 + 3 worked, 15 billed; the 10 extra are after-hours.
    split = log(agreement, technician, ticket, 5, started_at=T(16, 58))
    assert (split.charged_minutes, split.after_hours_minutes, split.after_hours_charged_minutes) == (2 + 20, 13, 20)
    assert assert_balance_is_ledger_sum(agreement) == 600 - 15 - 24 - 23 - 22


def test_the_minimum_is_checked_when_the_agreement_is_created(client_a):
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client_a, minimum_billable_minutes=1441)
    assert "minimum_billable_minutes" in error.value.message_dict
    agreement = services.agreement_create(client=client_a, minimum_billable_minutes=1440)
    assert agreement.minimum_billable_minutes == 1440


def test_voiding_a_split_entry_gives_both_parts_back(calendar_agreement, technician, ticket, staff):
    entry = log(calendar_agreement, technician, ticket, 90, started_at=T(16, 30))
    services.time_entry_void(time_entry=entry, actor=staff, reason="wrong ticket")
    reversals = sorted(
        LedgerEntry.objects.filter(time_entry=entry, kind=LedgerKind.REVERSAL).values_list("after_hours", "minutes")
    )
    assert reversals == [(False, 30), (True, 90)]
    assert assert_balance_is_ledger_sum(calendar_agreement) == 600


def test_a_correction_keeps_changes_or_removes_the_start_time(calendar_agreement, technician, ticket, staff):
    entry = log(calendar_agreement, technician, ticket, 90, started_at=T(16, 30))
    kept = services.time_entry_correct(time_entry=entry, actor=staff, reason="longer", minutes=120)
    assert (kept.started_at, kept.charged_minutes, kept.after_hours_minutes) == (T(16, 30), 30 + 135, 90)
    moved = services.time_entry_correct(time_entry=kept, actor=staff, reason="earlier", started_at=T(14, 0))
    assert (moved.charged_minutes, moved.after_hours_minutes) == (120, 0)
    removed = services.time_entry_correct(
        time_entry=services.time_entry_correct(time_entry=moved, actor=staff, reason="late", started_at=T(18, 0)),
        actor=staff,
        reason="no start",
        started_at=None,
    )
    assert (removed.started_at, removed.charged_minutes, removed.after_hours_minutes) == (None, 120, 0)
    event = AuditEvent.objects.filter(action=AuditAction.TIME_ENTRY_CORRECT).order_by("-id").first()
    assert (event.before["started_at"], event.after["started_at"]) == ("18:00", None)
    assert assert_balance_is_ledger_sum(calendar_agreement) == 600 - 120


def test_a_retry_with_another_start_time_is_a_conflict(calendar_agreement, technician, ticket):
    fields = {
        "agreement": calendar_agreement,
        "technician": technician,
        "ticket": ticket,
        "work_date": WEDNESDAY,
        "minutes": 90,
        "work_type": work_type("Normal"),
        "idempotency_key": "k-1",
    }
    first = services.time_entry_log(**fields, started_at=T(16, 30))
    assert services.time_entry_log(**fields, started_at=T(16, 30)) == first
    with pytest.raises(services.IdempotencyConflict):
        services.time_entry_log(**fields, started_at=T(9, 0))
    assert TimeEntry.objects.count() == 1


def test_a_start_time_with_seconds_is_refused(calendar_agreement, technician, ticket):
    with pytest.raises(ValidationError) as error:
        log(calendar_agreement, technician, ticket, 30, started_at=T(16, 30, 5))
    assert "started_at" in error.value.message_dict
    assert TimeEntry.objects.count() == 0


def test_time_logged_for_the_client_is_split_too(client_a, calendar_agreement, technician, ticket):
    entry = services.time_entry_log_for_client(
        client=client_a,
        technician=technician,
        ticket=ticket,
        work_date=WEDNESDAY,
        minutes=90,
        work_type=work_type("Normal"),
        started_at=T(16, 30),
    )
    assert (entry.agreement, entry.charged_minutes, debits(entry)) == (
        calendar_agreement,
        120,
        [(False, -30), (True, -90)],
    )


def test_staff_change_the_hours_and_holidays_audited(staff, technician):
    business_hours_set(weekday=0, opens=T(7, 30), closes=T(16, 0), actor=staff)
    business_hours_set(weekday=4, opens=None, closes=None, actor=staff)
    assert BusinessHours.objects.get(weekday=0).opens == T(7, 30)
    assert BusinessHours.objects.get(weekday=4).is_closed
    holiday = holiday_add(date=WEDNESDAY, name="Founders' day", actor=staff)
    holiday_remove(holiday=holiday, actor=staff)
    assert not Holiday.objects.exists()
    summaries = list(
        AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).order_by("id").values_list("summary", flat=True)
    )
    assert summaries == [
        "Business hours on Monday: 08:00–17:00 → 07:30–16:00",
        "Business hours on Friday: 08:00–17:00 → closed",
        f"Holiday added: {WEDNESDAY:%Y-%m-%d} Founders' day",
        f"Holiday removed: {WEDNESDAY:%Y-%m-%d} Founders' day",
    ]
    with pytest.raises(PermissionDenied):
        business_hours_set(weekday=0, opens=T(9, 0), closes=T(17, 0), actor=technician)
    with pytest.raises(PermissionDenied):
        holiday_add(date=WEDNESDAY, name="Nope", actor=technician)


@pytest.mark.parametrize(
    ("opens", "closes", "field"),
    [(T(17, 0), T(8, 0), "closes"), (T(8, 0), T(8, 0), "closes"), (T(8, 0), None, "closes"), (None, T(8, 0), "opens")],
)
def test_bad_hours_are_refused_and_change_nothing(staff, opens, closes, field):
    with pytest.raises(ValidationError) as error:
        business_hours_set(weekday=2, opens=opens, closes=closes, actor=staff)
    assert field in error.value.message_dict
    assert BusinessHours.objects.get(weekday=2).opens == T(8, 0)
    assert not AuditEvent.objects.exists()


def test_a_holiday_needs_a_name_a_plausible_date_and_is_not_added_twice(staff):
    holiday_add(date=WEDNESDAY, name="Founders' day", actor=staff)
    for date, name, field in [
        (WEDNESDAY, "Again", "date"),
        (WEDNESDAY + datetime.timedelta(days=1), " ", "name"),
        (datetime.date(1999, 12, 31), "Too old", "date"),
        (WEDNESDAY + datetime.timedelta(days=2), "Two\nlines", "name"),
    ]:
        with pytest.raises(ValidationError) as error:
            holiday_add(date=date, name=name, actor=staff)
        assert field in error.value.message_dict
    assert Holiday.objects.count() == 1
