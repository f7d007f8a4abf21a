from celery import shared_task

from api.services import idempotency_keys_purge


@shared_task(name="api.tasks.purge_idempotency_keys", max_retries=3, time_limit=300, soft_time_limit=240)
def purge_idempotency_keys() -> int:
    """Hourly: forget idempotency keys past API_IDEMPOTENCY_KEY_HOURS.

    Expired keys are already ignored when a request arrives; this only keeps
    the table small. Safe to run twice.
    """
    return idempotency_keys_purge()
