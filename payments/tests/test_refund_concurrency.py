"""Refunds at the same moment, on PostgreSQL with real threads: one credit
note, one refund at Stripe (counted at localstripe)."""

from decimal import Decimal

import pytest

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory
from billing import services as billing_services
from billing.credit_notes import block_unused_cancel
from billing.models import CreditNote, Invoice, InvoiceStatus, SellerProfile
from payments import provider, refunds, services
from payments.models import RefundStatus, StripeRefund
from payments.tests.conftest import card
from payments.tests.test_concurrency import THREADS, run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paid(stripe_on) -> Invoice:
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Acme Dental"))
    # Custom hours, not a tier: a transactional test flushes the tiers the data migration made.
    block = agreement_services.block_sell(agreement=agreement, hours=10, actor=staff)
    invoice = billing_services.invoice_issue(
        invoice=billing_services.invoice_create_for_block(block=block, actor=staff), actor=staff
    )
    assert services.invoice_pay(invoice=invoice, payment_method=card()).status == "paid"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.total) == (InvoiceStatus.PAID, Decimal("1000.00"))
    return invoice


def at_stripe(invoice) -> list[int]:
    found = provider.client().v1.refunds.list(params={"payment_intent": invoice.stripe_intent.stripe_id}).data
    return [r.amount for r in found]


def test_a_double_click_on_refund_makes_one_credit_note_and_one_stripe_refund(paid):
    def click(_):
        return block_unused_cancel(block=paid.block, disposition="refund", actor=None, reason="Leaving")

    results, errors = run_at_once(click, [(n,) for n in range(THREADS)])

    # The first takes every unused minute; the others find none left and change nothing.
    assert len(results) == 1 and len(errors) == THREADS - 1
    assert all("no unused hours" in str(e) for e in errors)
    note = CreditNote.objects.get()
    assert (note.minutes, note.total) == (600, Decimal("1000.00"))
    refund = StripeRefund.objects.get()
    assert (refund.credit_note, refund.amount, refund.status) == (note, Decimal("1000.00"), RefundStatus.SUCCEEDED)
    assert at_stripe(paid) == [100000]


def test_senders_at_once_make_one_stripe_refund(paid, monkeypatch):
    # The credit note's own task is kept from sending: the senders below race for the queued row.
    monkeypatch.setattr(refunds, "_queue_send", lambda refund_id: None)
    block_unused_cancel(block=paid.block, disposition="refund", actor=None, reason="Leaving", minutes=300)
    refund = StripeRefund.objects.get()
    assert refund.status == RefundStatus.QUEUED

    results, errors = run_at_once(lambda: refunds.refund_send(refund_id=refund.pk), [()] * THREADS)

    assert errors == []
    assert results == [RefundStatus.SUCCEEDED] * THREADS
    assert at_stripe(paid) == [50000]
