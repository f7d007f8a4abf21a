"""Staff bill a client's overage from its page, in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from agreements.tests.factories import bill_overage_agreement
from billing.models import Invoice, InvoiceKind
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_see_the_unbilled_overage_and_bill_it(live_server, page, staff, technician, client_a, seller):
    bill_overage_agreement(client_a, actor=staff, technician=technician, logged=720)

    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/dashboard/clients/{client_a.public_id}/")
    expect(page.get_by_test_id("unbilled-overage")).to_contain_text(
        "2 h of time beyond the blocks of “Prepaid support hours” is not billed yet"
    )
    page.get_by_role("link", name="Bill overage now").click()
    expect(page.get_by_test_id("confirm-lines")).to_contain_text("Amount: $300.00 ($150.00/h)")
    page.get_by_role("button", name="Issue overage invoice").click()

    invoice = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    expect(page).to_have_url(re.compile(rf"/invoices/{invoice.public_id}/$"))
    expect(page.get_by_text(f"billed on invoice {invoice.number} ($300.00)")).to_be_visible()
