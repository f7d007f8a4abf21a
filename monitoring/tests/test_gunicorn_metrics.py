"""Under gunicorn each worker process counts its own requests; with
PROMETHEUS_MULTIPROC_DIR (as docker-compose sets it) /metrics adds up every
worker's, whichever worker answers the scrape."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-gunicorn-test"


def get(url: str, **headers: str) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a local test server
        return response.read()


def healthz_count(base: str) -> float:
    text = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}").decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "blockhours_http_requests_total" and sample.labels.get("route") == "healthz":
                return sample.value
    return 0.0


def test_metrics_add_up_the_requests_of_every_gunicorn_worker(tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_TOKEN": TOKEN,
        "BLOCKHOURS_VAR_DIR": str(tmp_path / "var"),
        # Nothing here needs the database: /healthz never reads it, and /metrics
        # leaves the database figures out when it cannot (no tables in this file).
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    }
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
            "3",
        ],
        cwd=ROOT,
        env=env,
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
        before = healthz_count(base)

        for _ in range(30):
            get(f"{base}/healthz")

        assert healthz_count(base) == before + 30
        # Three worker processes, each with files of its own (one per pid).
        assert len(list(folder.glob("gauge_livemax_*.db"))) == 3
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
