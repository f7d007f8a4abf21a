"""Prometheus metrics (prometheus_client), defined once for every process.

Counters and histograms live in the process that observes them. Under
gunicorn each worker process counts its own share: with
PROMETHEUS_MULTIPROC_DIR set (docker-compose does), prometheus_client writes
them to files in that folder and /metrics adds up every process. Figures that
the database already knows (emails by status, episodes opened, the last
sweep) are read from it at scrape time instead (notifications.metrics), so
they are right whichever process answers.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "blockhours_http_requests",
    "HTTP requests answered, by method, route and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "blockhours_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "route"],
)
TASK_OUTCOMES = Counter(
    "blockhours_celery_tasks",
    "Celery tasks finished in this worker, by task and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
)
TASK_PUBLISH_FAILURES = Counter(
    "blockhours_task_publish_failures",
    "Tasks the broker could not take; their catch-up path does the work later.",
    ["task"],
)
RATE_LIMIT_FAIL_OPEN = Counter(
    "blockhours_rate_limit_fail_open",
    "Requests let through without a rate-limit check because the cache was unreachable.",
    ["limiter"],
)
# 1 while the last rate-limit check in a process found the cache unreachable.
RATE_LIMIT_DEGRADED = Gauge(
    "blockhours_rate_limit_degraded",
    "1 when the last rate-limit check could not reach the cache (limits are off), else 0.",
    multiprocess_mode="livemax",
)


# Collectors that read the database when /metrics is scraped; apps above this
# one register theirs in AppConfig.ready() (this app imports none of them).
_scrape_collectors: list[Collector] = []


def scrape_collector_register(collector: Collector) -> None:
    _scrape_collectors.append(collector)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric: this process's (or, in multiprocess
    mode, every process's that shares PROMETHEUS_MULTIPROC_DIR) and the
    database figures read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    for collector in _scrape_collectors:
        database.register(collector)
    return generate_latest(processes) + generate_latest(database), CONTENT_TYPE_LATEST
