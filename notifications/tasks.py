"""Celery tasks: ids in, services do the work, safe to run twice.

`acks_late` with `reject_on_worker_lost` is used only where a database row
guards the effect (the episode's processed_at, the email's status): a task
redelivered after a worker died finds the row and does nothing twice.
"""

from celery import shared_task
from django.conf import settings
from django.db import transaction

from monitoring.queueing import task_publish
from notifications import estimates, services


def _queue_processing(episode_id: int) -> None:
    # Catch-up: the beat sweep hands every episode without processed_at to a worker again.
    task_publish(process_episode, episode_id, catch_up="the next low-balance sweep (unprocessed episode)")


def queue_sending(email_id: int) -> None:
    # Catch-up: the row stays "pending"; the beat sweep queues every pending email that is due.
    task_publish(send_email, email_id, catch_up="the next low-balance sweep (pending email)")


def account_email_queue(*, user, kind: str, subject: str, body_text: str) -> None:  # noqa: ANN001
    """The outbox that accounts hands its emails to (settings.ACCOUNT_EMAIL_OUTBOX).
    Catch-up path: the row is pending until sent, so the sweep resends it if
    this message is lost with the broker."""
    services.account_email_record(user=user, kind=kind, subject=subject, body_text=body_text, send=queue_sending)


@shared_task(name="notifications.tasks.sweep_low_balances", max_retries=0, time_limit=600, soft_time_limit=540)
def sweep_low_balances() -> list[str]:
    """Beat: select and claim only; each agreement's work runs as its own task."""
    lines = services.sweep(process=_queue_processing, send=queue_sending).lines()
    return lines + _overruns(None)


@shared_task(name="notifications.tasks.check_agreement", max_retries=0, time_limit=300, soft_time_limit=240)
def check_agreement(agreement_id: int) -> list[str]:
    """The sweep for one agreement, right after its balance changed."""
    lines = services.sweep(process=_queue_processing, send=queue_sending, agreement_id=agreement_id).lines()
    return lines + _overruns(agreement_id)


def _overruns(agreement_id: int | None) -> list[str]:
    """Time beyond approved estimates, flagged to staff once each (checked with the balance)."""
    flagged = estimates.estimate_overruns_notify(send=queue_sending, agreement_id=agreement_id)
    return [f"estimate overrun flagged: {estimate.public_id}" for estimate in flagged]


def queue_agreement_check(agreement_id: int) -> None:
    """Check an agreement once the current transaction commits (web and API call
    this after logging time), instead of waiting for the next beat sweep."""
    # Catch-up: the beat sweep looks at every agreement, so a lost check only
    # delays the episode to the next sweep. task_publish never raises for a
    # broker outage: the time entry is committed and the request succeeds.
    transaction.on_commit(
        lambda: task_publish(check_agreement, agreement_id, catch_up="the next low-balance sweep"), robust=True
    )


@shared_task(
    name="notifications.tasks.process_episode",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    time_limit=300,
    soft_time_limit=240,
)
def process_episode(episode_id: int) -> str:
    return services.episode_process(episode_id=episode_id, send=queue_sending)


@shared_task(
    bind=True,
    name="notifications.tasks.send_email",
    acks_late=True,
    reject_on_worker_lost=True,
    # The row, not this count, bounds the attempts (EMAIL_MAX_ATTEMPTS): when
    # Celery's retries run out the row stays pending and the sweep resends it.
    max_retries=settings.EMAIL_MAX_ATTEMPTS,
    time_limit=120,
    soft_time_limit=100,
)
def send_email(self, email_id: int) -> str:
    result = services.email_send(email_id=email_id, send=queue_sending)
    if result.outcome == "retry" and self.request.retries < self.max_retries:
        # The row stays "pending" with its next attempt time, so the sweep
        # resends it even if this retry message is lost with the broker.
        raise self.retry(countdown=result.retry_in)
    return result.outcome


@shared_task(name="notifications.tasks.bill_overage", max_retries=0, time_limit=1800, soft_time_limit=1700)
def bill_overage() -> list[str]:
    """Monthly close: invoice and email every agreement's unbilled overage."""
    return services.overage_close(send=queue_sending).lines()


@shared_task(name="notifications.tasks.send_expiry_notices", max_retries=0, time_limit=600, soft_time_limit=540)
def send_expiry_notices() -> int:
    """Daily: notices for hours and terms ending within EXPIRY_NOTICE_DAYS."""
    return services.expiry_notices_record(send=queue_sending).recorded


@shared_task(name="notifications.tasks.renew_agreements", max_retries=0, time_limit=1800, soft_time_limit=1700)
def renew_agreements() -> list[str]:
    """Daily: renewal invoices due, and terms that renew or end; safe to run twice."""
    return services.renewals_run(send=queue_sending).lines()
