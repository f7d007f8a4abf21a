from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications.tasks import queue_sending
from reports.statements import parse_month, previous_month, statements_send


class Command(BaseCommand):
    help = "Email every client with activity in a month its statement (PDF), once per client and month."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--month", help="YYYY-MM; default: the month that just ended")

    def handle(self, *args: object, month: str | None = None, **options: object) -> None:
        try:
            first = parse_month(month) if month else previous_month(timezone.localdate())
        except ValueError:
            raise CommandError(f"--month must look like 2026-03, not {month!r}") from None
        try:
            run = statements_send(month=first, send=queue_sending)
        except ValueError as error:
            raise CommandError(str(error)) from None
        for line in run.lines():
            self.stdout.write(line)
