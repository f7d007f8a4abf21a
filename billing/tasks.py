from celery import shared_task

from billing.models import CreditNote, Invoice, InvoiceStatus
from billing.services import invoice_pdf_is_current, invoice_render_pdf


@shared_task(
    name="billing.tasks.render_invoice_pdf",
    autoretry_for=(OSError,),  # storage hiccups are temporary; bad data is not, and is not retried
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=60,
    time_limit=90,
    # Re-rendering is harmless, so a worker dying mid-render just means a rerun:
    # acknowledge after the work, and hand the message back if the worker is lost.
    acks_late=True,
    reject_on_worker_lost=True,
)
def render_invoice_pdf(invoice_id: int, force: bool = False) -> str | None:
    """Render and store an issued invoice's PDF. Takes the id, not the object:
    the worker reads the committed row. Safe to run twice: an up-to-date PDF is
    left alone, and a re-render rewrites the same file."""
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        return None
    if not force and invoice_pdf_is_current(invoice):
        return invoice.pdf.name
    return invoice_render_pdf(invoice=invoice)


@shared_task(
    name="billing.tasks.render_credit_note_pdf",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=60,
    time_limit=90,
    acks_late=True,
    reject_on_worker_lost=True,
)
def render_credit_note_pdf(credit_note_id: int) -> str | None:
    """Render and store a credit note's PDF; safe to run twice (a credit note
    never changes, so a stored PDF is left alone)."""
    from billing.credit_notes import credit_note_pdf_name

    credit_note = CreditNote.objects.filter(pk=credit_note_id).first()
    return None if credit_note is None else credit_note_pdf_name(credit_note)
