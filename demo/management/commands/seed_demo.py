"""`manage.py seed_demo`: a realistic demo MSP, built only through the services.

Every balance change goes through the services (sell a block, record its
payment, log time, the renewal run of a renewing term), so the demo ledger is exactly what real use would have
written, on the days it would have been written (demo.seed.write says how).
Dates are relative to today and every random choice comes from one seeded
generator, so runs on the same day build the same data. The history is
replayed in date order across all clients, so invoices, tickets, time
entries and ledger rows are created in the order they would have happened.

The demo itself lives in demo.seed: specs (its shape), clients (who is in
it), plan (the history as dated events) and write (replaying it).

A second run finds the demo staff user and changes nothing.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from agreements.domain import format_minutes
from agreements.models import Agreement
from demo.seed.clients import CLIENTS, STAFF
from demo.seed.plan import Planner
from demo.seed.specs import DEMO_PASSWORD, HISTORY_DAYS
from demo.seed.write import demo_people, demo_usernames, find_conflicts, load_price_list, seed

# Importable from here as before (tests, scripts).
__all__ = ["CLIENTS", "DEMO_PASSWORD", "HISTORY_DAYS", "Command", "Planner", "demo_usernames", "load_price_list"]


class Command(BaseCommand):
    help = "Create a realistic demo (clients, agreements, blocks, months of time entries) and print the logins."

    def handle(self, *args: object, **options: object) -> None:
        # One transaction: a failure leaves nothing behind, and on SQLite the
        # check below and the writes hold the same write lock.
        with transaction.atomic():
            if User.objects.filter(username=STAFF.username).exists():
                self.stdout.write("Demo data already present; nothing changed.")
            else:
                if conflicts := find_conflicts():
                    raise CommandError(f"These demo names are already in use: {', '.join(conflicts)}.")
                try:
                    seed(timezone.localdate())
                except ValidationError as error:
                    raise CommandError(f"Could not create the demo: {'; '.join(error.messages)}") from error
                self.stdout.write(self.style.SUCCESS("Demo data created."))
        self.print_clients()
        self.print_logins()

    def print_clients(self) -> None:
        scenario = {spec.name: spec.scenario for spec in CLIENTS}
        agreements = list(
            Agreement.objects.filter(client__name__in=scenario)
            .select_related("client")
            .order_by("client__name", "position")
        )
        several = {a.client_id for a in agreements if a.position > 1}
        rows = [
            (
                # A client with several agreements gets a row for each, in its order.
                f"{a.client.name}: {a.position}. {a.name}" if a.client_id in several else a.client.name,
                format_minutes(a.balance_minutes),
                format_minutes(a.low_balance_threshold_minutes),
                scenario[a.client.name] + (f" (term ends {a.ends_on:%Y-%m-%d})" if a.ends_on else ""),
            )
            for a in agreements
        ]
        self.stdout.write("")
        self.write_table(("Client", "Balance", "Alert at", "Demonstrates"), rows)

    def print_logins(self) -> None:
        users = User.objects.filter(username__in=demo_usernames()).select_related("client_contact__client")
        by_name = {user.username: user for user in users}
        rows = [login_row(by_name[name]) for name in demo_usernames() if name in by_name]
        self.stdout.write(f"\nOpen {settings.SITE_URL}/ and sign in with any of these.")
        self.stdout.write(f'Every demo login uses the password "{DEMO_PASSWORD}".')
        self.stdout.write("")
        self.write_table(("Username", "Role", "Client"), rows)

    def write_table(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for index, row in enumerate([header, *rows]):
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                self.stdout.write("  ".join("-" * width for width in widths))


def login_row(user: User) -> tuple[str, str, str]:
    person = next((p for p in demo_people() if p.username == user.username), None)
    role = user.get_role_display()
    if user.is_superuser:
        # An admin made before the demo keeps its own password; say so rather than print a wrong one.
        role += " (superuser)" if user.check_password(DEMO_PASSWORD) else " (superuser, own password)"
    elif person and person.title:
        role += f" ({person.title})"
    elif person and user.is_client_contact and person.receives_invoices:
        role += " (gets invoices)"
    contact = getattr(user, "client_contact", None)
    return user.username, role, contact.client.name if contact else "all clients"
