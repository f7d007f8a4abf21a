"""A client pays a reload invoice from the pay link in the email it received,
in Chromium, against localstripe's stand-in for Stripe.js; a declined card
gets a clear message and nothing is credited. A euro client is offered SEPA
Direct Debit with its mandate, on the pay page and for automatic reloads, and
the IBAN never reaches our server. Writes docs/screenshots/26-* (a dollar
client's pay page), 39-* (a euro client's) and 27-* (a euro client's payment
method page) only with UPDATE_SCREENSHOTS=true."""

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from agreements.tests.factories import AgreementFactory, ClientContactFactory, ClientFactory
from billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, SellerProfile
from billing.tests.factories import issued_block_invoice
from payments import services as payment_services
from payments.models import SavedPaymentMethod
from payments.tests.conftest import stripe_on  # noqa: F401 - the fixture
from payments.tests.test_sepa import IBAN, MANDATE
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
    expect(page.locator("input[name=method_type]")).to_have_count(0)  # dollars: no SEPA to choose
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#saved-method")).to_have_text("Visa •••• 4242")


# A euro client: Rossi Srl, whose billing contact is Giulia.
IBAN_TYPED = "DE89 3704 0044 0532 0130 00"  # IBAN, as people type it


@pytest.fixture
def rossi(db):
    SellerProfile.objects.create(name="Northwind IT Services", payment_terms_days=15)
    return ClientFactory(name="Rossi Srl", currency="EUR", billing_email="amministrazione@rossi.example")


@pytest.fixture
def giulia(rossi):
    user = ClientContactFactory(client=rossi, user__username="giulia").user
    user.client_contact.receives_invoices = True
    user.client_contact.save()
    return user


def posts_to(page: Page, base: str) -> list[str]:
    """The bodies of the POSTs the page sends to our server (not to Stripe), as they are sent."""
    bodies: list[str] = []
    page.on(
        "request",
        lambda request: (
            bodies.append((request.post_data_buffer or b"").decode(errors="replace"))
            if request.method == "POST" and request.url.startswith(base)
            else None
        ),
    )
    return bodies


def fill_sepa(page: Page) -> None:
    page.get_by_label("Account holder").fill("Giulia Rossi")
    page.get_by_label("Email").fill("giulia@rossi.example")
    page.get_by_label("IBAN").fill(IBAN_TYPED)


def test_a_euro_client_may_pay_by_sepa_direct_debit_under_the_mandate_or_by_card(
    live_server,
    page: Page,
    rossi,
    staff,
    stripe_on,  # noqa: F811
    shots,
):
    invoice = issued_block_invoice(AgreementFactory(client=rossi), staff, hours=10)
    posted = posts_to(page, live_server.url)
    page.goto(f"{live_server.url}/pay/{payment_services.pay_link_token(invoice)}/")
    expect(page.get_by_role("heading", name=f"Pay invoice {invoice.number}")).to_be_visible()
    expect(page.locator("#pay-amount")).to_have_text("€1,000.00")
    expect(page.locator("#method-card")).to_be_checked()  # card first, as for every client
    expect(page.locator("#sepa-fields")).to_be_hidden()

    page.get_by_role("radio", name="SEPA Direct Debit").check()
    expect(page.locator("#card-fields")).to_be_hidden()
    expect(page.locator("#sepa-mandate")).to_have_text(payment_services.invoice_mandate_text(invoice))
    expect(page.locator("#sepa-mandate")).to_contain_text(MANDATE)  # it names the seller, Northwind IT Services
    fill_sepa(page)
    page.get_by_role("button", name="Pay €1,000.00").click()
    expect(page.get_by_role("alert")).to_have_text("Accept the SEPA Direct Debit mandate first.")
    assert posted == []  # refused in the page: nothing was sent
    page.get_by_label("I accept this SEPA Direct Debit mandate.").check()
    expect(page.get_by_role("alert")).to_be_hidden()  # the message went with its cause
    expect(page.get_by_text("your card or bank account details never reach our servers")).to_be_visible()
    page.screenshot(path=str(shots / "39-pay-invoice-euro.png"), full_page=True)

    # localstripe's Stripe.js cannot make a SEPA method (payments/tests/test_sepa.py pays that way
    # through the library), so the client pays by card here: the IBAN typed above stays in the page.
    page.locator("#method-card").check()
    expect(page.locator("#sepa-fields")).to_be_hidden()
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay €1,000.00").click()
    expect(page.get_by_role("alert")).to_have_text(f"Thank you: invoice {invoice.number} is paid.")
    assert Payment.objects.get(invoice=invoice).method == PaymentMethod.CARD
    assert len(posted) == 1
    assert [text for text in (IBAN, IBAN_TYPED, "Giulia Rossi") if text in posted[0]] == []


def test_a_euro_billing_contact_saves_a_bank_account_under_the_mandate(
    live_server,
    page: Page,
    giulia,
    rossi,
    stripe_on,  # noqa: F811
    shots,
):
    sign_in(page, live_server.url, giulia.username)
    posted = posts_to(page, live_server.url)
    page.goto(f"{live_server.url}/portal/payment-method/")
    expect(page.get_by_role("heading", name="Save a card or bank account")).to_be_visible()
    page.get_by_role("radio", name="SEPA Direct Debit").check()
    mandate = payment_services.client_mandate_text(rossi)
    expect(page.locator("#sepa-mandate")).to_have_text(mandate)
    fill_sepa(page)
    page.get_by_label("I accept this SEPA Direct Debit mandate.").check()
    page.screenshot(path=str(shots / "27-portal-payment-method.png"), full_page=True)
    page.get_by_role("button", name="Save payment method").click()
    expect(page.locator("#saved-method")).to_have_text("SEPA Direct Debit •••• 3000")
    expect(page.get_by_role("heading", name="Replace it with another card or bank account")).to_be_visible()

    saved = SavedPaymentMethod.objects.get(client=rossi)
    assert (saved.method_type, saved.last4, saved.saved_by, saved.mandate_text) == (
        "sepa_debit",
        "3000",
        giulia,
        mandate,
    )
    assert saved.mandate_accepted_at is not None
    # Our server opened the setup and kept its result; the IBAN went to Stripe only.
    assert len([body for body in posted if "setup_intent" in body or "start" in body]) == 2
    assert [body for body in posted if IBAN in body or IBAN_TYPED in body or "Giulia Rossi" in body] == []
