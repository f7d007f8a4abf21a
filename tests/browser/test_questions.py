"""Questioning a charge in Chromium: a client contact questions an entry in the
portal's usage list, staff answer it on the dashboard (a partial credit, or an
explanation), and the client sees the outcome on the entry and in the balance."""

import datetime
import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agreements import services
from agreements.models import Agreement, ChargeQuestion, LedgerEntry, LedgerKind, QuestionStatus
from agreements.selectors import ledger_balance
from agreements.tests.factories import TicketFactory, work_type
from tests.browser.test_faces import sign_in
from tests.browser.test_screenshots import snap

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHOOT = os.environ.get("UPDATE_SCREENSHOTS") == "true"


@pytest.fixture
def questioned(funded, technician):
    """Alice's 10 h agreement with two entries: 90 min yesterday (the one she
    questions) and 45 min three days ago; 7 h 45 min left."""
    technician.first_name, technician.last_name = "Tess", "Moreno"
    technician.save()
    today = timezone.localdate()
    older = TicketFactory(client=funded.client, number="4811", subject="New laptop for reception")
    services.time_entry_log(
        agreement=funded, technician=technician, ticket=older, work_date=today - datetime.timedelta(days=3),
        minutes=45, work_type=work_type(), notes="Imaged and enrolled the laptop",
    )  # fmt: skip
    ticket = TicketFactory(client=funded.client, number="4812", subject="Printer offline on the 2nd floor")
    return services.time_entry_log(
        agreement=funded, technician=technician, ticket=ticket, work_date=today - datetime.timedelta(days=1),
        minutes=90, work_type=work_type(), notes="Replaced the printer's network card; tested from three desks",
    )  # fmt: skip


def usage_row(page: Page, ticket: str):
    return page.locator("#usage tbody tr").filter(has_text=f"#{ticket}")


def open_usage(page: Page, base: str) -> None:
    page.goto(f"{base}/portal/")
    page.get_by_role("link", name="Usage and blocks").first.click()
    expect(page.locator("#usage")).to_be_visible()


def raise_in_portal(page: Page, base: str, reason: str) -> None:
    open_usage(page, base)
    expect(page.get_by_test_id("balance")).to_have_text("7 h 45 min")
    usage_row(page, "4812").get_by_role("link", name="Question this charge").click()
    expect(page.locator("h1")).to_have_text("Question this charge")
    page.get_by_label("What is wrong with this charge?").fill(reason)
    page.get_by_role("button", name="Send question").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Thank you — we received your question and will answer it by email."
    )


def answer_on_dashboard(page: Page, base: str, outcome: str, reply: str, minutes: str | None = None) -> None:
    page.goto(f"{base}/dashboard/")
    row = page.locator("#open-questions tbody tr")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Answer").click()
    expect(page.locator("#question-status")).to_have_text("Open")
    page.get_by_label(outcome).check()
    expect(page.get_by_role("radio", name=outcome)).to_be_checked()
    page.get_by_label("Reply to the client").fill(reply)
    if minutes is not None:
        page.get_by_label("Minutes to credit").fill(minutes)


def test_a_client_questions_a_charge_and_staff_credit_part_of_it(live_server, page, browser, questioned, alice, staff):
    base = live_server.url
    # (a) The client questions the 90-minute entry; the row says it waits for an answer.
    sign_in(page, base, alice.username)
    raise_in_portal(page, base, "Nobody was on site that long: the technician left before 11.")
    cell = usage_row(page, "4812").locator("td").last
    expect(cell.locator(".badge")).to_have_text("Questioned")
    expect(cell).to_have_text("Questioned waiting for our answer")
    expect(cell.get_by_role("link", name="Question this charge")).to_have_count(0)  # not twice while open
    question = ChargeQuestion.objects.get()
    assert (question.time_entry, question.status, question.reason) == (
        questioned,
        QuestionStatus.OPEN,
        "Nobody was on site that long: the technician left before 11.",
    )

    # (b) Staff see it on the dashboard with the entry and the reason, and credit 30 of its 90 minutes.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(desk, base, staff.username)
    cells = desk.locator("#open-questions tbody tr td")
    expect(cells.nth(0)).to_have_text("Acme Dental")
    expect(cells.nth(2)).to_have_text("#4812 Printer offline on the 2nd floor")
    expect(cells.nth(3)).to_have_text("Tess Moreno")
    expect(cells.nth(4)).to_have_text("1 h 30 min")
    expect(cells.nth(6)).to_contain_text("“Nobody was on site that long: the technician left before 11.”")
    answer_on_dashboard(
        desk, base, "Credit minutes back", "The card swap took an hour; travel between floors is on us.", "30"
    )
    if SHOOT:
        snap(desk, DOCS, "38-question-staff")
    desk.get_by_role("button", name="Send answer").click()
    expect(desk.locator(".alert-success")).to_have_text("Question answered (credited); the client is told by email.")
    expect(desk.locator("#open-questions")).to_have_count(0)
    desk.context.close()

    agreement = Agreement.objects.get(pk=questioned.agreement_id)
    assert agreement.balance_minutes == ledger_balance(agreement) == 600 - 45 - 90 + 30
    credit = LedgerEntry.objects.get(kind=LedgerKind.QUESTION_CREDIT)
    assert (credit.minutes, credit.question_id, credit.time_entry_id) == (30, question.pk, questioned.pk)

    # The client sees the outcome on the entry, and the balance up by exactly 30 min.
    open_usage(page, base)
    expect(page.get_by_test_id("balance")).to_have_text("8 h 15 min")
    cell = usage_row(page, "4812").locator("td").last
    expect(cell.locator(".badge")).to_have_text("Credited")
    expect(cell).to_contain_text("30 min credited")
    expect(cell.locator(".question-reply")).to_have_text("The card swap took an hour; travel between floors is on us.")
    expect(usage_row(page, "4811").locator("td").last).to_have_text("Question this charge")  # not questioned
    # The Blocks table holds 7 h 45 min; the line under it explains the other 30 min of the balance.
    expect(page.get_by_test_id("outside-blocks")).to_have_text(
        "Credited outside blocks: 30 min · part of the balance that no block holds: charges credited back, "
        "adjustments. Balance 8 h 15 min = 7 h 45 min left in blocks + 30 min.",
        use_inner_text=True,
    )
    if SHOOT:  # the whole page: the balance at the top, the answered entry in the usage list
        page.screenshot(path=str(DOCS / "37-question-portal.png"), full_page=True)


def test_an_explained_question_shows_the_reply_and_changes_nothing(live_server, page, questioned, alice, staff):
    base = live_server.url
    sign_in(page, base, alice.username)
    raise_in_portal(page, base, "What was done here?")
    page.context.clear_cookies()

    sign_in(page, base, staff.username)
    answer_on_dashboard(page, base, "Explain: reply, nothing changes", "The network card was replaced; see the notes.")
    page.get_by_role("button", name="Send answer").click()
    expect(page.locator(".alert-success")).to_have_text("Question answered (explained); the client is told by email.")
    page.context.clear_cookies()

    sign_in(page, base, alice.username)
    open_usage(page, base)
    expect(page.get_by_test_id("balance")).to_have_text("7 h 45 min")  # unchanged
    cell = usage_row(page, "4812").locator("td").last
    expect(cell.locator(".badge")).to_have_text("Explained")
    expect(cell.locator(".question-reply")).to_have_text("The network card was replaced; see the notes.")
    expect(cell).not_to_contain_text("credited")
    assert not LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT).exists()
    assert Agreement.objects.get(pk=questioned.agreement_id).balance_minutes == 600 - 45 - 90
