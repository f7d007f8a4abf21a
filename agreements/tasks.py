from celery import shared_task

from agreements.runway import burn_recompute
from agreements.services import blocks_expire
from agreements.summaries import dashboard_figures_refresh


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


@shared_task(name="agreements.tasks.refresh_dashboard_figures", time_limit=120, soft_time_limit=100)
def refresh_dashboard_figures() -> None:
    """Every DASHBOARD_FIGURES_SECONDS: recount the staff dashboard's totals
    into the cache, so no page view pays for scanning every agreement. A
    missed run costs nothing but freshness (the next one recounts), so no retry."""
    dashboard_figures_refresh()
