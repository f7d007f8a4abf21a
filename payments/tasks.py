"""Payments' background work: ids in, services do the work, safe to run twice."""

from celery import shared_task

from payments import services


@shared_task(name="payments.tasks.reconcile", max_retries=0, time_limit=600, soft_time_limit=540)
def reconcile() -> list[str]:
    """Beat: apply what Stripe knows and a webhook did not tell us (each intent once, under its invoice lock)."""
    return services.reconcile().lines()
