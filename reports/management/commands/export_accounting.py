import csv
import datetime

from django.core.management.base import BaseCommand, CommandError

from reports import accounting
from ui.csv import safe_cell


class Command(BaseCommand):
    help = (
        "Write invoices, credit notes, payments or the deferred-revenue journal of a date range as CSV in "
        "QuickBooks Online's or Xero's import format (the same file as Reports → Export to accounting)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("software", choices=list(accounting.SOFTWARE))
        parser.add_argument("document", choices=list(accounting.DOCUMENTS))
        parser.add_argument("--from", dest="first", type=datetime.date.fromisoformat, required=True,
                            help="first day (YYYY-MM-DD)")  # fmt: skip
        parser.add_argument("--to", dest="last", type=datetime.date.fromisoformat, required=True,
                            help="last day (YYYY-MM-DD)")  # fmt: skip
        parser.add_argument("--currency", default=None, help="only this currency (e.g. USD)")
        parser.add_argument("--output", default=None, help="write to this file instead of standard output")

    def handle(self, *args: object, software: str, document: str, first, last, currency, output, **options):
        try:
            export = accounting.accounting_export(
                software=software, document=document, first=first, last=last, currency=currency
            )
        except accounting.ExportRefused as refused:
            raise CommandError(str(refused)) from refused
        stream = open(output, "w", newline="", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        try:
            writer = csv.writer(stream)
            writer.writerow(export.header)
            writer.writerows([safe_cell(cell) for cell in row] for row in export.rows)
        finally:
            if output:
                stream.close()
        if output:
            self.stderr.write(f"{len(export.rows)} rows written to {output}")
