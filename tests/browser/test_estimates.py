"""Estimates in Chromium: staff add one the balance does not cover from the
client's page; the client sees the hours reserved and approves it in the
portal; the technician's charge preview warned meanwhile. Writes
docs/screenshots/35-* and 36-* with UPDATE_SCREENSHOTS=true."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from agreements.models import Estimate, EstimateStatus
from notifications.models import EmailKind, OutgoingEmail
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_staff_estimate_beyond_the_balance_and_the_client_approves_it(
    live_server, page, browser, staff, funded, alice, seller
):
    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/dashboard/clients/{funded.client.public_id}/")
    page.get_by_role("link", name="Add an estimate").click()
    expect(page.get_by_label("Client", exact=True)).to_have_value("Acme Dental")
    page.get_by_label("Ticket number").fill("6001")
    page.get_by_label("Ticket subject").fill("Server room move")
    page.get_by_label("Estimated time").fill("12h")
    page.get_by_label("What the work is").fill("Move the rack and rewire the patch panel")
    page.get_by_role("button", name="Add estimate").click()

    expect(page.locator(".alert-warning").first).to_contain_text("needs the client's approval")
    expect(page.get_by_test_id(f"reserved-{funded.public_id}")).to_have_text("12 h reserved by estimates")
    expect(page.get_by_test_id("reserved")).to_contain_text("Hours reserved by estimates: 12 h")
    expect(page.locator("#estimates")).to_contain_text("Waiting for approval")
    if os.environ.get("UPDATE_SCREENSHOTS") == "true":
        page.screenshot(path=str(DOCS / "35-estimate-staff.png"), full_page=True)
    estimate = Estimate.objects.get()
    assert (estimate.status, estimate.minutes, estimate.charged_minutes) == (EstimateStatus.WAITING, 720, 720)
    assert set(OutgoingEmail.objects.filter(kind=EmailKind.ESTIMATE_APPROVAL).values_list("recipient", flat=True)) == {
        "alice@example.com",
        "billing@acme-dental.example",
    }

    portal = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(portal, live_server.url, alice.username)
    expect(portal.get_by_test_id("estimates-waiting")).to_contain_text("1 estimate waits for your approval")
    expect(portal.get_by_test_id("reserved")).to_contain_text("Hours reserved by estimates: 12 h")
    portal.get_by_role("link", name="Review estimates").click()
    row = portal.get_by_test_id(f"estimate-{estimate.public_id}")
    expect(row).to_contain_text("Move the rack and rewire the patch panel")
    expect(row).to_contain_text("12 h of Normal work, charging 12 h")
    if os.environ.get("UPDATE_SCREENSHOTS") == "true":
        portal.screenshot(path=str(DOCS / "36-estimate-portal.png"), full_page=True)
    row.get_by_role("button", name="Approve").click()
    expect(portal.locator(".alert-success")).to_contain_text("Estimate approved: we will start the work.")
    expect(portal.locator("#waiting-estimates")).to_contain_text("No estimate waits for your approval.")
    portal.context.close()

    estimate.refresh_from_db()
    assert (estimate.status, estimate.decided_by) == (EstimateStatus.APPROVED, alice)
    assert list(OutgoingEmail.objects.filter(kind=EmailKind.ESTIMATE_DECIDED).values_list("recipient", flat=True)) == [
        staff.email
    ]
