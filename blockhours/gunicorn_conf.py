"""gunicorn settings file (`gunicorn --config python:blockhours.gunicorn_conf`).

In prometheus_client's multiprocess mode a worker that exits leaves its
files behind: its counters keep counting in the totals (as they should), and
this hook drops its live gauges.
"""

import os


def child_exit(server, worker) -> None:  # noqa: ANN001
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
