from django.contrib import admin

from payments.models import StripeEvent, StripePaymentIntent, StripeRefund


@admin.register(StripePaymentIntent)
class StripePaymentIntentAdmin(admin.ModelAdmin):
    list_display = ["stripe_id", "invoice", "amount", "currency", "status", "applied_at", "outcome"]
    list_filter = ["status"]
    search_fields = ["stripe_id", "invoice__number"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False  # written by the payments services only

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "object_id", "received_at", "outcome"]
    list_filter = ["type"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(StripeRefund)
class StripeRefundAdmin(admin.ModelAdmin):
    list_display = ["credit_note", "stripe_id", "amount", "currency", "status", "error", "created_at"]
    list_filter = ["status"]
    search_fields = ["stripe_id", "credit_note__number"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False  # written by payments.refunds only

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
