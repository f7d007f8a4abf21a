"""The credit note PDF: in the invoice's style and language, naming the invoice it credits."""

import shutil

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format

from agreements.tests.factories import AgreementFactory
from billing.credit_notes import block_unused_cancel, credit_note_pdf_name, credit_note_render_pdf
from billing.models import CreditNote
from billing.tests.test_credit_notes import paid_block
from billing.tests.test_pdf import pdf_text

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="needs pdftotext (apt-get install poppler-utils)"
)


def stored_text(note: CreditNote) -> str:
    note = CreditNote.objects.get(pk=note.pk)
    with note.pdf.open("rb") as file:
        return pdf_text(file.read())


def test_the_pdf_shows_number_invoice_credited_lines_and_total(agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=20)  # 20 h at $100.00
    note = block_unused_cancel(
        block=invoice.block, disposition="refund", actor=staff, reason="Client moves to a flat-rate MSA", minutes=450
    ).credit_notes[0]

    credit_note_render_pdf(credit_note=note)
    text = " ".join(stored_text(note).split())

    year = timezone.localdate().year
    for expected in [
        "Credit note",
        f"CN-{year}-0001",
        f"Credits invoice {invoice.number}",
        f"Invoice date {invoice.issued_on:%b}",
        "Northwind IT Services",
        "EIN 12-3456789",
        "CREDIT TO",
        "Acme Dental",
        "AMOUNT CREDITED",
        "$750.00",
        "Unused hours refunded — 20-hour support block",
        f"Invoice {invoice.number} of",
        "7 h 30 min $100.00 / h $750.00",
        "Total credited USD $750.00",
        "Reason: Client moves to a flat-rate MSA",
    ]:
        assert expected in text, expected


def test_the_pdf_speaks_the_credited_invoices_language(client_a, staff, seller):
    client_a.language = "it"
    client_a.save()
    agreement = AgreementFactory(client=client_a)
    invoice = paid_block(agreement, staff, hours=2)
    client_a.language = "en"  # changed after the invoice: the credit note follows the invoice
    client_a.save()
    note = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x").credit_notes[0]

    text = " ".join(stored_text_of(note).split())

    assert note.language == "it"
    # Italian dates and amounts, whatever the words around them read.
    with translation.override("it"):
        issued = date_format(invoice.issued_on, "DATE_FORMAT")
    assert f"{invoice.number} {issued}" in text.replace(" del ", " ").replace(" di ", " ").replace(" of ", " ")
    assert "100,00 USD / h" in text and "200,00 USD" in text and "$" not in text


def stored_text_of(note: CreditNote) -> str:
    credit_note_pdf_name(note)
    return stored_text(note)


def test_a_stored_pdf_is_reused_and_its_name_unguessable(agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)
    note = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x").credit_notes[0]

    name = credit_note_pdf_name(note)
    note.refresh_from_db()

    assert name.startswith(f"credit-notes/{note.number_year}/") and len(name) > 40
    assert note.number not in name
    assert credit_note_pdf_name(note) == name
