import logging
import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blockhours.settings")

app = Celery("blockhours")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


@beat_init.connect
def sweep_when_beat_starts(sender, **kwargs) -> None:  # noqa: ANN001
    """A (re)started beat sweeps at once rather than a whole interval later:
    the sweep works from the database, so it catches up with anything missed
    while beat was down, and a fresh install shows its first sweep at once."""
    try:
        sender.app.send_task("notifications.tasks.sweep_low_balances")
    except Exception as error:  # noqa: BLE001 - the scheduled sweeps still come
        log.warning("The start-up sweep was not queued (%s); the schedule runs it later.", error)
