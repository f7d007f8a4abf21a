"""agreement_update: every setting staff change after creation, checked as at
creation, audited, and honoured from the next use on."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import (
    Agreement,
    AgreementStatus,
    CreditPolicy,
    OveragePolicy,
    RoundingMode,
    TermEndAction,
    Tier,
)
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.effects import log, sweep_now
from agreements.tests.factories import AgreementFactory, tier
from audit.models import AuditAction, AuditEvent
from billing import services as billing_services
from billing.models import Invoice, InvoiceKind
from notifications.models import Episode, EpisodeKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(client_a, staff):
    """Acme Dental's agreement with a paid 10-hour block (600 min), default settings."""
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=1)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


def update(agreement: Agreement, actor, **changes) -> Agreement:  # noqa: ANN001
    return services.agreement_update(agreement=agreement, actor=actor, **changes)


# --- each setting honoured --------------------------------------------------


def test_a_threshold_raised_above_the_balance_makes_the_next_sweep_raise_a_reload(
    funded, staff, technician, seller, alice
):
    log(funded, 400, technician)  # 200 min left, above the default 120
    sweep_now()
    assert not Episode.objects.exists()

    update(funded, staff, low_balance_threshold_minutes=240, reload_tier=tier(20))
    sweep_now()

    episode = Episode.objects.get()
    assert (episode.kind, episode.balance_at_open) == (EpisodeKind.LOW_BALANCE, 200)
    assert (episode.reload_invoice.kind, episode.reload_invoice.total) == (InvoiceKind.RELOAD, Decimal("1800.00"))


def test_the_reload_tier_prices_the_reload_invoice_and_charge_mode_credits_it(funded, staff, technician, seller, alice):
    log(funded, 500, technician)  # 100 min left: low
    update(funded, staff, reload_tier=tier(30), topup_mode="charge")
    sweep_now()

    invoice = Episode.objects.get().reload_invoice
    assert (invoice.total, invoice.block.minutes) == (Decimal("2700.00"), 1800)  # 30 h at $90
    funded.refresh_from_db()
    assert funded.balance_minutes == 100 + 1800


def test_a_new_increment_and_rounding_charge_new_entries_only(funded, staff, technician):
    update(funded, staff, billing_increment_minutes=15, rounding_mode=RoundingMode.UP)
    before = log(funded, 7, technician)
    assert before.charged_minutes == 15

    update(funded, staff, billing_increment_minutes=6, rounding_mode=RoundingMode.DOWN)
    assert log(funded, 7, technician).charged_minutes == 6
    update(funded, staff, rounding_mode=RoundingMode.NEAREST)
    assert log(funded, 9, technician).charged_minutes == 12  # 9 = 6 + 3: half an increment rounds up

    before.refresh_from_db()
    assert before.charged_minutes == 15
    funded.refresh_from_db()
    assert funded.balance_minutes == 600 - 15 - 6 - 12


def test_bill_overage_with_its_own_rate_bills_time_beyond_the_blocks_at_that_rate(funded, staff, technician, seller):
    log(funded, 600, technician)
    with pytest.raises(services.InsufficientBalance):
        log(funded, 90, technician)  # the default policy rejects it

    update(funded, staff, overage_policy=OveragePolicy.BILL_OVERAGE, overage_rate=Decimal("120.00"))
    log(funded, 90, technician)

    invoice = billing_services.invoice_bill_overage(agreement=funded, actor=staff)
    assert (invoice.kind, invoice.overage_minutes, invoice.total) == (InvoiceKind.OVERAGE, 90, Decimal("180.00"))


def test_an_immediate_credit_policy_makes_the_next_block_usable_before_it_is_paid(funded, staff):
    services.block_sell(agreement=funded, tier=tier(10), actor=staff)
    funded.refresh_from_db()
    assert funded.balance_minutes == 600  # unpaid: not usable yet

    update(funded, staff, credit_policy=CreditPolicy.IMMEDIATE)
    services.block_sell(agreement=funded, tier=tier(20), actor=staff)

    funded.refresh_from_db()
    assert funded.balance_minutes == 600 + 1200


def test_a_usage_alert_percent_set_later_alerts_on_the_next_sweep(funded, staff, technician, seller, alice):
    log(funded, 320, technician)  # 53 % of the block used
    sweep_now()
    assert not Episode.objects.exists()

    update(funded, staff, usage_alert_percent=50)
    sweep_now()

    assert Episode.objects.get().kind == EpisodeKind.USAGE


# --- audit ----------------------------------------------------------------------


def test_it_records_one_audit_event_with_only_the_changed_settings(funded, staff):
    update(
        funded,
        staff,
        name="  Helpdesk hours ",
        low_balance_threshold_minutes=120,  # unchanged
        usage_alert_percent=80,
        reload_tier=tier(20),
        overage_policy=OveragePolicy.BILL_OVERAGE,
        overage_rate=Decimal("120.00"),
    )

    event = AuditEvent.objects.get(action=AuditAction.AGREEMENT_UPDATE)
    assert (event.actor, event.client, event.target_type, event.target_id) == (
        staff,
        funded.client,
        "agreement",
        str(funded.public_id),
    )
    assert event.before == {
        "name": "Prepaid support hours",
        "usage_alert_percent": None,
        "overage_policy": "reject",
        "overage_rate": None,
        "reload_tier": None,
    }
    assert event.after == {
        "name": "Helpdesk hours",
        "usage_alert_percent": 80,
        "overage_policy": "bill_overage",
        "overage_rate": "120.00",
        "reload_tier": "20-hour block",
    }
    assert event.summary == (
        "Changed the settings of agreement “Helpdesk hours” of Acme Dental: name, usage alert percent, "
        "overage policy, overage rate, reload tier"
    )
    funded.refresh_from_db()
    assert (funded.name, funded.usage_alert_percent, funded.overage_rate) == ("Helpdesk hours", 80, Decimal("120.00"))


def test_nothing_changed_records_nothing(funded, staff):
    update(funded, staff, name="Prepaid support hours", low_balance_threshold_minutes=120, overage_rate=None)
    update(funded, staff)
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()


# --- refusals -------------------------------------------------------------------

BAD = [
    ({"name": ""}, "name"),
    ({"name": "Two\nlines"}, "name"),
    ({"low_balance_threshold_minutes": -1}, "low_balance_threshold_minutes"),
    ({"low_balance_threshold_minutes": 600_001}, "low_balance_threshold_minutes"),
    ({"usage_alert_percent": 0}, "usage_alert_percent"),
    ({"usage_alert_percent": 100}, "usage_alert_percent"),
    ({"billing_increment_minutes": 0}, "billing_increment_minutes"),
    ({"billing_increment_minutes": 1441}, "billing_increment_minutes"),
    ({"rounding_mode": "sideways"}, "rounding_mode"),
    ({"overage_policy": "forgive"}, "overage_policy"),
    ({"overage_limit_minutes": 30}, "overage_limit_minutes"),  # only under allow-negative
    ({"overage_policy": "allow_negative", "overage_limit_minutes": 600_001}, "overage_limit_minutes"),
    ({"overage_rate": Decimal("90.00")}, "overage_rate"),  # only under bill-overage
    ({"overage_policy": "bill_overage", "overage_rate": Decimal("-1.00")}, "overage_rate"),
    ({"credit_policy": "later"}, "credit_policy"),
    ({"topup_mode": "charge"}, "reload_tier"),  # nothing to reload with
    ({"term_end_action": "restart"}, "term_end_action"),
    ({"term_end_action": "renew"}, "ends_on"),  # an open-ended agreement has no term to renew
    ({"reload_tier": "retired"}, "reload_tier"),
    ({"renewal_tier": "tier:10"}, "renewal_tier"),  # only for a renewing agreement
    ({"renewal_invoice_days": 30}, "renewal_invoice_days"),
    ({"rollover_policy": "all"}, "rollover_policy"),
    ({"rollover_cap_minutes": 600}, "rollover_cap_minutes"),
    ({"rollover_cap_percent": 50}, "rollover_cap_percent"),
    ({"rollover_grace_months": 3}, "rollover_grace_months"),
    ({"grace_days": 5}, "grace_days"),  # an open-ended agreement has no end to be late for
    ({"position": 2}, "position"),  # not a setting: agreement_reorder moves it
    ({"balance_minutes": 6000}, "balance_minutes"),
]


@pytest.mark.parametrize(("changes", "key"), BAD, ids=[key + ":" + repr(c) for c, key in BAD])
def test_it_refuses_a_bad_value_by_its_field_and_saves_nothing(funded, staff, changes, key):
    retired = Tier.objects.create(name="Old 5-hour block", hours=5, is_active=False)
    named = {"tier:10": tier(10), "retired": retired}
    changes = {name: named.get(value, value) if isinstance(value, str) else value for name, value in changes.items()}
    saved = Agreement.objects.values().get(pk=funded.pk)

    with pytest.raises(ValidationError) as refused:
        update(funded, staff, **{"name": "Renamed too", **changes})  # a good change goes down with a bad one

    assert key in refused.value.message_dict
    assert Agreement.objects.values().get(pk=funded.pk) == saved
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()


def test_an_ended_agreement_refuses_every_change(funded, staff):
    Agreement.objects.filter(pk=funded.pk).update(status=AgreementStatus.ENDED)
    with pytest.raises(ValidationError) as refused:
        update(funded, staff, low_balance_threshold_minutes=60)
    assert refused.value.messages == ["“Prepaid support hours” has ended: its settings can no longer be changed."]
    assert Agreement.objects.get(pk=funded.pk).low_balance_threshold_minutes == 120


def test_the_overage_policy_waits_until_time_beyond_the_blocks_is_settled(client_a, staff, technician):
    agreement = AgreementFactory(
        client=client_a, overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=120
    )
    log(agreement, 45, technician)  # 45 min below zero, to be repaid by the next block

    with pytest.raises(ValidationError) as refused:
        update(agreement, staff, overage_policy=OveragePolicy.BILL_OVERAGE, overage_limit_minutes=0)

    assert refused.value.message_dict == {
        "overage_policy": [
            "45 min of time beyond the blocks is not settled yet: bill it or sell a block first, "
            "then change the overage policy."
        ]
    }


def test_a_renewing_agreement_can_become_ending_until_its_renewal_is_sold(client_a, staff, seller):
    today = timezone.localdate()
    agreement = AgreementFactory(
        client=client_a,
        ends_on=today + datetime.timedelta(days=20),
        term_end_action=TermEndAction.RENEW,
        renewal_tier=tier(10),
        renewal_invoice_days=30,
    )
    ending = {"term_end_action": TermEndAction.END, "renewal_tier": None, "renewal_invoice_days": None}
    billing_services.renewal_invoice_issue(agreement=agreement, today=today)
    assert Invoice.objects.filter(agreement=agreement).count() == 1

    with pytest.raises(ValidationError) as refused:
        update(agreement, staff, **ending)
    assert "term_end_action" in refused.value.message_dict

    other = AgreementFactory(
        client=client_a,
        ends_on=today + datetime.timedelta(days=90),
        term_end_action=TermEndAction.RENEW,
        renewal_tier=tier(10),
        renewal_invoice_days=30,
    )
    update(other, staff, **ending)
    other.refresh_from_db()
    assert (other.term_end_action, other.renewal_tier) == (TermEndAction.END, None)


def test_a_stale_copy_of_the_agreement_never_writes_back_an_old_balance(funded, staff, technician):
    stale = Agreement.objects.get(pk=funded.pk)  # read before the time below was logged
    log(funded, 90, technician)

    update(stale, staff, low_balance_threshold_minutes=300)

    funded.refresh_from_db()
    assert (funded.balance_minutes, funded.low_balance_threshold_minutes) == (510, 300)
    assert_balance_is_ledger_sum(funded)
