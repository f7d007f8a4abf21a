"""The coming renewal as the client and staff see it, in a real Chromium."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.tests.test_renewal import renewing_agreement
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_the_client_and_staff_see_what_will_roll_over_and_expire(live_server, page, alice, staff, technician):
    agreement = renewing_agreement(alice.client_contact.client, technician)
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_server.url, alice.username)
    page.goto(f"{live_server.url}/portal/agreements/{agreement.public_id}/")
    card = page.locator("#term-end")
    expect(card).to_contain_text("Coming renewal")
    expect(card.locator("[data-figure=rolled]")).to_contain_text("2 h 30 min")
    expect(card.locator("[data-figure=expiring]")).to_have_text("5 h 45 min")
    card.screenshot(path=str(SHOTS / "portal-coming-renewal.png"))
    page.screenshot(path=str(SHOTS / "portal-agreement-renewal.png"), full_page=True)

    page.context.clear_cookies()
    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/dashboard/clients/{agreement.client.public_id}/")
    expect(page.locator("#term-end [data-figure=expiring]")).to_have_text("5 h 45 min")
    page.locator("#term-end").screenshot(path=str(SHOTS / "staff-coming-renewal.png"))
