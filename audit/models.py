"""The audit log: who did what to which object, when, and what changed.

Events are appended by the services that make the change, inside the same
transaction (audit.services.audit_record), so a rolled-back action leaves no
event and a committed one always has its event. Nothing updates or deletes an
event. This app sits at the bottom of the dependency order (audit ← accounts ←
agreements ← billing …): it imports none of them, and names the models its
foreign keys point to as strings.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    BLOCK_SELL = "block.sell", _("Block sold")
    BLOCK_CANCEL = "block.cancel", _("Block sale cancelled")
    LEDGER_ADJUST = "ledger.adjust", _("Balance adjusted")
    TIME_ENTRY_VOID = "time_entry.void", _("Time entry voided")
    TIME_ENTRY_CORRECT = "time_entry.correct", _("Time entry corrected")
    INVOICE_VOID = "invoice.void", _("Invoice voided")
    PAYMENT_RECORD = "payment.record", _("Payment recorded")
    API_TOKEN_CREATE = "api_token.create", _("API token created")
    API_TOKEN_REVOKE = "api_token.revoke", _("API token revoked")
    INVITATION_SEND = "invitation.send", _("Invitation sent")
    LOCKOUT_CLEAR = "lockout.clear", _("Sign-in lockout lifted")
    CLIENT_UPDATE = "client.update", _("Client details changed")
    EMAIL_RESEND = "email.resend", _("Undelivered email sent again")
    AGREEMENT_ORDER = "agreement.order", _("Agreements reordered")
    AGREEMENT_WORK_TYPES = "agreement.work_types", _("Agreement's work types changed")
    AGREEMENT_RENEW = "agreement.renew", _("Agreement renewed")
    AGREEMENT_END = "agreement.end", _("Agreement term ended")
    BLOCK_REFUND = "block.refund", _("Unused hours refunded")
    BLOCK_FORFEIT = "block.forfeit", _("Unused hours forfeited")
    AGREEMENT_CANCEL = "agreement.cancel", _("Agreement cancelled")
    BLOCK_EXPIRY_CHANGE = "block.expiry_change", _("Block's expiry date changed")
    BLOCK_RESIZE = "block.resize", _("Drafted block resized")
    RELOAD_DRAFT_ISSUE = "reload_draft.issue", _("Drafted reload invoice issued")
    AGREEMENT_UPDATE = "agreement.update", _("Agreement settings changed")
    BUSINESS_CALENDAR = "business_calendar.change", _("Business hours or holidays changed")
    WORK_TYPE_SAVE = "work_type.save", _("Work type added or changed")
    BLOCK_GOODWILL = "block.goodwill", _("Goodwill hours granted")
    BLOCK_MOVE = "block.move", _("Unused hours moved")
    CLIENTS_IMPORT = "clients.import", _("Clients and opening balances imported")
    WEBHOOK_CREATE = "webhook.create", _("Webhook endpoint registered")
    WEBHOOK_UPDATE = "webhook.update", _("Webhook endpoint changed")
    WEBHOOK_DELETE = "webhook.delete", _("Webhook endpoint removed")
    WEBHOOK_ROTATE = "webhook.rotate", _("Webhook signing secret rotated")
    WEBHOOK_RESEND = "webhook.resend", _("Webhook sent again")
    QUESTION_RAISE = "question.raise", _("Charge questioned")
    QUESTION_EXPLAIN = "question.explain", _("Charge question explained")
    QUESTION_CREDIT = "question.credit", _("Charge question credited")
    QUESTION_CORRECT = "question.correct", _("Charge question answered by a correction")
    ESTIMATE_CREATE = "estimate.create", _("Estimate added")
    ESTIMATE_APPROVE = "estimate.approve", _("Estimate approved")
    ESTIMATE_DECLINE = "estimate.decline", _("Estimate declined")
    ESTIMATE_CANCEL = "estimate.cancel", _("Estimate cancelled")
    ESTIMATE_OVERRUN = "estimate.overrun", _("Time beyond an estimate flagged")
    REFUND_RETRY = "refund.retry", _("Stripe refund sent again")


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise TypeError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are never deleted.")


class AuditEvent(models.Model):
    created_at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    # None: the system acting on its own (the low-balance sweep selling a reload block).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    summary = models.CharField(_("summary"), max_length=500)
    # The object acted on: its model name and public id (the UUID in its URLs).
    target_type = models.CharField(_("object type"), max_length=32)
    target_id = models.CharField(_("object id"), max_length=64)
    client = models.ForeignKey(
        "agreements.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The relevant fields before and after, as JSON (money and dates as strings).
    before = models.JSONField(_("before"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["-created_at", "-id"], name="auditevent_newest_first")]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=AuditAction.values), name="auditevent_action_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_type} {self.target_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are never deleted.")

    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for every field in either snapshot, in the order recorded."""
        fields = list(self.before) + [field for field in self.after if field not in self.before]
        return [(field, self.before.get(field), self.after.get(field)) for field in fields]
