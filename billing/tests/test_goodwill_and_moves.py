"""Refunds and cancellations with goodwill and moved hours: moved hours are
refunded on the invoice that sold them; goodwill hours were free, so a
cancellation forfeits them."""

from decimal import Decimal

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import AgreementStatus, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory
from billing import services
from billing.credit_notes import Disposition, agreement_cancel, block_unused_cancel

pytestmark = pytest.mark.django_db


def paid_invoice(agreement, staff, hours: int):
    invoice = services.invoice_sell_block(agreement=agreement, hours=hours, actor=staff)
    services.payment_record(
        invoice=invoice,
        amount=invoice.total,
        method="ach",
        reference="ACH-1",
        paid_on=timezone.localdate(),
        actor=staff,
    )
    invoice.refresh_from_db()
    return invoice


def test_moved_hours_are_refunded_on_the_invoice_that_sold_them(agreement, staff, seller):
    invoice = paid_invoice(agreement, staff, hours=10)
    projects = AgreementFactory(client=agreement.client, name="Projects")
    moved = agreement_services.block_hours_move(
        block=invoice.block, to_agreement=projects, minutes=90, reason="Wrong agreement", actor=staff
    ).block

    result = block_unused_cancel(block=moved, disposition=Disposition.REFUND, actor=staff, reason="Project cancelled")

    [note] = result.credit_notes
    assert (note.invoice, note.block, note.minutes, note.subtotal) == (invoice, moved, 90, Decimal("150.00"))
    projects.refresh_from_db()
    assert projects.balance_minutes == 0


def test_cancelling_an_agreement_refunds_sold_hours_and_forfeits_goodwill(agreement, staff, seller):
    invoice = paid_invoice(agreement, staff, hours=2)
    agreement_services.block_grant_goodwill(agreement=agreement, minutes=60, reason="Goodwill", actor=staff)

    result = agreement_cancel(agreement=agreement, disposition=Disposition.REFUND, actor=staff, reason="Leaving")

    assert (result.refunded_minutes, result.forfeited_minutes) == (120, 60)
    assert [(n.invoice, n.subtotal) for n in result.credit_notes] == [(invoice, Decimal("200.00"))]
    assert result.agreement.status == AgreementStatus.ENDED
    assert LedgerEntry.objects.get(kind=LedgerKind.FORFEIT).block.is_goodwill
