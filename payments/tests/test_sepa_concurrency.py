"""A SEPA debit's success and its failure arriving at the same moment, on
PostgreSQL with real threads: one outcome, the ledger consistent with it."""

import time

import pytest
from django.test import Client as HttpClient

from agreements import services as agreement_services
from agreements.models import Agreement, CreditPolicy, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus, Payment, SellerProfile
from payments import provider, services
from payments.models import StripePaymentIntent
from payments.tests.conftest import event, post_webhook
from payments.tests.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def euro_invoice(policy: str) -> Invoice:
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Rossi Srl", currency="EUR"), credit_policy=policy)
    # Custom hours, not a tier: a transactional test flushes the tiers the data migration made.
    block = agreement_services.block_sell(agreement=agreement, hours=10, actor=staff)
    draft = billing_services.invoice_create_for_block(block=block, actor=staff)
    return billing_services.invoice_issue(invoice=draft, actor=staff)


def intent(invoice: Invoice, status: str, **extra) -> dict:
    row = StripePaymentIntent.objects.filter(invoice=invoice).first() or services.intent_for_invoice(invoice=invoice)
    amount = provider.to_minor(row.amount, row.currency)
    return {
        "id": row.stripe_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": "eur",
        "status": status,
        "payment_method_types": ["sepa_debit"],
        **extra,
    }


@pytest.mark.parametrize("policy", [CreditPolicy.IMMEDIATE, CreditPolicy.ON_PAYMENT])
def test_a_success_and_a_failure_racing_give_one_outcome(stripe_on, policy):
    """Whichever the invoice lock lets in first, the money is recorded once and
    the block's 600 min stand once: a failure handled first takes the unused
    hours back (credited before payment) and the success gives them back."""
    invoice = euro_invoice(policy)
    agreement = Agreement.objects.get(pk=invoice.agreement_id)
    now = int(time.time())
    processing = event("payment_intent.processing", intent(invoice, "processing"))
    post_webhook(HttpClient(), {**processing, "created": now - 60})
    succeeded = {**event("payment_intent.succeeded", intent(invoice, "succeeded")), "created": now}
    error = {"charge": "ch_1", "message": "Insufficient funds"}
    failed = event(
        "payment_intent.payment_failed", intent(invoice, "requires_payment_method", last_payment_error=error)
    )
    failed["created"] = now

    results, errors = run_at_once(
        lambda payload: post_webhook(HttpClient(), payload).content, [(succeeded,), (failed,)]
    )

    assert errors == []
    assert sorted(results) in ([b"failed", b"recorded"], [b"late failure ignored", b"recorded"])
    invoice.refresh_from_db()
    agreement.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert agreement.balance_minutes == 600
    minutes = {
        kind: sum(LedgerEntry.objects.filter(agreement=agreement, kind=kind).values_list("minutes", flat=True))
        for kind in (LedgerKind.PURCHASE, LedgerKind.CANCELLATION, LedgerKind.REINSTATED)
    }
    assert minutes[LedgerKind.PURCHASE] == 600
    assert minutes[LedgerKind.CANCELLATION] == -minutes[LedgerKind.REINSTATED]
    if b"failed" in results and policy == CreditPolicy.IMMEDIATE:
        assert minutes[LedgerKind.REINSTATED] == 600
    else:
        assert minutes[LedgerKind.REINSTATED] == 0
