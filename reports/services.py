"""Writes of the reports app: the seats figure of a client (MSA comparison)
and the monthly statements (reports.statements)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from agreements.models import Client
from reports.models import ClientProfile


def client_seats_set(*, client: Client, seats: int) -> ClientProfile:
    if isinstance(seats, bool) or not isinstance(seats, int) or not 0 <= seats <= 100_000:
        raise ValidationError({"seats": _("Seats must be a whole number between 0 and 100000.")})
    profile, _created = ClientProfile.objects.update_or_create(client=client, defaults={"seats": seats})
    return profile
