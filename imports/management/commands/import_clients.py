"""manage.py import_clients FILE [--commit]: a dry run unless --commit."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from imports.parsing import FileRefused, parse
from imports.services import ImportFailed, import_apply, import_plan


class Command(BaseCommand):
    help = "Import clients, agreements and opening balances from a CSV file (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--commit", action="store_true", help="Write the rows (all or none); default: dry run.")

    def handle(self, *args: object, file: Path, commit: bool, **options: object) -> None:
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        try:
            plan = import_plan(parse(data))
        except FileRefused as error:
            raise CommandError(str(error)) from None
        counts = plan.counts()
        for error in plan.errors:
            self.stderr.write(str(error))
        summary = (
            f"{counts['rows']} rows: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['unchanged']} unchanged; {counts['clients']} new clients, {counts['contacts']} new contacts, "
            f"{counts['opening_balances']} opening balances ({counts['opening_minutes']} min); "
            f"{counts['errors']} errors"
        )
        if plan.errors:
            raise CommandError(f"{summary}. Nothing imported.")
        if not commit:
            self.stdout.write(f"Dry run: {summary}. Run again with --commit to import.")
            return
        try:
            with transaction.atomic():
                result = import_apply(data=data, actor=None)
        except ImportFailed as error:
            raise CommandError(f"Nothing imported: {error}") from None
        c = result.counts
        self.stdout.write(
            f"Imported: {c['create']} agreements created, {c['update']} updated, {c['unchanged']} unchanged; "
            f"{c['opening_balances']} opening balances ({c['opening_minutes']} min)."
        )
