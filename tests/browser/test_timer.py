"""The technician's timer in a real Chromium: start, reload (and another device), stop, confirm, save."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements.models import TimeEntry, Timer
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_timer_survives_a_reload_and_stops_into_the_prefilled_form(live_server, page, browser, funded, technician):
    base = live_server.url
    sign_in(page, base, technician.username)
    expect(page).to_have_url(f"{base}/time/")
    page.get_by_label("Timer for: client or agreement").fill("Acme Dental — Prepaid support hours")
    page.get_by_label("Timer: ticket no.").fill("6001")
    page.get_by_label("Timer: subject if the ticket is new").fill("Server room too warm")
    page.get_by_label("Timer: note").fill("Checked the air conditioning")
    page.get_by_role("button", name="Start timer").click()
    expect(page.get_by_test_id("timer-running")).to_be_visible()
    expect(page.get_by_test_id("timer-ticket")).to_contain_text("#6001")

    # 25 minutes and 10 seconds of work, as if the clock had moved on.
    Timer.objects.update(started_at=timezone.now() - datetime.timedelta(minutes=25, seconds=10))
    page.reload()
    expect(page.get_by_test_id("timer-ticket")).to_contain_text("#6001")
    expect(page.get_by_test_id("timer-elapsed")).to_have_text("26 min")

    # Another device: the timer lives on the server.
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(other, base, technician.username)
    expect(other.get_by_test_id("timer-ticket")).to_contain_text("#6001")
    other.context.close()

    page.get_by_role("link", name="Stop timer").click()
    stopping, midnight = page.get_by_test_id("timer-stopping"), page.get_by_test_id("timer-midnight-question")
    expect(stopping.or_(midnight)).to_be_visible()
    if midnight.is_visible():  # run in the first 26 minutes of a day, the timer began yesterday: asked first
        page.get_by_role("button", name="Stop with this time").click()
    expect(stopping).to_be_visible()
    expect(page.get_by_label("Client / agreement")).to_have_value("Acme Dental — Prepaid support hours")
    expect(page.get_by_label("Ticket number")).to_have_value("6001")
    expect(page.get_by_label("Duration")).to_have_value("0:26")
    expect(page.get_by_label("Notes")).to_have_value("Checked the air conditioning")
    expect(page.get_by_test_id("charge")).to_be_visible()  # the charge preview, before anything is saved
    assert not TimeEntry.objects.exists()

    page.get_by_role("button", name="Save entry").click()
    expect(page.locator(".alert-success")).to_contain_text("Logged 26 min on ticket #6001")
    expect(page.locator(".list-group")).to_contain_text("#6001")
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.ticket.number, entry.notes) == (26, "6001", "Checked the air conditioning")
    assert not Timer.objects.exists()
    expect(page.get_by_role("button", name="Start timer")).to_be_visible()


def test_a_timer_left_overnight_asks_before_stopping(live_server, page, funded, technician, ticket):
    from agreements import services
    from agreements.tests.factories import work_type

    yesterday_evening = timezone.localtime().replace(hour=17, minute=2, second=0, microsecond=0) - datetime.timedelta(
        days=1
    )
    services.timer_start(
        technician=technician,
        client=funded.client,
        agreement=funded,
        ticket=ticket,
        work_type=work_type(),
        now=yesterday_evening,
    )
    sign_in(page, live_server.url, technician.username)
    page.get_by_role("link", name="Stop timer").click()
    expect(page.get_by_test_id("timer-midnight-question")).to_contain_text("This timer started yesterday at 17:02")
    page.get_by_label("Timer: time worked").fill("1:15")
    page.get_by_role("button", name="Stop with this time").click()
    expect(page.get_by_label("Duration")).to_have_value("1:15")
    expect(page.get_by_test_id("charge")).to_be_visible()
    assert not TimeEntry.objects.exists()
