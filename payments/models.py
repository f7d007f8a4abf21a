"""What we know of Stripe: one PaymentIntent per invoice, every webhook
event received (its id is the guard that handles it once), the charge
attempts of auto-reloads, and the refunds credit notes send."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import MONEY, PaymentMethod


class StripePaymentIntent(models.Model):
    """The PaymentIntent that collects an invoice's money; reused for every
    attempt, so a client who tries twice is never charged twice."""

    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="stripe_intent", verbose_name=_("invoice")
    )
    stripe_id = models.CharField(_("Stripe id"), max_length=255, unique=True)
    client_secret = models.CharField(max_length=255)
    # What we asked Stripe for, from our invoice: an event claiming another
    # amount or currency credits nothing.
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("Stripe status"), max_length=32, default="requires_payment_method")
    # Set when the money was recorded on the invoice (or refused as a mismatch):
    # the webhook and the reconciliation both check it under the invoice lock.
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=300, blank=True)
    # The Stripe method type of the attempt ("card", "sepa_debit"), once known.
    method_type = models.CharField(_("method type"), max_length=32, blank=True)
    # When Stripe made the event that set `status` (its `created`): an older
    # event arriving late (a "processing" after the failure) changes nothing.
    status_at = models.DateTimeField(_("status at"), null=True, blank=True)
    # A one-off SEPA Direct Debit: the mandate text the payer accepted, as
    # shown on the pay page, and the acceptance sent to Stripe as mandate_data.
    mandate_text = models.TextField(_("mandate text"), blank=True)
    mandate_accepted_at = models.DateTimeField(_("mandate accepted at"), null=True, blank=True)
    mandate_ip = models.GenericIPAddressField(_("mandate accepted from"), null=True, blank=True)
    mandate_user_agent = models.CharField(_("mandate user agent"), max_length=500, blank=True)
    # Refunded at Stripe outside Blockhours (its dashboard), as charge.refunded
    # last said: the credit notes issued for it send that part no second time.
    refunded_elsewhere = models.DecimalField(_("refunded in Stripe's dashboard"), **MONEY, default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("Stripe payment intent")
        verbose_name_plural = _("Stripe payment intents")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="stripe_intent_amount_positive")]
        indexes = [
            # The reconciliation polls the intents not yet settled.
            models.Index(fields=["created_at"], condition=Q(applied_at__isnull=True), name="stripe_intent_open_idx"),
        ]

    def __str__(self) -> str:
        return self.stripe_id

    @property
    def method_label(self) -> str:
        """Our name of the method being charged ("SEPA Direct Debit", "Card")."""
        from payments.services import METHODS

        return str(PaymentMethod(METHODS.get(self.method_type, PaymentMethod.CARD)).label)


class ReloadChargeAttempt(models.Model):
    """An off-session charge of an auto-reload invoice, committed before
    Stripe is called. A retry that finds it without an intent row knows an
    earlier run may have charged, and looks the intent up at Stripe (by the
    invoice in its metadata) before creating one."""

    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="reload_charge", verbose_name=_("invoice")
    )
    customer_id = models.CharField(_("Stripe customer"), max_length=255)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    runs = models.PositiveIntegerField(_("runs"), default=1)

    class Meta:
        verbose_name = _("auto-reload charge attempt")
        verbose_name_plural = _("auto-reload charge attempts")

    def __str__(self) -> str:
        return self.idempotency_key


class StripeEvent(models.Model):
    """A webhook event, stored when it arrives: a second delivery finds the
    row and changes nothing."""

    event_id = models.CharField(_("event id"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class SavedPaymentMethod(models.Model):
    """The one method a client keeps on file for automatic reloads, saved by
    a billing contact through a SetupIntent. Only Stripe's ids and what the
    client needs to recognise it (brand, last 4, expiry) are stored."""

    client = models.OneToOneField(
        "agreements.Client", on_delete=models.PROTECT, related_name="saved_payment_method", verbose_name=_("client")
    )
    customer_id = models.CharField(_("Stripe customer"), max_length=255)
    payment_method_id = models.CharField(_("Stripe payment method"), max_length=255)
    method_type = models.CharField(_("type"), max_length=32, default="card")
    brand = models.CharField(_("brand"), max_length=32, blank=True)
    last4 = models.CharField(_("last 4"), max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    # The SEPA mandate text the contact agreed to, kept as shown, and when.
    mandate_text = models.TextField(_("mandate text"), blank=True)
    mandate_accepted_at = models.DateTimeField(_("mandate accepted at"), null=True, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("saved by")
    )
    saved_at = models.DateTimeField(_("saved at"), default=timezone.now)

    class Meta:
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")

    def __str__(self) -> str:
        return f"{self.label} •••• {self.last4}"

    @property
    def label(self) -> str:
        """What the client calls the method: the card's brand, or "SEPA Direct Debit"."""
        if self.method_type == "sepa_debit":
            return str(_("SEPA Direct Debit"))
        return (self.brand or self.method_type).capitalize()


class RefundStatus(models.TextChoices):
    QUEUED = "queued", _("to be sent to Stripe")
    PENDING = "pending", _("pending at Stripe")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class StripeRefund(models.Model):
    """The money a credit note returns through Stripe, written in the credit
    note's transaction and sent after commit; one per credit note.

    `amount` is at most what Stripe collected for the invoice, less the
    refunds before it: what a client paid by hand goes back by hand.
    """

    credit_note = models.OneToOneField(
        "billing.CreditNote", on_delete=models.PROTECT, related_name="stripe_refund", verbose_name=_("credit note")
    )
    intent = models.ForeignKey(
        StripePaymentIntent, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment intent")
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    # The part of the credit note Stripe's dashboard had refunded already (sent no second time).
    covered = models.DecimalField(_("refunded in Stripe's dashboard"), **MONEY, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=16, choices=RefundStatus, default=RefundStatus.QUEUED)
    stripe_id = models.CharField(_("Stripe refund"), max_length=255, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("Stripe refund")
        verbose_name_plural = _("Stripe refunds")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(covered__gte=0) & (Q(amount__gt=0) | Q(covered__gt=0)),
                name="stripe_refund_amount_positive",
            ),
            models.UniqueConstraint(fields=["stripe_id"], condition=~Q(stripe_id=""), name="stripe_refund_id_unique"),
        ]
        indexes = [
            # The reconciliation sends what is queued and asks about what is pending.
            models.Index(
                fields=["created_at"], condition=Q(status__in=["queued", "pending"]), name="stripe_refund_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.stripe_id or f"refund of {self.credit_note_id}"

    @property
    def by_hand(self) -> Decimal:
        """What the credit note returns beyond Stripe: staff pay it back themselves."""
        return self.credit_note.total - self.amount - self.covered
