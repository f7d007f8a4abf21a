"""Property test: whatever sequence of purchases, payments, time entries,
voids, adjustments and expiries happens, the ledger invariants hold."""

import datetime

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from agreements import services
from agreements.models import Block, CreditPolicy, LedgerEntry, LedgerKind, OveragePolicy, TimeEntry
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory, TechnicianFactory, TicketFactory
from agreements.tests.factories import tier as default_tier
from agreements.tests.factories import work_type as default_work_type

TODAY = timezone.localdate()

operations = st.one_of(
    st.tuples(
        st.just("sell"),
        st.sampled_from([10, 20, 30, None]),
        st.integers(1, 5),
        st.integers(-60, 10),
        st.integers(0, 90),
    ),
    st.tuples(st.just("pay"), st.integers(0, 20)),
    st.tuples(
        st.just("log"),
        st.integers(1, 600),
        st.sampled_from(["Normal", "After-hours", "Emergency", "Non-billable"]),
        st.integers(0, 60),
    ),
    st.tuples(st.just("void"), st.integers(0, 50)),
    st.tuples(st.just("adjust"), st.integers(-300, 300)),
    st.tuples(st.just("expire"), st.integers(0, 120)),
    # A block's unused hours refunded (billing issues the credit note) or forfeited: all, or some minutes.
    st.tuples(st.sampled_from(["refund", "forfeit"]), st.integers(0, 20), st.one_of(st.none(), st.integers(-5, 700))),
)


class LedgerPropertyTests(TestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        policy=st.sampled_from(OveragePolicy.values),
        credit_policy=st.sampled_from(CreditPolicy.values),
        ops=st.lists(operations, min_size=1, max_size=30),
    )
    def test_invariants_hold_for_any_sequence(self, policy, credit_policy, ops):
        client = ClientFactory(name="Property Co")
        agreement = AgreementFactory(
            client=client,
            starts_on=TODAY - datetime.timedelta(days=200),
            overage_policy=policy,
            overage_limit_minutes=120,
            credit_policy=credit_policy,
        )
        staff = StaffFactory(username="prop-staff")
        technician = TechnicianFactory(username="prop-tech")
        ticket = TicketFactory(client=client)
        for op in ops:
            try:
                apply(op, agreement, staff, technician, ticket)
            except ValidationError:
                pass  # a refused operation must change nothing: the checks below prove it
            check_invariants(self, agreement)


def apply(op, agreement, staff, technician, ticket) -> None:
    kind = op[0]
    if kind == "sell":
        _, hours, custom, start_offset, expiry_days = op
        starts_on = TODAY + datetime.timedelta(days=start_offset)
        expires_on = starts_on + datetime.timedelta(days=expiry_days) if expiry_days else None
        services.block_sell(
            agreement=agreement,
            actor=staff,
            tier=default_tier(hours) if hours else None,
            hours=None if hours else custom,
            starts_on=starts_on,
            expires_on=expires_on,
        )
    elif kind == "pay":
        blocks = list(Block.objects.filter(agreement=agreement).order_by("pk"))
        if blocks:
            services.block_mark_paid(block=blocks[op[1] % len(blocks)], actor=staff)
    elif kind == "log":
        _, minutes, work, days_ago = op
        services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=TODAY - datetime.timedelta(days=days_ago),
            minutes=minutes,
            work_type=default_work_type(work),
        )
    elif kind == "void":
        entries = list(TimeEntry.objects.filter(agreement=agreement, voided_at__isnull=True).order_by("pk"))
        if entries:
            services.time_entry_void(time_entry=entries[op[1] % len(entries)], actor=staff, reason="property test")
    elif kind == "adjust":
        if op[1]:
            services.ledger_adjust(agreement=agreement, minutes=op[1], reason="property test", author=staff)
    elif kind == "expire":
        services.blocks_expire(today=TODAY + datetime.timedelta(days=op[1]))
    elif kind in ("refund", "forfeit"):
        blocks = list(Block.objects.filter(agreement=agreement).order_by("pk"))
        if blocks:
            take = services.block_unused_refund if kind == "refund" else services.block_unused_forfeit
            take(block=blocks[op[1] % len(blocks)], actor=staff, reason="property test", minutes=op[2])


def check_invariants(test, agreement) -> None:
    balance = assert_balance_is_ledger_sum(agreement)
    ledger = LedgerEntry.objects.filter(agreement=agreement)
    # Every block holds between nothing and what was bought.
    for block in Block.objects.filter(agreement=agreement):
        left = ledger.filter(block=block).aggregate(total=Sum("minutes"))["total"] or 0
        test.assertGreaterEqual(left, 0)
        test.assertLessEqual(left, block.minutes if block.credited_at else 0)
        test.assertEqual(block.minutes_left, left)
        # Refunds and forfeits only ever take back what the block had: never used hours, never more.
        given_back = ledger.filter(block=block, kind__in=[LedgerKind.REFUND, LedgerKind.FORFEIT])
        test.assertLessEqual(-(given_back.aggregate(total=Sum("minutes"))["total"] or 0), block.minutes)
        if given_back.filter(kind=LedgerKind.REFUND).exists():
            test.assertIsNotNone(block.paid_at)
    # What live entries charged is exactly what the ledger debited for them.
    live_charged = (
        TimeEntry.objects.filter(agreement=agreement, voided_at__isnull=True).aggregate(total=Sum("charged_minutes"))[
            "total"
        ]
        or 0
    )
    time_net = (
        ledger.filter(kind__in=[LedgerKind.DEBIT, LedgerKind.REVERSAL]).aggregate(total=Sum("minutes"))["total"] or 0
    )
    test.assertEqual(-time_net, live_charged)
    # Only billed overage or staff deductions can take the balance below the policy's floor.
    if (
        agreement.overage_policy == OveragePolicy.REJECT
        and not ledger.filter(kind=LedgerKind.ADJUSTMENT, minutes__lt=0).exists()
    ):
        test.assertGreaterEqual(balance, 0)
