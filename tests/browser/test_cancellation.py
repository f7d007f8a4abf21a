"""Staff cancel an agreement with a refund from the client page, in a real Chromium."""

import pytest
from playwright.sync_api import expect

from agreements.tests.factories import AgreementFactory
from billing.models import CreditNote
from billing.tests.test_credit_notes import log, paid_block
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_review_and_cancel_an_agreement_with_a_refund(
    live_server, page, staff, technician, client_a, seller, tmp_path
):
    agreement = AgreementFactory(client=client_a)
    paid_block(agreement, staff, hours=10)
    log(agreement, technician, 135)

    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/dashboard/clients/{client_a.public_id}/")
    page.get_by_role("link", name="Cancel agreement").click()
    page.get_by_label("Reason").fill("Client moves to a flat-rate MSA")
    page.get_by_role("button", name="Review cancellation").click()
    expect(page.get_by_test_id("confirm-lines")).to_contain_text("refunded, $775.00 before tax")
    page.screenshot(path=tmp_path / "cancel-confirm.png", full_page=True)  # looked at by people, kept by pytest
    page.get_by_role("button", name="Cancel agreement").click()

    note = CreditNote.objects.get()
    expect(page.get_by_text(f"Credit note(s) {note.number} issued and emailed (7 h 45 min refunded).")).to_be_visible()
    expect(page.locator("#credit-notes")).to_contain_text(note.number)
    page.screenshot(path=tmp_path / "cancelled-client-page.png", full_page=True)
