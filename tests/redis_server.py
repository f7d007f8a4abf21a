"""A private redis-server for tests that stop and start Redis on purpose:
on a free port of its own, never the shared server other tests use."""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from blockhours.celery import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A running redis-server; the test may stop() and start() it again (same port)."""
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _reset_publisher() -> None:
    app._after_fork()  # forget the pooled connections and producers (kept open for the old URL)
    # And the result backend, made again from the configuration when next used.
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@contextmanager
def celery_publishing_to(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process publishes to `url`, for real (not eagerly), with the result
    backend there too, as an installation that sets CELERY_RESULT_BACKEND to
    its REDIS_URL has it: no task may wait on it."""
    before = app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager
    # Celery reads these two from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", url)
    app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager = url, url, False
    _reset_publisher()
    try:
        assert app.connection_for_write().as_uri().endswith(f":{url.split(':')[-1]}")
        yield
    finally:
        monkeypatch.undo()
        app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager = before
        _reset_publisher()
