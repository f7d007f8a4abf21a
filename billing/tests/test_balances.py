"""The balance on every invoice: per agreement of the client, before the
invoice and after it (once paid, or as issuing it left it), snapshotted at
issue in integer minutes and printed on the PDF and the staff page."""

import datetime
import shutil
import subprocess
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from agreements import services as agreement_services
from agreements.models import AgreementStatus, CreditPolicy
from agreements.tests.factories import AgreementFactory, TechnicianFactory, bill_overage_agreement, tier
from billing import pdf, selectors, services
from billing.models import BalanceBasis, Invoice, InvoiceStatus, PaymentMethod
from billing.tests.factories import draft_block_invoice, issued_block_invoice

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")


def rows(invoice: Invoice) -> list[tuple[str, int, int]]:
    return [(row.agreement_name, row.minutes_before, row.minutes_after) for row in invoice.balances.all()]


def squash(text: str) -> str:
    """pdftotext spaces figures as the layout falls ("5h" or "5 h"): compare without spaces."""
    return "".join(text.split())


def pdf_text(invoice: Invoice) -> str:
    data = pdf.invoice_pdf_bytes(Invoice.objects.get(pk=invoice.pk))
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    return " ".join(text.decode().split())  # one space wherever the layout put several


@pytest.fixture
def project(agreement, staff):
    """A second agreement of the same client, started later, holding 5 h."""
    second = AgreementFactory(
        client=agreement.client, name="Office move project", starts_on=agreement.starts_on + datetime.timedelta(days=1)
    )
    agreement_services.ledger_adjust(agreement=second, minutes=300, reason="Project hours", author=staff)
    return second


def test_it_snapshots_an_unpaid_block_invoice_as_now_and_once_paid_for_every_agreement(
    agreement, project, staff, seller
):
    agreement_services.ledger_adjust(agreement=agreement, minutes=120, reason="Goodwill", author=staff)

    invoice = issued_block_invoice(agreement, staff, hours=10)

    assert invoice.balance_basis == BalanceBasis.ON_PAYMENT
    assert rows(invoice) == [("Prepaid support hours", 120, 720), ("Office move project", 300, 300)]
    # Paying credits the hours; the snapshot stays what was true at issue.
    services.payment_record(
        invoice=invoice,
        amount=invoice.total,
        method=PaymentMethod.ACH,
        reference="ACH-1",
        paid_on=timezone.localdate(),
        actor=staff,
    )
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 720
    assert rows(invoice) == [("Prepaid support hours", 120, 720), ("Office move project", 300, 300)]


def test_an_ended_agreement_is_left_off_unless_the_invoice_is_its_own(agreement, staff, seller):
    AgreementFactory(client=agreement.client, name="Old contract", status=AgreementStatus.ENDED)

    invoice = issued_block_invoice(agreement, staff, hours=10)

    assert rows(invoice) == [("Prepaid support hours", 0, 600)]


def test_hours_credited_at_sale_are_already_in_the_balance_at_issue(client_a, staff, seller):
    immediate = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)
    agreement_services.ledger_adjust(agreement=immediate, minutes=90, reason="Goodwill", author=staff)

    invoice = issued_block_invoice(immediate, staff, hours=20)

    assert invoice.balance_basis == BalanceBasis.APPLIED
    assert rows(invoice) == [("Prepaid support hours", 90, 1290)]
    immediate.refresh_from_db()
    assert immediate.balance_minutes == 1290


def test_an_auto_reload_sale_credits_before_issuing_so_the_invoice_says_so(agreement, staff, seller):
    sale = services.block_sale_invoices(agreement=agreement, tier=tier(10), actor=None, credit_now=True)

    assert sale.invoice.block.credited_at is not None
    assert sale.invoice.balance_basis == BalanceBasis.APPLIED
    assert rows(sale.invoice) == [("Prepaid support hours", 0, 600)]
    if shutil.which("pdftotext"):
        assert "Prepaid hours are added to your balance when the block is sold." in pdf_text(sale.invoice)


def test_an_overage_invoice_shows_the_overage_settled_at_issue(client_a, staff, seller):
    overage = bill_overage_agreement(client_a, actor=staff, technician=TechnicianFactory(), logged=690)
    assert overage.balance_minutes == -90

    invoice = services.invoice_bill_overage(agreement=overage, actor=staff)

    assert invoice.balance_basis == BalanceBasis.APPLIED
    assert rows(invoice) == [("Prepaid support hours", -90, 0)]


def test_a_draft_shows_a_live_preview_and_stores_nothing(agreement, staff, seller):
    agreement_services.ledger_adjust(agreement=agreement, minutes=45, reason="Goodwill", author=staff)
    draft = draft_block_invoice(agreement, staff, hours=10)

    basis, preview = selectors.invoice_balances(draft)

    assert basis == BalanceBasis.ON_PAYMENT
    assert [(row.agreement_name, row.minutes_before, row.minutes_after) for row in preview] == [
        ("Prepaid support hours", 45, 645)
    ]
    assert draft.balance_basis == "" and not draft.balances.exists()


def test_document_balances_serves_any_document_that_takes_minutes_back(agreement, project, staff):
    """A credit note refunding 4 h, written when it is issued, passes applied=True."""
    agreement_services.ledger_adjust(agreement=agreement, minutes=600, reason="Hours", author=staff)

    refund = selectors.document_balances(client=agreement.client, agreement=agreement, minutes=-240, applied=True)
    pending = selectors.document_balances(client=agreement.client, agreement=project, minutes=-60, applied=False)

    assert [(r.agreement.name, r.before, r.after) for r in refund] == [
        ("Prepaid support hours", 840, 600),
        ("Office move project", 300, 300),
    ]
    assert [(r.agreement.name, r.before, r.after) for r in pending] == [
        ("Prepaid support hours", 600, 600),
        ("Office move project", 300, 240),
    ]


@needs_pdftotext
def test_the_pdf_prints_the_balance_before_and_once_paid(agreement, project, staff, seller):
    agreement_services.ledger_adjust(agreement=agreement, minutes=105, reason="Goodwill", author=staff)
    invoice = issued_block_invoice(agreement, staff, hours=10)

    text = pdf_text(invoice)

    with translation.override("en"):
        caption = f"Your prepaid balance on {date_format(invoice.issued_on, 'DATE_FORMAT')}"
    assert caption.upper() in text  # captions and headers print in capitals
    assert "Agreement Before Once paid" in text
    assert squash("Prepaid support hours 1 h 45 min 11 h 45 min") in squash(text)
    assert squash("Office move project 5 h 5 h") in squash(text)


@needs_pdftotext
def test_the_pdf_of_hours_credited_at_sale_says_they_are_already_added(client_a, staff, seller):
    immediate = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)

    text = pdf_text(issued_block_invoice(immediate, staff, hours=10))

    assert "Agreement Before After" in text
    assert squash("Prepaid support hours 0 min 10 h") in squash(text)
    assert "Prepaid hours are added to your balance when the block is sold." in text


@needs_pdftotext
def test_the_pdf_of_an_overage_invoice_shows_the_negative_balance_settled(client_a, staff, seller):
    overage = bill_overage_agreement(client_a, actor=staff, technician=TechnicianFactory(), logged=690)

    text = pdf_text(services.invoice_bill_overage(agreement=overage, actor=staff))

    assert squash("Prepaid support hours −1 h 30 min 0 min") in squash(text)
    assert "Issuing this invoice settled the time beyond your prepaid hours." in text


@needs_pdftotext
def test_the_pdf_of_a_void_invoice_prints_no_balance(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff, hours=10)
    services.invoice_void(invoice=invoice, actor=staff, reason="Sold by mistake")

    text = pdf_text(invoice)
    assert "Once paid" not in text and "YOUR PREPAID BALANCE" not in text


@needs_pdftotext
def test_the_pdf_renders_the_balance_in_italian(agreement, staff, seller):
    client = agreement.client
    client.language = "it"
    client.save(update_fields=["language"])
    invoice = issued_block_invoice(agreement, staff, hours=10)

    text = pdf_text(invoice)

    assert squash("Prepaid support hours 0 min 10 h") in squash(text)


def test_an_invoice_issued_before_balances_were_kept_prints_none(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff, hours=10)
    invoice.balances.all().delete()
    Invoice.objects.filter(pk=invoice.pk).update(balance_basis="")

    context = pdf.invoice_context(Invoice.objects.get(pk=invoice.pk))

    assert (context["balance_basis"], context["balances"]) == ("", [])


def test_the_staff_page_shows_the_balance_rows(client, agreement, project, staff, seller):
    invoice = issued_block_invoice(agreement, staff, hours=10)
    client.force_login(staff)

    page = client.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()

    assert "Once this invoice is paid" in page
    assert '<td>Office move project</td><td class="num">5 h</td><td class="num">5 h</td>' in page
    assert '<td>Prepaid support hours</td><td class="num">0 min</td><td class="num">10 h</td>' in page


def test_the_portal_lists_the_balance_each_invoice_leaves(client, agreement, alice, charlie, staff, seller):
    invoice = issued_block_invoice(agreement, staff, hours=10)
    client.force_login(alice)

    page = client.get(reverse("portal:home")).content.decode()

    assert "0 min → 10 h once paid" in page
    client.force_login(charlie)
    assert "0 min → 10 h" not in client.get(reverse("portal:home")).content.decode()
    assert client.get(reverse("billing:invoice_pdf", args=[invoice.public_id])).status_code == HTTPStatus.NOT_FOUND


def test_an_issued_invoice_keeps_its_status_and_rows_when_voided(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff, hours=10)
    services.invoice_void(invoice=invoice, actor=staff, reason="Sold by mistake")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert rows(invoice) == [("Prepaid support hours", 0, 600)]
