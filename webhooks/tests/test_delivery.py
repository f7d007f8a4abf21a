"""Deliveries to a real local receiver: signature, retries, exactly once, give up after a day."""

import datetime
import hashlib
import hmac
import json
import time

import pytest
from django.db import transaction
from django.utils import timezone

from agreements.tests.factories import AgreementFactory, StaffFactory, tier
from billing.models import SellerProfile
from billing.services import invoice_sell_block, payment_record
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, Event, EventKind
from webhooks.tasks import deliver_webhook, send_due_webhooks

pytestmark = pytest.mark.django_db


def _emit(receiver, staff, kind=EventKind.TIME_ENTRY_CREATED, data=None):
    new = services.endpoint_create(url=receiver.url, events=[kind], actor=staff)
    with transaction.atomic():
        event = services.event_emit(kind, data=data or {"hello": "world", "minutes": 90})
    return new, event, Delivery.objects.get(event=event)


def _verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The README's verification, word for word."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, signature = parts["t"], parts["v1"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) <= tolerance


def _due_now(delivery: Delivery) -> None:
    """Time passes: the retry is due."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_it_signs_the_body_with_the_endpoints_secret(receiver, staff):
    new, event, delivery = _emit(receiver, staff)

    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "delivered"

    [request] = receiver.requests
    assert _verify(new.secret, request.headers["Blockhours-Signature"], request.body)
    assert not _verify("whsec_wrong", request.headers["Blockhours-Signature"], request.body)
    assert not _verify(new.secret, request.headers["Blockhours-Signature"], request.body + b" ")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Blockhours-Event"] == "time_entry.created"
    assert request.headers["Blockhours-Event-Id"] == str(event.public_id)
    assert request.json == {
        "id": str(event.public_id),
        "type": "time_entry.created",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"hello": "world", "minutes": 90},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)


def test_it_signs_with_the_new_secret_after_rotation(receiver, staff):
    old, _event, delivery = _emit(receiver, staff)
    rotated = services.endpoint_rotate_secret(endpoint=old.endpoint, actor=staff)

    services.delivery_attempt(delivery_id=delivery.pk)

    [request] = receiver.requests
    assert rotated.secret != old.secret
    assert _verify(rotated.secret, request.headers["Blockhours-Signature"], request.body)
    assert not _verify(old.secret, request.headers["Blockhours-Signature"], request.body)


def test_it_retries_after_a_500_with_a_growing_delay(receiver, staff):
    receiver.script = [500, 503]
    _new, event, delivery = _emit(receiver, staff)

    first = services.delivery_attempt(delivery_id=delivery.pk)
    assert (first.outcome, first.retry_in) == ("retry", 60)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.last_error == "The receiver answered 500."
    # Not due yet: another run sends nothing.
    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
    assert len(receiver.requests) == 1

    _due_now(delivery)
    second = services.delivery_attempt(delivery_id=delivery.pk)
    assert (second.outcome, second.retry_in) == ("retry", 120)
    _due_now(delivery)
    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "delivered"

    assert [r.json["id"] for r in receiver.requests] == [str(event.public_id)] * 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 3, 200)


def test_it_retries_after_a_timeout(receiver, staff, settings):
    settings.WEBHOOKS_TIMEOUT = 1
    receiver.script = [("sleep", 2)]
    _new, _event, delivery = _emit(receiver, staff)

    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "retry"
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert delivery.last_error == "No answer within 1 seconds."

    _due_now(delivery)
    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "delivered"
    assert len(receiver.requests) == 2


def test_it_retries_when_nothing_listens(staff):
    new = services.endpoint_create(url="http://127.0.0.1:9/closed", events=["invoice.paid"], actor=staff)
    with transaction.atomic():
        event = services.event_emit("invoice.paid", data={})
    delivery = Delivery.objects.get(event=event, endpoint=new.endpoint)

    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "retry"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("ConnectionRefusedError")


def test_it_delivers_each_event_once_when_the_task_runs_twice(receiver, staff):
    _new, event, delivery = _emit(receiver, staff)

    # The task queued after commit, and again by the catch-up run or a broker redelivery.
    assert deliver_webhook.apply(args=[delivery.pk]).get() == "delivered"
    assert deliver_webhook.apply(args=[delivery.pk]).get() == "skipped"
    assert send_due_webhooks.apply().get() == 0

    assert [r.json["id"] for r in receiver.requests] == [str(event.public_id)]


def test_a_second_worker_leaves_a_delivery_in_flight_alone(receiver, staff):
    """The claim moves the due time past the attempt's timeout: a concurrent task finds nothing due."""
    _new, _event, delivery = _emit(receiver, staff)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + datetime.timedelta(seconds=40))

    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
    assert receiver.requests == []


def test_it_gives_up_after_a_day(receiver, staff):
    receiver.script = [500]
    _new, _event, delivery = _emit(receiver, staff)
    Delivery.objects.filter(pk=delivery.pk).update(
        first_attempt_at=timezone.now() - datetime.timedelta(hours=23, minutes=59, seconds=30)
    )

    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "failed"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.FAILED, 500)
    _due_now(delivery)
    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
    assert len(receiver.requests) == 1


def test_the_backoff_spans_a_day_below_the_visibility_timeout(settings):
    delays = [services.retry_delay(attempt) for attempt in range(1, 60)]
    assert delays[:6] == [60, 120, 240, 480, 960, 1800]
    assert max(delays) == settings.WEBHOOKS_RETRY_MAX_DELAY == 1800 < 3600


def test_staff_resend_sends_the_same_event_again(receiver, staff):
    receiver.script = [500]
    _new, event, delivery = _emit(receiver, staff)
    Delivery.objects.filter(pk=delivery.pk).update(first_attempt_at=timezone.now() - datetime.timedelta(days=2))
    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "failed"

    services.delivery_resend(delivery=delivery, actor=staff)
    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "delivered"

    assert [r.json["id"] for r in receiver.requests] == [str(event.public_id)] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_the_catch_up_run_queues_due_deliveries_only(receiver, staff, monkeypatch):
    queued = []
    monkeypatch.setattr("webhooks.tasks.queue_delivery", queued.append)
    _new, _event, due = _emit(receiver, staff)
    later = Delivery.objects.create(
        endpoint=due.endpoint,
        event=Event.objects.create(kind=EventKind.TIME_ENTRY_CREATED),
        next_attempt_at=timezone.now() + datetime.timedelta(minutes=5),
    )

    assert send_due_webhooks.apply().get() == 1
    assert queued == [due.pk]
    assert later.pk not in queued


def test_the_delivery_refuses_a_private_address_at_send_time(receiver, staff, settings):
    """DNS rebinding: a host that was public at registration resolves to a private address later."""
    _new, _event, delivery = _emit(receiver, staff)
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "retry"

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "127.0.0.1 resolves to a private, loopback or link-local address" in delivery.last_error
    assert json.dumps(services.event_body(delivery.event))


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_reaches_the_receiver_and_a_rolled_back_one_does_not(receiver, monkeypatch):
    """Real commits: the delivery task runs only once the change is in the database."""
    seen_in_db: list[bool] = []

    def run_now(delivery_id: int) -> None:
        seen_in_db.append(Delivery.objects.filter(pk=delivery_id).exists())
        deliver_webhook.apply(args=[delivery_id])

    monkeypatch.setattr("webhooks.tasks.queue_delivery", run_now)
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory()
    new = services.endpoint_create(url=receiver.url, events=["block.credited", "time_entry.created"], actor=staff)
    SellerProfile.objects.create(name="Northwind IT", email="billing@northwind.example", address="1 Main St")
    invoice = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))
    with pytest.raises(RuntimeError), transaction.atomic():
        payment_record(
            invoice=invoice, amount=invoice.total, method="ach", reference="ACH-1", paid_on=timezone.localdate(),
            actor=staff,
        )  # fmt: skip
        raise RuntimeError("the request failed after the payment")
    assert receiver.requests == [] and not Event.objects.exists()

    payment_record(
        invoice=invoice,
        amount=invoice.total,
        method="ach",
        reference="ACH-1",
        paid_on=timezone.localdate(),
        actor=staff,
    )

    [request] = receiver.requests
    assert seen_in_db == [True]
    assert request.json["type"] == "block.credited"
    assert request.json["data"]["balance_minutes"] == 600
    assert _verify(new.secret, request.headers["Blockhours-Signature"], request.body)
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED
