"""An Italian client contact, with an Italian browser, uses Blockhours in
Italian: the sign-in page, the portal, and the reload email and invoice PDF
that reach them (read back with pdftotext)."""

import subprocess

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from agreements import services
from agreements.tests.factories import AgreementFactory, TechnicianFactory, TicketFactory, tier, work_type
from billing.models import Invoice, InvoiceKind
from tests.browser.test_faces import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def italian_client(client_a, staff, seller):
    """Acme Dental, served in Italian and billed in euros, 2 h left of a 10 h block."""
    client_a.language = "it"
    client_a.currency = "EUR"
    client_a.save()
    agreement = AgreementFactory(client=client_a, reload_tier=tier(20), billing_increment_minutes=1)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    services.time_entry_log(
        agreement=agreement,
        technician=TechnicianFactory(username="marco"),
        ticket=TicketFactory(client=client_a, number="4711", subject="Stampante delle ricette non stampa"),
        work_date=timezone.localdate(),
        minutes=480,
        work_type=work_type(),
    )
    return client_a


def test_an_italian_contact_sees_the_portal_and_receives_the_reload_invoice_in_italian(
    live_server, browser, italian_client, alice
):
    call_command("sweep_low_balances", stdout=open("/dev/null", "w"))  # noqa: SIM115
    invoice = Invoice.objects.get(kind=InvoiceKind.RELOAD)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    page.get_by_label("Nome utente").fill(alice.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page).to_have_url(f"{live_server.url}/portal/")
    expect(page.get_by_role("link", name="Le mie ore")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("2 h")
    expect(page.locator("main")).to_contain_text("Saldo")
    expect(page.locator("main")).to_contain_text("Acquista altre ore")
    expect(page.locator("main")).to_contain_text(f"{invoice.number}")
    expect(page.locator("main")).to_contain_text("1.800,00\xa0€")
    page.get_by_role("link", name="Utilizzo e blocchi").first.click()
    expect(page.locator("main")).to_contain_text("#4711")
    expect(page.locator("main")).to_contain_text("Stampante delle ricette non stampa")
    context.close()

    message = next(m for m in mail.outbox if m.to == [alice.email])
    assert message.subject == (
        f"Acme Dental: le Vostre ore di assistenza stanno per esaurirsi — fattura di ricarica {invoice.number}"
    )
    assert "1.800,00\xa0€" in message.body
    ((filename, content, mimetype),) = message.attachments
    assert mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True)
    words = " ".join(text.stdout.decode().split())
    assert f"Fattura n. {invoice.number}" in words
    assert "Blocco di assistenza da 20 ore" in words
    assert "Imponibile 1.800,00 €" in words.replace("\xa0", " ")
    assert "Pagina 1 di 1" in words
