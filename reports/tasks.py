"""Beat: the monthly statements, one task per client (a PDF each), so a
large client base is spread over the workers and no task nears its time
limit. Safe to run twice: the email rows guard every statement."""

from celery import shared_task
from django.utils import timezone

from agreements.models import Client
from monitoring.queueing import task_publish
from notifications.tasks import queue_sending
from reports.statements import check_month, clients_with_activity, parse_month, previous_month, statement_send


@shared_task(name="reports.tasks.send_monthly_statements", max_retries=0, time_limit=600, soft_time_limit=540)
def send_monthly_statements(month: str | None = None) -> int:
    """Queue a statement for every client with activity in `month` (YYYY-MM),
    by default the month that just ended; returns how many were queued."""
    first = parse_month(month) if month else previous_month(timezone.localdate())
    check_month(first)
    ids = list(clients_with_activity(first).values_list("pk", flat=True))
    for client_id in ids:
        # Catch-up: `manage.py send_statements --month YYYY-MM` sends what is
        # missing (the email rows guard each statement, so it is safe to rerun).
        task_publish(send_client_statement, client_id, f"{first:%Y-%m}", catch_up="manage.py send_statements")
    return len(ids)


@shared_task(
    name="reports.tasks.send_client_statement",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    time_limit=300,
    soft_time_limit=240,
)
def send_client_statement(client_id: int, month: str) -> str:
    outcome = statement_send(client=Client.objects.get(pk=client_id), month=parse_month(month), send=queue_sending)
    return f"{len(outcome)} email(s)" if isinstance(outcome, list) else outcome
