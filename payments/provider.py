"""The one place that talks to the payment provider (Stripe).

Everything else asks `enabled()` and calls the functions here; keys and the
API base come from settings, read at each call so tests can point them at a
localstripe server.
"""

from decimal import Decimal

import stripe
from django.conf import settings

# Currencies Stripe counts in whole units (no cents).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"})
StripeError = stripe.StripeError
CardError = stripe.CardError


def enabled() -> bool:
    """Online payments are on only with both keys; otherwise nothing of Stripe shows."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


def client() -> stripe.StripeClient:
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else {}
    # Few retries: a webhook or the reconciliation picks up what a timeout left open.
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=1)


def js_url() -> str:
    if settings.STRIPE_JS_URL:
        return settings.STRIPE_JS_URL
    if settings.STRIPE_API_BASE:
        return f"{settings.STRIPE_API_BASE}/js.stripe.com/v3/"  # localstripe serves its stand-in there
    return "https://js.stripe.com/v3/"


def origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in Stripe's smallest unit: cents, or whole units for zero-decimal currencies."""
    if currency.lower() in ZERO_DECIMAL:
        return int(amount)
    return int(amount * 100)


def from_minor(value: int, currency: str) -> Decimal:
    if currency.lower() in ZERO_DECIMAL:
        return Decimal(value).quantize(Decimal("0.01"))
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def webhook_event(payload: bytes, signature: str) -> stripe.Event:
    """The verified event; raises ValueError or stripe.SignatureVerificationError."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
