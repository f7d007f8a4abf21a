from celery import shared_task

from agreements.runway import burn_recompute
from agreements.services import blocks_expire


@shared_task(name="agreements.tasks.expire_blocks", max_retries=3, time_limit=600, soft_time_limit=540)
def expire_blocks() -> int:
    """Daily: write expiry entries for unused minutes of blocks past their end date.

    Safe to run twice: a block with nothing left gets no second entry.
    """
    return blocks_expire()


@shared_task(name="agreements.tasks.recompute_burn", max_retries=3, time_limit=600, soft_time_limit=540)
def recompute_burn() -> int:
    """Nightly: recount the cached burn of every agreement not yet counted for
    the new day (the 8-week window slid). Safe to run twice or at any hour:
    a recount, and a row counted for today is exact already (why only the
    others: agreements.runway.burn_recompute)."""
    return burn_recompute(stale_only=True)
