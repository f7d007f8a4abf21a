"""The ledger side of cancelling: refunds and forfeits take back only unused minutes; ending an agreement."""

import pytest
from django.core.exceptions import ValidationError

from agreements import services
from agreements.models import AgreementStatus, LedgerEntry, LedgerKind
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import tier

pytestmark = pytest.mark.django_db


def _paid(agreement, staff, hours: int = 10):
    block = services.block_sell(agreement=agreement, tier=tier(hours), actor=staff)
    return services.block_mark_paid(block=block, actor=staff)


def test_a_refund_entry_takes_back_unused_minutes_of_a_paid_block(agreement, staff):
    block = _paid(agreement, staff)

    entry = services.block_unused_refund(block=block, actor=staff, reason="Refunded on CN-1", minutes=200)

    assert (entry.kind, entry.minutes, entry.block, entry.reason) == (
        LedgerKind.REFUND,
        -200,
        block,
        "Refunded on CN-1",
    )
    block.refresh_from_db()
    assert block.minutes_left == 400
    assert assert_balance_is_ledger_sum(agreement) == 400


def test_an_unpaid_block_is_never_refunded(agreement, staff):
    agreement.credit_policy = "immediate"
    agreement.save()
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff)

    with pytest.raises(ValidationError, match="voiding its invoice"):
        services.block_unused_refund(block=block, actor=staff, reason="x")

    assert not LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists()


def test_an_agreement_ends_only_once_its_unused_hours_are_dealt_with(agreement, staff):
    block = _paid(agreement, staff)

    with pytest.raises(ValidationError, match="refund or forfeit them first"):
        services.agreement_end(agreement=agreement, actor=staff, reason="Leaving")
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE

    services.block_unused_forfeit(block=block, actor=staff, reason="Leaving")
    ended, changed = services.agreement_end(agreement=agreement, actor=staff, reason="Leaving")
    assert (ended.status, changed) == (AgreementStatus.ENDED, True)
    assert services.agreement_end(agreement=agreement, actor=staff, reason="Leaving")[1] is False


def test_an_unpaid_sale_stops_the_end(agreement, staff):
    services.block_sell(agreement=agreement, tier=tier(10), actor=staff)

    with pytest.raises(ValidationError, match="not paid"):
        services.agreement_end(agreement=agreement, actor=staff, reason="Leaving")


def test_a_refund_or_forfeit_entry_needs_a_block_and_a_reason_in_the_database(agreement, staff):
    from django.db import IntegrityError, transaction

    for fields in ({"block": None, "reason": "x"}, {"block": _paid(agreement, staff, 20), "reason": ""}):
        for kind in (LedgerKind.REFUND, LedgerKind.FORFEIT):
            with pytest.raises(IntegrityError), transaction.atomic():
                LedgerEntry.objects.create(agreement=agreement, kind=kind, minutes=-1, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            agreement=agreement, block=agreement.blocks.first(), kind=LedgerKind.REFUND, minutes=5, reason="x"
        )
