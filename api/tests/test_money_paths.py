"""The money paths as an integration meets them through the API, on a fresh
database: each test repeats what was found wrong by trying the product from
outside."""

from http import HTTPStatus

import pytest
from django.core import mail

from agreements.tests.factories import tier
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


def test_no_page_api_or_email_offers_a_rollover_that_no_code_performs(staff_api, staff, agreement, client):
    # Unused hours expire with the term until renewal with rollover exists.
    body = staff_api.get(f"/api/v1/agreements/{agreement.public_id}/").json()
    assert not [name for name in body if "rollover" in name]
    client.force_login(staff)
    form = client.get(f"/dashboard/clients/{agreement.client.public_id}/agreements/new/")
    assert form.status_code == HTTPStatus.OK
    assert b"rollover" not in form.content.lower() and b"carry over" not in form.content.lower()
