"""Background work of accounts: the password-reset link, found and written by
a worker so the web request takes the same time for every address."""

from celery import shared_task
from django.db import transaction
from django.utils import translation

from accounts.forms import PasswordResetForm

RESET_SUBJECT = "emails/password-reset-subject.txt"
RESET_BODY = "emails/password-reset-body.txt"


@shared_task(
    name="accounts.tasks.password_reset_send", max_retries=0, time_limit=60, soft_time_limit=50, ignore_result=True
)
def password_reset_send(email: str, language: str, domain: str, use_https: bool) -> None:
    """Record a reset link for each active account with this address (none
    for an unknown one); the outbox sends it, retries it, and shows staff if
    it fails."""
    form = PasswordResetForm({"email": email})
    if form.is_valid():
        with translation.override(language):
            form.save(
                domain_override=domain,
                use_https=use_https,
                subject_template_name=RESET_SUBJECT,
                email_template_name=RESET_BODY,
            )


def queue_password_reset(*, email: str, language: str, domain: str, use_https: bool) -> None:
    """Queue the reset for any address, known or not: the request does the same
    work either way, so its timing tells nothing about which addresses have
    accounts. Queued after commit and `robust`: with the broker down the
    request is lost (nothing was recorded to catch up from, since recording
    only known addresses would show in the timing again) and the person asks
    again; the page never fails."""
    transaction.on_commit(
        lambda: password_reset_send.delay(email, language, domain, use_https),
        robust=True,
    )
