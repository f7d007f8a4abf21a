"""A client pays a reload invoice from the pay link in the email it received,
in Chromium, against localstripe's stand-in for Stripe.js; a declined card
gets a clear message and nothing is credited. Writes docs/screenshots/26-*
and 27-* only with UPDATE_SCREENSHOTS=true."""

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from billing.models import Invoice, InvoiceStatus, Payment, SellerProfile
from billing.tests.factories import issued_block_invoice
from payments.tests.conftest import stripe_on  # noqa: F401 - the fixture
from tests.browser.test_faces import sign_in
from tests.localstripe_server import localstripe_url  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def shots(tmp_path) -> Path:
    return DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "true" else tmp_path


@pytest.fixture
def emailed_invoice(agreement, staff, alice, stripe_on, settings, live_server):  # noqa: F811
    from notifications.services import invoice_send
    from notifications.tasks import queue_sending

    settings.SITE_URL = live_server.url
    SellerProfile.objects.create(name="Northwind IT Services", payment_terms_days=15)
    invoice = issued_block_invoice(agreement, staff, hours=10)
    mail.outbox.clear()
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        invoice_send(invoice=invoice, send=queue_sending)
    return invoice


def pay_link_from_email() -> str:
    message = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    return re.search(r"Pay online by card:\n(\S+)", message.body).group(1)


def fill_card(page: Page, number: str) -> None:
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("97201")


def test_a_client_pays_from_the_email_and_sees_the_hours(live_server, page: Page, emailed_invoice, alice, shots):
    invoice = emailed_invoice
    before = invoice.agreement.balance_minutes
    page.goto(pay_link_from_email())
    expect(page.get_by_role("heading", name=f"Pay invoice {invoice.number}")).to_be_visible()
    fill_card(page, "4242424242424242")
    page.screenshot(path=str(shots / "26-pay-invoice.png"), full_page=True)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("alert")).to_have_text(f"Thank you: invoice {invoice.number} is paid.")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=invoice).count() == 1
    sign_in(page, live_server.url, alice.username)
    page.goto(f"{live_server.url}/portal/")
    row = page.locator("#invoices tr", has_text=invoice.number)
    expect(row).to_contain_text("Paid")
    invoice.agreement.refresh_from_db()
    assert invoice.agreement.balance_minutes == before + 600


def test_a_declined_card_gets_a_clear_message_and_nothing_is_credited(live_server, page: Page, emailed_invoice):
    invoice = emailed_invoice
    before = invoice.agreement.balance_minutes
    page.goto(pay_link_from_email())
    fill_card(page, "4000000000000341")  # localstripe's card declined when charged
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("alert")).to_contain_text("The payment was declined and nothing was charged.")
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED
    assert Payment.objects.count() == 0
    invoice.agreement.refresh_from_db()
    assert invoice.agreement.balance_minutes == before


def test_a_billing_contact_saves_a_card_for_reloads(live_server, page: Page, alice, stripe_on, shots):  # noqa: F811
    alice.client_contact.receives_invoices = True
    alice.client_contact.save()
    sign_in(page, live_server.url, alice.username)
    page.goto(f"{live_server.url}/portal/payment-method/")
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#saved-method")).to_have_text("Visa •••• 4242")
    page.screenshot(path=str(shots / "27-portal-payment-method.png"), full_page=True)
