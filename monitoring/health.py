"""Readiness checks: can this process reach the database, the broker and the
cache? Each check is short and they run side by side, so /readyz answers
within a second even when a server does not answer at all."""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from celery import current_app
from django.core.cache import cache
from django.db import connection

log = logging.getLogger(__name__)

# /readyz answers within a second: a check still running after this long fails as "timeout".
DEADLINE_SECONDS = 0.8


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection: never left open


def _broker() -> None:
    with current_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=0, timeout=DEADLINE_SECONDS)


def _cache() -> None:
    cache.get("readyz")


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "broker": _broker, "cache": _cache}


def readiness() -> dict[str, str]:
    """{"database": "ok" | "unreachable" | "timeout", "broker": …, "cache": …}."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=DEADLINE_SECONDS)
    # A check that hangs keeps its thread until its own timeout; the answer does not wait for it.
    pool.shutdown(wait=False, cancel_futures=True)
    results = {}
    for name, future in futures.items():
        if not future.done():
            results[name] = "timeout"
        elif future.exception() is not None:
            log.warning("Readiness: %s unreachable: %s", name, future.exception())
            results[name] = "unreachable"
        else:
            results[name] = "ok"
    return results
