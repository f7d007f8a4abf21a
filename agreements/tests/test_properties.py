"""Property test: whatever sequence of purchases, payments, time entries
(with or without a start time, under any minimum billable time), voids,
adjustments, expiries, expiry changes, renewals (with any rollover rule and
grace, and either burn order), goodwill grants, cancelled block sales and hours moved between the
client's two agreements happens, the ledger invariants hold on both."""

import datetime

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from agreements import services
from agreements.domain import charged_minutes
from agreements.models import (
    Block,
    BurnOrder,
    CreditPolicy,
    Holiday,
    LedgerEntry,
    LedgerKind,
    OveragePolicy,
    RolloverPolicy,
    RoundingMode,
    TermEndAction,
    TimeEntry,
)
from agreements.tests.assertions import (
    assert_balance_is_ledger_sum,
    assert_burn_is_entry_sum,
    assert_has_had_hours_is_recount,
)
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
        # A start time (split by the business-hours calendar), or none.
        st.one_of(st.none(), st.times().map(lambda t: t.replace(second=0, microsecond=0))),
    ),
    st.tuples(st.just("void"), st.integers(0, 50)),
    st.tuples(st.just("adjust"), st.integers(-300, 300)),
    st.tuples(st.just("expire"), st.integers(0, 120)),
    st.tuples(st.just("renew"), st.integers(0, 40)),
    # A block's unused hours refunded (billing issues the credit note) or forfeited: all, or some minutes.
    st.tuples(st.sampled_from(["refund", "forfeit"]), st.integers(0, 20), st.one_of(st.none(), st.integers(-5, 700))),
    # Staff move a block's expiry: to a day from yesterday on (refused) up to a year ahead, or to none.
    st.tuples(st.just("expiry_change"), st.integers(0, 20), st.one_of(st.none(), st.integers(-1, 365))),
    # Free hours on either agreement of the client: expiring with the term, or some days from now (past ones refused).
    st.tuples(st.just("goodwill"), st.integers(0, 1), st.integers(-5, 700), st.one_of(st.none(), st.integers(-3, 90))),
    # Unused hours of any block of the client moved to its other agreement, and time logged there.
    st.tuples(st.just("move"), st.integers(0, 40), st.integers(-5, 700)),
    st.tuples(st.just("log_other"), st.integers(1, 600), st.integers(0, 60)),
    # A block sale cancelled (credited or not; refused once any of its minutes are used).
    st.tuples(st.just("cancel"), st.integers(0, 20)),
)

# A term that ended up to 40 days ago and renews: every rollover rule, with or without grace.
renewing_term = st.fixed_dictionaries(
    {
        "ends_on_days_ago": st.integers(0, 40),
        "grace_days": st.integers(0, 10),
        "rollover": st.sampled_from(RolloverPolicy.values),
        "cap_minutes": st.integers(1, 1800),
        "cap_percent": st.integers(1, 100),
        "grace_months": st.integers(0, 3),
    }
)
renewal_settings = st.one_of(st.just({}), renewing_term)

# How time is charged: any increment and rounding, any minimum, closed days after-hours or not.
charging_rules = st.fixed_dictionaries(
    {
        "billing_increment_minutes": st.sampled_from([1, 6, 15, 30, 60]),
        "rounding_mode": st.sampled_from(RoundingMode.values),
        "minimum_billable_minutes": st.one_of(st.just(0), st.integers(1, 120)),
        "weekends_holidays_after_hours": st.booleans(),
        "burn_order": st.sampled_from(BurnOrder.values),
    }
)


def _term_fields(renewal: dict) -> dict:
    if not renewal:
        return {}
    policy = renewal["rollover"]
    return {
        "ends_on": TODAY - datetime.timedelta(days=renewal["ends_on_days_ago"]),
        "grace_days": renewal["grace_days"],
        "term_end_action": TermEndAction.RENEW,
        "renewal_tier": default_tier(10),
        "renewal_invoice_days": 30,
        "rollover_policy": policy,
        "rollover_cap_minutes": renewal["cap_minutes"] if policy == RolloverPolicy.CAPPED_HOURS else None,
        "rollover_cap_percent": renewal["cap_percent"] if policy == RolloverPolicy.CAPPED_PERCENT else None,
        "rollover_grace_months": renewal["grace_months"] if policy != RolloverPolicy.NONE else 0,
    }


class LedgerPropertyTests(TestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        policy=st.sampled_from(OveragePolicy.values),
        credit_policy=st.sampled_from(CreditPolicy.values),
        ops=st.lists(operations, min_size=1, max_size=30),
        renewal=renewal_settings,
        charging=charging_rules,
    )
    def test_invariants_hold_for_any_sequence(self, policy, credit_policy, ops, renewal, charging):
        run_sequence(self, policy, credit_policy, ops, renewal, charging)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        policy=st.sampled_from(OveragePolicy.values),
        credit_policy=st.sampled_from(CreditPolicy.values),
        before=st.lists(operations, min_size=1, max_size=15),
        renewal=renewing_term,
        closed_days_late=st.integers(0, 40),
        after=st.lists(operations, max_size=10),
        burn_order=st.sampled_from(BurnOrder.values),
    )
    def test_invariants_hold_across_a_renewal(
        self, policy, credit_policy, before, renewal, closed_days_late, after, burn_order
    ):
        """Every sequence here crosses the end of a renewing term."""
        run_sequence(
            self,
            policy,
            credit_policy,
            [*before, ("renew", closed_days_late), *after],
            renewal,
            {"burn_order": burn_order},
        )


def run_sequence(test, policy, credit_policy, ops, renewal, charging) -> None:
    client = ClientFactory(name="Property Co")
    agreement = AgreementFactory(
        client=client,
        starts_on=TODAY - datetime.timedelta(days=200),
        overage_policy=policy,
        overage_limit_minutes=120,
        credit_policy=credit_policy,
        **_term_fields(renewal),
        **charging,
    )
    # A holiday among the days entries are logged on.
    Holiday.objects.get_or_create(date=TODAY - datetime.timedelta(days=3), defaults={"name": "Property day"})
    # The client's second agreement: open-ended, with the same policies; hours move both ways.
    other = AgreementFactory(
        client=client,
        name="Other",
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
            apply(op, agreement, staff, technician, ticket, test, other=other)
        except ValidationError:
            pass  # a refused operation must change nothing: the checks below prove it
        check_invariants(test, agreement)
        check_invariants(test, other)
        check_moves_and_goodwill(test, client)


def check_entry_charge(test, agreement, entry) -> None:
    """The entry charges at least the minimum times its rate, and its ledger
    debits are its parts: the after-hours part's debits sum to its charge."""
    agreement.refresh_from_db()
    multiplier = entry.work_type.multiplier
    if multiplier and entry.started_at is None:
        floor = charged_minutes(
            minutes=agreement.minimum_billable_minutes, increment=1, rounding_mode="up", multiplier=multiplier
        )
        test.assertGreaterEqual(entry.charged_minutes, floor)
    if multiplier == 0:
        test.assertEqual(entry.charged_minutes, 0)
    debits = LedgerEntry.objects.filter(time_entry=entry, kind=LedgerKind.DEBIT)
    after = -(debits.filter(after_hours=True).aggregate(total=Sum("minutes"))["total"] or 0)
    business = -(debits.filter(after_hours=False).aggregate(total=Sum("minutes"))["total"] or 0)
    test.assertEqual((business, after), (entry.business_charged_minutes, entry.after_hours_charged_minutes))
    if entry.started_at is None:
        test.assertEqual((entry.after_hours_minutes, entry.after_hours_charged_minutes), (0, 0))
    if entry.started_at is not None and entry.after_hours_minutes:
        event("an entry charged partly after hours")


def apply(op, agreement, staff, technician, ticket, test, *, other) -> None:
    kind = op[0]
    if kind == "goodwill":
        _, which, minutes, expiry_days = op
        services.block_grant_goodwill(
            agreement=(agreement, other)[which],
            minutes=minutes,
            reason="property test",
            actor=staff,
            expires_on=None if expiry_days is None else TODAY + datetime.timedelta(days=expiry_days),
        )
        return
    if kind == "move":
        blocks = list(Block.objects.filter(agreement__in=[agreement, other]).order_by("pk"))
        if blocks:
            block = blocks[op[1] % len(blocks)]
            target = other if block.agreement_id == agreement.pk else agreement
            services.block_hours_move(block=block, to_agreement=target, minutes=op[2], reason="property", actor=staff)
        return
    if kind == "log_other":
        _, minutes, days_ago = op
        services.time_entry_log(
            agreement=other,
            technician=technician,
            ticket=ticket,
            work_date=TODAY - datetime.timedelta(days=days_ago),
            minutes=minutes,
            work_type=default_work_type("Normal"),
        )
        return
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
        _, minutes, work, days_ago, started_at = op
        entry = services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=TODAY - datetime.timedelta(days=days_ago),
            minutes=minutes,
            work_type=default_work_type(work),
            started_at=started_at,
        )
        check_entry_charge(test, agreement, entry)
    elif kind == "void":
        entries = list(TimeEntry.objects.filter(agreement=agreement, voided_at__isnull=True).order_by("pk"))
        if entries:
            services.time_entry_void(time_entry=entries[op[1] % len(entries)], actor=staff, reason="property test")
    elif kind == "adjust":
        if op[1]:
            services.ledger_adjust(agreement=agreement, minutes=op[1], reason="property test", author=staff)
    elif kind == "expire":
        services.blocks_expire(today=TODAY + datetime.timedelta(days=op[1]))
    elif kind == "renew":
        # Sell the renewal block on its invoice day, then close the term some days after its grace.
        agreement.refresh_from_db()
        if agreement.ends_on is None:
            return

        def sell(locked, term):
            return services.block_sell(
                agreement=locked,
                actor=None,
                tier=locked.renewal_tier,
                starts_on=term.starts_on,
                expires_on=term.ends_on,
            )

        services.renewal_open(agreement=agreement, sell=sell, today=agreement.ends_on)
        last_usable = agreement.ends_on + datetime.timedelta(days=agreement.grace_days)
        closed = services.agreement_term_close(
            agreement=agreement, today=last_usable + datetime.timedelta(days=1 + op[1])
        )
        if closed is not None:
            event("renewed, some hours rolled over" if closed.rolled_minutes else "renewed, nothing rolled over")
    elif kind in ("refund", "forfeit"):
        blocks = list(Block.objects.filter(agreement=agreement).order_by("pk"))
        if blocks:
            take = services.block_unused_refund if kind == "refund" else services.block_unused_forfeit
            take(block=blocks[op[1] % len(blocks)], actor=staff, reason="property test", minutes=op[2])
    elif kind == "cancel":
        blocks = list(Block.objects.filter(agreement=agreement).order_by("pk"))
        if blocks:
            block = blocks[op[1] % len(blocks)]
            services.block_cancel(block=block, actor=staff, reason="property test")
            if block.credited_at is not None:
                event("a credited block cancelled")
    elif kind == "expiry_change":
        blocks = list(Block.objects.filter(agreement=agreement).order_by("pk"))
        if blocks:
            expires_on = None if op[2] is None else TODAY + datetime.timedelta(days=op[2])
            services.block_expiry_change(
                block=blocks[op[1] % len(blocks)], expires_on=expires_on, actor=staff, reason="property test"
            )


def check_invariants(test, agreement) -> None:
    balance = assert_balance_is_ledger_sum(agreement)
    # The cached burn rate equals a count from the entries (and what pages read, any day).
    assert_burn_is_entry_sum(agreement, timezone.localdate())
    # Whether it has had hours (the sweep's flag) equals the recount from blocks and ledger.
    if (
        assert_has_had_hours_is_recount(agreement)
        and not Block.objects.filter(agreement=agreement, credited_at__isnull=False, cancelled_at__isnull=True).exists()
    ):
        event("had hours by an adjustment only")
    ledger = LedgerEntry.objects.filter(agreement=agreement)
    # Every block holds between nothing and what was bought.
    for block in Block.objects.filter(agreement=agreement):
        left = ledger.filter(block=block).aggregate(total=Sum("minutes"))["total"] or 0
        test.assertEqual(block.minutes_left, left)
        test.assertGreaterEqual(left, 0)
        test.assertLessEqual(left, block.minutes if block.credited_at else 0)
        # Refunds and forfeits only ever take back what the block had: never used hours, never more.
        given_back = ledger.filter(block=block, kind__in=[LedgerKind.REFUND, LedgerKind.FORFEIT])
        test.assertLessEqual(-(given_back.aggregate(total=Sum("minutes"))["total"] or 0), block.minutes)
        if given_back.filter(kind=LedgerKind.REFUND).exists():
            test.assertIsNotNone(block.paid_at)
    # Moving an expiry moves no minutes.
    test.assertFalse(ledger.filter(kind=LedgerKind.EXPIRY_CHANGE).exclude(minutes=0).exists())
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
    # A rollover moves minutes between blocks: its entries sum to zero, and
    # each carry-over block got exactly what its block gave.
    rolled = ledger.filter(kind=LedgerKind.ROLLOVER)
    test.assertEqual(rolled.aggregate(total=Sum("minutes"))["total"] or 0, 0)
    for carried in Block.objects.filter(agreement=agreement, rolled_over_from__isnull=False):
        given = -(rolled.filter(block=carried.rolled_over_from).aggregate(total=Sum("minutes"))["total"] or 0)
        test.assertEqual((carried.rate, given), (carried.rolled_over_from.rate, carried.minutes))
    # Only billed overage or staff deductions can take the balance below the policy's floor.
    if (
        agreement.overage_policy == OveragePolicy.REJECT
        and not ledger.filter(kind=LedgerKind.ADJUSTMENT, minutes__lt=0).exists()
    ):
        test.assertGreaterEqual(balance, 0)


def check_moves_and_goodwill(test, client) -> None:
    """Moved hours keep their rate and leave their block exactly as many as
    arrive; goodwill hours are free and credited once, in full."""
    ledger = LedgerEntry.objects.filter(agreement__client=client)
    moves = ledger.filter(kind__in=[LedgerKind.MOVE_OUT, LedgerKind.MOVE_IN])
    test.assertEqual(moves.aggregate(total=Sum("minutes"))["total"] or 0, 0)
    for moved in Block.objects.filter(agreement__client=client, moved_from__isnull=False).select_related("moved_from"):
        source = moved.moved_from
        test.assertNotEqual(source.agreement_id, moved.agreement_id)
        test.assertEqual((moved.rate, moved.paid_at), (source.rate, source.paid_at))
        # Same expiry, unless staff changed either block's expiry after the move.
        if not ledger.filter(block__in=[moved, source], kind=LedgerKind.EXPIRY_CHANGE).exists():
            test.assertEqual(moved.expires_on, source.expires_on)
        test.assertEqual(ledger.get(block=moved, kind=LedgerKind.MOVE_IN).minutes, moved.minutes)
    for block in Block.objects.filter(agreement__client=client, moved_from__isnull=True):
        moved_out = -(
            ledger.filter(block=block, kind=LedgerKind.MOVE_OUT).aggregate(total=Sum("minutes"))["total"] or 0
        )
        moved_in = Block.objects.filter(moved_from=block).aggregate(total=Sum("minutes"))["total"] or 0
        test.assertEqual(moved_out, moved_in)
    for block in Block.objects.filter(agreement__client=client, is_goodwill=True):
        test.assertEqual((block.rate, block.amount, block.tier_id), (0, 0, None))
        if block.moved_from_id is None and block.rolled_over_from_id is None:
            test.assertEqual(ledger.get(block=block, kind=LedgerKind.GOODWILL).minutes, block.minutes)
