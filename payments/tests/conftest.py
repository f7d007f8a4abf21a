"""Payments tests run the real stripe library against a localstripe server
(tests/localstripe_server.py), started once per test process."""

import hashlib
import hmac
import json
import time
import uuid

import pytest

from billing.models import SellerProfile
from tests.localstripe_server import localstripe_url  # noqa: F401 - the session fixture

WEBHOOK_SECRET = "whsec_blockhours_tests"


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def stripe_on(settings, localstripe_url):  # noqa: F811
    settings.STRIPE_SECRET_KEY = "sk_test_blockhours"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_blockhours"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_JS_URL = ""
    return localstripe_url


@pytest.fixture
def seller(db) -> SellerProfile:
    return SellerProfile.objects.create(
        name="Northwind IT Services",
        email="billing@northwind.example",
        payment_instructions="ACH to Northwind IT Services",
        payment_terms_days=15,
    )


def signed(payload: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, signed as Stripe (and localstripe) sign them."""
    body = json.dumps(payload).encode()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


def event(kind: str, intent: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent},
    }


def card(number: str = "4242424242424242") -> str:
    """A card payment method id at localstripe, as Stripe.js would create it in the browser."""
    from payments import provider

    token = provider.client().v1.tokens.create(
        params={"card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return token.card.id


def post_webhook(http, payload: dict, *, secret: str = WEBHOOK_SECRET, signature: str | None = None):
    body, header = signed(payload, secret)
    return http.post(
        "/payments/stripe/webhook/",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": signature if signature is not None else header},
    )
