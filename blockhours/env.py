"""Typed readers for settings that come from environment variables.

Each helper returns a default when the variable is unset, so a fresh checkout
works with no configuration at all; `*_FILE` variants let container secrets be
mounted as files instead of passed in the environment.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_crontab(name: str, default: str):  # -> celery.schedules.crontab
    """A Celery crontab from a five-field cron string ("minute hour day month weekday")."""
    from celery.schedules import crontab

    expression = env_str(name, default)
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{name} must have five cron fields, got {expression!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


# The Redis settings a parallel test run gives each worker a database of its own.
_REDIS_VARIABLES = {"REDIS_URL": 1, "CELERY_BROKER_URL": 1, "CELERY_RESULT_BACKEND": 1, "CACHE_URL": -1}


def separate_test_worker_redis() -> None:
    """Under pytest-xdist each worker has a test database of its own; give it
    its own Redis databases too, so no worker empties another's cache or
    reads its queue. Worker gw0 keeps the URLs as they are; worker gwN moves
    the broker's database up by N and the cache's down by N (broker 0 and
    cache 15 by default: they never meet with fewer than 8 workers). Changed
    in the environment itself, so servers a test starts inherit them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not worker[2:].isdigit() or worker == "gw0":
        return
    # Once per worker: a process the worker starts inherits the moved URLs.
    if os.environ.get("BLOCKHOURS_TEST_WORKER_REDIS") == worker:
        return
    os.environ["BLOCKHOURS_TEST_WORKER_REDIS"] = worker
    index = int(worker[2:])
    for name, step in _REDIS_VARIABLES.items():
        url = os.environ.get(name, "")
        if not url.startswith(("redis://", "rediss://")):
            continue
        parts = urlsplit(url)
        db = int(parts.path.strip("/") or 0)
        os.environ[name] = urlunsplit(parts._replace(path=f"/{db + step * index}"))
