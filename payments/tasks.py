"""Payments' background work: ids in, services do the work, safe to run twice."""

from celery import shared_task

from payments import services


@shared_task(name="payments.tasks.reconcile", max_retries=0, time_limit=600, soft_time_limit=540)
def reconcile() -> list[str]:
    """Beat: apply what Stripe knows and a webhook did not tell us (each intent once, under its invoice lock)."""
    return services.reconcile().lines()


@shared_task(
    name="payments.tasks.charge_reload_invoice",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    time_limit=120,
    soft_time_limit=100,
)
def charge_reload_invoice(self, invoice_id: int) -> str:  # noqa: ANN001
    """Charge an auto-reload invoice to the method on file. Safe to run twice:
    the intent row, the attempt committed before the call (a retry adopts the
    intent Stripe already has for the invoice) and Stripe's idempotency key keep it to one charge."""
    from payments import provider

    try:
        return services.reload_invoice_charge(invoice_id=invoice_id)
    except (provider.stripe.APIConnectionError, provider.stripe.RateLimitError) as error:
        raise self.retry(exc=error, countdown=60 * 2**self.request.retries) from error


@shared_task(
    name="payments.tasks.send_refund",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    time_limit=120,
    soft_time_limit=100,
)
def send_refund(self, refund_id: int) -> str:  # noqa: ANN001
    """Return a credit note's money through Stripe. Safe to run twice: the row
    (locked while Stripe is called) and the idempotency key keep it to one refund.
    A Stripe error leaves the row failed for staff to retry; the beat's
    reconciliation sends what a lost message left queued."""
    from payments import refunds

    return refunds.refund_send(refund_id=refund_id)
