"""PATCH /api/v1/agreements/{id}/: every agreement setting, checked by
agreements.services.agreement_update and honoured from the next use on."""

from decimal import Decimal
from http import HTTPStatus

import pytest

from agreements import services
from agreements.models import Agreement, OveragePolicy
from agreements.tests.effects import log, sweep_now
from agreements.tests.factories import AgreementFactory, tier
from api.serializers import AgreementUpdateSerializer
from audit.models import AuditAction, AuditEvent
from billing import services as billing_services
from notifications.models import Episode, EpisodeKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(client_a, staff):
    """Client A's agreement with a paid 10-hour block (600 min), charged minute by minute."""
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=1)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


def patch(api, agreement, body):  # noqa: ANN001, ANN201
    return api.patch(f"/api/v1/agreements/{agreement.public_id}/", body, format="json")


def test_every_setting_can_be_changed_through_the_api():
    assert set(services.AGREEMENT_SETTINGS) <= set(AgreementUpdateSerializer().fields)


def test_staff_change_settings_and_get_the_agreement_back(staff_api, funded, staff):
    response = patch(
        staff_api,
        funded,
        {
            "name": "Helpdesk hours",
            "low_balance_threshold_minutes": 240,
            "usage_alert_percent": 75,
            "billing_increment_minutes": 6,
            "rounding_mode": "nearest",
            "overage_policy": "bill_overage",
            "overage_rate": "120.00",
            "credit_policy": "immediate",
            "topup_mode": "charge",
            "reload_tier": tier(30).pk,
        },
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    body = response.json()
    assert {key: body[key] for key in ("name", "low_balance_threshold_minutes", "usage_alert_percent")} == {
        "name": "Helpdesk hours",
        "low_balance_threshold_minutes": 240,
        "usage_alert_percent": 75,
    }
    assert (body["billing_increment_minutes"], body["rounding_mode"], body["overage_policy"]) == (
        6,
        "nearest",
        "bill_overage",
    )
    assert (body["overage_rate"], body["credit_policy"], body["topup_mode"], body["reload_tier"]) == (
        "120.00",
        "immediate",
        "charge",
        tier(30).pk,
    )
    event = AuditEvent.objects.get(action=AuditAction.AGREEMENT_UPDATE)
    assert event.actor == staff
    assert event.after["reload_tier"] == "30-hour block" and event.before["reload_tier"] is None


def test_the_threshold_and_reload_tier_set_through_the_api_drive_the_next_sweep(
    staff_api, funded, technician, seller, alice
):
    log(funded, 400, technician)  # 200 min left
    sweep_now()
    assert not Episode.objects.exists()

    assert (
        patch(staff_api, funded, {"low_balance_threshold_minutes": 240, "reload_tier": tier(30).pk}).status_code == 200
    )
    sweep_now()

    episode = Episode.objects.get(kind=EpisodeKind.LOW_BALANCE)
    assert (episode.balance_at_open, episode.reload_invoice.total) == (200, Decimal("2700.00"))


def test_the_increment_and_rounding_set_through_the_api_charge_the_next_entry(staff_api, funded, technician):
    earlier = log(funded, 7, technician)
    assert earlier.charged_minutes == 7

    patch(staff_api, funded, {"billing_increment_minutes": 15, "rounding_mode": "down"})
    assert log(funded, 29, technician).charged_minutes == 15

    earlier.refresh_from_db()
    assert earlier.charged_minutes == 7


def test_overage_policy_and_rate_set_through_the_api_price_the_overage_invoice(
    staff_api, funded, technician, staff, seller
):
    log(funded, 600, technician)
    assert patch(staff_api, funded, {"overage_policy": "bill_overage", "overage_rate": "135.50"}).status_code == 200
    log(funded, 45, technician)

    invoice = billing_services.invoice_bill_overage(agreement=funded, actor=staff)
    assert (invoice.overage_minutes, invoice.total) == (45, Decimal("101.63"))  # 45/60 × 135.50 = 101.625


def test_the_credit_policy_set_through_the_api_credits_the_next_sale_at_once(staff_api, funded, staff):
    patch(staff_api, funded, {"credit_policy": "immediate"})
    services.block_sell(agreement=funded, tier=tier(20), actor=staff)
    funded.refresh_from_db()
    assert funded.balance_minutes == 600 + 1200


def test_the_usage_alert_set_through_the_api_alerts_on_the_next_sweep(staff_api, funded, technician, seller, alice):
    log(funded, 480, technician)  # 80 % used
    patch(staff_api, funded, {"usage_alert_percent": 80})
    sweep_now()
    assert Episode.objects.filter(kind=EpisodeKind.USAGE).count() == 1


def test_settings_position_and_work_types_change_together_or_not_at_all(staff_api, funded, client_a):
    AgreementFactory(client=client_a, name="Second")
    response = patch(staff_api, funded, {"usage_alert_percent": 80, "position": 3})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "position" in response.json()["fields"]
    funded.refresh_from_db()
    assert funded.usage_alert_percent is None
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()

    response = patch(staff_api, funded, {"usage_alert_percent": 80, "position": 2})
    assert response.status_code == HTTPStatus.OK
    assert (response.json()["usage_alert_percent"], response.json()["position"]) == (80, 2)


def test_the_same_values_again_change_nothing_and_record_nothing(staff_api, funded):
    response = patch(staff_api, funded, {"low_balance_threshold_minutes": 120, "rounding_mode": "up"})
    assert response.status_code == HTTPStatus.OK
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()


BAD = [
    ({"name": ""}, "name"),
    ({"name": 5}, "name"),
    ({"low_balance_threshold_minutes": "240"}, "low_balance_threshold_minutes"),
    ({"low_balance_threshold_minutes": -1}, "low_balance_threshold_minutes"),
    ({"low_balance_threshold_minutes": 600_001}, "low_balance_threshold_minutes"),
    ({"usage_alert_percent": 0}, "usage_alert_percent"),
    ({"usage_alert_percent": 100}, "usage_alert_percent"),
    ({"usage_alert_percent": 50.5}, "usage_alert_percent"),
    ({"billing_increment_minutes": 0}, "billing_increment_minutes"),
    ({"billing_increment_minutes": 1441}, "billing_increment_minutes"),
    ({"rounding_mode": "sideways"}, "rounding_mode"),
    ({"overage_policy": "forgive"}, "overage_policy"),
    ({"overage_limit_minutes": 30}, "overage_limit_minutes"),
    ({"overage_rate": "90.00"}, "overage_rate"),  # only under bill-overage
    ({"overage_policy": "bill_overage", "overage_rate": 90}, "overage_rate"),
    ({"overage_policy": "bill_overage", "overage_rate": "-1.00"}, "overage_rate"),
    ({"overage_policy": "bill_overage", "overage_rate": "1E+2"}, "overage_rate"),
    ({"credit_policy": "later"}, "credit_policy"),
    ({"topup_mode": "yes"}, "topup_mode"),
    ({"topup_mode": "charge"}, "reload_tier"),
    ({"reload_tier": 999_999}, "reload_tier"),
    ({"reload_tier": "1"}, "reload_tier"),
    ({"term_end_action": "renew"}, "ends_on"),
    ({"renewal_invoice_days": 30}, "renewal_invoice_days"),
    ({"rollover_policy": "all"}, "rollover_policy"),
    ({"grace_days": 5}, "grace_days"),
    ({"balance_minutes": 6000}, "balance_minutes"),
    ({"status": "ended"}, "status"),
]


@pytest.mark.parametrize(("body", "key"), BAD, ids=[key + ":" + repr(b) for b, key in BAD])
def test_a_bad_value_is_400_by_its_field_and_changes_nothing(staff_api, funded, body, key):
    saved = Agreement.objects.values().get(pk=funded.pk)

    response = patch(staff_api, funded, {"usage_alert_percent": 60, **body})

    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert key in response.json()["fields"]
    assert Agreement.objects.values().get(pk=funded.pk) == saved
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()


def test_an_ended_agreement_answers_400_with_why(staff_api, funded):
    Agreement.objects.filter(pk=funded.pk).update(status="ended")
    response = patch(staff_api, funded, {"usage_alert_percent": 60})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["message"] == "“Prepaid support hours” has ended: its settings can no longer be changed."


def test_only_staff_change_settings_and_another_client_sees_nothing(tech_api, alice_api, charlie_api, funded):
    for api in (tech_api, alice_api, charlie_api):
        response = patch(api, funded, {"low_balance_threshold_minutes": 300})
        assert response.status_code == HTTPStatus.NOT_FOUND
    funded.refresh_from_db()
    assert funded.low_balance_threshold_minutes == 120
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()


def test_the_policy_change_waits_for_unsettled_overage(staff_api, client_a, technician):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=60)
    log(agreement, 30, technician)
    response = patch(staff_api, agreement, {"overage_policy": "reject", "overage_limit_minutes": 0})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["fields"]) == ["overage_policy"]
