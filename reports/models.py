"""Facts the reports need that the rest of the domain does not: how many
seats a client has, for the flat-rate MSA comparison."""

from django.db import models
from django.db.models import Q


class ClientProfile(models.Model):
    client = models.OneToOneField("agreements.Client", on_delete=models.CASCADE, related_name="report_profile")
    seats = models.PositiveIntegerField(
        default=0, help_text="Users or devices a flat-rate agreement would cover (0: unknown)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(seats__gte=0), name="clientprofile_seats_not_negative")]

    def __str__(self) -> str:
        return f"{self.client}: {self.seats} seats"
