"""The API of the charging rules: an agreement's minimum, time entries with a
start time split by the MSP's calendar, and the calendar itself (staff only)."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Agreement, BusinessHours, Holiday, LedgerEntry, TimeEntry
from agreements.tests.factories import tier, work_type
from api.tests.helpers import entry_body
from audit.models import AuditAction, AuditEvent

TODAY = timezone.localdate()
WEDNESDAY = TODAY - datetime.timedelta(days=(TODAY.weekday() - 2) % 7 or 7)


@pytest.fixture
def funded(agreement, staff):
    """Client A's agreement with a paid 10-hour block usable since the agreement started (600 min)."""
    block = agreement_services.block_sell(
        agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on
    )
    agreement_services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


def test_an_entry_from_16_30_for_90_minutes_is_charged_in_two_parts(tech_api, staff_api, funded, ticket):
    body = entry_body(funded, ticket, minutes=90, work_date=WEDNESDAY.isoformat(), started_at="16:30")
    response = tech_api.post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    entry = response.json()
    assert (entry["started_at"], entry["minutes"], entry["charged_minutes"]) == ("16:30", 90, 120)
    assert (entry["after_hours_minutes"], entry["after_hours_charged_minutes"]) == (60, 90)
    ledger = staff_api.get(f"/api/v1/agreements/{funded.public_id}/ledger/").json()["results"]
    debits = [(row["minutes"], row["after_hours"], row["reason"]) for row in ledger if row["kind"] == "debit"]
    assert debits == [(-30, False, "Business-hours part"), (-90, True, "After-hours part")]
    assert ledger[-1]["balance_after_minutes"] == 600 - 120


def test_an_entry_without_a_start_time_is_charged_as_before(tech_api, funded, ticket):
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=90), format="json")
    entry = response.json()
    assert (entry["started_at"], entry["charged_minutes"], entry["after_hours_charged_minutes"]) == (None, 90, 0)


@pytest.mark.parametrize("value", ["25:00", "16:60", "16:30:00", "4:30pm", "4:30", 1630, True, "１６:３０", ""])
def test_a_bad_start_time_is_a_400_naming_it(tech_api, funded, ticket, value):
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, started_at=value), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert "HH:MM" in " ".join(response.json()["fields"]["started_at"])
    assert not TimeEntry.objects.exists()


def test_staff_create_an_agreement_with_a_minimum_and_read_it_back(staff_api, client_a, tech_api, ticket):
    body = {
        "client": str(client_a.public_id),
        "billing_increment_minutes": 6,
        "minimum_billable_minutes": 15,
        "weekends_holidays_after_hours": False,
    }
    response = staff_api.post("/api/v1/agreements/", body, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    created = response.json()
    assert (created["minimum_billable_minutes"], created["weekends_holidays_after_hours"]) == (15, False)
    agreement = Agreement.objects.get(public_id=created["id"])
    staff_api.post(
        f"/api/v1/agreements/{agreement.public_id}/adjustments/", {"minutes": 600, "reason": "Start"}, format="json"
    )
    for worked, charged in [(5, 15), (20, 24)]:
        entry = tech_api.post("/api/v1/time-entries/", entry_body(agreement, ticket, minutes=worked), format="json")
        assert entry.json()["charged_minutes"] == charged


@pytest.mark.parametrize("value", [1441, -1, "15", True, 1.5])
def test_a_bad_minimum_is_a_400(staff_api, client_a, value):
    body = {"client": str(client_a.public_id), "minimum_billable_minutes": value}
    response = staff_api.post("/api/v1/agreements/", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert "minimum_billable_minutes" in response.json()["fields"]
    assert not Agreement.objects.exists()


def test_staff_read_and_set_the_business_hours_audited(staff_api):
    rows = staff_api.get("/api/v1/business-hours/").json()["results"]
    assert [(r["weekday"], r["weekday_name"], r["opens"], r["closes"]) for r in rows[:1] + rows[-1:]] == [
        (0, "Monday", "08:00", "17:00"),
        (6, "Sunday", None, None),
    ]
    response = staff_api.patch("/api/v1/business-hours/0/", {"opens": "07:30", "closes": "16:00"}, format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json() == {"weekday": 0, "weekday_name": "Monday", "opens": "07:30", "closes": "16:00"}
    closed = staff_api.patch("/api/v1/business-hours/4/", {"opens": None, "closes": None}, format="json")
    assert closed.json()["opens"] is None
    assert BusinessHours.objects.get(weekday=4).is_closed
    assert AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opens": "17:00", "closes": "08:00"}, "closes"),
        ({"opens": "08:00", "closes": None}, "closes"),
        ({"opens": "8am", "closes": "17:00"}, "opens"),
        ({"closes": "17:00"}, "opens"),
    ],
)
def test_bad_business_hours_are_a_400_and_change_nothing(staff_api, body, field):
    response = staff_api.patch("/api/v1/business-hours/2/", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert field in response.json()["fields"]
    assert BusinessHours.objects.get(weekday=2).opens == datetime.time(8, 0)
    assert not AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).exists()


@pytest.mark.parametrize("weekday", ["7", "-1", "x", "00"])
def test_an_unknown_weekday_is_404(staff_api, weekday):
    assert staff_api.get(f"/api/v1/business-hours/{weekday}/").status_code == HTTPStatus.NOT_FOUND


def test_staff_add_and_remove_holidays(staff_api, tech_api, funded, ticket):
    response = staff_api.post(
        "/api/v1/holidays/", {"date": WEDNESDAY.isoformat(), "name": "Founders' day"}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    holiday = response.json()
    assert (holiday["date"], holiday["name"]) == (WEDNESDAY.isoformat(), "Founders' day")
    again = staff_api.post("/api/v1/holidays/", {"date": WEDNESDAY.isoformat(), "name": "Twice"}, format="json")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    # A holiday is after-hours all day.
    body = entry_body(funded, ticket, minutes=60, work_date=WEDNESDAY.isoformat(), started_at="10:00")
    assert tech_api.post("/api/v1/time-entries/", body, format="json").json()["charged_minutes"] == 90
    assert staff_api.get("/api/v1/holidays/").json()["count"] == 1
    assert staff_api.delete(f"/api/v1/holidays/{holiday['id']}/").status_code == HTTPStatus.NO_CONTENT
    assert not Holiday.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).count() == 2


@pytest.mark.parametrize("who", ["tech_api", "alice_api", "charlie_api"])
def test_non_staff_find_no_calendar(request, staff, who):
    api = request.getfixturevalue(who)
    holiday = Holiday.objects.create(date=WEDNESDAY, name="Founders' day")
    assert api.get("/api/v1/business-hours/").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/v1/business-hours/0/").status_code == HTTPStatus.NOT_FOUND
    assert api.patch("/api/v1/business-hours/0/", {"opens": None, "closes": None}, format="json").status_code == (
        HTTPStatus.NOT_FOUND
    )
    assert api.get("/api/v1/holidays/").status_code == HTTPStatus.NOT_FOUND
    assert api.post("/api/v1/holidays/", {"date": TODAY.isoformat(), "name": "Mine"}, format="json").status_code == (
        HTTPStatus.NOT_FOUND
    )
    assert api.delete(f"/api/v1/holidays/{holiday.public_id}/").status_code == HTTPStatus.NOT_FOUND
    assert BusinessHours.objects.get(weekday=0).opens == datetime.time(8, 0)
    assert list(Holiday.objects.values_list("name", flat=True)) == ["Founders' day"]


def test_anonymous_callers_are_refused(anon_api):
    assert anon_api.get("/api/v1/business-hours/").status_code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    assert anon_api.get("/api/v1/holidays/").status_code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)


def test_work_types_say_which_is_the_after_hours_rate(tech_api):
    rows = {row["name"]: row["is_after_hours"] for row in tech_api.get("/api/v1/work-types/").json()["results"]}
    assert rows == {"Normal": False, "After-hours": True, "Emergency": False, "Non-billable": False}
    assert work_type("After-hours").is_after_hours
    assert LedgerEntry.objects.count() == 0
