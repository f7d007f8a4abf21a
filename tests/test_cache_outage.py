"""Redis, as the cache, down: rate limits fail open instead of failing every
request. A private redis-server on its own port holds the throttle counters
and is stopped by the test; the API (its anonymous schema too) and password
reset keep answering, with a warning in the log and in the metrics, and the
limits count again once Redis is back."""

import logging
import time
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from agreements.tests.factories import StaffFactory
from api.tests.helpers import api_as
from tests.redis_server import redis_server

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # the factories' password


@pytest.fixture
def redis(tmp_path, settings):
    with redis_server(tmp_path) as server:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": server.url(1),
                "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
            }
        }
        yield server


def fail_open_count(limiter: str) -> float:
    return REGISTRY.get_sample_value("blockhours_rate_limit_fail_open_total", {"limiter": limiter}) or 0.0


def degraded() -> float | None:
    return REGISTRY.get_sample_value("blockhours_rate_limit_degraded")


def test_the_api_and_its_anonymous_schema_answer_while_the_cache_is_down(redis, staff, caplog):
    api = api_as(staff)
    assert api.get("/api/v1/clients/").status_code == HTTPStatus.OK
    assert degraded() == 0
    redis.stop()
    before = fail_open_count("api")

    with caplog.at_level(logging.WARNING, logger="monitoring.failopen"):
        schema = APIClient().get("/api/schema/")  # builds the whole schema: timed by nothing here
        start = time.monotonic()
        listing = api.get("/api/v1/clients/")
        seconds = time.monotonic() - start

    assert schema.status_code == HTTPStatus.OK
    assert listing.status_code == HTTPStatus.OK
    assert seconds < 1
    assert fail_open_count("api") == before + 2
    assert degraded() == 1
    assert "Rate limit 'api' not applied: the cache is unreachable" in caplog.text


def test_password_reset_goes_ahead_while_the_cache_is_down(redis, client, staff):
    redis.stop()
    before = fail_open_count("password_reset")

    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker's part: the recorded email is sent
        response = client.post(reverse("password_reset"), {"email": staff.email})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("password_reset_done")
    assert fail_open_count("password_reset") == before + 1
    assert [message.to for message in mail.outbox] == [[staff.email]]


def test_the_limits_count_again_once_the_cache_is_back(redis, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "2/min"}}
    api = api_as(staff)
    redis.stop()
    # Down: nothing is counted, nothing is refused.
    assert [api.get("/api/v1/clients/").status_code for _ in range(3)] == [HTTPStatus.OK] * 3

    redis.start()

    assert [api.get("/api/v1/clients/").status_code for _ in range(3)] == [
        HTTPStatus.OK,
        HTTPStatus.OK,
        HTTPStatus.TOO_MANY_REQUESTS,
    ]
    assert degraded() == 0


def test_sign_in_lockouts_keep_counting_in_the_database_while_the_cache_is_down(redis, client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = StaffFactory(username="locked-out")
    redis.stop()

    for _ in range(3):
        client.post(reverse("login"), {"username": "locked-out", "password": "wrong"}, REMOTE_ADDR="203.0.113.5")
    refused = client.post(reverse("login"), {"username": "locked-out", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5")

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # Counted in the database (the refused fourth attempt too), not in the cache.
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 4
