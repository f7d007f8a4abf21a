"""Helpers for the API tests."""

from django.utils import timezone
from rest_framework.test import APIClient

from agreements.tests.factories import StaffFactory, work_type
from api.services import token_create


def api_as(user, *, issuer=None) -> APIClient:
    """An APIClient authenticated the way integrations are: with a token."""
    issuer = issuer or (user if user.is_msp_staff else StaffFactory(username="token-issuer"))
    new = token_create(user=user, name=f"{user.username} test token", actor=issuer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    api.user = user
    return api


def entry_body(agreement, ticket, /, *, minutes=30, **extra) -> dict:
    body = {
        "agreement": str(agreement.public_id),
        "work_date": timezone.localdate().isoformat(),
        "minutes": minutes,
        "work_type": work_type("Normal").pk,
        "notes": "Printer fixed",
    }
    if ticket is not None:
        body["ticket"] = str(ticket.public_id)
    body.update(extra)
    return body
