"""Hours that will expire unused, as staff and the client see them in Chromium."""

import datetime
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_faces import sign_in
from ui.tests.fixtures import expiry_sentence

pytestmark = pytest.mark.django_db(transaction=True)
# Set to a folder to keep PNGs of the pages for a look (not part of the docs' screenshots).
SHOTS = os.environ.get("BLOCKHOURS_EXPIRY_SHOTS")


def shoot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_staff_and_the_client_see_the_hours_at_risk(live_server, page, browser, expiring, staff, alice, charlie):
    on = timezone.localdate() + datetime.timedelta(days=20)
    sign_in(page, live_server.url, staff.username)
    row = page.locator("#agreements tbody tr", has_text="Acme Dental")
    expect(row.locator("[data-expiring-minutes]")).to_contain_text("10 h 45 min")
    expect(row).to_contain_text(on.strftime("%d %b %Y"))  # runs out on the expiry date
    shoot(page, "dashboard")
    page.goto(f"{live_server.url}/reports/runway/")
    expect(page.locator("#runway [data-expiring-minutes='645']")).to_contain_text("10 h 45 min")
    shoot(page, "runway-report")

    portal = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(portal, live_server.url, alice.username)
    expect(portal.get_by_test_id("expiring")).to_have_text(expiry_sentence("10 h 45 min", on))
    shoot(portal, "portal")
    portal.context.close()

    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(other, live_server.url, charlie.username)
    expect(other).to_have_url(re.compile(r"/portal/"))
    expect(other.get_by_test_id("expiring")).to_have_count(0)
    other.context.close()
