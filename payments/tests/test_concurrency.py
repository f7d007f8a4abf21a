"""Webhooks at the same moment as each other and as a manual payment, on
PostgreSQL with real threads: one payment, the hours credited once."""

import threading

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, SellerProfile
from payments import provider, services
from payments.models import StripeEvent
from payments.tests.conftest import card, event, post_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_at_once(target, args_list) -> tuple[list, list[BaseException]]:
    barrier = threading.Barrier(len(args_list))
    results: list = []
    errors: list[BaseException] = []

    def worker(*args):
        try:
            barrier.wait()
            results.append(target(*args))
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.fixture
def invoice(stripe_on) -> Invoice:
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Acme Dental"))
    # Custom hours, not a tier: a transactional test flushes the tiers the data migration made.
    block = agreement_services.block_sell(agreement=agreement, hours=10, actor=staff)
    draft = billing_services.invoice_create_for_block(block=block, actor=staff)
    return billing_services.invoice_issue(invoice=draft, actor=staff)


def paid_at_stripe(invoice) -> dict:
    intent = services.intent_for_invoice(invoice=invoice)
    stripe = provider.client()
    stripe.v1.payment_intents.update(intent.stripe_id, params={"payment_method": card()})
    stripe.v1.payment_intents.confirm(intent.stripe_id)
    return stripe.v1.payment_intents.retrieve(intent.stripe_id).to_dict()


def balance(invoice) -> int:
    return type(invoice.agreement).objects.get(pk=invoice.agreement_id).balance_minutes


def test_the_same_event_delivered_at_once_credits_once(invoice):
    before = balance(invoice)
    payload = event("payment_intent.succeeded", paid_at_stripe(invoice))
    results, errors = run_at_once(lambda: post_webhook(HttpClient(), payload).content, [()] * THREADS)
    assert errors == []
    assert sorted(results) == [b"duplicate"] * (THREADS - 1) + [b"recorded"]
    assert StripeEvent.objects.count() == 1 and Payment.objects.count() == 1
    assert balance(invoice) == before + 600


def test_different_events_for_one_success_at_once_credit_once(invoice):
    before = balance(invoice)
    intent = paid_at_stripe(invoice)
    payloads = [(event("payment_intent.succeeded", intent),) for _ in range(THREADS)]
    results, errors = run_at_once(lambda payload: post_webhook(HttpClient(), payload).content, payloads)
    assert errors == []
    assert sorted(results) == [b"already applied"] * (THREADS - 1) + [b"recorded"]
    assert StripeEvent.objects.count() == THREADS and Payment.objects.count() == 1
    assert balance(invoice) == before + 600


def test_a_webhook_racing_a_manual_payment_credits_once(invoice):
    """The invoice row lock decides: whichever comes second finds it paid."""
    before = balance(invoice)
    payload = event("payment_intent.succeeded", paid_at_stripe(invoice))
    staff = StaffFactory(username="bea")

    def manual():
        try:
            billing_services.payment_record(
                invoice=invoice,
                amount=str(invoice.total),
                method=PaymentMethod.CHEQUE,
                reference="CHQ-1",
                paid_on=timezone.localdate(),
                actor=staff,
            )
            return "manual recorded"
        except Exception as error:  # noqa: BLE001
            return f"manual refused: {error}"

    def webhook():
        return "webhook " + post_webhook(HttpClient(), payload).content.decode()

    results, errors = run_at_once(lambda which: which(), [(manual,), (webhook,)])
    assert errors == []
    assert sorted(results) in (
        ["manual recorded", "webhook refused"],
        [f"manual refused: ['Invoice {invoice.number} is already paid in full.']", "webhook recorded"],
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.count() == 1
    assert balance(invoice) == before + 600
