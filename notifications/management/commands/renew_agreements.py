import datetime

from django.core.management.base import BaseCommand

from notifications import services
from notifications.tasks import queue_sending


class Command(BaseCommand):
    help = (
        "Issue the renewal invoices that are due (emailed with the renewal notice), then renew or end every "
        "agreement past its term and grace days (what beat does daily); --dry-run only shows it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="show what would be done; change nothing")
        parser.add_argument(
            "--today", type=datetime.date.fromisoformat, default=None, help="act as of this date (YYYY-MM-DD)"
        )

    def handle(self, *args: object, dry_run: bool = False, today: datetime.date | None = None, **options: object):
        report = services.renewals_run(send=queue_sending, today=today, dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
