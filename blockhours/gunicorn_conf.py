"""gunicorn settings file (`gunicorn --config python:blockhours.gunicorn_conf`).

Workers and threads: on 2 cores, 3 single-threaded workers served the
hot time-entry POST faster and with a shorter tail than 4 workers of 4
threads (figures in bench/README.md, issue 20): the work is CPU-bound
Python, so threads in one process only queue on its interpreter lock,
and more processes than cores plus one only trade places. Set
WEB_CONCURRENCY (workers) and WEB_THREADS for another machine; gthread
with one thread keeps HTTP keep-alive, which the sync worker drops.

In prometheus_client's multiprocess mode a worker that exits leaves its
files behind: its counters keep counting in the totals (as they should), and
this hook drops its live gauges.
"""

import gc
import os

workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("WEB_THREADS", "1"))
worker_class = "gthread"
keepalive = 5


# Python's cyclic garbage collector runs a young-generation pass every 700
# allocations by default: several passes per request, each walking the
# objects allocated since. Frozen, the objects the app loaded at start (models,
# URLconf, serializers: most of the heap) are never walked again; the higher
# threshold makes the young passes rarer. Reference counting still frees
# nearly everything at once: this delays only the collection of cycles.
GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Import the URLconf (views, serializers) first, so that it is frozen too."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def post_worker_init(worker) -> None:  # noqa: ANN001
    """After the worker has loaded the app."""
    tune_gc()


def child_exit(server, worker) -> None:  # noqa: ANN001
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
