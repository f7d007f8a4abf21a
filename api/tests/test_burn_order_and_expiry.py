"""The burn order through the API (read and create), and a block's expiry changed by staff."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, Block, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, work_type
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def day(n):
    return timezone.localdate() + datetime.timedelta(days=n)


def test_staff_create_an_agreement_that_burns_the_soonest_expiring_block_first(staff_api, client_a, technician):
    response = staff_api.post(
        "/api/v1/agreements/",
        {"client": str(client_a.public_id), "burn_order": "soonest_expiring_first"},
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert response.json()["burn_order"] == "soonest_expiring_first"
    agreement = Agreement.objects.get(public_id=response.json()["id"])
    # Honoured: time is taken from the block that expires first, not the oldest.
    older = services.block_credit(
        block=services.block_sell(agreement=agreement, actor=None, hours=2, starts_on=day(0), expires_on=day(60))
    )
    sooner = services.block_credit(
        block=services.block_sell(agreement=agreement, actor=None, hours=2, starts_on=day(0), expires_on=day(9))
    )
    assert older.pk < sooner.pk
    response = staff_api.post(
        "/api/v1/time-entries/",
        {
            "agreement": str(agreement.public_id),
            "ticket_number": "T-1",
            "ticket_subject": "Printer",
            "work_date": str(day(0)),
            "minutes": 150,
            "work_type": work_type().pk,
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert list(
        LedgerEntry.objects.filter(kind=LedgerKind.DEBIT).order_by("pk").values_list("block_id", "minutes")
    ) == [(sooner.pk, -120), (older.pk, -30)]


def test_the_default_burn_order_is_oldest_first_and_an_unknown_one_is_refused(staff_api, client_a):
    response = staff_api.post("/api/v1/agreements/", {"client": str(client_a.public_id)}, format="json")
    assert response.json()["burn_order"] == "oldest_first"
    refused = staff_api.post(
        "/api/v1/agreements/", {"client": str(client_a.public_id), "burn_order": "newest_first"}, format="json"
    )
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["fields"]["burn_order"] == ['"newest_first" is not a valid choice.']
    assert Agreement.objects.filter(client=client_a).count() == 1


def test_client_contacts_read_the_burn_order(alice_api, agreement):
    Agreement.objects.filter(pk=agreement.pk).update(burn_order="soonest_expiring_first")
    response = alice_api.get(f"/api/v1/agreements/{agreement.public_id}/")
    assert response.json()["burn_order"] == "soonest_expiring_first"


@pytest.fixture
def block(agreement):
    sold = services.block_sell(agreement=agreement, actor=None, hours=10, starts_on=day(-5), expires_on=day(20))
    return services.block_credit(block=sold)


def url(agreement, block):
    return f"/api/v1/agreements/{agreement.public_id}/purchases/{block.public_id}/expiry/"


def test_staff_extend_a_block_and_then_remove_its_expiry(staff_api, agreement, block, staff):
    response = staff_api.post(
        url(agreement, block), {"expires_on": str(day(45)), "reason": "Client on holiday"}, format="json"
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    result = response.json()
    assert (result["block"]["id"], result["block"]["expires_on"]) == (str(block.public_id), str(day(45)))
    assert (result["previous_expires_on"], result["reason"]) == (str(day(20)), "Client on holiday")
    assert (result["entry"]["kind"], result["entry"]["minutes"], result["entry"]["author"]) == (
        "expiry_change",
        0,
        staff.username,
    )
    response = staff_api.post(url(agreement, block), {"expires_on": None, "reason": "Goodwill"}, format="json")
    assert (response.json()["block"]["expires_on"], response.json()["previous_expires_on"]) == (None, str(day(45)))
    ledger = staff_api.get(f"/api/v1/agreements/{agreement.public_id}/ledger/").json()["results"]
    changes = [(e["kind"], e["minutes"], e["block"], e["reason"]) for e in ledger if e["kind"] == "expiry_change"]
    assert changes == [
        (
            "expiry_change",
            0,
            str(block.public_id),
            f"Expiry changed from {day(20):%Y-%m-%d} to {day(45):%Y-%m-%d}: Client on holiday",
        ),
        ("expiry_change", 0, str(block.public_id), f"Expiry changed from {day(45):%Y-%m-%d} to no expiry: Goodwill"),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.BLOCK_EXPIRY_CHANGE, actor=staff).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_on": "2000-01-01", "reason": "Back"}, "expires_on"),
        ({"expires_on": "soon", "reason": "x"}, "expires_on"),
        ({"reason": "No date"}, "expires_on"),
        ({"expires_on": "2099-01-01", "reason": "Far"}, "expires_on"),
        ({"expires_on": None, "reason": ""}, "reason"),
        ({"expires_on": None}, "reason"),
        ({"expires_on": None, "reason": 5}, "reason"),
    ],
)
def test_bad_input_is_400_by_field_and_changes_nothing(staff_api, agreement, block, body, field):
    response = staff_api.post(url(agreement, block), body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert field in response.json()["fields"]
    block.refresh_from_db()
    assert block.expires_on == day(20)
    assert not LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY_CHANGE).exists()


def test_only_staff_change_an_expiry(alice_api, tech_api, charlie_api, agreement, block):
    for api in (alice_api, tech_api, charlie_api):
        response = api.post(url(agreement, block), {"expires_on": None, "reason": "x"}, format="json")
        assert response.status_code == HTTPStatus.NOT_FOUND
    block.refresh_from_db()
    assert block.expires_on == day(20)


def test_a_block_of_another_clients_agreement_is_not_found(staff_api, agreement, client_b):
    other = AgreementFactory(client=client_b)
    foreign = services.block_sell(agreement=other, actor=None, hours=1, expires_on=day(20))
    response = staff_api.post(url(agreement, foreign), {"expires_on": None, "reason": "x"}, format="json")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert Block.objects.get(pk=foreign.pk).expires_on == day(20)


def test_a_retry_with_the_same_key_changes_once(staff_api, agreement, block):
    body = {"expires_on": str(day(30)), "reason": "Retry"}
    first = staff_api.post(url(agreement, block), body, format="json", HTTP_IDEMPOTENCY_KEY="exp-1")
    again = staff_api.post(url(agreement, block), body, format="json", HTTP_IDEMPOTENCY_KEY="exp-1")
    assert (first.status_code, again.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert again.json() == first.json()
    assert LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY_CHANGE).count() == 1


def test_the_expiry_sweep_follows_the_new_date(staff_api, agreement, block):
    staff_api.post(url(agreement, block), {"expires_on": str(day(0)), "reason": "Ends today"}, format="json")
    services.blocks_expire(today=day(1))
    block.refresh_from_db()
    assert block.minutes_left == 0
    assert LedgerEntry.objects.get(block=block, kind=LedgerKind.EXPIRY).minutes == -600
