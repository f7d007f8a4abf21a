from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications import services
from notifications.models import Episode, OutgoingEmail
from notifications.tasks import queue_sending


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    list_display = (
        "agreement",
        "kind",
        "opened_at",
        "balance_at_open",
        "reload_invoice",
        "auto_reloaded",
        "processed_at",
        "closed_at",
    )
    list_filter = ("kind", "auto_reloaded")
    readonly_fields = [f.name for f in Episode._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "recipient", "subject", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "kind")
    search_fields = ("recipient", "subject")
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Send again (stuck or failed emails only)"))
    def resend(self, request, queryset) -> None:
        for email in queryset:
            services.email_resend(email=email, actor=request.user, send=queue_sending)
        self.message_user(request, _("Stuck and failed emails were queued to be sent again."), messages.SUCCESS)
