"""Idempotency-Key on the POSTs that charge or credit: replay, conflict,
expiry, purge; and on PostgreSQL two racing requests with one key charge once."""

import datetime
import threading
from http import HTTPStatus

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Agreement, Block, LedgerEntry, TimeEntry
from agreements.selectors import ledger_balance
from agreements.tests.factories import (
    AgreementFactory,
    ClientFactory,
    StaffFactory,
    TechnicianFactory,
    TicketFactory,
    tier,
)
from api.models import IdempotencyKey
from api.services import idempotency_keys_purge
from api.tasks import purge_idempotency_keys
from api.tests.helpers import api_as, entry_body
from billing.models import Invoice, Payment, SellerProfile

TODAY = timezone.localdate()
TIME = "/api/v1/time-entries/"


def post(api, url, body, key):
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


# --- time entries ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retried_time_entry_replays_the_first_response_and_charges_once(tech_api, funded, ticket):
    first = post(tech_api, TIME, entry_body(funded, ticket, minutes=30), "psa-1")
    again = post(tech_api, TIME, entry_body(funded, ticket, minutes=30), "psa-1")
    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert TimeEntry.objects.count() == 1
    funded.refresh_from_db()
    assert funded.balance_minutes == 570 == ledger_balance(funded)


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused_with_422(tech_api, funded, ticket):
    post(tech_api, TIME, entry_body(funded, ticket, minutes=30), "psa-2")
    response = post(tech_api, TIME, entry_body(funded, ticket, minutes=45), "psa-2")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert "already used for a different request" in body["message"]
    assert TimeEntry.objects.count() == 1
    funded.refresh_from_db()
    assert funded.balance_minutes == 570


@pytest.mark.django_db
def test_keys_belong_to_their_user(funded, ticket, technician):
    other = TechnicianFactory(username="otto")
    post(api_as(technician), TIME, entry_body(funded, ticket), "shared-key")
    response = post(api_as(other), TIME, entry_body(funded, ticket), "shared-key")
    assert response.status_code == HTTPStatus.CREATED
    assert TimeEntry.objects.count() == 2


@pytest.mark.django_db
def test_a_failed_request_keeps_no_key_so_the_fixed_retry_goes_through(tech_api, funded, ticket):
    bad = post(tech_api, TIME, entry_body(funded, ticket, minutes=-5), "psa-3")
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert not IdempotencyKey.objects.exists()
    good = post(tech_api, TIME, entry_body(funded, ticket, minutes=5), "psa-3")
    assert good.status_code == HTTPStatus.CREATED


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "ключ"])
def test_a_malformed_key_is_a_400(tech_api, funded, ticket, key):
    response = tech_api.post(
        TIME, entry_body(funded, ticket), format="json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1")
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Idempotency-Key" in response.json()["fields"]
    assert not TimeEntry.objects.exists()


@pytest.mark.django_db
def test_an_expired_key_counts_as_new(tech_api, funded, ticket, staff_api):
    url = f"/api/v1/agreements/{funded.public_id}/adjustments/"
    first = post(staff_api, url, {"minutes": 30, "reason": "goodwill"}, "adj-1")
    assert first.status_code == HTTPStatus.CREATED
    IdempotencyKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    # After expiry the same key is free again, even for another body.
    again = post(staff_api, url, {"minutes": 45, "reason": "goodwill"}, "adj-1")
    assert again.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in again
    funded.refresh_from_db()
    assert funded.balance_minutes == 600 + 30 + 45


@pytest.mark.django_db
def test_keys_expire_after_the_setting(settings, staff_api, funded):
    settings.API_IDEMPOTENCY_KEY_HOURS = 2
    post(staff_api, f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 5, "reason": "x"}, "k")
    key = IdempotencyKey.objects.get()
    assert key.expires_at - key.created_at == datetime.timedelta(hours=2)


@pytest.mark.django_db
def test_a_time_entry_key_stays_bound_to_its_entry_after_expiry(tech_api, funded, ticket):
    # The time-entry service keeps the key on the entry itself (a database
    # constraint): after our record expires it still never charges twice.
    post(tech_api, TIME, entry_body(funded, ticket, minutes=30), "psa-4")
    IdempotencyKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    same = post(tech_api, TIME, entry_body(funded, ticket, minutes=30), "psa-4")
    assert same.status_code == HTTPStatus.CREATED
    other = post(tech_api, TIME, entry_body(funded, ticket, minutes=60), "psa-4")
    assert other.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert TimeEntry.objects.count() == 1


@pytest.mark.django_db
def test_expired_keys_are_purged_by_the_periodic_task(staff_api, funded):
    url = f"/api/v1/agreements/{funded.public_id}/adjustments/"
    post(staff_api, url, {"minutes": 5, "reason": "x"}, "old")
    post(staff_api, url, {"minutes": 5, "reason": "x"}, "fresh")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert purge_idempotency_keys.apply().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert idempotency_keys_purge() == 0  # safe to run twice


def test_the_purge_is_scheduled_with_an_expiry():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]
    assert entry["task"] == purge_idempotency_keys.name
    assert entry["options"]["expires"] > 0


# --- purchases, payments, adjustments --------------------------------------------------


@pytest.mark.django_db
def test_a_retried_purchase_sells_one_block(staff_api, agreement, seller):
    url = f"/api/v1/agreements/{agreement.public_id}/purchases/"
    first = post(staff_api, url, {"tier": tier(20).pk}, "buy-1")
    again = post(staff_api, url, {"tier": tier(20).pk}, "buy-1")
    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert Block.objects.count() == Invoice.objects.count() == 1
    conflict = post(staff_api, url, {"tier": tier(30).pk}, "buy-1")
    assert conflict.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert Block.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_payment_is_recorded_once(staff_api, agreement, seller):
    sold = staff_api.post(
        f"/api/v1/agreements/{agreement.public_id}/purchases/", {"tier": tier(10).pk}, format="json"
    ).json()
    url = f"/api/v1/invoices/{sold['invoice']['id']}/payments/"
    body = {"amount": "1000.00", "method": "ach", "reference": "ACH-9", "paid_on": TODAY.isoformat()}
    first = post(staff_api, url, body, "pay-1")
    again = post(staff_api, url, body, "pay-1")
    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert Payment.objects.count() == 1
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 600
    assert post(staff_api, url, {**body, "amount": "999.00"}, "pay-1").status_code == HTTPStatus.UNPROCESSABLE_ENTITY


@pytest.mark.django_db
def test_a_retried_adjustment_adjusts_once(staff_api, funded):
    url = f"/api/v1/agreements/{funded.public_id}/adjustments/"
    body = {"minutes": -60, "reason": "Onsite visit"}
    assert post(staff_api, url, body, "adj-9").json() == post(staff_api, url, body, "adj-9").json()
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    funded.refresh_from_db()
    assert funded.balance_minutes == 540


@pytest.mark.django_db
def test_one_key_on_two_endpoints_is_a_conflict(staff_api, funded, seller):
    post(staff_api, f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 5, "reason": "x"}, "k-1")
    response = post(staff_api, f"/api/v1/agreements/{funded.public_id}/purchases/", {"hours": 5}, "k-1")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert not Invoice.objects.exists()


# --- PostgreSQL: two requests racing with one key ------------------------------------------


def _race(requests: list) -> list:
    """Run each callable in its own thread, released together; return their results."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(index: int, request) -> None:  # noqa: ANN001
        try:
            barrier.wait()
            results[index] = request()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_with_one_key_charge_once_on_postgresql():
    staff = StaffFactory(username="pg-staff")
    technician = TechnicianFactory(username="pg-tech")
    client = ClientFactory(name="Race Client")
    agreement = AgreementFactory(client=client)
    ticket = TicketFactory(client=client)
    SellerProfile.objects.create(name="Northwind IT Services")
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    agreement_services.block_mark_paid(block=block, actor=staff)
    tech, boss = api_as(technician), api_as(staff)
    adjust_url = f"/api/v1/agreements/{agreement.public_id}/adjustments/"
    buy_url = f"/api/v1/agreements/{agreement.public_id}/purchases/"

    for n in range(3):  # a few rounds: the race must hold every time, not once by luck
        entries = _race([lambda n=n: post(tech, TIME, entry_body(agreement, ticket, minutes=30), f"t-{n}")] * 2)
        adjustments = _race([lambda n=n: post(boss, adjust_url, {"minutes": 15, "reason": "race"}, f"a-{n}")] * 2)
        purchases = _race([lambda n=n: post(boss, buy_url, {"hours": 2}, f"p-{n}")] * 2)
        for pair in (entries, adjustments, purchases):
            assert [r.status_code for r in pair] == [201, 201]
            assert pair[0].json() == pair[1].json()

    invoice_ids = list(Invoice.objects.exclude(block=block).values_list("public_id", flat=True))
    payments = _race(
        [
            lambda i=i: post(
                boss,
                f"/api/v1/invoices/{invoice_ids[0]}/payments/",
                {"amount": "200.00", "method": "ach", "reference": "R-1", "paid_on": TODAY.isoformat()},
                "pay",
            )
            for i in range(2)
        ]
    )
    assert [r.status_code for r in payments] == [201, 201]

    agreement.refresh_from_db()
    assert TimeEntry.objects.count() == 3
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 3
    assert Block.objects.count() == 1 + 3
    assert Payment.objects.count() == 1
    # 600 bought, 3 × 30 logged, 3 × 15 adjusted, one 2-h block paid (120).
    assert agreement.balance_minutes == 600 - 90 + 45 + 120 == ledger_balance(agreement)
    assert Agreement.objects.count() == 1
