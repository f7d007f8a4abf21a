"""Django admin for superusers. Balance-changing actions call the services;
the ledger is read-only here as everywhere."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from agreements import services
from agreements.domain import format_minutes
from agreements.models import (
    Agreement,
    Block,
    ChargeQuestion,
    Client,
    ClientContact,
    LedgerEntry,
    Renewal,
    Ticket,
    Tier,
    TimeEntry,
    WorkType,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ClientContactInline(admin.TabularInline):
    model = ClientContact
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "hourly_rate", "currency", "is_active")
    search_fields = ("name", "billing_email")
    inlines = [ClientContactInline]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("name", "hours", "discount_per_hour", "is_active")


@admin.register(WorkType)
class WorkTypeAdmin(ReadOnlyAdmin):
    """Read-only: staff change work types on the dashboard's Work types page, audited."""

    list_display = ("name", "multiplier", "is_active", "is_after_hours")


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ("client", "name", "status", "balance", "low_balance_threshold_minutes", "overage_policy")
    list_filter = ("status", "overage_policy", "credit_policy", "topup_mode")
    search_fields = ("client__name", "name")
    readonly_fields = ("public_id", "balance_minutes")
    filter_horizontal = ("work_types",)

    @admin.display(description="Balance", ordering="balance_minutes")
    def balance(self, obj: Agreement) -> str:
        return format_minutes(obj.balance_minutes)


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = (
        "agreement",
        "tier",
        "minutes",
        "rate",
        "amount",
        "currency",
        "starts_on",
        "expires_on",
        "paid_at",
        "credited_at",
    )
    list_filter = ("tier",)
    actions = ["mark_paid"]

    @admin.action(description="Mark selected blocks paid (credits their hours)")
    def mark_paid(self, request, queryset) -> None:
        for block in queryset:
            services.block_mark_paid(block=block, actor=request.user)
        self.message_user(request, f"{queryset.count()} block(s) marked paid.", messages.SUCCESS)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "agreement", "kind", "minutes", "block", "time_entry", "reason", "author")
    list_filter = ("kind",)
    search_fields = ("agreement__client__name", "reason")


@admin.register(ChargeQuestion)
class ChargeQuestionAdmin(ReadOnlyAdmin):
    """Read-only: raised in the portal or the API and answered on the dashboard,
    through agreements.services.questions (audited, emailed, credited once)."""

    list_display = ("created_at", "time_entry", "raised_by", "status", "credited_minutes", "resolved_by", "resolved_at")
    list_filter = ("status",)
    search_fields = ("time_entry__agreement__client__name", "time_entry__ticket__number", "reason", "reply")
    list_select_related = (
        "time_entry__agreement__client",
        "time_entry__ticket",
        "time_entry__technician",
        "raised_by",
        "resolved_by",
    )
    raw_id_fields = ("time_entry", "correction")


@admin.register(Renewal)
class RenewalAdmin(ReadOnlyAdmin):
    """Written only by agreements.services.renewals (once per term)."""

    list_display = (
        "agreement",
        "term_ends_on",
        "new_term_ends_on",
        "rolled_over_minutes",
        "expired_minutes",
        "renewed_at",
    )
    list_filter = ("renewed_at",)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("number", "subject", "client", "status")
    search_fields = ("number", "subject", "client__name")


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "work_date",
        "agreement",
        "ticket",
        "technician",
        "minutes",
        "work_type",
        "charged_minutes",
        "voided_at",
    )
    list_filter = ("work_type",)
    search_fields = ("ticket__number", "notes", "agreement__client__name")
    actions = ["void_entries"]

    @admin.action(description="Void selected time entries (writes reversals)")
    def void_entries(self, request, queryset) -> None:
        voided = 0
        for entry in queryset:
            try:
                services.time_entry_void(time_entry=entry, actor=request.user, reason="Voided in admin")
                voided += 1
            except ValidationError as error:
                self.message_user(request, f"{entry}: {'; '.join(error.messages)}", messages.WARNING)
        self.message_user(request, f"{voided} time entrie(s) voided.", messages.SUCCESS)
