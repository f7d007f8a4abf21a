"""Redis down: time is still logged at once, and nothing it queued is lost.

A private redis-server (its own port) is the broker and the cache. With it
stopped, a technician logs time in the web form and through the API; each
request must be answered within a second. Once Redis is back, a real worker
and beat (the catch-up path: the low-balance sweep works from the database)
do what the lost messages would have done: the episode, the reload invoice
with its PDF, and every email sent.
"""

import logging
import socket
import time
import urllib.request
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from agreements import services as agreement_services
from agreements.models import TimeEntry
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory, TechnicianFactory, tier, work_type
from api.tests.helpers import api_as
from billing import services as billing_services
from blockhours.celery import app
from monitoring.queueing import task_publish
from notifications.models import EmailStatus, Episode, OutgoingEmail
from notifications.tasks import check_agreement
from tests.celery_processes import wait_until, worker_and_beat
from tests.redis_server import celery_publishing_to, free_port, redis_server
from timesheet.forms import agreement_label


@pytest.fixture
def redis(tmp_path):
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def on_private_redis(redis, settings, monkeypatch):
    """The broker and the cache on the private Redis, as in docker-compose."""
    assert app.conf.broker_url.startswith("redis://"), "the test process must be configured for a Redis broker"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url(1)}}
    with celery_publishing_to(redis.url(0), monkeypatch):
        yield redis


def timed(call):
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


# A real worker and beat run on the test database: PostgreSQL, as in production.
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_time_is_logged_within_a_second_while_redis_is_down_and_its_work_happens_once_it_is_back(
    on_private_redis, client, seller, settings, tmp_path, caplog
):
    redis = on_private_redis
    customer = ClientFactory(name="Outage Dental")
    agreement = AgreementFactory(client=customer, low_balance_threshold_minutes=120)
    staff = StaffFactory(username="outage-staff", email="staff@msp.example")
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    agreement_services.block_mark_paid(block=block, actor=staff)
    technician = TechnicianFactory(username="outage-tech")
    api = api_as(technician, issuer=staff)
    client.force_login(technician)
    # Warm up (templates, URL resolvers), so the timings below measure the outage only.
    assert client.get(reverse("timesheet:log")).status_code == HTTPStatus.OK
    assert api.get("/api/v1/agreements/").status_code == HTTPStatus.OK

    redis.stop()
    caplog.set_level(logging.WARNING, logger="monitoring.queueing")

    form = {
        "agreement": agreement_label(agreement),
        "ticket": "4711",
        "subject": "Mail server down",
        "work_date": timezone.localdate().isoformat(),
        "duration": "4:00",
        "work_type": work_type().pk,
        "notes": "Restarted the mail queue",
        "idempotency_key": "outage-form-1",
        "save": "1",
    }
    response, seconds = timed(lambda: client.post(reverse("timesheet:log"), form))
    assert response.status_code == HTTPStatus.FOUND, response.content[:500]
    assert seconds < 1, f"the web form took {seconds:.2f}s with Redis down"

    body = {
        "agreement": str(agreement.public_id),
        "ticket_number": "4712",
        "ticket_subject": "VPN",
        "work_date": timezone.localdate().isoformat(),
        "minutes": 240,
        "work_type": work_type().pk,
        "notes": "Reissued certificates",
    }
    response, seconds = timed(lambda: api.post("/api/v1/time-entries/", body, format="json"))
    assert response.status_code == HTTPStatus.CREATED, response.content[:500]
    assert seconds < 1, f"the API took {seconds:.2f}s with Redis down"

    assert TimeEntry.objects.filter(agreement=agreement).count() == 2
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 120  # at the threshold: low
    # Each request tried to queue the agreement check and was told the broker is down.
    queueing = [r for r in caplog.records if r.name == "monitoring.queueing"]
    assert [record.getMessage().split(" (")[0] for record in queueing] == [
        f"Could not queue notifications.tasks.check_agreement({agreement.pk},)"
    ] * 2
    assert not Episode.objects.exists()

    redis.start()
    metrics_port = free_port()
    worker_env = {
        "WORKER_METRICS_PORT": str(metrics_port),
        "CELERY_BROKER_URL": redis.url(0),
        "CACHE_URL": redis.url(1),
        "LOW_BALANCE_SWEEP_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    with worker_and_beat(tmp_path, queue="celery", extra_env=worker_env):
        wait_until(
            lambda: (
                OutgoingEmail.objects.exists() and not OutgoingEmail.objects.exclude(status=EmailStatus.SENT).exists()
            ),
            timeout=60,
            what="the reload invoice and its emails",
        )
        # The worker counted what it ran, on its own metrics port.
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    succeeded = {
        sample.labels["task"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "blockhours_celery_tasks_total" and sample.labels["outcome"] == "succeeded"
    }
    assert succeeded["notifications.tasks.sweep_low_balances"] >= 1
    assert succeeded["notifications.tasks.process_episode"] >= 1
    assert succeeded["notifications.tasks.send_email"] >= 2

    episode = Episode.objects.get()
    assert episode.agreement == agreement
    assert episode.balance_at_open == 120
    assert episode.processed_at is not None
    assert episode.reload_invoice.pdf.name
    assert sorted(OutgoingEmail.objects.values_list("recipient", "status")) == [
        ("billing@outage-dental.example", EmailStatus.SENT),
        ("staff@msp.example", EmailStatus.SENT),
    ]
    assert len(list((tmp_path / "mail").iterdir())) == 2


@pytest.mark.django_db
def test_selling_paying_and_voiding_answer_at_once_with_redis_down_and_the_pdf_is_rendered_on_download(
    tmp_path, client, seller, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    """No worker needed: the catch-up of a lost PDF render is the download itself."""
    settings.MEDIA_ROOT = tmp_path / "media"
    staff = StaffFactory(username="outage-seller")
    agreement = AgreementFactory(client=ClientFactory(name="Outage Legal"))
    client.force_login(staff)
    caplog.set_level(logging.WARNING, logger="monitoring.queueing")
    with redis_server(tmp_path) as redis, celery_publishing_to(redis.url(0), monkeypatch):
        redis.stop()

        def committed(call):
            """Run `call` and then its on-commit callbacks (the queueing), timing both."""
            start = time.monotonic()
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                result = call()
            assert callbacks, "nothing was queued"
            return result, time.monotonic() - start

        sold, sell_seconds = committed(
            lambda: billing_services.invoice_sell_block(agreement=agreement, tier=tier(10), actor=staff)
        )
        _, pay_seconds = committed(
            lambda: billing_services.payment_record(
                invoice=sold,
                amount=sold.total,
                method="ach",
                reference="ACH-1",
                paid_on=timezone.localdate(),
                actor=staff,
            )
        )
        second = billing_services.invoice_sell_block(agreement=agreement, tier=tier(10), actor=staff)
        _, void_seconds = committed(
            lambda: billing_services.invoice_void(invoice=second, actor=staff, reason="Sold twice")
        )

        pdf = client.get(reverse("billing:invoice_pdf", args=[sold.public_id]))

    assert (sell_seconds < 1, pay_seconds < 1, void_seconds < 1) == (True, True, True)
    sold.refresh_from_db()
    assert sold.status == "paid"
    assert pdf.status_code == HTTPStatus.OK
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]).startswith(b"%PDF")
    assert {r.getMessage().split("(")[0] for r in caplog.records if r.name == "monitoring.queueing"} == {
        "Could not queue billing.tasks.render_invoice_pdf"
    }


@pytest.mark.redis
@pytest.mark.django_db
def test_a_redis_that_accepts_but_never_answers_costs_well_under_a_second(client, settings, monkeypatch):
    """The worse outage: connections open (the kernel accepts them) and nothing
    ever answers. The socket timeouts of the settings bound the wait."""
    assert app.conf.broker_url.startswith("redis://"), "the test process must be configured for a Redis broker"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accepted, never answered
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}"
        settings.CACHES = {
            "default": {
                **settings.CACHES["default"],
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"{url}/1",
            }
        }
        with celery_publishing_to(f"{url}/0", monkeypatch):
            published, publish_seconds = timed(
                lambda: task_publish(check_agreement, 1, catch_up="the next low-balance sweep")
            )
            ready, ready_seconds = timed(lambda: client.get("/readyz"))

    assert published is False
    assert publish_seconds < 0.8
    assert ready.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert ready.json()["failing"] == ["broker", "cache"]
    assert ready_seconds < 1
