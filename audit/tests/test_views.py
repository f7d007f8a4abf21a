"""The audit log page: staff only, newest first, filtered, paginated, and
events written by actions taken through the web pages and the API."""

import datetime
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.tests.factories import StaffFactory
from api.tests.helpers import api_as
from audit.models import AuditAction, AuditEvent
from audit.views import PAGE_SIZE

pytestmark = pytest.mark.django_db
URL = reverse("audit:events")
TODAY = timezone.localdate()


def shown(response) -> list[str]:
    assert response.status_code == HTTPStatus.OK
    return [event.after.get("reason", event.action) for event in response.context["page"]]


@pytest.fixture
def log(funded, charlies_agreement, staff):
    """Three adjustments, one a day: Sam on Acme two days ago, Pat on Birch
    yesterday, Sam on Acme today; before them, a month ago, Sam sold each
    client its block (the fixtures)."""
    pat = StaffFactory(username="pat")
    services.ledger_adjust(agreement=funded, minutes=60, reason="First", author=staff)
    services.ledger_adjust(agreement=charlies_agreement, minutes=30, reason="Second", author=pat)
    services.ledger_adjust(agreement=funded, minutes=-15, reason="Third", author=staff)
    events = list(AuditEvent.objects.filter(action=AuditAction.LEDGER_ADJUST).order_by("pk"))
    now = timezone.now()
    # The log's own manager refuses updates; the test moves the clock through the base manager.
    AuditEvent._base_manager.filter(action=AuditAction.BLOCK_SELL).update(created_at=now - datetime.timedelta(days=30))
    for days_ago, event in zip([2, 1, 0], events, strict=True):
        AuditEvent._base_manager.filter(pk=event.pk).update(created_at=now - datetime.timedelta(days=days_ago))
    return events


def test_staff_see_the_log_newest_first(client, staff, log):
    client.force_login(staff)
    response = client.get(URL)
    assert shown(response) == ["Third", "Second", "First", "block.sell", "block.sell"]
    page = response.content.decode()
    assert "Adjusted the balance of Acme Dental (Prepaid support hours) by −15 min: Third" in page
    assert "<code>balance_minutes</code>: 660 → 645" in page
    assert 'href="/audit/"' in page  # the staff navigation links to it


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "ledger.adjust"}, ["Third", "Second", "First"]),
        ({"action": "invoice.void"}, []),
        ({"actor": "pat"}, ["Second"]),
        ({"actor": "sam"}, ["Third", "First", "block.sell", "block.sell"]),
        ({"since": (TODAY - datetime.timedelta(days=1)).isoformat()}, ["Third", "Second"]),
        ({"until": (TODAY - datetime.timedelta(days=1)).isoformat()}, ["Second", "First", "block.sell", "block.sell"]),
        (
            {"since": (TODAY - datetime.timedelta(days=1)).isoformat(), "until": TODAY.isoformat(), "actor": "sam"},
            ["Third"],
        ),
    ],
)
def test_staff_filter_the_log(client, staff, log, params, expected):
    client.force_login(staff)
    assert shown(client.get(URL, params)) == expected


def test_staff_filter_by_client(client, staff, log, funded, charlies_agreement):
    client.force_login(staff)
    assert shown(client.get(URL, {"client": str(funded.client.public_id)})) == ["Third", "First", "block.sell"]
    assert shown(client.get(URL, {"client": str(charlies_agreement.client.public_id)})) == ["Second", "block.sell"]


def test_a_filter_that_does_not_parse_shows_an_error_and_no_events(client, staff, log):
    client.force_login(staff)
    response = client.get(URL, {"since": "2026-02-30"})
    assert shown(response) == []
    assert "Enter a valid date." in response.content.decode()
    response = client.get(URL, {"since": TODAY.isoformat(), "until": "2020-01-01"})
    assert shown(response) == []
    assert "The end date is before the start date." in response.content.decode()
    response = client.get(URL, {"action": "ledger.delete", "actor": "nobody"})
    assert shown(response) == []
    assert response.context["form"].errors.keys() == {"action", "actor"}


def test_the_log_is_paginated_with_a_constant_number_of_queries(client, staff, funded):
    client.force_login(staff)

    def adjust(count: int) -> None:
        for n in range(count):
            services.ledger_adjust(agreement=funded, minutes=1, reason=f"Adjustment {n}", author=staff)

    def queries(**params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, params).status_code == HTTPStatus.OK
        return len(captured)

    client.get(URL)  # the first request after signing in starts the idle clock (a session write)
    adjust(3)
    few = queries()
    adjust(PAGE_SIZE + 10)
    assert queries() == few
    response = client.get(URL, {"page": 2})
    # 1 sale (the funded fixture) + 63 adjustments: 64 events, the second page holds the 14 oldest.
    assert len(response.context["page"].object_list) == 64 - PAGE_SIZE
    assert response.context["page"].paginator.count == 64


@pytest.mark.parametrize("user", ["technician", "charlie", "alice"])
def test_technicians_and_client_contacts_get_no_log(client, request, log, user):
    client.force_login(request.getfixturevalue(user))
    response = client.get(URL)
    # 404 like any page their role may not open (ui.access); never the log itself.
    assert response.status_code != HTTPStatus.OK
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b"Adjusted the balance" not in response.content


def test_anonymous_visitors_are_sent_to_sign_in(client, log):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))


# --- events written by the web pages and the API ------------------------------------


def test_an_adjustment_on_the_dashboard_writes_one_event(client, staff, funded):
    client.force_login(staff)
    before = AuditEvent.objects.count()
    url = reverse("dashboard:adjust", args=[funded.public_id])
    data = {"direction": "add", "duration": "1:30", "reason": "Goodwill for the outage"}
    client.post(url, data)  # the confirmation page: nothing yet
    assert AuditEvent.objects.count() == before
    client.post(url, {**data, "confirm": "1"})
    event = AuditEvent.objects.get(action=AuditAction.LEDGER_ADJUST)
    assert AuditEvent.objects.count() == before + 1
    assert (event.actor, event.before, event.after) == (
        staff,
        {"balance_minutes": 600},
        {"balance_minutes": 690, "minutes": 90, "reason": "Goodwill for the outage"},
    )


def test_a_refused_adjustment_on_the_dashboard_writes_none(client, staff, funded):
    client.force_login(staff)
    before = AuditEvent.objects.count()
    url = reverse("dashboard:adjust", args=[funded.public_id])
    response = client.post(url, {"direction": "deduct", "duration": "0", "reason": "Nothing", "confirm": "1"})
    assert response.status_code == HTTPStatus.OK
    assert AuditEvent.objects.count() == before


def test_a_payment_through_the_api_writes_one_event(staff, agreement, seller):
    from agreements.tests.factories import tier
    from billing.services import invoice_sell_block

    invoice = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))
    api = api_as(staff)  # creating the token is an event of its own
    before = AuditEvent.objects.count()
    body = {"amount": "1000.00", "method": "ach", "reference": "ACH-77", "paid_on": TODAY.isoformat()}
    response = api.post(f"/api/v1/invoices/{invoice.public_id}/payments/", body, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action=AuditAction.PAYMENT_RECORD)
    assert (event.actor, event.target_id) == (staff, str(invoice.public_id))
    assert event.before == {"status": "issued", "amount_paid": "0.00", "balance_minutes": 0}
    assert (event.after["status"], event.after["amount_paid"], event.after["balance_minutes"]) == (
        "paid",
        "1000.00",
        600,
    )
    # A bad request through the API writes nothing.
    response = api.post(f"/api/v1/invoices/{invoice.public_id}/payments/", {**body, "reference": "X"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert AuditEvent.objects.count() == before + 1


def test_an_adjustment_through_the_api_writes_one_event(staff, funded):
    api = api_as(staff)
    before = AuditEvent.objects.count()
    response = api.post(
        f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 45, "reason": "PSA sync"}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    event = AuditEvent.objects.get(action=AuditAction.LEDGER_ADJUST)
    assert AuditEvent.objects.count() == before + 1
    assert (event.before, event.after) == (
        {"balance_minutes": 600},
        {"balance_minutes": 645, "minutes": 45, "reason": "PSA sync"},
    )
