"""/healthz and /readyz, for container health checks and load balancers."""

import json
import time
from http import HTTPStatus

import pytest

from tests.redis_server import celery_publishing_to, redis_server


def test_it_answers_liveness_without_touching_the_database(client):
    # No django_db mark: a database query here would fail the test.
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert json.loads(response.content) == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_is_ready_when_database_broker_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.OK
    assert json.loads(response.content) == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "cache": "ok"},
        "failing": [],
    }


@pytest.mark.django_db
def test_it_names_the_broker_and_the_cache_when_redis_is_down_within_a_second(client, tmp_path, settings, monkeypatch):
    with redis_server(tmp_path) as redis:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url(1)}
        }
        with celery_publishing_to(redis.url(0), monkeypatch):
            assert client.get("/readyz").status_code == HTTPStatus.OK
            redis.stop()

            start = time.monotonic()
            response = client.get("/readyz")
            seconds = time.monotonic() - start

            redis.start()
            back = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert json.loads(response.content) == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "unreachable", "cache": "unreachable"},
        "failing": ["broker", "cache"],
    }
    assert seconds < 1
    assert back.status_code == HTTPStatus.OK


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.django_db
def test_probes_carry_the_security_headers(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_probes_answer_get_only(client):
    assert client.post("/healthz").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert client.post("/readyz").status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.django_db
def test_probes_are_answered_over_plain_http_where_pages_redirect_to_https(client, settings):
    """Container health checks call the app directly, not through the TLS proxy."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == HTTPStatus.OK
    assert client.get("/readyz").status_code == HTTPStatus.OK
    assert client.get("/login/").status_code == HTTPStatus.MOVED_PERMANENTLY
