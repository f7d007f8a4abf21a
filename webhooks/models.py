"""Outgoing webhooks: endpoints staff register, events the services emit,
and one delivery per (endpoint, event).

An event row is written by the service that makes the change, inside its
transaction (an outbox, like the audit event): a rolled-back change leaves no
event and nothing is sent. This app sits low in the dependency order, beside
audit (audit ← accounts ← webhooks ← agreements ← billing …): it imports none
of the apps that emit, which hand it plain JSON data.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    BALANCE_LOW = "balance.low", _("Balance at or below the threshold")
    BALANCE_EXHAUSTED = "balance.exhausted", _("Balance exhausted")
    INVOICE_ISSUED = "invoice.issued", _("Invoice issued")
    INVOICE_PAID = "invoice.paid", _("Invoice paid")
    BLOCK_CREDITED = "block.credited", _("Block's hours credited")
    TIME_ENTRY_CREATED = "time_entry.created", _("Time entry logged")
    TIME_ENTRY_VOIDED = "time_entry.voided", _("Time entry voided")


class Endpoint(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=100, blank=True)
    # A list of EventKind values (checked by the service).
    events = models.JSONField(_("events"), default=list)
    # Kept in clear: an HMAC needs the key itself (a hash could not sign).
    # Shown once, when created or rotated; never on a page or in the API again.
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    secret_rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class Event(models.Model):
    # The event's stable id: the same in every delivery and every resend, so
    # a receiver that keeps the ids it processed can ignore a repeat.
    public_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("type"), max_length=32, choices=EventKind.choices)
    data = models.JSONField(_("data"), default=dict)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="webhook_event_kind_valid")]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Due time of the next attempt; while an attempt runs, the end of its lease
    # (a second task finds it in the future and leaves the delivery alone).
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    # Retries stop a day after this (set again by a resend).
    first_attempt_at = models.DateTimeField(_("queued"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last response status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once_per_endpoint"),
        ]
        indexes = [
            # The catch-up task's query: pending deliveries that are due.
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"
