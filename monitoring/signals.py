"""Celery task outcomes, counted in the process that runs the task (a
worker), and the worker's own /metrics port (WORKER_METRICS_PORT).

A prefork worker runs tasks in child processes: with PROMETHEUS_MULTIPROC_DIR
set, each child writes its counts to that folder and the port, served by the
main process, adds them up (docker-compose sets it). A solo worker needs none.
"""

import os

from celery.signals import task_failure, task_retry, task_success, worker_init, worker_process_shutdown
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from monitoring.metrics import TASK_OUTCOMES


@task_success.connect
def _succeeded(sender=None, **kwargs) -> None:  # noqa: ANN001
    TASK_OUTCOMES.labels(task=sender.name, outcome="succeeded").inc()


@task_failure.connect
def _failed(sender=None, **kwargs) -> None:  # noqa: ANN001
    TASK_OUTCOMES.labels(task=sender.name, outcome="failed").inc()


@task_retry.connect
def _retried(sender=None, **kwargs) -> None:  # noqa: ANN001
    TASK_OUTCOMES.labels(task=sender.name, outcome="retried").inc()


@worker_init.connect
def _serve_worker_metrics(**kwargs) -> None:  # noqa: ANN003
    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    # Inside the compose network only (the port is not published); see README.
    start_http_server(port, addr=settings.WORKER_METRICS_ADDRESS, registry=registry)


@worker_process_shutdown.connect
def _forget_child(pid=None, **kwargs) -> None:  # noqa: ANN001, ANN003
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and pid:
        multiprocess.mark_process_dead(pid)
