from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from billing.models import Invoice, InvoiceStatus
from billing.selectors import invoice_get_for_user
from billing.services import invoice_pdf_is_current, invoice_preview_pdf, invoice_render_pdf


@require_GET
@login_required
def invoice_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    """The invoice PDF, for staff or a contact of the invoice's client; 404 for anyone else.

    Served through this view, never from a media URL. A PDF not rendered yet
    (the task is queued) or stale is rendered now; a draft (staff only) is
    rendered on the fly, marked DRAFT, and not stored.
    """
    try:
        invoice = invoice_get_for_user(request.user, public_id)
    except Invoice.DoesNotExist:
        raise Http404("No such invoice.") from None
    if invoice.status == InvoiceStatus.DRAFT:
        response = HttpResponse(invoice_preview_pdf(invoice=invoice), content_type="application/pdf")
        response["Content-Disposition"] = 'inline; filename="invoice-draft.pdf"'
    else:
        if not invoice_pdf_is_current(invoice):
            invoice.pdf.name = invoice_render_pdf(invoice=invoice)
        response = FileResponse(
            invoice.pdf.storage.open(invoice.pdf.name, "rb"),
            content_type="application/pdf",
            as_attachment=False,
            filename=f"invoice-{invoice.number}.pdf",
        )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
