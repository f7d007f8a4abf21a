"""Estimates through the API: staff and technician tokens list, create and cancel;
client tokens list their own, approve (with a block request) and decline once;
the reserved minutes on agreements and clients; Charlie finds nothing of Acme's."""

from http import HTTPStatus

import pytest
from django.core import mail

from agreements.models import Estimate, EstimateStatus
from agreements.tests.factories import tier
from portal.models import HoursRequest

pytestmark = pytest.mark.django_db

LIST = "/api/v1/estimates/"


def create(api, ticket, normal, minutes, **extra):
    body = {"ticket": str(ticket.public_id), "minutes": minutes, "work_type": normal.pk, "description": "New NAS"}
    return api.post(LIST, {**body, **extra}, format="json", HTTP_IDEMPOTENCY_KEY=f"e-{minutes}")


def test_a_technician_creates_one_the_balance_covers(tech_api, funded, ticket, normal):
    response = create(tech_api, ticket, normal, 100)
    assert response.status_code == HTTPStatus.CREATED, response.json()
    made = response.json()
    assert (made["status"], made["auto_approved"], made["minutes"], made["charged_minutes"]) == (
        "approved",
        True,
        100,
        105,
    )
    assert made["agreement"] == str(funded.public_id) and made["created_by"] == "tess"
    assert create(tech_api, ticket, normal, 100).json() == made  # a retry with the same key
    assert Estimate.objects.count() == 1


def test_the_reserved_minutes_show_on_the_agreement_and_the_client(staff_api, funded, ticket, normal):
    create(staff_api, ticket, normal, 100)
    create(staff_api, ticket, normal, 600)  # 105 + 600 > 600: waits
    agreement = staff_api.get(f"/api/v1/agreements/{funded.public_id}/").json()
    assert (agreement["balance_minutes"], agreement["reserved_by_estimates_minutes"]) == (600, 705)
    listed = staff_api.get("/api/v1/agreements/").json()["results"]
    assert [a["reserved_by_estimates_minutes"] for a in listed] == [705]
    client = staff_api.get(f"/api/v1/clients/{funded.client.public_id}/").json()
    assert client["reserved_by_estimates_minutes"] == 705


def test_bad_input_is_400_and_saves_nothing(staff_api, funded, ticket, normal):
    assert create(staff_api, ticket, normal, 0).status_code == HTTPStatus.BAD_REQUEST
    assert create(staff_api, ticket, normal, "90").status_code == HTTPStatus.BAD_REQUEST
    assert create(staff_api, ticket, normal, 60, description="<b>\n</b>").status_code == HTTPStatus.BAD_REQUEST
    assert not Estimate.objects.exists()


def test_alice_approves_with_a_block_once(
    staff_api, alice_api, alice, funded, ticket, normal, technician, django_capture_on_commit_callbacks
):
    made = create(staff_api, ticket, normal, 700).json()
    assert made["status"] == "waiting"
    assert [e["id"] for e in alice_api.get(LIST).json()["results"]] == [made["id"]]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"{LIST}{made['id']}/approve/", {"tier": tier(20).pk}, format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    assert (response.json()["status"], response.json()["decided_by"]) == ("approved", "alice")
    twice = alice_api.post(f"{LIST}{made['id']}/decline/", {}, format="json")
    assert twice.status_code == HTTPStatus.BAD_REQUEST
    assert "already decided" in str(twice.json())
    [request] = HoursRequest.objects.all()
    assert (request.tier.hours, request.requested_by) == (20, alice)
    # Sam (staff) estimated; the staff who issued the tokens hears too: once each.
    assert sorted(m.to[0] for m in mail.outbox) == ["sam@example.com", "token-issuer@example.com"]


def test_staff_cannot_approve_and_alice_cannot_create_or_cancel(staff_api, alice_api, funded, ticket, normal):
    made = create(staff_api, ticket, normal, 700).json()
    assert staff_api.post(f"{LIST}{made['id']}/approve/", {}, format="json").status_code == HTTPStatus.NOT_FOUND
    assert create(alice_api, ticket, normal, 60).status_code == HTTPStatus.NOT_FOUND
    assert alice_api.post(f"{LIST}{made['id']}/cancel/").status_code == HTTPStatus.NOT_FOUND
    cancelled = staff_api.post(f"{LIST}{made['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert Estimate.objects.get().status == EstimateStatus.CANCELLED


def test_charlie_finds_nothing_of_acmes(staff_api, charlie_api, funded, ticket, normal):
    made = create(staff_api, ticket, normal, 700).json()
    assert charlie_api.get(LIST).json()["results"] == []
    assert charlie_api.get(f"{LIST}{made['id']}/").status_code == HTTPStatus.NOT_FOUND
    for verb in ("approve", "decline"):
        assert charlie_api.post(f"{LIST}{made['id']}/{verb}/", {}, format="json").status_code == HTTPStatus.NOT_FOUND
    assert Estimate.objects.get().status == EstimateStatus.WAITING
