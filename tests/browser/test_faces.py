"""The three faces end to end in a real Chromium against a live server."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agreements import services
from agreements.models import Agreement, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, ClientFactory
from ui.tests.fixtures import log_entries

# The root conftest puts the default tiers and work types back after each flush.
pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"  # the factories' password


def sign_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_a_technician_logs_1_30_and_the_portal_shows_the_new_balance(
    live_server, page, browser, funded, technician, alice
):
    sign_in(page, live_server.url, technician.username)
    expect(page).to_have_url(f"{live_server.url}/time/")
    page.get_by_label("Client / agreement").fill("Acme Dental — Prepaid support hours")
    page.get_by_label("Ticket number").fill("5001")
    page.get_by_label("Ticket subject").fill("Outlook keeps crashing")
    page.get_by_label("Duration").fill("1:30")
    page.get_by_label("Notes").fill("Repaired the Office install")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_test_id("balance-before")).to_have_text("10 h")
    expect(page.get_by_test_id("charge")).to_have_text("1 h 30 min")
    expect(page.get_by_test_id("balance-after")).to_have_text("8 h 30 min")
    page.get_by_role("button", name="Save entry").click()
    expect(page.locator(".alert-success")).to_contain_text("balance now 8 h 30 min")

    portal = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(portal, live_server.url, alice.username)
    expect(portal).to_have_url(f"{live_server.url}/portal/")
    expect(portal.get_by_test_id("balance")).to_have_text("8 h 30 min")
    portal.get_by_role("link", name="Usage and blocks").click()
    expect(portal.locator("#usage")).to_contain_text("#5001")
    portal.context.close()


def test_a_client_gets_404_for_another_clients_agreement(live_server, page, alice, charlies_agreement):
    sign_in(page, live_server.url, alice.username)
    response = page.goto(f"{live_server.url}/portal/agreements/{charlies_agreement.public_id}/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/portal/agreements/{charlies_agreement.public_id}/usage.csv")
    assert response.status == 404
    page.goto(f"{live_server.url}/portal/")
    expect(page.locator("main")).not_to_contain_text("Birch Legal")


def test_the_dashboard_sorts_by_runway(live_server, page, staff, technician, funded, client_b):
    fast = AgreementFactory(client=client_b)
    AgreementFactory(client=ClientFactory(name="Cedar Clinic"))  # no usage: unknown runway, always last
    log_entries(funded, technician, 2)
    log_entries(fast, technician, 20)
    sign_in(page, live_server.url, staff.username)
    names = page.locator("#agreements tbody tr td:first-child a")
    expect(names).to_have_text(["Birch Legal", "Acme Dental", "Cedar Clinic"])  # default: runway, shortest first
    header = page.locator("#agreements thead")
    header.get_by_role("link", name="Client").click()
    expect(names).to_have_text(["Acme Dental", "Birch Legal", "Cedar Clinic"])
    header.get_by_role("link", name="Runway").click()
    expect(names).to_have_text(["Birch Legal", "Acme Dental", "Cedar Clinic"])
    header.get_by_role("link", name="Runway ▲").click()
    expect(names).to_have_text(["Acme Dental", "Birch Legal", "Cedar Clinic"])


def test_staff_sell_a_block_record_its_payment_and_an_adjustment(live_server, page, staff, agreement, seller):
    sign_in(page, live_server.url, staff.username)
    page.get_by_role("link", name="Acme Dental").click()
    page.get_by_role("link", name="Sell a block").click()
    page.get_by_label("Tier").select_option(label="20-hour block (20 h)")
    page.get_by_role("button", name="Review sale").click()
    expect(page.get_by_test_id("confirm-lines")).to_contain_text("Amount: $1,800.00")
    page.get_by_role("button", name="Sell block").click()
    expect(page.locator(".alert-success")).to_contain_text("Sold 20 h to Acme Dental (credited when paid)")
    page.get_by_role("link", name="Record payment").click()  # to the block's invoice
    page.get_by_label("Reference").fill("ACH-20261123-01")
    page.get_by_role("button", name="Record payment").click()
    expect(page.locator(".alert-success")).to_contain_text("The invoice is paid in full. Acme Dental balance: 20 h")
    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name="Acme Dental").click()

    page.get_by_role("link", name="Adjust balance").click()
    page.get_by_label("Deduct hours").check()
    page.get_by_label("Time").fill("1:30")
    page.get_by_label("Reason").fill("Duplicate ticket #88 logged twice")
    page.get_by_role("button", name="Review adjustment").click()
    expect(page.get_by_test_id("confirm-lines")).to_contain_text("20 h → 18 h 30 min")
    page.get_by_role("button", name="Record adjustment").click()
    expect(page.locator(".alert-success")).to_contain_text("balance: 18 h 30 min")
    expect(page.locator("#ledger")).to_contain_text("Duplicate ticket #88 logged twice")
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.balance_minutes == 1110
    assert LedgerEntry.objects.get(kind=LedgerKind.ADJUSTMENT).author == staff


def test_inline_errors_in_the_browser(live_server, page, technician, funded):
    sign_in(page, live_server.url, technician.username)
    page.get_by_label("Client / agreement").fill("Acme Dental — Prepaid support hours")
    page.get_by_label("Ticket number").fill("5002")
    page.get_by_label("Ticket subject").fill("Printer")
    page.get_by_label("Duration").fill("1:75")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.locator("#id_duration_errors")).to_contain_text("is not a duration")
    expect(page.get_by_label("Duration")).to_have_attribute("aria-invalid", "true")
    assert not funded.time_entries.exists()


def test_yesterday_is_accepted(live_server, page, technician, funded):
    sign_in(page, live_server.url, technician.username)
    page.get_by_label("Client / agreement").fill("Acme Dental — Prepaid support hours")
    page.get_by_label("Ticket number").fill("5003")
    page.get_by_label("Ticket subject").fill("VPN")
    page.get_by_label("Date worked").fill((timezone.localdate() - datetime.timedelta(days=1)).isoformat())
    page.get_by_label("Duration").fill("45m")
    page.get_by_role("button", name="Save without checking").click()
    expect(page.locator(".alert-success")).to_contain_text("charged 45 min")
    assert services  # the services did the work; the page only called them
