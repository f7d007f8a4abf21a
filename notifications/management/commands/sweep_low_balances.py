from django.core.management.base import BaseCommand

from notifications import services


class Command(BaseCommand):
    help = "Run the low-balance sweep once, now, in this process (for cron users and operators)."

    def handle(self, *args: object, **options: object) -> None:
        outcomes: list[str] = []
        sent: list[str] = []

        def process(episode_id: int) -> None:
            # A worker may have handled the episode since the sweep picked it:
            # only what this run did counts as processed.
            outcome = services.episode_process(episode_id=episode_id, send=send)
            outcomes.append(outcome)
            self.stdout.write(f"  episode {episode_id}: {outcome}")

        def send(email_id: int) -> None:
            result = services.email_send(email_id=email_id, send=send)
            sent.append(result.outcome)
            self.stdout.write(f"  email {email_id}: {result.outcome}")

        report = services.sweep(process=process, send=send)
        for line in report.lines():
            self.stdout.write(line)
        processed = outcomes.count("processed")
        elsewhere = len(outcomes) - processed
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {processed} episode(s) processed"
                + (f" ({elsewhere} already handled elsewhere)" if elsewhere else "")
                + f", {sent.count('sent')} email(s) sent."
            )
        )
