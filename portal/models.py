"""What a client asks for in the portal."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from agreements.models import Agreement, Tier


class HoursRequestStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("hours request status", "Open")
    HANDLED = "handled", _("Handled")


class HoursRequest(models.Model):
    """A client contact's "buy more hours" request: staff see it on the
    dashboard and turn it into a block sale (and, with billing, an invoice)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="hours_requests")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=1000, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=HoursRequestStatus.choices, default=HoursRequestStatus.OPEN)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=HoursRequestStatus.values), name="hoursrequest_status_valid"),
            models.CheckConstraint(
                condition=Q(status=HoursRequestStatus.OPEN) | Q(handled_at__isnull=False),
                name="hoursrequest_handled_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="open"), name="hoursrequest_open_idx"),
        ]

    def __str__(self) -> str:
        return _("%(tier)s for %(agreement)s") % {"tier": self.tier, "agreement": self.agreement}
