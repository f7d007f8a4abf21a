from celery import shared_task

from agreements.services import blocks_expire


@shared_task(name="agreements.tasks.expire_blocks", max_retries=3, time_limit=600, soft_time_limit=540)
def expire_blocks() -> int:
    """Daily: write expiry entries for unused minutes of blocks past their end date.

    Safe to run twice: a block with nothing left gets no second entry.
    """
    return blocks_expire()
