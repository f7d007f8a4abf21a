import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from billing import pdf, services, tasks
from billing.models import Invoice, InvoiceStatus, PaymentMethod
from billing.tests.factories import draft_block_invoice, issued_block_invoice

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="needs pdftotext (apt-get install poppler-utils)"
)

# A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f0005"
    "0001ff5b8a6a1a0000000049454e44ae426082"
)


def pdf_text(data: bytes) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def stored_text(invoice: Invoice) -> str:
    invoice = Invoice.objects.get(pk=invoice.pk)
    with invoice.pdf.open("rb") as file:
        return pdf_text(file.read())


def test_the_pdf_shows_number_client_lines_and_total(agreement, staff, seller, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issued_block_invoice(agreement, staff)
    text = stored_text(invoice)
    assert invoice.number in text
    for expected in [
        "Northwind IT Services",
        "EIN 12-3456789",
        "Acme Dental",
        "1 Main Street",
        "Springfield",
        "20-hour support block",
        "Prepaid block discount",
        "$100.00",
        "−$10.00",
        "$2,000.00",
        "−$200.00",
        "Subtotal",
        "$1,800.00",
        "Total USD",
        "Net 15",
        "routing 123000848",
        "Tax ID EIN 12-3456789",
    ]:
        assert expected in text, expected
    assert "AMOUNT DUE" in text.upper()
    assert not re.search(r"\bPAID\b", text)  # no stamp yet
    assert re.fullmatch(r"invoices/\d{4}/[A-Za-z0-9_-]{32}\.pdf", Invoice.objects.get(pk=invoice.pk).pdf.name)


def test_a_paid_invoice_is_re_rendered_with_a_paid_stamp(agreement, staff, seller, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issued_block_invoice(agreement, staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_record(
            invoice=invoice,
            amount="1800.00",
            method=PaymentMethod.ACH,
            reference="ACH-9",
            paid_on=timezone.localdate(),
            actor=staff,
        )
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.pdf_status == InvoiceStatus.PAID
    text = stored_text(invoice)
    assert "PAID IN FULL" in text.upper() and "ACH" in text
    assert re.search(r"\bPAID\b", text)  # the stamp


def test_the_render_is_queued_only_after_commit(agreement, staff, seller, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invoice = issued_block_invoice(agreement, staff)
    assert len(callbacks) == 1
    assert not Invoice.objects.get(pk=invoice.pk).pdf  # nothing rendered inside the transaction


def test_re_rendering_is_idempotent(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    first = tasks.render_invoice_pdf(invoice.pk)
    assert tasks.render_invoice_pdf(invoice.pk) == first  # up to date: left alone
    forced = tasks.render_invoice_pdf(invoice.pk, force=True)
    assert forced == first
    assert default_storage.exists(first)
    assert len(default_storage.listdir(first.rsplit("/", 1)[0])[1]) == 1
    assert invoice.number in stored_text(invoice)


def test_the_task_ignores_drafts_and_unknown_ids(agreement, staff, seller):
    invoice = draft_block_invoice(agreement, staff)
    assert tasks.render_invoice_pdf(invoice.pk) is None
    assert tasks.render_invoice_pdf(999_999) is None


def test_a_draft_preview_is_marked_draft(agreement, staff, seller):
    invoice = draft_block_invoice(agreement, staff)
    text = pdf_text(services.invoice_preview_pdf(invoice=invoice))
    assert "DRAFT" in text.upper() and "$1,800.00" in text


def test_the_page_size_comes_from_the_setting(agreement, staff, seller, settings):
    invoice = issued_block_invoice(agreement, staff)
    for size, points in [("A4", "595.276 x 841.89 pts (A4)"), ("Letter", "612 x 792 pts (letter)")]:
        settings.INVOICE_PAGE_SIZE = size
        data = services.invoice_preview_pdf(invoice=invoice)
        info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout.decode()
        assert points in info, info


def test_the_logo_of_the_snapshot_is_printed(agreement, staff, seller):
    seller.logo.save("logo.png", ContentFile(PNG))
    invoice = issued_block_invoice(agreement, staff)
    assert invoice.seller_logo == seller.logo.name
    assert pdf.invoice_context(invoice)["logo"].startswith("data:image/png;base64,")
    data = services.invoice_preview_pdf(invoice=invoice)
    images = subprocess.run(["pdfimages", "-list", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert "png" in images or "image" in images


def test_tax_appears_when_set(agreement, staff, seller, settings):
    settings.INVOICE_TAX_RATE = Decimal("8.25")
    invoice = issued_block_invoice(agreement, staff)
    text = pdf_text(services.invoice_preview_pdf(invoice=invoice))
    assert "Sales tax (8.25%)" in text and "$148.50" in text and "$1,948.50" in text


# --- the fetcher: only the project's static files ------------------------------


def test_the_fetcher_serves_the_invoice_stylesheet():
    response = pdf.url_fetcher()(pdf.STATIC_BASE + "billing/invoice_pdf.css")
    assert b"font-family" in response.read()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/logo.png",
        pdf.STATIC_BASE + "../../../etc/passwd",
        pdf.STATIC_BASE + "billing/../../settings.py",
        pdf.STATIC_BASE + "/etc/passwd",
        pdf.BASE_URL + "media/invoices/x.pdf",
        "ftp://example.com/x",
    ],
)
def test_the_fetcher_refuses_everything_else(url):
    with pytest.raises(ValueError):
        pdf.url_fetcher()(url)


def test_a_hostile_reference_in_the_html_is_not_embedded(tmp_path):
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg"><text y="20">TOPSECRET</text></svg>')
    html = f'<html><body><p>hello</p><img src="file://{secret}"><object data="file://{secret}"></object></body></html>'
    text = pdf_text(pdf.html_to_pdf(html))
    assert "hello" in text and "TOPSECRET" not in text
