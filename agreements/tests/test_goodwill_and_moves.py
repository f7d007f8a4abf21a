"""Changing hours after the sale: goodwill blocks and unused hours moved between
a client's agreements, with their ledger entries, audit events and money."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from agreements import services
from agreements.domain import MAX_BLOCK_MINUTES
from agreements.models import Agreement, AgreementStatus, Block, CreditPolicy, LedgerEntry, LedgerKind, OveragePolicy
from agreements.summaries import deferred_revenue as agreements_deferred
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, TicketFactory, work_type
from audit.models import AuditAction, AuditEvent
from reports import selectors as reports

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def log(agreement, technician, minutes: int):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=TODAY,
        minutes=minutes,
        work_type=work_type("Normal"),
    )


def paid(agreement, staff, *, hours: int = 10, starts_on=None, expires_on=None) -> Block:
    block = services.block_sell(
        agreement=agreement, hours=hours, actor=staff, starts_on=starts_on, expires_on=expires_on
    )
    return services.block_mark_paid(block=block, actor=staff)


def state() -> tuple:
    """What a refused call must leave as it was."""
    return (
        Block.objects.count(),
        LedgerEntry.objects.count(),
        AuditEvent.objects.count(),
        list(Block.objects.order_by("pk").values_list("pk", "minutes_left")),
        list(Agreement.objects.order_by("pk").values_list("pk", "balance_minutes", "status")),
    )


def _agreements():
    return Agreement.objects.order_by("pk")


# ---------------------------------------------------------------------------
# Goodwill


def test_it_grants_a_free_block_credited_at_once(agreement, staff):
    agreement.ends_on = TODAY + 90 * DAY
    agreement.save()

    grant = services.block_grant_goodwill(agreement=agreement, minutes=150, reason="Sorry for the outage", actor=staff)
    block = grant.block

    assert (block.is_goodwill, block.minutes, block.minutes_left, block.rate, block.amount, block.tier) == (
        True,
        150,
        150,
        Decimal("0.00"),
        Decimal("0.00"),
        None,
    )
    assert (block.starts_on, block.expires_on, block.paid_at) == (TODAY, TODAY + 90 * DAY, None)
    assert block.credited_at is not None
    entry = LedgerEntry.objects.get(block=block)
    assert grant.entries == [entry]
    assert (entry.kind, entry.minutes, entry.reason, entry.author) == (
        LedgerKind.GOODWILL,
        150,
        "Sorry for the outage",
        staff,
    )
    assert assert_balance_is_ledger_sum(agreement) == 150
    event = AuditEvent.objects.get(action=AuditAction.BLOCK_GOODWILL)
    assert (
        event.summary
        == "Granted 2 h 30 min of goodwill hours to Acme Dental (Prepaid support hours): Sorry for the outage"
    )
    assert (event.before, event.after["balance_minutes"], event.after["amount"]) == (
        {"balance_minutes": 0},
        150,
        "0.00",
    )


def test_a_goodwill_block_expires_when_staff_say(agreement, staff):
    block = services.block_grant_goodwill(
        agreement=agreement, minutes=60, reason="Goodwill", actor=staff, expires_on=TODAY + 7 * DAY
    ).block
    assert block.expires_on == TODAY + 7 * DAY
    open_ended = services.block_grant_goodwill(agreement=agreement, minutes=60, reason="Open-ended", actor=staff)
    assert open_ended.block.expires_on is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": -60}, "minutes"),
        ({"minutes": MAX_BLOCK_MINUTES + 1}, "minutes"),
        ({"minutes": True}, "minutes"),
        ({"minutes": "60"}, "minutes"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "two\nlines"}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"expires_on": TODAY - DAY}, "expires_on"),
        ({"expires_on": datetime.date(9999, 12, 31)}, "expires_on"),
    ],
)
def test_goodwill_refuses_bad_input_and_changes_nothing(agreement, staff, changes, field):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.block_grant_goodwill(
            **{"agreement": agreement, "minutes": 60, "reason": "Goodwill", "actor": staff, **changes}
        )
    assert field in error.value.message_dict
    assert state() == before


def test_goodwill_needs_an_active_agreement_and_staff(agreement, staff, technician):
    before = state()
    with pytest.raises(PermissionDenied):
        services.block_grant_goodwill(agreement=agreement, minutes=60, reason="Goodwill", actor=technician)
    agreement.status = AgreementStatus.ENDED
    agreement.save()
    with pytest.raises(ValidationError, match="only be granted on an active agreement"):
        services.block_grant_goodwill(agreement=agreement, minutes=60, reason="Goodwill", actor=staff)
    assert state()[:4] == before[:4]


def test_goodwill_hours_are_zero_value_in_deferred_and_recognised_revenue(agreement, staff, technician):
    agreement.billing_increment_minutes = 1
    agreement.save()
    paid(agreement, staff, hours=10)  # $100/h: 1,000.00 deferred
    services.block_grant_goodwill(agreement=agreement, minutes=120, reason="Goodwill", actor=staff)

    deferred = reports.deferred_revenue(as_of=TODAY)
    assert [(row.minutes, row.amount) for row in deferred.rows] == [(720, Decimal("1000.00"))]
    assert agreements_deferred(_agreements()) == {"USD": Decimal("1000.00")}

    log(agreement, technician, 630)  # 600 from the sold block, then 30 of the goodwill block

    deferred = reports.deferred_revenue(as_of=TODAY)
    assert [(row.minutes, row.amount) for row in deferred.rows] == [(90, Decimal("0.00"))]
    [month] = reports.recognised_revenue(first=TODAY, last=TODAY)
    assert (month.purchased_minutes, month.purchased) == (600, Decimal("1000.00"))
    assert (month.granted_minutes, month.granted_cm) == (120, 0)
    assert (month.recognised_minutes, month.recognised) == (630, Decimal("1000.00"))
    assert (month.closing_minutes, month.closing) == (90, Decimal("0.00"))
    assert assert_balance_is_ledger_sum(agreement) == 90


def test_goodwill_hours_are_forfeited_never_refunded_and_never_stop_an_end(agreement, staff):
    block = services.block_grant_goodwill(agreement=agreement, minutes=60, reason="Goodwill", actor=staff).block
    with pytest.raises(ValidationError, match="nothing to pay"):
        services.block_mark_paid(block=block, actor=staff)
    with pytest.raises(ValidationError, match="nothing to refund"):
        services.block_unused_refund(block=block, actor=staff, reason="Leaving")
    assert services.agreement_unpaid_blocks(agreement) == []

    services.block_unused_forfeit(block=block, actor=staff, reason="Leaving")
    ended, changed = services.agreement_end(agreement=agreement, actor=staff, reason="Leaving")
    assert (ended.status, changed) == (AgreementStatus.ENDED, True)
    [month] = reports.recognised_revenue(first=TODAY, last=TODAY)
    assert (month.breakage_minutes, month.breakage, month.closing_minutes) == (60, Decimal("0.00"), 0)


# ---------------------------------------------------------------------------
# Moving unused hours


@pytest.fixture
def two(client_a):
    client_a.hourly_rate = Decimal("95.00")
    client_a.save()
    source = AgreementFactory(client=client_a, name="Helpdesk")
    target = AgreementFactory(client=client_a, name="Projects")
    return source, target


def test_it_moves_unused_hours_at_the_blocks_rate(two, staff):
    source, target = two
    block = paid(source, staff, hours=10, expires_on=TODAY + 30 * DAY)

    result = services.block_hours_move(
        block=block, to_agreement=target, minutes=7, reason="Wrong agreement", actor=staff
    )
    moved = result.block

    assert (moved.agreement, moved.moved_from, moved.minutes, moved.minutes_left) == (target, block, 7, 7)
    # 7 min at 95.00/h = 11.0833… → 11.08, rounded like a block price.
    assert (moved.rate, moved.amount, moved.currency) == (Decimal("95.00"), Decimal("11.08"), "USD")
    assert (moved.paid_at, moved.expires_on, moved.starts_on, moved.is_goodwill) == (
        block.paid_at,
        TODAY + 30 * DAY,
        TODAY,
        False,
    )
    assert moved.credited_at is not None
    block.refresh_from_db()
    assert block.minutes_left == 593
    out = LedgerEntry.objects.get(kind=LedgerKind.MOVE_OUT)
    into = LedgerEntry.objects.get(kind=LedgerKind.MOVE_IN)
    assert [(e.kind, e.minutes) for e in result.entries] == [(LedgerKind.MOVE_OUT, -7), (LedgerKind.MOVE_IN, 7)]
    assert (out.agreement, out.block, out.minutes, out.reason, out.author) == (
        source,
        block,
        -7,
        "Wrong agreement",
        staff,
    )
    assert (into.agreement, into.block, into.minutes, into.reason, into.author) == (
        target,
        moved,
        7,
        "Wrong agreement",
        staff,
    )
    assert (assert_balance_is_ledger_sum(source), assert_balance_is_ledger_sum(target)) == (593, 7)
    event = AuditEvent.objects.get(action=AuditAction.BLOCK_MOVE)
    assert event.summary == (
        "Moved 7 min unused of a 10 h block of Acme Dental from Helpdesk to Projects: Wrong agreement"
    )
    assert (event.before, event.after["moved_minutes"], event.after["amount"]) == (
        {"source_balance_minutes": 600, "target_balance_minutes": 0, "block_minutes_left": 600},
        7,
        "11.08",
    )


def test_deferred_revenue_moves_with_the_hours(two, staff, technician):
    source, target = two
    target.billing_increment_minutes = 1
    target.save()
    block = paid(source, staff, hours=10)
    assert agreements_deferred(_agreements().filter(pk=source.pk)) == {"USD": Decimal("950.00")}

    services.block_hours_move(block=block, to_agreement=target, minutes=7, reason="Wrong agreement", actor=staff)

    # 593 min × 95/60 = 938.9166… and 7 min × 95/60 = 11.0833…: the total stays 950.00.
    assert agreements_deferred(_agreements().filter(pk=source.pk)) == {"USD": Decimal("938.92")}
    assert agreements_deferred(_agreements().filter(pk=target.pk)) == {"USD": Decimal("11.08")}
    assert agreements_deferred(_agreements()) == {"USD": Decimal("950.00")}
    assert [(r.minutes, r.amount) for r in reports.deferred_revenue(as_of=TODAY).rows] == [(600, Decimal("950.00"))]
    [month] = reports.recognised_revenue(first=TODAY, last=TODAY)
    assert (month.transferred_minutes, month.transferred_cm, month.closing) == (0, 0, Decimal("950.00"))

    log(target, technician, 7)  # drawn from the moved block, at its rate

    [month] = reports.recognised_revenue(first=TODAY, last=TODAY)
    assert (month.recognised_minutes, month.recognised) == (7, Decimal("11.08"))
    assert (month.closing_minutes, month.closing) == (593, Decimal("938.92"))
    assert LedgerEntry.objects.get(kind=LedgerKind.DEBIT).block.moved_from == block


def test_moved_goodwill_hours_stay_goodwill(two, staff):
    source, target = two
    block = services.block_grant_goodwill(agreement=source, minutes=120, reason="Goodwill", actor=staff).block

    moved = services.block_hours_move(
        block=block, to_agreement=target, minutes=60, reason="Other site", actor=staff
    ).block

    assert (moved.is_goodwill, moved.rate, moved.amount, moved.paid_at) == (
        True,
        Decimal("0.00"),
        Decimal("0.00"),
        None,
    )
    assert services.agreement_unpaid_blocks(target) == []


def _refusal(two, staff, *, match, **kwargs):
    source, target = two
    arguments = {"to_agreement": target, "minutes": 60, "reason": "Move", "actor": staff, **kwargs}
    before = state()
    with pytest.raises(ValidationError, match=match):
        services.block_hours_move(**arguments)
    assert state() == before


def test_a_move_to_another_clients_agreement_is_refused(two, staff, client_b):
    block = paid(two[0], staff)
    _refusal(two, staff, block=block, to_agreement=AgreementFactory(client=client_b), match="same client")


def test_a_move_to_the_same_agreement_is_refused(two, staff):
    block = paid(two[0], staff)
    _refusal(two, staff, block=block, to_agreement=two[0], match="on this one already")


def test_a_move_to_an_ended_agreement_is_refused(two, staff):
    block = paid(two[0], staff)
    two[1].status = AgreementStatus.ENDED
    two[1].save()
    _refusal(two, staff, block=block, match="has ended")


@pytest.mark.parametrize("minutes", [601, 0, -5, True, "60"])
def test_a_move_of_more_than_the_unused_minutes_is_refused(two, staff, technician, minutes):
    block = paid(two[0], staff)
    _refusal(two, staff, block=block, minutes=minutes, match="minutes|unused")


def test_a_move_of_more_than_is_left_after_use_is_refused(two, staff, technician):
    block = paid(two[0], staff)
    log(two[0], technician, 540)
    _refusal(two, staff, block=block, minutes=61, match="Only 60 min of this block are unused")


def test_hours_of_an_unpaid_block_do_not_move(two, staff):
    two[0].credit_policy = CreditPolicy.IMMEDIATE
    two[0].save()
    credited_unpaid = services.block_sell(agreement=two[0], hours=10, actor=staff)
    _refusal(two, staff, block=credited_unpaid, match="not paid yet")
    two[0].credit_policy = CreditPolicy.ON_PAYMENT
    two[0].save()
    uncredited = services.block_sell(agreement=two[0], hours=10, actor=staff)
    _refusal(two, staff, block=uncredited, match="never credited")


def test_hours_of_a_cancelled_or_expired_block_do_not_move(two, staff):
    cancelled = services.block_sell(agreement=two[0], hours=10, actor=staff)
    services.block_cancel(block=cancelled, actor=staff, reason="Voided")
    _refusal(two, staff, block=cancelled, match="cancelled")
    expired = paid(two[0], staff, starts_on=TODAY - 10 * DAY, expires_on=TODAY + DAY)
    Block.objects.filter(pk=expired.pk).update(expires_on=TODAY - DAY)
    _refusal(two, staff, block=expired, match="expired on")


def test_a_move_never_takes_the_source_below_its_overage_floor(two, staff, technician):
    source = two[0]
    source.overage_policy = OveragePolicy.ALLOW_NEGATIVE
    source.overage_limit_minutes = 60
    source.save()
    block = services.block_mark_paid(
        block=services.block_sell(agreement=source, hours=10, actor=staff, starts_on=TODAY + DAY), actor=staff
    )
    log(source, technician, 60)  # worked today, before the block starts: the pool goes to −60
    block.refresh_from_db()
    assert (block.minutes_left, assert_balance_is_ledger_sum(source)) == (600, 540)
    Agreement.objects.filter(pk=source.pk).update(overage_policy=OveragePolicy.REJECT, overage_limit_minutes=0)

    _refusal(two, staff, block=block, minutes=541, match="below what its overage policy allows")

    moved = services.block_hours_move(block=block, to_agreement=two[1], minutes=540, reason="Move", actor=staff).block
    assert moved.starts_on == TODAY + DAY  # never usable before the source block was
    assert (assert_balance_is_ledger_sum(source), assert_balance_is_ledger_sum(two[1])) == (0, 540)


def test_only_staff_move_hours(two, staff, technician):
    block = paid(two[0], staff)
    before = state()
    with pytest.raises(PermissionDenied):
        services.block_hours_move(block=block, to_agreement=two[1], minutes=60, reason="Move", actor=technician)
    assert state() == before


@pytest.mark.parametrize("reason", ["", "  ", "a\nb", "x" * 501])
def test_a_move_needs_a_single_line_reason(two, staff, reason):
    block = paid(two[0], staff)
    _refusal(two, staff, block=block, reason=reason, match="reason|line|characters|Say why")
