from django.core.management.base import BaseCommand, CommandError

from payments import provider, services


class Command(BaseCommand):
    help = "Ask Stripe about every open PaymentIntent of ours and record the payments a webhook missed."

    def handle(self, *args: object, **options: object) -> None:
        if not provider.enabled():
            raise CommandError("Online payments are off: set STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY.")
        for line in services.reconcile().lines():
            self.stdout.write(line)
