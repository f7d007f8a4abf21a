from celery import shared_task

from imports.services import import_execute


@shared_task(name="imports.tasks.import_run", max_retries=0, time_limit=3600, soft_time_limit=3500)
def import_run_task(run_id: int) -> str:
    """Import a large confirmed file. Safe to run twice: only a queued run is
    claimed, by a conditional update, so a redelivered task finds it taken.
    Never retried: a failed import is marked failed for staff to see."""
    return import_execute(run_id=run_id, claim_queued=True).status
