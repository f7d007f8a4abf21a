"""The Business hours page: staff set the opening hours and holidays that
entries with a start time are split by; nobody else finds the page."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.models import BusinessHours, Holiday
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db
PAGE = reverse("dashboard:business_hours")
ADD = reverse("dashboard:holiday_add")
T = datetime.time
NEXT_MONDAY = timezone.localdate() + datetime.timedelta(days=7 - timezone.localdate().weekday())


def week(**changes):
    data = {}
    for day in range(7):
        opens, closes = ("08:00", "17:00") if day < 5 else ("", "")
        data[f"opens_{day}"], data[f"closes_{day}"] = opens, closes
    data.update(changes)
    return data


def test_staff_see_the_hours_in_the_offices_time_zone(client, staff, settings):
    client.force_login(staff)
    page = client.get(PAGE).content.decode()
    assert 'name="opens_0" value="08:00"' in page
    assert 'name="opens_6"' in page and 'name="opens_6" value=' not in page  # Sunday closed
    assert f"the office's local time ({settings.TIME_ZONE})" in page
    assert "After-hours rate: “After-hours” (×1.5)." in page


def test_staff_change_the_hours_audited(client, staff):
    client.force_login(staff)
    response = client.post(
        PAGE, week(opens_0="07:30", closes_0="16:00", opens_4="", closes_4="", opens_5="09:00", closes_5="12:00")
    )
    assert response.status_code == HTTPStatus.FOUND
    assert list(BusinessHours.objects.values_list("weekday", "opens", "closes")) == [
        (0, T(7, 30), T(16, 0)),
        (1, T(8), T(17)),
        (2, T(8), T(17)),
        (3, T(8), T(17)),
        (4, None, None),
        (5, T(9), T(12)),
        (6, None, None),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).count() == 3
    assert "Business hours saved." in client.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"opens_4": "17:00", "closes_4": "08:00"}, "closes_4"),
        ({"opens_4": "08:00", "closes_4": ""}, "closes_4"),
        ({"opens_4": "8 o'clock"}, "opens_4"),
        ({"closes_4": "24:00"}, "closes_4"),
    ],
)
def test_bad_hours_are_refused_on_their_field_and_change_nothing(client, staff, changes, field):
    client.force_login(staff)
    response = client.post(PAGE, week(opens_0="07:00", **changes))
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors[field]
    assert BusinessHours.objects.get(weekday=0).opens == T(8)  # Monday's change rolled back too
    assert not AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).exists()


def test_staff_add_and_remove_a_holiday(client, staff):
    client.force_login(staff)
    assert client.post(ADD, {"date": NEXT_MONDAY.isoformat(), "name": "Founders' day"}).status_code == HTTPStatus.FOUND
    holiday = Holiday.objects.get()
    page = client.get(PAGE).content.decode()
    assert "Founders&#x27; day" in page
    again = client.post(ADD, {"date": NEXT_MONDAY.isoformat(), "name": "Twice"})
    assert again.status_code == HTTPStatus.OK
    assert "is already a holiday" in str(again.context["holiday_form"].errors["date"])
    remove = reverse("dashboard:holiday_remove", args=[holiday.public_id])
    assert client.post(remove).status_code == HTTPStatus.FOUND
    assert not Holiday.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.BUSINESS_CALENDAR).count() == 2


@pytest.mark.parametrize("who", ["technician", "alice", "charlie"])
def test_nobody_but_staff_finds_the_page(client, request, who):
    client.force_login(request.getfixturevalue(who))
    holiday = Holiday.objects.create(date=NEXT_MONDAY, name="Founders' day")
    assert client.get(PAGE).status_code == HTTPStatus.NOT_FOUND
    assert client.post(PAGE, week(opens_0="")).status_code == HTTPStatus.NOT_FOUND
    assert client.post(ADD, {"date": NEXT_MONDAY.isoformat(), "name": "Mine"}).status_code == HTTPStatus.NOT_FOUND
    remove = reverse("dashboard:holiday_remove", args=[holiday.public_id])
    assert client.post(remove).status_code == HTTPStatus.NOT_FOUND
    assert BusinessHours.objects.get(weekday=0).opens == T(8)
    assert list(Holiday.objects.values_list("name", flat=True)) == ["Founders' day"]


def test_the_client_page_and_the_portal_say_how_time_is_charged(client, staff, alice, client_a):
    from agreements.tests.factories import AgreementFactory

    agreement = AgreementFactory(client=client_a, billing_increment_minutes=6, minimum_billable_minutes=15)
    client.force_login(staff)
    staff_page = client.get(reverse("dashboard:client", args=[client_a.public_id])).content.decode()
    client.force_login(alice)
    portal_page = client.get(reverse("portal:agreement", args=[agreement.public_id])).content.decode()
    for page in (staff_page, portal_page):
        assert "How time is charged" in page
        assert "Each entry: round up to 6-minute increments. Every entry charges at least 15 min." in page
        assert "at the after-hours rate (×1.5) for the part outside business hours:" in page
        assert "Monday 08:00–17:00, Tuesday 08:00–17:00" in page
        assert "Closed days and holidays are after-hours throughout." in page
    assert "minimum 15 min per entry" in staff_page


def test_staff_create_an_agreement_with_a_minimum_on_the_page(client, staff, client_a):
    client.force_login(staff)
    data = {
        "name": "Second agreement",
        "starts_on": timezone.localdate().isoformat(),
        "low_balance_threshold": "2:00",
        "billing_increment_minutes": "6",
        "minimum_billable_minutes": "15",
        "rounding_mode": "up",
        "overage_policy": "reject",
        "overage_limit_minutes": "0",
        "credit_policy": "on_payment",
    }
    response = client.post(reverse("dashboard:agreement_new", args=[client_a.public_id]), data)
    assert response.status_code == HTTPStatus.FOUND
    agreement = client_a.agreements.get()
    assert (agreement.minimum_billable_minutes, agreement.weekends_holidays_after_hours) == (15, False)
    bad = client.post(
        reverse("dashboard:agreement_new", args=[client_a.public_id]), {**data, "minimum_billable_minutes": "1441"}
    )
    assert bad.status_code == HTTPStatus.OK
    assert bad.context["form"].errors["minimum_billable_minutes"]
    assert client_a.agreements.count() == 1
