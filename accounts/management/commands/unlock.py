from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.backends import account_for_identifier


class Command(BaseCommand):
    help = (
        "Lift the sign-in lockout of an account (its username or email address), or of everyone with --all: "
        "the last resort when no staff member can sign in to unlock from the dashboard."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", nargs="?", help="username or email address of the locked account")
        parser.add_argument("--all", action="store_true", help="lift every lockout, of every account and address")

    def handle(self, *args: object, **options: object) -> None:
        name, everyone = options["account"], options["all"]
        if bool(name) == bool(everyone):
            raise CommandError("Name one account, or give --all.")
        if everyone:
            removed = services.lockouts_clear_all(actor=None)
            self.stdout.write(self.style.SUCCESS(f"Every lockout lifted ({removed} failed sign-in records removed)."))
            return
        user = account_for_identifier(str(name))
        username = user.username if user is not None else str(name).strip().lower()
        try:
            removed = services.lockout_clear(kind="account", value=username, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Unlocked account {username} ({removed} failed sign-in records removed).")
        )
