"""Stripe's webhooks, handled once whatever the order, the repeats, or a
manual payment of the same invoice; and the reconciliation that applies
what a lost webhook never said. Against localstripe."""

from decimal import Decimal
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from billing import services as billing_services
from billing.models import InvoiceStatus, Payment, PaymentMethod
from billing.tests.factories import issued_block_invoice
from notifications.models import EmailKind, OutgoingEmail
from payments import provider, services
from payments.models import StripeEvent, StripePaymentIntent
from payments.tests.conftest import card, event, post_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(agreement, staff, seller):
    agreement.client.billing_email = "ap@acme.example"
    agreement.client.save()
    return issued_block_invoice(agreement, staff, hours=20)


def paid_at_stripe(invoice, number: str = "4242424242424242") -> dict:
    """The invoice's intent, paid at Stripe behind our back (the browser
    confirmed it, and no webhook has reached us yet): Stripe's view of it."""
    intent = services.intent_for_invoice(invoice=invoice)
    stripe = provider.client()
    stripe.v1.payment_intents.update(intent.stripe_id, params={"payment_method": card(number)})
    try:
        stripe.v1.payment_intents.confirm(intent.stripe_id)
    except provider.CardError:
        pass
    return stripe.v1.payment_intents.retrieve(intent.stripe_id).to_dict()


def state(invoice, agreement) -> tuple:
    invoice.refresh_from_db()
    agreement.refresh_from_db()
    return invoice.status, agreement.balance_minutes, Payment.objects.count()


def staff_alerts() -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_ALERT_STAFF))


def test_a_succeeded_event_records_the_payment_and_credits_the_hours(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)
    response = post_webhook(HttpClient(), event("payment_intent.succeeded", intent))
    assert response.status_code == HTTPStatus.OK
    assert response.content == b"recorded"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.reference) == (Decimal("1800.00"), PaymentMethod.CARD, intent["id"])
    assert payment.recorded_by is None


def test_a_bad_signature_is_400_and_changes_nothing(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)
    http = HttpClient()
    assert post_webhook(http, event("payment_intent.succeeded", intent), secret="whsec_wrong").status_code == 400
    assert post_webhook(http, event("payment_intent.succeeded", intent), signature="").status_code == 400
    assert post_webhook(http, event("payment_intent.succeeded", intent), signature="t=1,v1=00").status_code == 400
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, balance, 0)
    assert StripeEvent.objects.count() == 0


def test_the_same_event_twice_credits_once(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    payload = event("payment_intent.succeeded", paid_at_stripe(invoice))
    http = HttpClient()
    assert post_webhook(http, payload).content == b"recorded"
    assert post_webhook(http, payload).content == b"duplicate"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)
    assert StripeEvent.objects.count() == 1


def test_two_events_for_one_success_credit_once(invoice, agreement, stripe_on):
    """Stripe may send the same news under two event ids (a retry after a timeout, a resend)."""
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)
    http = HttpClient()
    assert post_webhook(http, event("payment_intent.succeeded", intent)).content == b"recorded"
    assert post_webhook(http, event("payment_intent.succeeded", intent)).content == b"already applied"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)


def test_a_late_failure_after_the_success_changes_nothing_and_tells_no_one(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)
    failed = {**intent, "status": "requires_payment_method", "last_payment_error": {"message": "Declined"}}
    http = HttpClient()
    post_webhook(http, event("payment_intent.succeeded", intent))
    assert post_webhook(http, event("payment_intent.payment_failed", failed)).content == b"late failure ignored"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED).count() == 0


def test_a_failure_then_the_success_out_of_order(invoice, agreement, stripe_on):
    """processing → failed (an earlier attempt) arriving after the success: credited once, the status kept."""
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)
    http = HttpClient()
    post_webhook(http, event("payment_intent.succeeded", intent))
    post_webhook(http, event("payment_intent.processing", {**intent, "status": "processing"}))
    assert StripePaymentIntent.objects.get().status == "succeeded"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)


def test_a_failed_payment_tells_the_client_with_the_pay_link_and_alerts_staff(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice, "4000000000000341")
    assert intent["status"] == "requires_payment_method"
    payload = event("payment_intent.payment_failed", intent)
    http = HttpClient()
    assert post_webhook(http, payload).content == b"failed"
    assert post_webhook(http, payload).content == b"duplicate"
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, balance, 0)
    client_mail = OutgoingEmail.objects.get(kind=EmailKind.PAYMENT_FAILED)
    assert client_mail.recipient == "ap@acme.example"
    assert f"The online payment of invoice {invoice.number} ($1,800.00) did not go through" in client_mail.body_text
    assert "Your bank said: Your card was declined." in client_mail.body_text
    assert "/pay/" in client_mail.body_text
    (alert,) = staff_alerts()
    assert f"An online payment of invoice {invoice.number} failed: Your card was declined." in alert.body_text


def test_an_event_for_an_unknown_intent_credits_nothing_and_alerts_staff(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    stranger = provider.client().v1.payment_intents.create(params={"amount": 180000, "currency": "usd"}).to_dict()
    stranger["status"] = "succeeded"
    response = post_webhook(HttpClient(), event("payment_intent.succeeded", stranger))
    assert response.status_code == HTTPStatus.OK and response.content == b"unknown payment intent"
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, balance, 0)
    (alert,) = staff_alerts()
    assert "matches none of our invoices" in alert.body_text


@pytest.mark.parametrize(
    "change, words",
    [
        ({"amount": 100, "amount_received": 100}, "Stripe reports 1.00 USD"),
        ({"currency": "eur"}, "Stripe reports 1800.00 EUR"),
    ],
)
def test_a_wrong_amount_or_currency_credits_nothing_and_alerts_staff(invoice, agreement, stripe_on, change, words):
    balance = agreement.balance_minutes
    intent = {**paid_at_stripe(invoice), **change}
    assert post_webhook(HttpClient(), event("payment_intent.succeeded", intent)).content == b"refused"
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, balance, 0)
    (alert,) = staff_alerts()
    assert words in alert.body_text and "nothing was credited" in alert.body_text
    # The real success that follows is not credited either: staff look first.
    assert services.reconcile().recorded == 0


def test_a_success_after_a_manual_payment_is_refused_and_staff_are_told(invoice, agreement, staff, stripe_on):
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)
    billing_services.payment_record(
        invoice=invoice,
        amount="1800.00",
        method=PaymentMethod.CHEQUE,
        reference="CHQ-9",
        paid_on=timezone.localdate(),
        actor=staff,
    )
    assert post_webhook(HttpClient(), event("payment_intent.succeeded", intent)).content == b"refused"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)
    (alert,) = staff_alerts()
    assert "is already paid in full" in alert.body_text


def test_other_events_are_stored_and_ignored(stripe_on, db):
    response = post_webhook(HttpClient(), event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.content == b"ignored"
    assert StripeEvent.objects.get().type == "customer.created"


# --- reconciliation --------------------------------------------------------------


def test_a_lost_webhook_is_made_good_by_the_reconciliation_once(invoice, agreement, stripe_on):
    balance = agreement.balance_minutes
    intent = paid_at_stripe(invoice)  # and the webhook never arrives
    report = services.reconcile()
    assert (report.checked, report.recorded, report.errors) == (1, 1, 0)
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)
    assert services.reconcile().checked == 0
    # The webhook turns up after all.
    assert post_webhook(HttpClient(), event("payment_intent.succeeded", intent)).content == b"already applied"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, balance + 1200, 1)


def test_the_reconcile_command(invoice, agreement, stripe_on):
    services.intent_for_invoice(invoice=invoice)  # opened, not paid
    out = StringIO()
    call_command("stripe_reconcile", stdout=out)
    assert out.getvalue() == "1 open payment intents checked, 0 payments recorded, 0 errors\n"
    paid_at_stripe(invoice)
    out = StringIO()
    call_command("stripe_reconcile", stdout=out)
    assert out.getvalue() == "1 open payment intents checked, 1 payments recorded, 0 errors\n"
    assert state(invoice, agreement)[0] == InvoiceStatus.PAID


def test_the_beat_task_reconciles(invoice, stripe_on, settings):
    from payments.tasks import reconcile

    paid_at_stripe(invoice)
    assert reconcile.apply().get() == ["1 open payment intents checked, 1 payments recorded, 0 errors"]
    assert "stripe-reconcile" in settings.CELERY_BEAT_SCHEDULE


def test_a_refund_at_stripe_is_shown_on_the_invoice_and_told_to_staff(invoice, agreement, staff, stripe_on):
    intent = paid_at_stripe(invoice)
    post_webhook(HttpClient(), event("payment_intent.succeeded", intent))
    refund = provider.client().v1.refunds.create(params={"payment_intent": intent["id"]})
    charge = provider.client().v1.charges.retrieve(refund.charge).to_dict()
    assert post_webhook(HttpClient(), event("charge.refunded", charge)).content == b"refunded"
    (alert,) = staff_alerts()
    assert f"1800.00 USD of invoice {invoice.number} was refunded at Stripe" in alert.body_text
    http = HttpClient()
    http.force_login(staff)
    page = http.get(f"/invoices/{invoice.public_id}/").content.decode()
    assert f"Stripe {intent['id']}: refunded — 1800.00 USD refunded at Stripe" in page
