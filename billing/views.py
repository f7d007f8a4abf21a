from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.reauth import recent_login_required
from agreements.domain import format_minutes, format_money
from billing.credit_notes import credit_note_pdf_name
from billing.forms import InvoiceFilterForm, PaymentForm, VoidForm
from billing.models import CreditNote, Invoice, InvoiceStatus
from billing.selectors import (
    credit_note_get_for_user,
    invoice_amount_due,
    invoice_amount_paid,
    invoice_balances,
    invoice_get_for_user,
    invoice_is_overdue,
    invoices_for_user,
    invoices_overdue,
)
from billing.services import (
    invoice_pdf_is_current,
    invoice_preview_pdf,
    invoice_render_pdf,
    invoice_void,
    payment_record,
)
from ui.access import get_by_public_id, staff_required
from ui.forms import add_service_errors


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


@require_GET
@login_required
def credit_note_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    """The credit note PDF, for staff or a contact of its client; 404 for anyone else."""
    try:
        credit_note = credit_note_get_for_user(request.user, public_id)
    except CreditNote.DoesNotExist:
        raise Http404("No such credit note.") from None
    name = credit_note_pdf_name(credit_note)
    response = FileResponse(
        credit_note.pdf.storage.open(name, "rb"),
        content_type="application/pdf",
        as_attachment=False,
        filename=f"credit-note-{credit_note.number}.pdf",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------------------
# Staff pages: the invoice list, one invoice, payments and voids


def _staff_invoice(request: HttpRequest, public_id: str) -> Invoice:
    return get_by_public_id(invoices_for_user(request.user).prefetch_related("lines", "payments"), public_id)


@staff_required
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None)
    invoices = invoices_for_user(request.user).order_by("-created_at", "-id")
    if form.is_valid():
        if form.cleaned_data["client"]:
            invoices = invoices.filter(client__name__icontains=form.cleaned_data["client"])
        if form.cleaned_data["status"]:
            invoices = invoices.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["overdue"]:
            invoices = invoices_overdue(invoices)
    invoices = invoices.annotate(
        outstanding=ExpressionWrapper(
            F("total") - Coalesce(Sum("payments__amount"), Decimal("0.00")), output_field=DecimalField()
        )
    )
    page = Paginator(invoices, 50).get_page(request.GET.get("page"))
    overdue_ids = set(
        invoices_overdue(Invoice.objects.filter(pk__in=[i.pk for i in page])).values_list("pk", flat=True)
    )
    return render(
        request,
        "billing/invoice_list.html",
        {"form": form, "page": page, "overdue_ids": overdue_ids, "today": timezone.localdate()},
    )


@staff_required
@require_GET
def invoice_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _staff_invoice(request, public_id)
    return _detail_page(
        request,
        invoice,
        PaymentForm(initial={"amount": formats.localize_input(invoice_amount_due(invoice))}),
        VoidForm(),
    )


def _detail_page(
    request: HttpRequest, invoice: Invoice, payment_form: PaymentForm, void_form: VoidForm
) -> HttpResponse:
    balance_basis, balances = invoice_balances(invoice)
    return render(
        request,
        "billing/invoice_detail.html",
        {
            "invoice": invoice,
            "paid": invoice_amount_paid(invoice),
            "due": invoice_amount_due(invoice),
            "overdue": invoice.status == InvoiceStatus.ISSUED and invoice_is_overdue(invoice),
            "balance_basis": balance_basis,
            "balances": balances,
            "payment_form": payment_form,
            "void_form": void_form,
        },
        status=400 if payment_form.errors or void_form.errors else 200,
    )


@staff_required
@require_POST
@recent_login_required(return_to="billing:invoice")  # the forms are on the invoice's page
def invoice_payment(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _staff_invoice(request, public_id)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            payment = payment_record(invoice=invoice, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            invoice.refresh_from_db()
            invoice.agreement.refresh_from_db()
            values = {
                "reference": payment.reference,
                "amount": format_money(payment.amount, invoice.currency),
                "client": invoice.client,
                "balance": format_minutes(invoice.agreement.balance_minutes),
            }
            if invoice.status == InvoiceStatus.PAID:
                text = _(
                    "Payment %(reference)s of %(amount)s recorded. The invoice is paid in full. "
                    "%(client)s balance: %(balance)s."
                )
            else:
                text = _("Payment %(reference)s of %(amount)s recorded. %(client)s balance: %(balance)s.")
            messages.success(request, text % values)
            return redirect("billing:invoice", public_id=invoice.public_id)
    return _detail_page(request, invoice, form, VoidForm())


@staff_required
@require_POST
@recent_login_required(return_to="billing:invoice")  # the forms are on the invoice's page
def invoice_void_view(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _staff_invoice(request, public_id)
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            invoice_void(invoice=invoice, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Invoice %(number)s is void. Its number stays in the sequence.")
                % {"number": invoice.number or _("(draft)")},
            )
            return redirect("billing:invoice", public_id=invoice.public_id)
    return _detail_page(request, invoice, PaymentForm(), form)
