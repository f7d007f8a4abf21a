"""Queueing a task without letting a broker outage reach the caller.

Every task the web queues has a catch-up path that works from the database
(the beat sweep, the PDF rendered on demand, the pending email row), so a
message the broker cannot take is logged and counted, never an error page.
Publishing gives up quickly (see the Celery settings), so a request waits
well under a second for a broker that is down.
"""

import logging

from celery import Task
from kombu.exceptions import OperationalError

from monitoring.metrics import TASK_PUBLISH_FAILURES

log = logging.getLogger(__name__)


def task_publish(task: Task, *args: object, catch_up: str) -> bool:
    """Queue `task(*args)`; False when the broker could not take it.

    `catch_up` names what does the work later without this message; it is
    written in the warning so an operator knows nothing is lost.
    """
    try:
        task.delay(*args)
    except OperationalError as error:
        TASK_PUBLISH_FAILURES.labels(task=task.name).inc()
        log.warning("Could not queue %s%r (%s); %s will do it instead.", task.name, args, error, catch_up)
        return False
    return True
