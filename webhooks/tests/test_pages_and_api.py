"""Staff pages and API for webhooks; every other role sees nothing (404)."""

from http import HTTPStatus

import pytest
from django.db import transaction
from django.test import Client as HttpClient
from django.urls import reverse

from api.services import token_create
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(staff, technician, alice, charlie):
    clients = {}
    for name, user in [("staff", staff), ("technician", technician), ("alice", alice), ("charlie", charlie)]:
        clients[name] = HttpClient()
        clients[name].force_login(user)
    return clients


@pytest.fixture
def api(staff, technician, alice):
    return {
        name: HttpClient(headers={"Authorization": f"Token {token_create(user=user, name=name, actor=staff).key}"})
        for name, user in [("staff", staff), ("technician", technician), ("alice", alice)]
    }


@pytest.fixture
def delivered(staff):
    new = services.endpoint_create(url="http://127.0.0.1:9/hook", events=["invoice.paid"], actor=staff)
    with transaction.atomic():
        event = services.event_emit("invoice.paid", data={"n": 1})
    delivery = Delivery.objects.get(event=event)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=12, last_status_code=500)
    return new, delivery


def test_staff_add_an_endpoint_and_see_the_secret_once(signed_in):
    response = signed_in["staff"].post(
        reverse("dashboard:webhooks"),
        {"url": "http://127.0.0.1:9/psa", "description": "PSA", "events": ["balance.low", "invoice.paid"]},
    )

    assert response.status_code == HTTPStatus.OK
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["balance.low", "invoice.paid"]
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    for page in (reverse("dashboard:webhooks"), reverse("dashboard:webhook", args=[endpoint.public_id])):
        again = signed_in["staff"].get(page)
        assert again.status_code == HTTPStatus.OK
        assert endpoint.secret not in again.content.decode()
        assert "http://127.0.0.1:9/psa" in again.content.decode()


def test_the_form_shows_a_refused_url(signed_in, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = signed_in["staff"].post(
        reverse("dashboard:webhooks"), {"url": "http://169.254.169.254/latest/", "events": ["invoice.paid"]}
    )
    assert response.status_code == HTTPStatus.OK
    assert "webhooks go to public hosts only" in response.context["form"].errors["url"][0]
    assert not Endpoint.objects.exists()


def test_staff_edit_rotate_resend_and_remove(signed_in, delivered):
    new, delivery = delivered
    page = reverse("dashboard:webhook", args=[new.endpoint.public_id])

    log = signed_in["staff"].get(page).content.decode()
    assert str(delivery.event.public_id) in log and "HTTP 500" in log

    edited = signed_in["staff"].post(
        page, {"url": "http://127.0.0.1:9/v2", "events": ["invoice.paid"], "is_active": ""}
    )
    assert edited.status_code == HTTPStatus.FOUND
    new.endpoint.refresh_from_db()
    assert (new.endpoint.url, new.endpoint.is_active) == ("http://127.0.0.1:9/v2", False)

    rotated = signed_in["staff"].post(reverse("dashboard:webhook_rotate", args=[new.endpoint.public_id]))
    new.endpoint.refresh_from_db()
    assert new.endpoint.secret != new.secret
    assert new.endpoint.secret in rotated.content.decode()

    resent = signed_in["staff"].post(reverse("dashboard:webhook_resend", args=[delivery.public_id]))
    assert resent.status_code == HTTPStatus.FOUND
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING

    removed = signed_in["staff"].post(reverse("dashboard:webhook_delete", args=[new.endpoint.public_id]))
    assert removed.status_code == HTTPStatus.FOUND
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize("role", ["technician", "alice", "charlie"])
def test_nobody_but_staff_sees_the_pages(signed_in, delivered, role):
    new, delivery = delivered
    for url in (
        reverse("dashboard:webhooks"),
        reverse("dashboard:webhook", args=[new.endpoint.public_id]),
    ):
        assert signed_in[role].get(url).status_code == HTTPStatus.NOT_FOUND
    for url in (
        reverse("dashboard:webhooks"),
        reverse("dashboard:webhook_rotate", args=[new.endpoint.public_id]),
        reverse("dashboard:webhook_delete", args=[new.endpoint.public_id]),
        reverse("dashboard:webhook_resend", args=[delivery.public_id]),
    ):
        assert signed_in[role].post(url, {"url": "http://127.0.0.1/x", "events": ["invoice.paid"]}).status_code == 404
    endpoint = Endpoint.objects.get()
    assert (endpoint.secret, endpoint.url, Endpoint.objects.count()) == (new.secret, "http://127.0.0.1:9/hook", 1)


def test_the_api_registers_an_endpoint_and_shows_the_secret_once(api):
    created = api["staff"].post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://127.0.0.1:9/psa", "events": ["time_entry.created"]},
        content_type="application/json",
    )
    assert created.status_code == HTTPStatus.CREATED, created.content
    body = created.json()
    endpoint = Endpoint.objects.get()
    assert body["secret"] == endpoint.secret
    assert body["id"] == str(endpoint.public_id)
    assert body["events"] == ["time_entry.created"]

    detail = api["staff"].get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/").json()
    listed = api["staff"].get("/api/v1/webhook-endpoints/").json()
    assert "secret" not in detail and endpoint.secret not in str(listed)

    rotated = api["staff"].post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret/")
    endpoint.refresh_from_db()
    assert rotated.json()["secret"] == endpoint.secret != body["secret"]

    patched = api["staff"].patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/", {"is_active": False}, content_type="application/json"
    )
    assert patched.json()["is_active"] is False
    assert api["staff"].delete(f"/api/v1/webhook-endpoints/{endpoint.public_id}/").status_code == 204
    assert not Endpoint.objects.exists()


def test_the_api_shows_the_delivery_log_and_resends(api, delivered):
    new, delivery = delivered
    log = api["staff"].get(f"/api/v1/webhook-endpoints/{new.endpoint.public_id}/deliveries/").json()
    [row] = log["results"]
    assert row["id"] == str(delivery.public_id)
    assert row["status"] == "failed" and row["attempts"] == 12 and row["last_status_code"] == 500
    assert row["event"]["id"] == str(delivery.event.public_id) and row["event"]["type"] == "invoice.paid"

    resent = api["staff"].post(f"/api/v1/webhook-deliveries/{delivery.public_id}/resend/")
    assert resent.status_code == HTTPStatus.ACCEPTED
    assert resent.json()["status"] == "pending"

    events = api["staff"].get("/api/v1/webhook-events/").json()["results"]
    assert events == [api["staff"].get(f"/api/v1/webhook-events/{delivery.event.public_id}/").json()]
    assert events[0]["data"] == {"n": 1}


@pytest.mark.parametrize("role", ["technician", "alice"])
def test_the_api_answers_404_to_other_roles(api, delivered, role):
    new, delivery = delivered
    for method, url in [
        ("get", "/api/v1/webhook-endpoints/"),
        ("post", "/api/v1/webhook-endpoints/"),
        ("get", f"/api/v1/webhook-endpoints/{new.endpoint.public_id}/"),
        ("post", f"/api/v1/webhook-endpoints/{new.endpoint.public_id}/rotate-secret/"),
        ("get", f"/api/v1/webhook-endpoints/{new.endpoint.public_id}/deliveries/"),
        ("delete", f"/api/v1/webhook-endpoints/{new.endpoint.public_id}/"),
        ("get", f"/api/v1/webhook-deliveries/{delivery.public_id}/"),
        ("post", f"/api/v1/webhook-deliveries/{delivery.public_id}/resend/"),
        ("get", "/api/v1/webhook-events/"),
        ("get", f"/api/v1/webhook-events/{delivery.event.public_id}/"),
    ]:
        response = getattr(api[role], method)(url, {}, content_type="application/json")
        assert response.status_code == HTTPStatus.NOT_FOUND, (method, url, response.status_code)
        assert new.secret not in response.content.decode()
    assert Endpoint.objects.get().secret == new.secret
