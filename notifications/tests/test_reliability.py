"""Exactly-once under the failures that really happen: two sweeps at the same
moment, an SMTP server that is down and comes back, a real SMTP server
receiving what we send, and the Celery settings that would double-send."""

import datetime
import subprocess
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from django.db import close_old_connections, connection
from django.test import TestCase
from django.utils import timezone

from billing.models import Invoice
from blockhours.celery import app
from notifications import services
from notifications.models import EmailStatus, Episode, OutgoingEmail
from notifications.tests.conftest import sweep_now
from notifications.tests.smtp import Inbox, start_smtp


def test_a_real_smtp_server_receives_both_parts_and_the_pdf(make_low_agreement, smtp_port):
    make_low_agreement(left=30)
    controller, inbox = start_smtp(smtp_port)
    try:
        sweep_now()
    finally:
        controller.stop()
    invoice = Invoice.objects.get()
    received = {tuple(rcpt): msg for rcpt, msg in inbox.messages}
    assert set(received) == {
        ("alice@example.com",),
        ("bob@example.com",),
        ("billing@acme-dental.example",),
        ("owner@northwind.example",),
    }
    message = received[("alice@example.com",)]
    # Folded headers unfold with a leading space; mail clients drop it.
    assert (
        message["Subject"].strip()
        == f"Acme Dental: your support hours are running low — reload invoice {invoice.number}"
    )
    assert message["From"] == "Northwind IT <billing@localhost>"
    assert message["Reply-To"] == "billing@northwind.example"
    assert "30 min remain" in message.get_body(("plain",)).get_content()
    assert "Acme Dental" in message.get_body(("html",)).get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"Invoice-{invoice.number}.pdf"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=attachment.get_content(), capture_output=True, check=True
    ).stdout.decode()
    assert invoice.number in text and "Acme Dental" in text


def test_an_smtp_server_that_is_down_gets_the_email_once_it_is_back(make_low_agreement, smtp_port):
    make_low_agreement(left=30)
    sweep_now()  # nothing listens on the port: connection refused
    pending = OutgoingEmail.objects.filter(status=EmailStatus.PENDING)
    assert pending.count() == 4
    first = pending.first()
    assert first.attempts == 1 and "Connection refused" in first.last_error or "ConnectionRefused" in first.last_error
    assert first.next_attempt_at > timezone.now()

    sweep_now()  # not due yet: nothing is tried again
    assert OutgoingEmail.objects.get(pk=first.pk).attempts == 1

    controller, inbox = start_smtp(smtp_port)
    try:
        OutgoingEmail.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
        sweep_now()
        sweep_now()
    finally:
        controller.stop()
    assert len(inbox.messages) == 4
    assert set(OutgoingEmail.objects.values_list("status", "attempts")) == {(EmailStatus.SENT, 2)}


def test_a_permanent_refusal_is_not_retried(make_low_agreement, smtp_port):
    class Refusing(Inbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            return "550 No such user"

    make_low_agreement(left=30)
    controller = Controller(Refusing(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        sweep_now()
    finally:
        controller.stop()
    assert set(OutgoingEmail.objects.values_list("status", "attempts")) == {(EmailStatus.FAILED, 1)}


def test_an_interrupted_send_is_shown_to_staff_not_resent_blindly(make_low_agreement, settings):
    make_low_agreement(left=30)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.sweep(
            process=lambda pk: services.episode_process(episode_id=pk, send=lambda _: None), send=lambda _: None
        )
    email_row = OutgoingEmail.objects.first()
    # A worker claimed it, then died before "sent" was written.
    OutgoingEmail.objects.filter(pk=email_row.pk).update(
        status=EmailStatus.SENDING,
        claimed_at=timezone.now() - datetime.timedelta(seconds=settings.EMAIL_STUCK_AFTER + 1),
    )
    report = services.sweep(process=lambda _: None, send=lambda _: None)
    assert report.emails_stuck == 1
    assert OutgoingEmail.objects.get(pk=email_row.pk).status == EmailStatus.STUCK
    services.email_resend(email=email_row, actor=None)
    assert OutgoingEmail.objects.get(pk=email_row.pk).status == EmailStatus.PENDING


def test_no_retry_delay_reaches_the_brokers_visibility_timeout(settings):
    visibility_timeout = 3600  # Redis' default, and what settings configure for Redis
    assert settings.EMAIL_RETRY_MAX_DELAY < visibility_timeout
    assert (
        max(services.retry_delay(n) for n in range(1, settings.EMAIL_MAX_ATTEMPTS + 1))
        <= settings.EMAIL_RETRY_MAX_DELAY
    )
    for name, task in app.tasks.items():
        if name.startswith(("notifications.", "billing.", "agreements.")):
            assert task.max_retries is not None, name
            assert task.time_limit, name
            if task.acks_late:
                assert task.reject_on_worker_lost, name
    for entry in app.conf.beat_schedule.values():
        assert entry["options"]["expires"] > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_the_same_moment_send_once(make_low_agreement, django_capture_on_commit_callbacks):
    make_low_agreement(left=60)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sweep_now()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    assert errors == []
    assert Episode.objects.count() == 1 and Invoice.objects.count() == 1
    recipients = list(OutgoingEmail.objects.values_list("recipient", flat=True))
    assert sorted(recipients) == sorted(set(recipients)) and len(recipients) == 4
    from django.core import mail

    assert sorted(m.to[0] for m in mail.outbox) == sorted(recipients)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_queues_nothing(make_low_agreement):
    from django.db import transaction

    make_low_agreement(left=60)
    queued: list[int] = []
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.sweep(process=queued.append, send=queued.append)
            assert Episode.objects.count() == 1
            raise RuntimeError("the request failed after the sweep")
    time.sleep(0.1)
    assert queued == [] and not Episode.objects.exists()
    services.sweep(process=queued.append, send=queued.append)
    assert len(queued) == 1  # the committed sweep hands the episode to a worker
