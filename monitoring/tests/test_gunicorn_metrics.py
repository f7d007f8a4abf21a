"""A real gunicorn: under it each worker process counts its own requests;
with PROMETHEUS_MULTIPROC_DIR (as docker-compose sets it) /metrics adds up
every worker's, whichever worker answers the scrape. And with the database
down, /healthz stays alive and /readyz names the database."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-gunicorn-test"


def get(url: str, data: bytes | None = None, **headers: str) -> bytes:
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a local test server
        return response.read()


def requests_counted(base: str, *, method: str = "GET") -> float:
    """What /metrics says about requests to /healthz with `method`."""
    text = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}").decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "blockhours_http_requests_total"
                and sample.labels.get("route") == "healthz"
                and sample.labels.get("method") == method
            ):
                return sample.value
    return 0.0


@contextmanager
def gunicorn(tmp_path: Path, *, workers: int, **env: str) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "blockhours.wsgi",
            "--config",
            "python:blockhours.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "METRICS_TOKEN": TOKEN,
            "BLOCKHOURS_VAR_DIR": str(tmp_path / "var"),
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_RESULT_BACKEND": "",
            "CACHE_URL": "",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_metrics_add_up_the_requests_of_every_gunicorn_worker(tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    # Nothing here needs the database: /healthz never reads it, and /metrics
    # leaves the database figures out when it cannot (no tables in this file).
    database = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    with gunicorn(tmp_path, workers=3, PROMETHEUS_MULTIPROC_DIR=str(folder), DATABASE_URL=database) as base:
        # POSTs (refused by the CSRF check): a series of their own, untouched by
        # the start-up polling, which a slow worker may still be answering.
        for _ in range(30):
            with pytest.raises(urllib.error.HTTPError) as refused:
                get(f"{base}/healthz", data=b"")
            assert refused.value.code == HTTPStatus.FORBIDDEN

        assert requests_counted(base, method="POST") == 30
        # Three worker processes, each with files of its own (one per pid).
        assert len(list(folder.glob("gauge_livemax_*.db"))) == 3


def test_with_the_database_down_it_is_alive_but_not_ready(tmp_path):
    nobody_listens = f"postgres://postgres@127.0.0.1:{free_port()}/blockhours"
    with gunicorn(tmp_path, workers=1, DATABASE_URL=nobody_listens) as base:
        assert json.loads(get(f"{base}/healthz")) == {"status": "ok"}
        start = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as answer:
            get(f"{base}/readyz")
        seconds = time.monotonic() - start
        # The process metrics are still served; the database figures are left out.
        assert requests_counted(base) >= 1

    assert answer.value.code == HTTPStatus.SERVICE_UNAVAILABLE
    assert json.loads(answer.value.read()) == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "broker": "ok", "cache": "ok"},
        "failing": ["database"],
    }
    assert seconds < 1
