"""The money paths as an integration meets them through the API, on a fresh
database: each test repeats what was found wrong by trying the product from
outside."""

import datetime
from http import HTTPStatus

import pytest
from django.core import mail
from django.utils import timezone

from agreements.tests.factories import bill_overage_agreement, tier
from notifications.tests.conftest import sweep_now

pytestmark = pytest.mark.django_db


def test_a_new_clients_first_block_awaiting_payment_gets_no_reload_invoice(staff_api, seller):
    client = staff_api.post(
        "/api/v1/clients/", {"name": "Fresh Start Ltd", "billing_email": "ap@fresh.example"}, format="json"
    )
    assert client.status_code == HTTPStatus.CREATED, client.json()
    agreement = staff_api.post("/api/v1/agreements/", {"client": client.json()["id"]}, format="json")
    assert agreement.status_code == HTTPStatus.CREATED, agreement.json()
    agreement_id = agreement.json()["id"]
    sale = staff_api.post(f"/api/v1/agreements/{agreement_id}/purchases/", {"tier": tier(20).pk}, format="json")
    assert sale.status_code == HTTPStatus.CREATED, sale.json()

    sweep_now()

    invoices = staff_api.get("/api/v1/invoices/", {"agreement": agreement_id}).json()["results"]
    assert [(i["kind"], i["total"]) for i in invoices] == [("block", "1800.00")]
    assert mail.outbox == []


def test_staff_set_up_a_renewal_with_rollover_through_the_api(staff_api, client_a):
    today = timezone.localdate()
    settings = {
        "client": str(client_a.public_id),
        "starts_on": str(today - datetime.timedelta(days=60)),
        "ends_on": str(today + datetime.timedelta(days=30)),
        "term_end_action": "renew",
        "renewal_tier": tier(10).pk,
        "renewal_invoice_days": 21,
        "rollover_policy": "capped_percent",
        "rollover_cap_percent": 25,
        "rollover_grace_months": 2,
        "grace_days": 7,
    }
    created = staff_api.post("/api/v1/agreements/", settings, format="json")
    assert created.status_code == HTTPStatus.CREATED, created.json()
    body = created.json()
    assert {name: body[name] for name in settings if name not in ("client", "starts_on", "ends_on")} == {
        "term_end_action": "renew",
        "renewal_tier": tier(10).pk,
        "renewal_invoice_days": 21,
        "rollover_policy": "capped_percent",
        "rollover_cap_percent": 25,
        "rollover_grace_months": 2,
        "grace_days": 7,
    }
    assert body["rollover_cap_minutes"] is None

    refused = staff_api.post(
        "/api/v1/agreements/",
        {**settings, "rollover_policy": "all", "rollover_cap_minutes": 600},
        format="json",
    )
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert set(refused.json()["fields"]) == {"rollover_cap_minutes", "rollover_cap_percent"}
    refused = staff_api.post("/api/v1/agreements/", {**settings, "ends_on": None}, format="json")
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert set(refused.json()["fields"]) == {"ends_on", "grace_days"}


@pytest.fixture
def overage_agreement(client_a, staff, technician):
    """Acme Dental at $150/h under bill-overage, with a paid 10-h block and 12 h logged: 2 h beyond it."""
    return bill_overage_agreement(client_a, actor=staff, technician=technician, logged=720)


def test_staff_bill_overage_on_request_once(staff_api, overage_agreement, seller):
    url = f"/api/v1/agreements/{overage_agreement.public_id}/"
    assert staff_api.get(url).json()["overage_unbilled_minutes"] == 120
    listed = staff_api.get("/api/v1/agreements/").json()["results"]
    assert [a["overage_unbilled_minutes"] for a in listed if a["id"] == str(overage_agreement.public_id)] == [120]

    billed = staff_api.post(url + "overage-invoice/")

    assert billed.status_code == HTTPStatus.CREATED, billed.json()
    assert (billed.json()["kind"], billed.json()["total"]) == ("overage", "300.00")
    assert staff_api.get(url).json()["overage_unbilled_minutes"] == 0
    again = staff_api.post(url + "overage-invoice/")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert again.json()["message"] == "There is no unbilled overage on this agreement."


def test_only_staff_of_the_msp_may_bill_overage(tech_api, alice_api, charlie_api, overage_agreement, seller):
    url = f"/api/v1/agreements/{overage_agreement.public_id}/overage-invoice/"
    for api in (tech_api, alice_api, charlie_api):
        assert api.post(url).status_code == HTTPStatus.NOT_FOUND
    from billing.models import Invoice

    assert not Invoice.objects.exists()


def test_a_sale_through_the_api_bills_the_overage_with_it(staff_api, overage_agreement, seller):
    sale = staff_api.post(
        f"/api/v1/agreements/{overage_agreement.public_id}/purchases/", {"tier": tier(10).pk}, format="json"
    )

    assert sale.status_code == HTTPStatus.CREATED, sale.json()
    body = sale.json()
    assert (body["invoice"]["kind"], body["overage_invoice"]["kind"]) == ("block", "overage")
    assert body["overage_invoice"]["total"] == "300.00"


def test_an_agreement_takes_an_overage_rate_only_under_bill_overage(staff_api, client_a):
    created = staff_api.post(
        "/api/v1/agreements/",
        {"client": str(client_a.public_id), "overage_policy": "bill_overage", "overage_rate": "175.00"},
        format="json",
    )
    assert created.status_code == HTTPStatus.CREATED, created.json()
    assert created.json()["overage_rate"] == "175.00"

    refused = staff_api.post(
        "/api/v1/agreements/",
        {"client": str(client_a.public_id), "overage_policy": "reject", "overage_rate": "175.00"},
        format="json",
    )
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert "overage_rate" in refused.json()["fields"]


def test_a_contact_added_through_the_api_is_invited_and_can_be_invited_again(
    staff_api, client_a, django_capture_on_commit_callbacks
):
    from accounts.models import Invitation

    with django_capture_on_commit_callbacks(execute=True):
        added = staff_api.post(
            f"/api/v1/clients/{client_a.public_id}/contacts/",
            {"username": "dana", "email": "dana@acme-dental.example", "first_name": "Dana"},
            format="json",
        )

    assert added.status_code == HTTPStatus.CREATED, added.json()
    assert added.json()["password_set"] is False
    (invitation,) = mail.outbox
    assert invitation.to == ["dana@acme-dental.example"]
    assert "http://127.0.0.1:8000/" in invitation.body
    first = Invitation.objects.get(user__username="dana")

    with django_capture_on_commit_callbacks(execute=True):
        again = staff_api.post(f"/api/v1/clients/{client_a.public_id}/contacts/dana/invitation/")

    assert again.status_code == HTTPStatus.CREATED, again.json()
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["dana@acme-dental.example"]
    first.refresh_from_db()
    assert first.expires_at <= Invitation.objects.exclude(pk=first.pk).get().created_at  # the old link is dead


def test_another_clients_contact_cannot_be_invited_through_this_client(staff_api, client_a, charlie, tech_api):
    url = f"/api/v1/clients/{client_a.public_id}/contacts/charlie/invitation/"
    assert staff_api.post(url).status_code == HTTPStatus.NOT_FOUND
    assert tech_api.post(url).status_code == HTTPStatus.NOT_FOUND
    assert mail.outbox == []
