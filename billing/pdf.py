"""Invoice PDFs with WeasyPrint.

WeasyPrint is imported on first use only (it takes ~0.5–1 s to import), so
web processes that never render pay nothing at start-up. WeasyPrint will
happily read local files or make network requests named in HTML/CSS; the
fetcher below serves only the project's own static files (and inline data:
URIs) and refuses everything else.
"""

import base64
import functools
import logging
import mimetypes
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import translation

from billing.models import CreditNote, Invoice, InvoiceStatus

# A base URL that is never contacted: the fetcher maps its /static/ paths to
# files found by Django's static-file finders.
BASE_URL = "https://blockhours.invalid/"
STATIC_BASE = BASE_URL + "static/"
TEMPLATE = "billing/invoice_pdf.html"


def _static_file(url: str) -> Path:
    relative = url[len(STATIC_BASE) :].split("?", 1)[0].split("#", 1)[0]
    parts = PurePosixPath(relative).parts
    if not relative or relative.startswith("/") or any(part in ("..", ".") for part in parts) or "\\" in relative:
        raise ValueError(f"Refused static path {relative!r}")
    found = finders.find(relative)
    if found:
        return Path(found)
    root = Path(settings.STATIC_ROOT).resolve()
    candidate = (root / relative).resolve()
    if candidate.is_file() and candidate.is_relative_to(root):
        return candidate
    raise ValueError(f"No static file {relative!r}")


@functools.cache
def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serves the project's static files and data: URIs; refuses file:, http(s):, everything else."""

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith(STATIC_BASE):
                path = _static_file(url)
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})
            raise ValueError(f"Refused to fetch {url[:80]!r}: invoice PDFs only load the project's static files")

    return StaticOnlyFetcher


def url_fetcher() -> Any:
    return _fetcher_class()()


def _logo_data_uri(name: str) -> str:
    """The logo a snapshot names, inlined (it lives in media storage, which the fetcher never reads)."""
    if not name:
        return ""
    try:
        with default_storage.open(name, "rb") as file:
            data = file.read()
    except OSError:
        return ""  # a missing logo must not stop an invoice from rendering
    content_type = mimetypes.guess_type(name)[0] or "image/png"
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    from billing.selectors import invoice_amount_paid, invoice_balances

    paid = invoice_amount_paid(invoice)
    balance_basis, balances = invoice_balances(invoice)
    balance = Decimal("0.00") if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.VOID) else invoice.total - paid
    return {
        "invoice": invoice,
        "lines": list(invoice.lines.all()),
        "payments": list(invoice.payments.all()),
        "amount_paid": paid,
        "balance_due": balance,
        "logo": _logo_data_uri(invoice.seller_logo),
        "page_size": settings.INVOICE_PAGE_SIZE,
        "static_base": STATIC_BASE,
        "is_paid": invoice.status == InvoiceStatus.PAID,
        "is_void": invoice.status == InvoiceStatus.VOID,
        "is_draft": invoice.status == InvoiceStatus.DRAFT,
        "balance_basis": balance_basis,
        "balances": balances,
    }


def invoice_html(invoice: Invoice) -> str:
    # In the client's language at issue, whoever asks and whatever the worker's.
    with translation.override(invoice.language):
        return render_to_string(TEMPLATE, invoice_context(invoice))


def html_to_pdf(html: str) -> bytes:
    import weasyprint

    # WeasyPrint reports each rendering step at INFO; one line per step per invoice is noise.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

    return weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=url_fetcher()).write_pdf()


def invoice_pdf_bytes(invoice: Invoice) -> bytes:
    return html_to_pdf(invoice_html(invoice))


CREDIT_NOTE_TEMPLATE = "billing/credit_note_pdf.html"


def credit_note_html(credit_note: CreditNote) -> str:
    # In the credited invoice's language, like the invoice itself.
    with translation.override(credit_note.language):
        return render_to_string(
            CREDIT_NOTE_TEMPLATE,
            {
                "note": credit_note,
                "lines": list(credit_note.lines.select_related("invoice")),
                # Empty on notes issued before balances were kept: no table then.
                "balances": list(credit_note.balances.all()),
                "logo": _logo_data_uri(credit_note.seller_logo),
                "page_size": settings.INVOICE_PAGE_SIZE,
                "static_base": STATIC_BASE,
            },
        )


def credit_note_pdf_bytes(credit_note: CreditNote) -> bytes:
    return html_to_pdf(credit_note_html(credit_note))
