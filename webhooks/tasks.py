"""Delivering webhooks: ids in, services do the work, safe to run twice."""

from celery import shared_task

from monitoring.queueing import task_publish
from webhooks import services


def queue_delivery(delivery_id: int) -> None:
    # Catch-up: the row stays pending and due; send_due_webhooks queues it again.
    task_publish(deliver_webhook, delivery_id, catch_up="the next webhook catch-up run (pending delivery)")


@shared_task(bind=True, name="webhooks.tasks.deliver_webhook", max_retries=60, time_limit=120, soft_time_limit=100)
def deliver_webhook(self, delivery_id: int) -> str:  # noqa: ANN001
    result = services.delivery_attempt(delivery_id=delivery_id)
    if result.outcome == "retry" and self.request.retries < self.max_retries:
        # The row keeps its due time, so send_due_webhooks sends it even if this message is lost.
        raise self.retry(countdown=result.retry_in)
    return result.outcome


@shared_task(name="webhooks.tasks.send_due_webhooks", max_retries=0, time_limit=300, soft_time_limit=240)
def send_due_webhooks() -> int:
    """Beat: queue every pending delivery that is due (a lost message, a retry whose message was lost)."""
    due = services.deliveries_due()
    for delivery_id in due:
        queue_delivery(delivery_id)
    return len(due)
