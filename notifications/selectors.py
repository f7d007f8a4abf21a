"""Reads for the pages and /metrics: is the low-balance sweep keeping up?"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from notifications.models import SweepRun

LOW_BALANCE_SWEEP = "low_balance"
BEAT_ENTRY = "sweep-low-balances"


def sweep_interval() -> datetime.timedelta:
    """How often beat runs the sweep, read from the beat schedule itself."""
    schedule = settings.CELERY_BEAT_SCHEDULE[BEAT_ENTRY]["schedule"]
    if isinstance(schedule, datetime.timedelta):
        return schedule
    if isinstance(schedule, int | float):
        return datetime.timedelta(seconds=schedule)
    return schedule.run_every  # a celery.schedules.schedule


@dataclass(frozen=True)
class SweepStatus:
    last: SweepRun | None
    interval: datetime.timedelta
    overdue: bool  # no full sweep finished within two intervals (or ever)


def sweep_status(*, now: datetime.datetime | None = None) -> SweepStatus:
    now = now or timezone.now()
    interval = sweep_interval()
    last = SweepRun.objects.filter(job=LOW_BALANCE_SWEEP).first()
    overdue = last is None or now - last.finished_at > 2 * interval
    return SweepStatus(last=last, interval=interval, overdue=overdue)
