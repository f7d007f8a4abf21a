"""Goodwill hours and moved hours through the API: staff only, scoped, exact."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Agreement, Block, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, tier
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def goodwill_url(agreement) -> str:
    return f"/api/v1/agreements/{agreement.public_id}/goodwill/"


def move_url(agreement, block) -> str:
    return f"/api/v1/agreements/{agreement.public_id}/purchases/{block.public_id}/move/"


@pytest.fixture
def sister(client_a):
    """A second agreement of client A."""
    return AgreementFactory(client=client_a, name="Projects")


def test_staff_grant_goodwill_hours(staff_api, funded):
    body = {"minutes": 90, "reason": "Sorry for the outage", "expires_on": str(TODAY + datetime.timedelta(days=30))}

    response = staff_api.post(goodwill_url(funded), body, format="json", HTTP_IDEMPOTENCY_KEY="gw-1")
    replay = staff_api.post(goodwill_url(funded), body, format="json", HTTP_IDEMPOTENCY_KEY="gw-1")

    assert response.status_code == HTTPStatus.CREATED, response.json()
    result = response.json()
    assert result["balance_minutes"] == 690
    block = result["block"]
    assert (block["minutes"], block["rate"], block["amount"], block["is_goodwill"], block["moved_from"]) == (
        90,
        "0.00",
        "0.00",
        True,
        None,
    )
    assert (block["expires_on"], block["paid_at"], block["tier"]) == (body["expires_on"], None, None)
    assert [(e["kind"], e["minutes"], e["reason"], e["block"]) for e in result["entries"]] == [
        ("goodwill", 90, "Sorry for the outage", block["id"])
    ]
    assert replay.json() == result
    assert Block.objects.filter(is_goodwill=True).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.BLOCK_GOODWILL).count() == 1
    listed = staff_api.get(f"/api/v1/agreements/{funded.public_id}/purchases/").json()["results"]
    assert [(b["minutes"], b["is_goodwill"]) for b in listed] == [(600, False), (90, True)]
    ledger = staff_api.get(f"/api/v1/agreements/{funded.public_id}/ledger/").json()["results"]
    assert (ledger[-1]["kind"], ledger[-1]["minutes"], ledger[-1]["reason"]) == ("goodwill", 90, "Sorry for the outage")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"minutes": 0, "reason": "x"}, "minutes"),
        ({"minutes": "60", "reason": "x"}, "minutes"),
        ({"minutes": 60, "reason": ""}, "reason"),
        ({"minutes": 60, "reason": "a\nb"}, "reason"),
        ({"minutes": 60, "reason": "x", "expires_on": "2000-01-01"}, "expires_on"),
        ({"minutes": 60, "reason": "x", "expires_on": "tomorrow"}, "expires_on"),
    ],
)
def test_bad_goodwill_input_is_refused_and_changes_nothing(staff_api, funded, body, field):
    response = staff_api.post(goodwill_url(funded), body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["fields"]
    assert (Block.objects.count(), Agreement.objects.get(pk=funded.pk).balance_minutes) == (1, 600)


def test_staff_move_hours_to_another_agreement_of_the_client(staff_api, funded, sister):
    block = funded.blocks.get()
    body = {"to_agreement": str(sister.public_id), "minutes": 45, "reason": "Logged on the wrong agreement"}

    response = staff_api.post(move_url(funded, block), body, format="json", HTTP_IDEMPOTENCY_KEY="mv-1")
    replay = staff_api.post(move_url(funded, block), body, format="json", HTTP_IDEMPOTENCY_KEY="mv-1")

    assert response.status_code == HTTPStatus.CREATED, response.json()
    result = response.json()
    assert (result["balance_minutes"], result["to_balance_minutes"]) == (555, 45)
    moved = result["block"]
    # 45 min at the 10-hour block's 100.00/h.
    assert (moved["minutes"], moved["rate"], moved["amount"], moved["moved_from"], moved["is_goodwill"]) == (
        45,
        "100.00",
        "75.00",
        str(block.public_id),
        False,
    )
    assert moved["paid_at"] is not None
    assert result["from_block"]["id"] == str(block.public_id)
    assert [(e["kind"], e["minutes"], e["block"]) for e in result["entries"]] == [
        ("move_out", -45, str(block.public_id)),
        ("move_in", 45, moved["id"]),
    ]
    assert replay.json() == result
    assert LedgerEntry.objects.filter(kind=LedgerKind.MOVE_OUT).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.BLOCK_MOVE).count() == 1


def test_a_move_beyond_the_unused_hours_or_to_another_client_changes_nothing(
    staff_api, funded, sister, other_agreement
):
    block = funded.blocks.get()
    too_much = staff_api.post(
        move_url(funded, block), {"to_agreement": str(sister.public_id), "minutes": 601, "reason": "x"}, format="json"
    )
    assert too_much.status_code == HTTPStatus.BAD_REQUEST
    assert too_much.json()["fields"]["minutes"] == [
        "Only 600 min of this block are unused: move between 1 and 600 min."
    ]
    elsewhere = staff_api.post(
        move_url(funded, block),
        {"to_agreement": str(other_agreement.public_id), "minutes": 60, "reason": "x"},
        format="json",
    )
    assert elsewhere.status_code == HTTPStatus.BAD_REQUEST
    assert elsewhere.json()["fields"]["to_agreement"] == ["Hours can only move between agreements of the same client."]
    unknown = staff_api.post(
        move_url(funded, block),
        {"to_agreement": "00000000-0000-0000-0000-000000000000", "minutes": 60, "reason": "x"},
        format="json",
    )
    assert unknown.status_code == HTTPStatus.BAD_REQUEST
    assert not LedgerEntry.objects.filter(kind__in=[LedgerKind.MOVE_OUT, LedgerKind.MOVE_IN]).exists()
    assert Agreement.objects.get(pk=funded.pk).balance_minutes == 600


def test_a_block_of_another_agreement_is_not_found(staff_api, funded, sister, other_agreement):
    other_block = other_agreement.blocks.get()
    response = staff_api.post(
        move_url(funded, other_block),
        {"to_agreement": str(sister.public_id), "minutes": 60, "reason": "x"},
        format="json",
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    malformed = staff_api.post(f"/api/v1/agreements/{funded.public_id}/purchases/not-a-uuid/move/", {}, format="json")
    assert malformed.status_code == HTTPStatus.NOT_FOUND


def test_only_staff_grant_or_move(alice_api, tech_api, charlie_api, anon_api, funded, sister):
    block = funded.blocks.get()
    for api in (alice_api, tech_api, charlie_api):
        granted = api.post(goodwill_url(funded), {"minutes": 60, "reason": "x"}, format="json")
        moved = api.post(
            move_url(funded, block),
            {"to_agreement": str(sister.public_id), "minutes": 60, "reason": "x"},
            format="json",
        )
        assert (granted.status_code, moved.status_code) == (HTTPStatus.NOT_FOUND, HTTPStatus.NOT_FOUND)
    assert anon_api.post(goodwill_url(funded), {"minutes": 60, "reason": "x"}, format="json").status_code in (
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.FORBIDDEN,
    )
    assert Block.objects.count() == 1
    assert Agreement.objects.get(pk=funded.pk).balance_minutes == 600


def test_charlie_sees_nothing_of_alices_goodwill(charlie_api, alice_api, funded, staff):
    agreement_services.block_grant_goodwill(agreement=funded, minutes=30, reason="Goodwill", actor=staff)
    assert charlie_api.get(f"/api/v1/agreements/{funded.public_id}/purchases/").status_code == HTTPStatus.NOT_FOUND
    own = alice_api.get(f"/api/v1/agreements/{funded.public_id}/purchases/").json()["results"]
    assert [(b["minutes"], b["is_goodwill"], b["amount"]) for b in own] == [(600, False, "1000.00"), (30, True, "0.00")]
    assert tier(10).hours == 10
