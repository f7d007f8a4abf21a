"""Facts the reports need that the rest of the domain does not: how many
seats a client has, for the flat-rate MSA comparison."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class ClientProfile(models.Model):
    client = models.OneToOneField(
        "agreements.Client", on_delete=models.CASCADE, related_name="report_profile", verbose_name=_("client")
    )
    seats = models.PositiveIntegerField(
        _("seats"), default=0, help_text=_("Users or devices a flat-rate agreement would cover (0: unknown).")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("client profile")
        verbose_name_plural = _("client profiles")
        constraints = [models.CheckConstraint(condition=Q(seats__gte=0), name="clientprofile_seats_not_negative")]

    def __str__(self) -> str:
        return ngettext("%(client)s: %(count)s seat", "%(client)s: %(count)s seats", self.seats) % {
            "client": self.client,
            "count": self.seats,
        }
