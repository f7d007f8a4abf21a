"""Django admin: staff edit the seller profile; invoices are read-only here,
and the actions call billing.services like every other caller."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import services
from billing.models import (
    CreditNote,
    CreditNoteBalance,
    CreditNoteLine,
    Invoice,
    InvoiceBalance,
    InvoiceLine,
    Payment,
    SellerProfile,
)


@admin.register(SellerProfile)
class SellerProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "tax_id", "payment_terms_days", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SellerProfile.objects.exists()  # one profile

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class InvoiceLineInline(_ReadOnlyInline):
    model = InvoiceLine
    fields = ("position", "description", "minutes", "unit_price", "amount")
    readonly_fields = fields


class InvoiceBalanceInline(_ReadOnlyInline):
    model = InvoiceBalance
    fields = ("position", "agreement_name", "minutes_before", "minutes_after")
    readonly_fields = fields


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = ("paid_on", "method", "reference", "amount", "recorded_by", "created_at")
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "client_name", "kind", "status", "total", "currency", "issued_on", "due_on")
    list_filter = ("status", "kind", "issued_on")
    search_fields = ("number", "client_name", "client__name")
    inlines = [InvoiceLineInline, InvoiceBalanceInline, PaymentInline]
    actions = ["issue", "rerender_pdf"]
    # The stored file is never linked directly (media is not served): the
    # download goes through the access-checked view.
    exclude = ("pdf",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in Invoice._meta.fields if field.name != "pdf"] + ["pdf_link"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        url = reverse("billing:invoice_pdf", args=[obj.public_id])
        return format_html('<a href="{}">{}</a>', url, gettext("Download PDF"))

    @admin.action(description=_("Issue selected drafts (assigns numbers)"))
    def issue(self, request: HttpRequest, queryset) -> None:
        # Imported here: notifications builds on billing, not the other way round.
        from notifications import services as notification_services
        from notifications.models import Episode
        from notifications.tasks import queue_sending

        drafted_reloads = set(
            Episode.objects.filter(reload_invoice__in=queryset).values_list("reload_invoice", flat=True)
        )
        for invoice in queryset.order_by("created_at", "id"):
            try:
                if invoice.pk in drafted_reloads:
                    # As on its review page: numbered, rendered and emailed to the client once.
                    notification_services.reload_draft_issue(invoice=invoice, actor=request.user, send=queue_sending)
                else:
                    services.invoice_issue(invoice=invoice, actor=request.user)
            except ValidationError as error:
                self.message_user(request, f"{invoice}: {'; '.join(error.messages)}", messages.WARNING)

    @admin.action(description=_("Re-render PDF of selected invoices"))
    def rerender_pdf(self, request: HttpRequest, queryset) -> None:
        for invoice in queryset.exclude(status="draft"):
            services.invoice_render_pdf(invoice=invoice)
        self.message_user(request, gettext("PDFs re-rendered."), messages.SUCCESS)


class CreditNoteLineInline(_ReadOnlyInline):
    model = CreditNoteLine
    fields = ("position", "invoice", "description", "minutes", "unit_price", "amount")
    readonly_fields = fields


class CreditNoteBalanceInline(_ReadOnlyInline):
    model = CreditNoteBalance
    fields = ("position", "agreement_name", "minutes_before", "minutes_after")
    readonly_fields = fields


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    """Read-only: credit notes are issued by cancelling hours on the client page (or the API)."""

    list_display = ("number", "client_name", "invoice", "minutes", "total", "currency", "issued_on")
    list_filter = ("issued_on",)
    search_fields = ("number", "client_name", "client__name", "invoice__number")
    inlines = [CreditNoteLineInline, CreditNoteBalanceInline]
    exclude = ("pdf",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in CreditNote._meta.fields if field.name != "pdf"] + ["pdf_link"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the view permission still shows it

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="PDF")
    def pdf_link(self, obj: CreditNote) -> str:
        url = reverse("billing:credit_note_pdf", args=[obj.public_id])
        return format_html('<a href="{}">{}</a>', url, gettext("Download PDF"))
