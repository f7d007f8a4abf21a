"""A reload drafted for review: its block waits, can change size, and is credited by the issue."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from agreements import services as agreement_services
from agreements.models import Agreement, CreditPolicy, LedgerEntry
from agreements.tests.factories import tier
from billing import services
from billing.models import InvoiceKind, InvoiceStatus

pytestmark = pytest.mark.django_db


def test_a_drafted_reload_holds_its_hours_even_when_usable_at_once(agreement, staff, seller):
    Agreement.objects.filter(pk=agreement.pk).update(credit_policy=CreditPolicy.IMMEDIATE)
    agreement.refresh_from_db()
    draft = services.reload_invoice_draft(agreement=agreement, tier=tier(20), actor=None)
    assert (draft.kind, draft.status, draft.number, draft.total) == (
        InvoiceKind.RELOAD,
        InvoiceStatus.DRAFT,
        None,
        Decimal("1800.00"),
    )
    assert draft.block.credited_at is None and not LedgerEntry.objects.exists()

    issued = services.invoice_issue(invoice=draft, actor=staff)
    agreement.refresh_from_db()
    assert issued.block.credited_at is not None
    assert agreement.balance_minutes == 1200 == sum(LedgerEntry.objects.values_list("minutes", flat=True))
    # The balance printed on the invoice already counts the hours.
    assert list(issued.balances.values_list("minutes_before", "minutes_after")) == [(0, 1200)]


def test_only_a_draft_changes_its_block(agreement, staff, seller):
    draft = services.reload_invoice_draft(agreement=agreement, tier=tier(20), actor=None)
    services.invoice_issue(invoice=draft, actor=staff)
    with pytest.raises(ValidationError, match="Only a draft block invoice can change its block"):
        services.invoice_draft_change_block(invoice=draft, actor=staff, tier=tier(30))
    draft.refresh_from_db()
    assert (draft.total, draft.block.minutes) == (Decimal("1800.00"), 1200)


def test_a_credited_block_never_changes_size(agreement, staff):
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    agreement_services.block_mark_paid(block=block, actor=staff)
    with pytest.raises(ValidationError, match="Only a block whose hours are not credited yet can change size"):
        agreement_services.block_resize(block=block, actor=staff, hours=5)
    block.refresh_from_db()
    assert (block.minutes, block.amount) == (600, Decimal("1000.00"))


def test_a_resize_needs_one_size(agreement, staff):
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    with pytest.raises(ValidationError, match="Choose a tier or enter a number of hours, not both."):
        agreement_services.block_resize(block=block, actor=staff, tier=tier(20), hours=5)
    with pytest.raises(ValidationError, match="Hours must be a whole number"):
        agreement_services.block_resize(block=block, actor=staff, hours=0)
    block.refresh_from_db()
    assert block.minutes == 600
