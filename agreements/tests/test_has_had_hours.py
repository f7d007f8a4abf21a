"""`Agreement.has_had_hours`: whether the client has had hours to use (a
credited block not cancelled, or hours granted by an adjustment), kept on the
row by the services that write the ledger, for the low-balance sweep's
partial index. Each service that makes it true sets it; a credit taken back
recounts it; it always equals agreements.selectors.has_bought_hours."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, Block, CreditPolicy, OveragePolicy
from agreements.services.opening_balances import OpeningBalance, opening_balances_credit
from agreements.tests.assertions import assert_has_had_hours_is_recount
from agreements.tests.factories import AgreementFactory, ClientFactory
from agreements.tests.factories import tier as default_tier

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def had(agreement: Agreement) -> bool:
    """The stored flag, checked against the recount from blocks and ledger."""
    return assert_has_had_hours_is_recount(agreement)


def test_it_is_false_for_a_new_agreement(agreement):
    assert had(agreement) is False


def test_a_block_sold_unpaid_is_not_hours_had_until_it_is_paid(agreement, staff):
    block = services.block_sell(agreement=agreement, actor=staff, tier=default_tier(10))
    assert had(agreement) is False
    services.block_mark_paid(block=block, actor=staff)
    assert had(agreement) is True


def test_a_block_credited_at_once_sets_it_in_the_same_update_as_the_balance(client_a, staff):
    agreement = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)
    other = AgreementFactory(client=ClientFactory(name="Birch Legal"), credit_policy=CreditPolicy.IMMEDIATE)
    services.block_sell(agreement=agreement, actor=staff, tier=default_tier(10))
    assert had(agreement) is True
    assert had(other) is False  # another client's agreement is untouched


def test_hours_granted_by_an_adjustment_count_and_a_deduction_does_not(staff):
    agreement = AgreementFactory(overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=600)
    services.ledger_adjust(agreement=agreement, minutes=-30, reason="Work before the block", author=staff)
    assert had(agreement) is False
    services.ledger_adjust(agreement=agreement, minutes=90, reason="Goodwill", author=staff)
    assert had(agreement) is True
    services.ledger_adjust(agreement=agreement, minutes=-90, reason="Taken back", author=staff)
    assert had(agreement) is True  # the grant stays in the ledger


def test_goodwill_hours_set_it(agreement, staff):
    services.block_grant_goodwill(agreement=agreement, minutes=60, reason="Sorry for the outage", actor=staff)
    assert had(agreement) is True


def test_hours_moved_in_set_it_on_the_receiving_agreement(client_a, staff):
    source = AgreementFactory(client=client_a)
    target = AgreementFactory(client=client_a, name="Projects")
    block = services.block_sell(agreement=source, actor=staff, tier=default_tier(10))
    services.block_mark_paid(block=block, actor=staff)
    services.block_hours_move(block=block, to_agreement=target, minutes=600, reason="Project work", actor=staff)
    assert (had(source), had(target)) == (True, True)


def test_an_opening_balance_sets_it_one_by_one_and_in_bulk(client_a, staff):
    existing = AgreementFactory(client=client_a)
    new = AgreementFactory(client=client_a, name="Imported")
    with transaction.atomic():
        opening_balances_credit(items=[OpeningBalance(existing, 60, Decimal("80.00"))], actor=staff)
        blocks = opening_balances_credit(
            items=[OpeningBalance(new, 120, Decimal("80.00"))], actor=staff, new_agreements=True
        )
    assert blocks[0].agreement.has_had_hours is True
    assert (had(existing), had(new)) == (True, True)


def test_cancelling_the_only_credited_block_unsets_it(client_a, staff):
    agreement = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)
    block = services.block_sell(agreement=agreement, actor=staff, tier=default_tier(10))
    services.block_cancel(block=block, actor=staff, reason="Invoice voided")
    assert had(agreement) is False


def test_cancelling_a_credited_block_keeps_it_while_other_hours_were_had(client_a, staff):
    agreement = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)
    first = services.block_sell(agreement=agreement, actor=staff, tier=default_tier(10))
    second = services.block_sell(agreement=agreement, actor=staff, tier=default_tier(20))
    services.block_cancel(block=second, actor=staff, reason="Sold twice")
    assert had(agreement) is True
    services.block_cancel(block=first, actor=staff, reason="Invoice voided")
    assert had(agreement) is False
    services.ledger_adjust(agreement=agreement, minutes=30, reason="Goodwill", author=staff)
    assert had(agreement) is True


def test_cancelling_an_unpaid_block_leaves_it(agreement, staff):
    paid = services.block_sell(agreement=agreement, actor=staff, tier=default_tier(10))
    services.block_mark_paid(block=paid, actor=staff)
    unpaid = services.block_sell(agreement=agreement, actor=staff, tier=default_tier(10))
    services.block_cancel(block=unpaid, actor=staff, reason="Not wanted")
    assert had(agreement) is True


def test_a_rolled_over_block_keeps_it(staff):
    ends_on = TODAY - datetime.timedelta(days=1)
    agreement = AgreementFactory(
        starts_on=TODAY - datetime.timedelta(days=365),
        ends_on=ends_on,
        term_end_action="renew",
        renewal_tier=default_tier(10),
        renewal_invoice_days=30,
        rollover_policy="all",
        credit_policy=CreditPolicy.IMMEDIATE,
    )
    services.block_sell(
        agreement=agreement,
        actor=staff,
        tier=default_tier(10),
        starts_on=ends_on - datetime.timedelta(days=60),
        expires_on=ends_on,
    )

    def sell(locked, term):
        return services.block_sell(
            agreement=locked, actor=None, tier=locked.renewal_tier, starts_on=term.starts_on, expires_on=term.ends_on
        )

    services.renewal_open(agreement=agreement, sell=sell, today=ends_on)
    closed = services.agreement_term_close(agreement=agreement, today=TODAY)
    assert closed is not None and closed.rolled_minutes == 600
    assert Block.objects.filter(agreement=agreement, rolled_over_from__isnull=False).count() == 1
    assert had(agreement) is True
