"""Staff bill a client's overage from its page, in a real Chromium."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements import services
from agreements.models import OveragePolicy
from agreements.tests.factories import AgreementFactory, TicketFactory, tier, work_type
from billing.models import Invoice, InvoiceKind
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_see_the_unbilled_overage_and_bill_it(live_server, page, staff, technician, client_a, seller):
    client_a.hourly_rate = Decimal("150.00")
    client_a.save(update_fields=["hourly_rate"])
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    services.block_mark_paid(block=block, actor=staff)
    services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=client_a),
        work_date=timezone.localdate(),
        minutes=720,
        work_type=work_type(),
    )

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
