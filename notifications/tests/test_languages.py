"""A client's invoice and reload email arrive in that client's language; a
contact who chose another language for themselves gets the email in theirs."""

from django.core import mail

from billing.models import Invoice, InvoiceKind
from notifications.services import recipient_languages
from notifications.tests.conftest import sweep_now
from notifications.tests.test_low_balance import pdf_text


def _italian(client):
    client.language = "it"
    client.currency = "EUR"
    client.save()


def test_an_italian_clients_reload_invoice_and_email_are_in_italian(make_low_agreement, client_a, bob):
    _italian(client_a)
    bob.language = "en"  # Bob reads English whatever his company's documents use
    bob.save()
    make_low_agreement(left=120)
    sweep_now()

    invoice = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    assert (invoice.language, invoice.currency, str(invoice.total)) == ("it", "EUR", "1800.00")
    emails = {message.to[0]: message for message in mail.outbox}

    italian = emails["billing@acme-dental.example"]
    assert italian.subject == (
        f"Acme Dental: le Vostre ore di assistenza stanno per esaurirsi — fattura di ricarica {invoice.number}"
    )
    assert "Buongiorno," in italian.body
    assert "1.800,00\xa0€" in italian.body
    assert "Grazie e cordiali saluti," in italian.body
    html = italian.alternatives[0][0]
    assert '<html lang="it">' in html and "1.800,00\xa0€" in html
    assert emails["alice@example.com"].subject == italian.subject  # no choice of her own: the client's

    english = emails["bob@example.com"]
    assert english.subject == f"Acme Dental: your support hours are running low — reload invoice {invoice.number}"
    assert "€1,800.00" in english.body

    # The PDF is the client's document: Italian in both emails.
    for message in (italian, english):
        ((filename, content, mimetype),) = message.attachments
        assert filename == f"Fattura-{invoice.number}.pdf"
        text = " ".join(pdf_text(content).split())
        assert "Fattura n. " + invoice.number in text
        assert "intestata a" in text.lower() and "importo dovuto" in text.lower()  # upper case by CSS
        assert "1.800,00 €" in text.replace("\xa0", " ")
        assert "Pagina 1 di 1" in text
        assert "invoice" not in text.lower()


def test_staff_notices_use_the_sites_language(make_low_agreement, client_a, settings):
    _italian(client_a)
    make_low_agreement(left=120)
    sweep_now()
    staff_mail = next(m for m in mail.outbox if m.to == ["owner@northwind.example"])
    assert "Acme Dental" in staff_mail.subject
    assert "le Vostre ore" not in staff_mail.subject
    assert "€1,800.00" in staff_mail.body


def test_each_address_gets_its_users_language_or_the_default(client_a, alice, bob, staff):
    bob.language = "it"
    bob.save()
    languages = recipient_languages(["ALICE@example.com", "bob@example.com", "ap@elsewhere.example"], default="en")
    assert languages == {"ALICE@example.com": "en", "bob@example.com": "it", "ap@elsewhere.example": "en"}
