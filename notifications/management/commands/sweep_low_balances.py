from django.core.management.base import BaseCommand

from notifications import services


class Command(BaseCommand):
    help = "Run the low-balance sweep once, now, in this process (for cron users and operators)."

    def handle(self, *args: object, **options: object) -> None:
        processed: list[int] = []
        sent: list[str] = []

        def process(episode_id: int) -> None:
            outcome = services.episode_process(episode_id=episode_id, send=send)
            processed.append(episode_id)
            self.stdout.write(f"  episode {episode_id}: {outcome}")

        def send(email_id: int) -> None:
            result = services.email_send(email_id=email_id, send=send)
            sent.append(result.outcome)
            self.stdout.write(f"  email {email_id}: {result.outcome}")

        report = services.sweep(process=process, send=send)
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(f"Done: {len(processed)} episode(s) processed, {sent.count('sent')} email(s) sent.")
        )
