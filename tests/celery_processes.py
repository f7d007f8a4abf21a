"""Start real Celery processes (worker, beat) against the test database, for
integration tests that must see the broker and the scheduler for real."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def celery_process(args: list[str], *, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Run `celery -A blockhours <args>`; on exit, stop it with SIGTERM (a warm shutdown)."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "blockhours", *args],
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def worker_and_beat(tmp_path: Path, *, queue: str, extra_env: dict[str, str] | None = None, beat: bool = True):
    env = {
        "DATABASE_URL": test_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "BLOCKHOURS_VAR_DIR": str(tmp_path),
        **(extra_env or {}),
    }
    with ExitStack() as stack:
        worker = stack.enter_context(
            celery_process(
                ["worker", "--pool=solo", "-Q", queue, "--loglevel=INFO"], env=env, log_path=tmp_path / "worker.log"
            )
        )
        processes = [worker]
        if beat:
            processes.append(
                stack.enter_context(
                    celery_process(
                        ["beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
                        env=env,
                        log_path=tmp_path / "beat.log",
                    )
                )
            )
        yield processes


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll the database (or anything) until `condition()` holds: tasks store
    no results, so a test waits for their effect instead."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)
