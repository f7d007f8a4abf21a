"""Outbound webhooks in Chromium: staff register an endpoint, copy its secret
(shown once), and the receiver gets a signed event when time is logged; the
endpoint's page shows the delivery, and Resend sends the same event again."""

import hashlib
import hmac
import os
import time
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements import services
from agreements.tests.factories import TicketFactory, work_type
from tests.browser.test_faces import sign_in
from webhooks.tests.conftest import receiver  # noqa: F401 - a real HTTP receiver on a free port

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The README's verification, as a receiver would run it."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, signature = parts["t"], parts["v1"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) <= tolerance


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the receiver got nothing"
        time.sleep(0.1)


def test_staff_register_an_endpoint_and_it_receives_signed_events(
    live_server,
    page,
    staff,
    technician,
    funded,
    receiver,  # noqa: F811
):
    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/dashboard/webhooks/")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("PSA sync")
    page.locator("input[value='time_entry.created']").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")

    entry = services.time_entry_log(
        agreement=funded, technician=technician, ticket=TicketFactory(client=funded.client),
        work_date=timezone.localdate(), minutes=90, work_type=work_type(),
    )  # fmt: skip
    wait_for(lambda: len(receiver.requests) == 1)
    (request,) = receiver.requests
    assert verify(secret, request.headers["Blockhours-Signature"], request.body)
    assert request.json["type"] == "time_entry.created"
    assert request.json["data"]["time_entry"]["id"] == str(entry.public_id)
    event_id = request.headers["Blockhours-Event-Id"]

    page.goto(f"{live_server.url}/dashboard/webhooks/")
    page.get_by_role("link", name=receiver.url).click()
    deliveries = page.locator("#webhook-deliveries")
    expect(deliveries).to_contain_text("time_entry.created")
    expect(deliveries).to_contain_text("Delivered")
    if os.environ.get("UPDATE_SCREENSHOTS") == "true":
        page.screenshot(path=str(DOCS / "34-staff-webhook-deliveries.png"), full_page=True)
    page.get_by_role("button", name="Resend").first.click()
    wait_for(lambda: len(receiver.requests) == 2)
    assert receiver.requests[1].headers["Blockhours-Event-Id"] == event_id  # the same event, sent again
    assert verify(secret, receiver.requests[1].headers["Blockhours-Signature"], receiver.requests[1].body)
