from django.core.management.base import BaseCommand

from notifications import services
from notifications.tasks import queue_sending


class Command(BaseCommand):
    help = (
        "Invoice the unbilled overage of every bill-overage agreement now and email each invoice "
        "(what beat does on the 1st of the month); --dry-run only shows it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="show what would be invoiced; change nothing")

    def handle(self, *args: object, dry_run: bool = False, **options: object) -> None:
        report = services.overage_close(send=queue_sending, dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
