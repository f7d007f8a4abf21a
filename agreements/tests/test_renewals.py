"""The end of a term: renew with each rollover rule, or end; grace days and
grace months; the expiry sweep never racing the rollover. Exact minutes."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agreements import services
from agreements.domain import add_months, next_term_ends_on, rollover_allowance
from agreements.models import (
    AgreementStatus,
    Block,
    CreditPolicy,
    LedgerEntry,
    LedgerKind,
    Renewal,
    RolloverPolicy,
    TermEndAction,
)
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import ClientFactory, TicketFactory, tier, work_type
from audit.models import AuditAction, AuditEvent

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)
START = TODAY - 60 * DAY
END = TODAY - DAY  # the term ended yesterday
NEW_END = next_term_ends_on(START, END)  # 60 days on (or 2 months, when those are 60 days)


def make_agreement(**fields):
    """A renewing, usable-at-once agreement from START to END with a 10 h block
    (at $100/h, starts START) and a 20 h block (at $90/h, starts START + 1)."""
    settings = {
        "starts_on": START,
        "ends_on": END,
        "credit_policy": CreditPolicy.IMMEDIATE,
        "billing_increment_minutes": 1,
        "term_end_action": TermEndAction.RENEW,
        "renewal_tier": tier(10),
        "renewal_invoice_days": 30,
    }
    settings.update(fields)
    agreement = services.agreement_create(client=ClientFactory(name="Acme Dental"), **settings)
    first = services.block_sell(agreement=agreement, actor=None, tier=tier(10), starts_on=START)
    second = services.block_sell(agreement=agreement, actor=None, tier=tier(20), starts_on=START + DAY)
    return agreement, first, second


def sell_renewal(agreement, term):
    return services.block_sell(
        agreement=agreement, actor=None, tier=agreement.renewal_tier, starts_on=term.starts_on, expires_on=term.ends_on
    )


def log(agreement, technician, minutes, on):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=on,
        minutes=minutes,
        work_type=work_type("Normal"),
    )


def left(block) -> int:
    block.refresh_from_db()
    total = sum(LedgerEntry.objects.filter(block=block).values_list("minutes", flat=True))
    assert block.minutes_left == total >= 0
    return total


def renew(agreement, *, today=TODAY):
    renewal = services.renewal_open(agreement=agreement, sell=sell_renewal, today=END - 30 * DAY)
    assert renewal is not None
    return renewal, services.agreement_term_close(agreement=agreement, today=today)


# --- pure rules -------------------------------------------------------------


def test_it_renews_whole_month_terms_by_months_and_others_by_days():
    assert next_term_ends_on(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)) == datetime.date(2027, 12, 31)
    assert next_term_ends_on(datetime.date(2027, 1, 1), datetime.date(2027, 12, 31)) == datetime.date(2028, 12, 31)
    assert next_term_ends_on(datetime.date(2025, 12, 24), datetime.date(2026, 12, 23)) == datetime.date(2027, 12, 23)
    assert next_term_ends_on(datetime.date(2026, 1, 10), datetime.date(2026, 3, 1)) == datetime.date(2026, 4, 21)
    assert add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)


@pytest.mark.parametrize(
    ("policy", "cap_minutes", "cap_percent", "expected"),
    [
        ("none", None, None, 0),
        ("all", None, None, 1095),
        ("capped_hours", 300, None, 300),
        ("capped_hours", 5000, None, 1095),
        ("capped_percent", None, 25, 150),
        ("capped_percent", None, 33, 198),
    ],
)
def test_it_computes_the_rollover_allowance(policy, cap_minutes, cap_percent, expected):
    assert (
        rollover_allowance(
            policy=policy,
            unused_minutes=1095,
            cap_minutes=cap_minutes,
            cap_percent=cap_percent,
            renewal_minutes=600,
        )
        == expected
    )


# --- settings ---------------------------------------------------------------


def test_it_refuses_renewal_settings_where_nothing_reads_them(db):
    client = ClientFactory(name="Acme Dental")
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client, starts_on=START, term_end_action=TermEndAction.RENEW)
    assert set(error.value.message_dict) == {"ends_on", "renewal_tier", "renewal_invoice_days"}
    with pytest.raises(ValidationError) as error:
        services.agreement_create(
            client=client,
            starts_on=START,
            ends_on=END,
            renewal_tier=tier(10),
            renewal_invoice_days=3,
            rollover_policy=RolloverPolicy.ALL,
        )
    assert set(error.value.message_dict) == {"renewal_tier", "renewal_invoice_days", "rollover_policy"}
    base = {
        "starts_on": START,
        "ends_on": END,
        "term_end_action": TermEndAction.RENEW,
        "renewal_tier": tier(10),
        "renewal_invoice_days": 30,
    }
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client, **base, rollover_cap_minutes=60, rollover_cap_percent=10)
    assert set(error.value.message_dict) == {"rollover_cap_minutes", "rollover_cap_percent"}
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client, **base, rollover_policy=RolloverPolicy.CAPPED_HOURS)
    assert set(error.value.message_dict) == {"rollover_cap_minutes"}
    with pytest.raises(ValidationError) as error:
        services.agreement_create(
            client=client, **base, rollover_policy=RolloverPolicy.CAPPED_PERCENT, rollover_cap_percent=101
        )
    assert set(error.value.message_dict) == {"rollover_cap_percent"}
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client, **base, rollover_grace_months=2)
    assert "leave it at 0" in error.value.message_dict["rollover_grace_months"][0]
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client, starts_on=START, grace_days=5)
    assert set(error.value.message_dict) == {"grace_days"}
    with pytest.raises(ValidationError) as error:
        services.agreement_create(client=client, starts_on=START, ends_on=END, grace_days=91)
    assert set(error.value.message_dict) == {"grace_days"}


def test_the_database_refuses_a_cap_without_its_policy(db):
    agreement, _, _ = make_agreement()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(agreement).objects.filter(pk=agreement.pk).update(rollover_cap_minutes=60)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(agreement).objects.filter(pk=agreement.pk).update(term_end_action=TermEndAction.END)


# --- each rollover rule -------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "rolled", "expired"),
    [
        ({"rollover_policy": RolloverPolicy.NONE}, 0, 1095),
        ({"rollover_policy": RolloverPolicy.ALL}, 1095, 0),
        ({"rollover_policy": RolloverPolicy.CAPPED_HOURS, "rollover_cap_minutes": 300}, 300, 795),
        ({"rollover_policy": RolloverPolicy.CAPPED_PERCENT, "rollover_cap_percent": 25}, 150, 945),
    ],
)
def test_it_renews_with_each_rollover_rule(technician, fields, rolled, expired):
    agreement, first, second = make_agreement(**fields)
    log(agreement, technician, 705, START + 5 * DAY)  # 600 from the first block, 105 from the second
    assert (left(first), left(second), assert_balance_is_ledger_sum(agreement)) == (0, 1095, 1095)

    renewal, closed = renew(agreement)

    assert (closed.rolled_minutes, closed.expired_minutes, closed.new_term_ends_on) == (rolled, expired, NEW_END)
    agreement.refresh_from_db()
    assert (agreement.ends_on, agreement.status) == (NEW_END, AgreementStatus.ACTIVE)
    assert left(second) == 0
    assert left(renewal.block) == 600  # the renewal block, usable at once under this credit policy
    assert assert_balance_is_ledger_sum(agreement) == 600 + rolled
    carried = Block.objects.filter(rolled_over_from=second).first()
    if rolled:
        assert (carried.minutes, carried.rate, carried.amount, carried.starts_on, carried.expires_on) == (
            rolled,
            Decimal("90.00"),
            Decimal("0"),
            START + DAY,
            NEW_END,
        )
        assert left(carried) == rolled
        assert sorted(LedgerEntry.objects.filter(kind=LedgerKind.ROLLOVER).values_list("minutes", flat=True)) == [
            -rolled,
            rolled,
        ]
    else:
        assert carried is None
    assert -sum(LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY).values_list("minutes", flat=True)) == expired
    renewal.refresh_from_db()
    assert (renewal.rolled_over_minutes, renewal.expired_minutes, renewal.renewed_at is not None) == (
        rolled,
        expired,
        True,
    )
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_RENEW).count() == 1


def test_rolled_over_hours_are_used_before_the_new_block(technician):
    agreement, _, second = make_agreement(rollover_policy=RolloverPolicy.CAPPED_HOURS, rollover_cap_minutes=300)
    log(agreement, technician, 705, START + 5 * DAY)
    renewal, _ = renew(agreement)
    carried = Block.objects.get(rolled_over_from=second)
    log(agreement, technician, 400, TODAY)
    assert (left(carried), left(renewal.block)) == (0, 500)


def test_it_renews_once_per_term(technician):
    agreement, _, _ = make_agreement(rollover_policy=RolloverPolicy.ALL)
    renewal, closed = renew(agreement)
    assert closed is not None
    # A second run of either step finds the term done.
    assert services.renewal_open(agreement=agreement, sell=sell_renewal, today=END - 30 * DAY) is None
    assert services.agreement_term_close(agreement=agreement, today=TODAY) is None
    assert Renewal.objects.count() == 1 and Block.objects.filter(rolled_over_from__isnull=False).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        Renewal.objects.create(
            agreement=agreement,
            term_starts_on=START,
            term_ends_on=END,
            new_term_ends_on=NEW_END,
            block=Block.objects.filter(rolled_over_from__isnull=False).first(),
        )


def test_the_renewal_block_is_sold_only_from_its_invoice_day(db):
    agreement, _, _ = make_agreement()
    assert services.renewal_open(agreement=agreement, sell=sell_renewal, today=END - 31 * DAY) is None
    assert services.renewals_due_to_open(END - 31 * DAY) == []
    assert services.renewals_due_to_open(END - 30 * DAY) == [agreement]
    assert services.renewal_open(agreement=agreement, sell=sell_renewal, today=END - 30 * DAY) is not None
    assert services.renewals_due_to_open(END - 30 * DAY) == []


def test_a_renewal_waits_for_its_block(db):
    agreement, _, _ = make_agreement()
    assert services.terms_due_to_close(TODAY) == [agreement]
    assert services.agreement_term_close(agreement=agreement, today=TODAY) is None
    agreement.refresh_from_db()
    assert agreement.ends_on == END


# --- grace ------------------------------------------------------------------------


def test_rolled_over_hours_expire_after_the_grace_months_at_their_rate(technician):
    agreement, _, second = make_agreement(
        rollover_policy=RolloverPolicy.ALL, rollover_grace_months=1, ends_on=END, starts_on=START
    )
    log(agreement, technician, 705, START + 5 * DAY)
    renew(agreement)
    carried = Block.objects.get(rolled_over_from=second)
    assert carried.expires_on == add_months(END, 1)
    assert services.blocks_expire(today=carried.expires_on) == 0
    assert services.blocks_expire(today=carried.expires_on + DAY) == 1095
    assert left(carried) == 0
    expiry = LedgerEntry.objects.get(kind=LedgerKind.EXPIRY, block=carried)
    assert (expiry.minutes, expiry.block.rate) == (-1095, Decimal("90.00"))
    assert assert_balance_is_ledger_sum(agreement) == 600


def test_carried_hours_expire_with_the_new_term_and_never_roll_twice(technician):
    agreement, _, second = make_agreement(rollover_policy=RolloverPolicy.ALL)
    log(agreement, technician, 705, START + 5 * DAY)
    renew(agreement)
    carried = Block.objects.get(rolled_over_from=second)
    agreement.refresh_from_db()
    preview = services.term_end_preview(agreement)
    assert (preview.rolled_minutes, preview.expiring_minutes) == (600, 1095)  # the renewal block rolls, not these
    assert [(item.block, item.rolled) for item in preview.blocks] == [
        (carried, 0),
        (agreement.blocks.get(renewal__isnull=False), 600),
    ]


def test_time_in_the_grace_days_draws_on_the_old_term(technician):
    end = TODAY - 2 * DAY
    agreement, first, _ = make_agreement(ends_on=end, grace_days=3, rollover_policy=RolloverPolicy.ALL)
    entry = log(agreement, technician, 30, TODAY)  # two days after the end: within the grace
    assert list(entry.ledger.values_list("block", "minutes")) == [(first.pk, -30)]
    assert services.blocks_expire(today=TODAY) == 0
    assert services.agreement_term_close(agreement=agreement, today=TODAY) is None  # grace not over
    assert services.terms_due_to_close(end + 3 * DAY) == []
    assert services.terms_due_to_close(end + 4 * DAY) == [agreement]


def test_time_after_the_grace_days_is_refused(technician):
    agreement, _, _ = make_agreement(ends_on=TODAY - 2 * DAY, grace_days=1)
    with pytest.raises(ValidationError) as error:
        log(agreement, technician, 30, TODAY)
    assert error.value.message_dict["work_date"] == ["The date is outside the agreement's term."]


def test_the_expiry_sweep_leaves_a_renewing_terms_hours_to_the_rollover(technician):
    agreement, first, second = make_agreement(rollover_policy=RolloverPolicy.ALL)
    assert services.blocks_expire(today=TODAY + 10 * DAY) == 0  # the sweep ran first, days late
    assert (left(first), left(second)) == (600, 1200)
    _, closed = renew(agreement, today=TODAY + 10 * DAY)
    assert (closed.rolled_minutes, closed.expired_minutes) == (1800, 0)


# --- end ---------------------------------------------------------------------------


def test_an_ending_agreement_ends_after_its_grace_and_its_hours_expire(technician):
    end = TODAY - 2 * DAY
    agreement, first, second = make_agreement(
        ends_on=end, grace_days=1, term_end_action=TermEndAction.END, renewal_tier=None, renewal_invoice_days=None
    )
    log(agreement, technician, 705, end + DAY)
    assert services.agreement_term_close(agreement=agreement, today=end + DAY) is None
    closed = services.agreement_term_close(agreement=agreement, today=TODAY)
    assert (closed.action, closed.rolled_minutes, closed.expired_minutes) == (TermEndAction.END, 0, 1095)
    agreement.refresh_from_db()
    assert (agreement.status, agreement.ends_on) == (AgreementStatus.ENDED, end)
    assert (left(first), left(second), assert_balance_is_ledger_sum(agreement)) == (0, 0, 0)
    assert services.agreement_term_close(agreement=agreement, today=TODAY) is None
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_END).count() == 1


def test_an_ending_agreements_hours_expire_by_the_sweep_after_the_grace(technician):
    end = TODAY - 2 * DAY
    agreement, _, _ = make_agreement(
        ends_on=end, grace_days=1, term_end_action=TermEndAction.END, renewal_tier=None, renewal_invoice_days=None
    )
    assert services.blocks_expire(today=end + DAY) == 0
    assert services.blocks_expire(today=end + 2 * DAY) == 1800


# --- the preview ---------------------------------------------------------------------


def test_the_preview_says_what_would_roll_over_and_expire(technician):
    agreement, _, _ = make_agreement(
        rollover_policy=RolloverPolicy.CAPPED_PERCENT, rollover_cap_percent=25, rollover_grace_months=1
    )
    log(agreement, technician, 705, START + 5 * DAY)
    preview = services.term_end_preview(agreement)
    assert (preview.renews_on, preview.new_term_ends_on, preview.rolled_expires_on) == (
        TODAY,
        NEW_END,
        add_months(END, 1),
    )
    assert (preview.rolled_minutes, preview.expiring_minutes, preview.invoice_on) == (150, 945, END - 30 * DAY)


def test_the_admin_lists_renewals_read_only(admin_client):
    agreement, _, _ = make_agreement(rollover_policy=RolloverPolicy.ALL)
    renew(agreement)
    from django.urls import reverse

    page = admin_client.get(reverse("admin:agreements_renewal_changelist"))
    assert page.status_code == 200 and str(NEW_END.year) in page.content.decode()
    assert admin_client.get(reverse("admin:agreements_renewal_add")).status_code == 403
    assert admin_client.get(reverse("admin:agreements_agreement_change", args=[agreement.pk])).status_code == 200
