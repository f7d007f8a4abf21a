"""Staff change every agreement setting on the agreement's edit page; each
change is honoured from the next use on, audited, and refused by field when bad."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import Agreement
from agreements.tests.effects import log, sweep_now
from agreements.tests.factories import AgreementFactory, tier, work_type
from audit.models import AuditAction, AuditEvent
from billing import services as billing_services
from dashboard.forms import DURATION_SETTINGS, AgreementEditForm
from notifications.models import Episode, EpisodeKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(client_a, staff):
    """Acme Dental's agreement with a paid 10-hour block (600 min), charged minute by minute."""
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=1)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


def _url(agreement: Agreement) -> str:
    return reverse("dashboard:agreement_edit", args=[agreement.public_id])


def _form(client, agreement: Agreement, **changes: object) -> dict[str, object]:  # noqa: ANN001
    """What the prefilled page posts back, with `changes` typed over it (None: left empty or unticked)."""
    form = client.get(_url(agreement)).context["form"]
    data: dict[str, object] = {}
    for field in form:
        value = changes[field.name] if field.name in changes else field.value()
        if value is None or value is False:
            continue  # an empty box or an unticked checkbox posts nothing
        data[field.name] = value
    return data


def _edit(client, agreement: Agreement, **changes: object):  # noqa: ANN001, ANN202
    return client.post(_url(agreement), _form(client, agreement, **changes))


def test_every_setting_is_on_the_page():
    names = set(AgreementEditForm.base_fields)
    assert {DURATION_SETTINGS.get(name, name) for name in services.AGREEMENT_SETTINGS} <= names
    assert "work_types" in names


def test_the_page_is_linked_from_the_client_page_and_prefilled(client, staff, funded):
    services.agreement_update(
        agreement=funded, actor=staff, usage_alert_percent=70, overage_policy="bill_overage", overage_rate=Decimal("95")
    )
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[funded.client.public_id])).content.decode()
    assert f'href="{_url(funded)}"' in page

    response = client.get(_url(funded))

    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert (form["name"].value(), form["low_balance_threshold"].value(), form["usage_alert_percent"].value()) == (
        "Prepaid support hours",
        120,
        70,
    )
    assert (form["overage_policy"].value(), form["overage_rate"].value()) == ("bill_overage", Decimal("95.00"))
    assert (form["billing_increment_minutes"].value(), form["rounding_mode"].value()) == (1, "up")


def test_saving_changes_the_settings_and_the_cover_and_records_what_changed(client, staff, funded):
    client.force_login(staff)
    response = _edit(
        client,
        funded,
        name="Helpdesk hours",
        low_balance_threshold="4:00",
        usage_alert_percent="80",
        credit_policy="immediate",
        work_types=[work_type("Emergency").pk],
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == (
        reverse("dashboard:client", args=[funded.client.public_id]) + f"?agreement={funded.public_id}"
    )
    funded.refresh_from_db()
    assert (funded.name, funded.low_balance_threshold_minutes, funded.usage_alert_percent, funded.credit_policy) == (
        "Helpdesk hours",
        240,
        80,
        "immediate",
    )
    assert list(funded.work_types.all()) == [work_type("Emergency")]
    event = AuditEvent.objects.get(action=AuditAction.AGREEMENT_UPDATE)
    assert event.before == {
        "name": "Prepaid support hours",
        "low_balance_threshold_minutes": 120,
        "usage_alert_percent": None,
        "credit_policy": "on_payment",
    }
    assert event.after == {
        "name": "Helpdesk hours",
        "low_balance_threshold_minutes": 240,
        "usage_alert_percent": 80,
        "credit_policy": "immediate",
    }
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_WORK_TYPES).count() == 1


def test_saving_the_form_unchanged_records_nothing(client, staff, funded):
    client.force_login(staff)
    assert _edit(client, funded).status_code == HTTPStatus.FOUND
    assert not AuditEvent.objects.filter(
        action__in=[AuditAction.AGREEMENT_UPDATE, AuditAction.AGREEMENT_WORK_TYPES]
    ).exists()


def test_a_threshold_raised_on_the_page_makes_the_next_sweep_raise_the_reload_tiers_invoice(
    client, staff, funded, technician, seller, alice
):
    log(funded, 400, technician)  # 200 min left
    client.force_login(staff)
    _edit(client, funded, low_balance_threshold="3:30", reload_tier=tier(20).pk)
    sweep_now()

    episode = Episode.objects.get(kind=EpisodeKind.LOW_BALANCE)
    assert (episode.balance_at_open, episode.reload_invoice.total) == (200, Decimal("1800.00"))


def test_charge_mode_chosen_on_the_page_adds_the_reload_tiers_hours_at_once(
    client, staff, funded, technician, seller, alice
):
    log(funded, 500, technician)  # 100 min left: low
    client.force_login(staff)
    _edit(client, funded, reload_tier=tier(30).pk, topup_mode="charge")
    sweep_now()

    assert Episode.objects.get(kind=EpisodeKind.LOW_BALANCE).reload_invoice.total == Decimal("2700.00")
    funded.refresh_from_db()
    assert funded.balance_minutes == 100 + 1800


def test_increment_and_rounding_changed_on_the_page_charge_the_next_entry_only(client, staff, funded, technician):
    earlier = log(funded, 7, technician)
    client.force_login(staff)
    _edit(client, funded, billing_increment_minutes="10", rounding_mode="up")

    assert log(funded, 7, technician).charged_minutes == 10
    earlier.refresh_from_db()
    assert earlier.charged_minutes == 7


def test_overage_policy_and_rate_set_on_the_page_price_the_overage_invoice(client, staff, funded, technician, seller):
    log(funded, 600, technician)
    client.force_login(staff)
    _edit(client, funded, overage_policy="bill_overage", overage_rate="110.00")
    log(funded, 30, technician)

    invoice = billing_services.invoice_bill_overage(agreement=funded, actor=staff)
    assert (invoice.overage_minutes, invoice.total) == (30, Decimal("55.00"))


def test_the_credit_policy_set_on_the_page_credits_the_next_sale_at_once(client, staff, funded):
    client.force_login(staff)
    _edit(client, funded, credit_policy="immediate")
    services.block_sell(agreement=funded, tier=tier(10), actor=staff)
    funded.refresh_from_db()
    assert funded.balance_minutes == 1200


def test_the_usage_alert_set_on_the_page_alerts_on_the_next_sweep(client, staff, funded, technician, seller, alice):
    log(funded, 300, technician)  # 50 % used
    client.force_login(staff)
    _edit(client, funded, usage_alert_percent="50")
    sweep_now()
    assert Episode.objects.filter(kind=EpisodeKind.USAGE).count() == 1


BAD = [
    ({"name": ""}, "name"),
    ({"low_balance_threshold": ""}, "low_balance_threshold"),
    ({"low_balance_threshold": "two hours"}, "low_balance_threshold"),
    ({"low_balance_threshold": "10001:00"}, "low_balance_threshold"),
    ({"usage_alert_percent": "0"}, "usage_alert_percent"),
    ({"usage_alert_percent": "100"}, "usage_alert_percent"),
    ({"usage_alert_percent": "５０"}, "usage_alert_percent"),
    ({"billing_increment_minutes": "0"}, "billing_increment_minutes"),
    ({"billing_increment_minutes": "1441"}, "billing_increment_minutes"),
    ({"rounding_mode": "sideways"}, "rounding_mode"),
    ({"overage_policy": "forgive"}, "overage_policy"),
    ({"overage_limit_minutes": "30"}, "overage_limit_minutes"),
    ({"overage_rate": "90.00"}, "overage_rate"),
    ({"overage_policy": "bill_overage", "overage_rate": "-5"}, "overage_rate"),
    ({"overage_policy": "bill_overage", "overage_rate": "1E+2"}, "overage_rate"),
    ({"credit_policy": "later"}, "credit_policy"),
    ({"topup_mode": "charge"}, "reload_tier"),
    ({"reload_tier": "999999"}, "reload_tier"),
    ({"renewal_invoice_days": "30"}, "renewal_invoice_days"),
    ({"rollover_policy": "all"}, "rollover_policy"),
    ({"grace_days": "5"}, "grace_days"),
    ({"work_types": ["999999"]}, "work_types"),
]


@pytest.mark.parametrize(("changes", "field"), BAD, ids=[f + ":" + repr(c) for c, f in BAD])
def test_a_bad_value_is_shown_next_to_its_field_and_nothing_changes(client, staff, funded, changes, field):
    client.force_login(staff)
    saved = Agreement.objects.values().get(pk=funded.pk)

    response = _edit(client, funded, **{"usage_alert_percent": "60", **changes})

    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert f'id="id_{field}_errors"' in response.content.decode()
    assert Agreement.objects.values().get(pk=funded.pk) == saved
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_UPDATE).exists()


def test_an_ended_agreement_says_why_it_cannot_change(client, staff, funded):
    Agreement.objects.filter(pk=funded.pk).update(status="ended")
    client.force_login(staff)
    response = _edit(client, funded, usage_alert_percent="60")
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].non_field_errors() == [
        "“Prepaid support hours” has ended: its settings can no longer be changed."
    ]


def test_technicians_and_clients_get_404_and_change_nothing(client, technician, alice, charlie, funded):
    for user in (technician, alice, charlie):
        client.force_login(user)
        assert client.get(_url(funded)).status_code == HTTPStatus.NOT_FOUND
        assert client.post(_url(funded), {"name": "Taken over"}).status_code == HTTPStatus.NOT_FOUND
    funded.refresh_from_db()
    assert funded.name == "Prepaid support hours"


def test_an_unknown_agreement_is_404(client, staff):
    client.force_login(staff)
    assert client.get(reverse("dashboard:agreement_edit", args=["not-a-uuid"])).status_code == HTTPStatus.NOT_FOUND
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(reverse("dashboard:agreement_edit", args=[missing])).status_code == HTTPStatus.NOT_FOUND


def test_a_new_agreement_takes_its_usage_alert_on_the_page_and_refuses_100(client, staff, client_a):
    client.force_login(staff)
    url = reverse("dashboard:agreement_new", args=[client_a.public_id])
    data = {
        "name": "Support 2027",
        "starts_on": timezone.localdate().isoformat(),
        "low_balance_threshold": "3:00",
        "usage_alert_percent": "80",
        "billing_increment_minutes": "15",
        "rounding_mode": "up",
        "overage_policy": "reject",
        "overage_limit_minutes": "0",
        "credit_policy": "on_payment",
    }

    refused = client.post(url, {**data, "usage_alert_percent": "100"})
    assert refused.status_code == HTTPStatus.OK
    assert "usage_alert_percent" in refused.context["form"].errors
    assert not Agreement.objects.filter(client=client_a).exists()

    assert client.post(url, data).status_code == HTTPStatus.FOUND
    assert Agreement.objects.get(client=client_a).usage_alert_percent == 80
