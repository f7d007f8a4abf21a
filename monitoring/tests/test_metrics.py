"""/metrics: Prometheus text format, for the bearer of METRICS_TOKEN only."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from agreements.tests.factories import AgreementFactory
from api.tasks import purge_idempotency_keys
from notifications.models import EmailStatus, Episode, EpisodeKind, OutgoingEmail, SweepRun

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-the-test-0123456789"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_it_is_not_there_without_the_token(client, staff, settings):
    assert client.get("/metrics").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == HTTPStatus.NOT_FOUND
    client.force_login(staff)  # not even for staff: scrapers carry the token
    assert client.get("/metrics").status_code == HTTPStatus.NOT_FOUND
    settings.METRICS_TOKEN = ""  # no token configured: off for everyone
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == HTTPStatus.NOT_FOUND


def test_it_counts_requests_by_route_and_status(client):
    key = ("blockhours_http_requests_total", (("method", "GET"), ("route", "healthz"), ("status", "200")))
    before = scrape(client).get(key, 0)
    client.get("/healthz")
    client.get("/healthz")
    assert scrape(client)[key] == before + 2


def test_it_reports_emails_by_status_and_episodes_from_the_database(client):
    agreement = AgreementFactory()
    episode = Episode.objects.create(agreement=agreement, balance_at_open=60, threshold_at_open=120)
    Episode.objects.create(agreement=agreement, kind=EpisodeKind.EXHAUSTED, balance_at_open=0, threshold_at_open=120)
    for status, recipient in [
        (EmailStatus.PENDING, "a@example.com"),
        (EmailStatus.FAILED, "b@example.com"),
        (EmailStatus.FAILED, "c@example.com"),
    ]:
        OutgoingEmail.objects.create(
            episode=episode,
            agreement=agreement,
            kind="reload_invoice",
            recipient=recipient,
            subject="s",
            body_text="b",
            status=status,
        )

    samples = scrape(client)

    assert {s: samples[("blockhours_emails", (("status", s),))] for s in EmailStatus.values} == {
        "pending": 1,
        "sending": 0,
        "sent": 0,
        "failed": 2,
        "stuck": 0,
    }
    assert samples[("blockhours_episodes_opened_total", (("kind", "low_balance"),))] == 1
    assert samples[("blockhours_episodes_opened_total", (("kind", "exhausted"),))] == 1
    assert samples[("blockhours_episodes_opened_total", (("kind", "usage"),))] == 0
    assert samples[("blockhours_low_balance_sweep_overdue", ())] == 1  # never ran


def test_it_reports_the_last_sweep(client):
    finished = timezone.now() - datetime.timedelta(minutes=3)
    SweepRun.objects.create(
        job="low_balance",
        started_at=finished - datetime.timedelta(seconds=2),
        finished_at=finished,
        duration_ms=1250,
        episodes_opened=4,
    )
    samples = scrape(client)
    assert samples[("blockhours_low_balance_sweep_duration_seconds", ())] == 1.25
    assert samples[("blockhours_low_balance_sweep_last_finished_timestamp_seconds", ())] == finished.timestamp()
    assert samples[("blockhours_low_balance_sweep_last_episodes_opened", ())] == 4
    assert samples[("blockhours_low_balance_sweep_overdue", ())] == 0


def test_it_counts_task_outcomes():
    labels = {"task": "api.tasks.purge_idempotency_keys", "outcome": "succeeded"}
    before = REGISTRY.get_sample_value("blockhours_celery_tasks_total", labels) or 0
    purge_idempotency_keys.apply()
    assert REGISTRY.get_sample_value("blockhours_celery_tasks_total", labels) == before + 1
