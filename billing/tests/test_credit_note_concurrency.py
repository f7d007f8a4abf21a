"""Credit-note numbering and cancellation under real concurrency (PostgreSQL, threads)."""

import pytest
from django.utils import timezone

from agreements.models import AgreementStatus, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory
from billing import services
from billing.credit_notes import agreement_cancel, block_unused_cancel
from billing.models import CreditNote, CreditNoteNumberCounter, SellerProfile
from billing.tests.test_concurrency import THREADS, run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _paid_block(agreement, staff, hours: int):
    invoice = services.invoice_sell_block(agreement=agreement, hours=hours, actor=staff)
    services.payment_record(
        invoice=invoice, amount=invoice.total, method="ach", reference=f"ACH-{invoice.pk}",
        paid_on=timezone.localdate(), actor=staff,
    )  # fmt: skip
    return invoice


def test_concurrent_refunds_get_consecutive_unique_numbers():
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    blocks = [
        _paid_block(AgreementFactory(client=ClientFactory(name=f"Client {n}")), staff, hours=5).block
        for n in range(THREADS)
    ]

    errors = run_at_once(
        lambda block: block_unused_cancel(block=block, disposition="refund", actor=staff, reason="Leaving"),
        [(b,) for b in blocks],
    )

    assert errors == []
    year = timezone.localdate().year
    assert sorted(CreditNote.objects.values_list("number", flat=True)) == [
        f"CN-{year}-{n:04d}" for n in range(1, THREADS + 1)
    ]
    assert CreditNoteNumberCounter.objects.get(year=year).last_number == THREADS


def test_a_double_cancel_at_once_refunds_once():
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Acme"))
    first = _paid_block(agreement, staff, hours=5)
    second = _paid_block(agreement, staff, hours=3)

    results = []
    errors = run_at_once(
        lambda _: results.append(
            agreement_cancel(agreement=agreement, disposition="refund", actor=staff, reason="Leaving")
        ),
        [(n,) for n in range(6)],
    )

    assert errors == []
    assert sorted(r.changed for r in results) == [False] * 5 + [True]
    assert sorted(CreditNote.objects.values_list("invoice_id", "minutes")) == [(first.pk, 300), (second.pk, 180)]
    assert sorted(LedgerEntry.objects.filter(kind=LedgerKind.REFUND).values_list("minutes", flat=True)) == [-300, -180]
    agreement.refresh_from_db()
    assert (agreement.status, agreement.balance_minutes) == (AgreementStatus.ENDED, 0)


def test_a_block_refund_racing_the_agreement_cancel_takes_the_hours_back_once():
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Acme"))
    block = _paid_block(agreement, staff, hours=4).block

    def act(which):
        if which == "block":
            block_unused_cancel(block=block, disposition="refund", actor=staff, reason="Refund")
        else:
            agreement_cancel(agreement=agreement, disposition="forfeit", actor=staff, reason="Leaving")

    errors = run_at_once(act, [("block",), ("agreement",)])

    # Whichever went first took the 240 minutes; the other found none left (a refusal) or refunded nothing.
    assert all("no unused hours" in str(e) for e in errors)
    taken = LedgerEntry.objects.filter(kind__in=[LedgerKind.REFUND, LedgerKind.FORFEIT])
    assert sum(taken.values_list("minutes", flat=True)) == -240
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 0
