"""The reload in two steps: the invoice is numbered and committed first, its
PDF and emails follow; a crash between the two still ends with one invoice
sent once, and the invoice numbers stay gap-free. The check after a time
entry looks at its agreement only."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.models import TopupMode
from billing import pdf as billing_pdf
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus
from notifications import services
from notifications.models import EmailKind, EmailStatus, Episode, OutgoingEmail
from notifications.tests.conftest import sweep_now

CLIENT_RECIPIENTS = ["alice@example.com", "billing@acme-dental.example", "bob@example.com"]
ALL_RECIPIENTS = sorted([*CLIENT_RECIPIENTS, "owner@northwind.example"])


def number(sequence: int) -> str:
    return f"{timezone.localdate().year}-{sequence:04d}"


def crash_in_second_step(monkeypatch) -> None:  # noqa: ANN001
    """The worker dies after the invoice committed, before its PDF and emails."""
    real = services._episode_deliver
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_episode_deliver", crash_once)


def test_a_crash_after_the_number_is_taken_ends_with_that_invoice_sent_once(make_low_agreement, monkeypatch):
    make_low_agreement(left=60)
    crash_in_second_step(monkeypatch)
    with pytest.raises(RuntimeError):
        sweep_now()
    invoice = Invoice.objects.get()
    episode = Episode.objects.get()
    assert (invoice.number, invoice.status, invoice.pdf.name) == (number(1), InvoiceStatus.ISSUED, "")
    assert (episode.reload_invoice, episode.processed_at) == (invoice, None)
    assert OutgoingEmail.objects.count() == 0 and mail.outbox == []

    output = sweep_now()  # the next beat sweep finds the issued, undelivered invoice

    assert "Episodes handed to a worker: 1" in output
    assert Invoice.objects.get().number == number(1)  # no second invoice, no gap
    assert sorted(m.to[0] for m in mail.outbox) == ALL_RECIPIENTS
    for message in mail.outbox:
        ((filename, content, mimetype),) = message.attachments
        assert (filename, mimetype) == (f"Invoice-{number(1)}.pdf", "application/pdf")
        assert content.startswith(b"%PDF")
    sweep_now()
    assert len(mail.outbox) == 4  # a third sweep sends nothing more


def test_an_auto_reload_that_closed_its_episode_before_the_emails_still_sends_them(make_low_agreement, monkeypatch):
    make_low_agreement(left=60, topup_mode=TopupMode.CHARGE)
    crash_in_second_step(monkeypatch)
    with pytest.raises(RuntimeError):
        sweep_now()
    # The hours came with the invoice: the balance is back above the threshold.
    assert services.episodes_close_recovered() == 1

    sweep_now()

    episode = Episode.objects.get()
    assert episode.closed_at is not None and episode.processed_at is not None
    assert sorted(m.to[0] for m in mail.outbox) == ALL_RECIPIENTS
    kinds = sorted(OutgoingEmail.objects.values_list("kind", flat=True))
    assert kinds == sorted([EmailKind.AUTO_RELOADED] * 3 + [EmailKind.LOW_BALANCE_STAFF])


def test_an_invoice_voided_between_the_steps_is_not_emailed(make_low_agreement, monkeypatch, msp_staff):
    make_low_agreement(left=60)
    crash_in_second_step(monkeypatch)
    with pytest.raises(RuntimeError):
        sweep_now()
    billing_services.invoice_void(invoice=Invoice.objects.get(), actor=msp_staff, reason="Sold by phone instead")

    sweep_now()

    assert Episode.objects.get().processed_at is not None
    assert not OutgoingEmail.objects.filter(kind=EmailKind.RELOAD_INVOICE).exists()
    assert [m for m in mail.outbox if m.to[0] in CLIENT_RECIPIENTS] == []


def test_the_reload_invoice_is_rendered_once_and_no_second_render_is_queued(make_low_agreement, monkeypatch):
    make_low_agreement(left=60)
    renders: list[str] = []
    queued: list[int] = []
    real_bytes = billing_pdf.invoice_pdf_bytes
    monkeypatch.setattr(
        billing_pdf, "invoice_pdf_bytes", lambda invoice: renders.append(invoice.number) or real_bytes(invoice)
    )
    monkeypatch.setattr(billing_services, "_queue_render", lambda invoice: queued.append(invoice.pk))

    sweep_now()

    assert renders == [number(1)] and queued == []
    assert len(mail.outbox) == 4


def test_the_check_after_a_time_entry_reads_its_agreement_only(make_low_agreement):
    agreement = make_low_agreement(left=300)  # not low: nothing to do
    # An email stuck long ago and one due: the beat sweep's business, not this check's.
    long_ago = timezone.now() - datetime.timedelta(days=1)
    OutgoingEmail.objects.create(
        kind=EmailKind.INVOICE,
        recipient="x@example.com",
        subject="s",
        body_text="b",
        status=EmailStatus.SENDING,
        claimed_at=long_ago,
        topic="t1",
    )
    OutgoingEmail.objects.create(
        kind=EmailKind.INVOICE, recipient="y@example.com", subject="s", body_text="b", topic="t2"
    )
    queued: list[int] = []
    with CaptureQueriesContext(connection) as queries:
        report = services.sweep(process=queued.append, send=queued.append, agreement_id=agreement.pk)

    sql = [query["sql"] for query in queries.captured_queries]
    assert len(sql) == 5, "\n".join(sql)
    assert all(statement.startswith("SELECT") for statement in sql)
    assert not any("notifications_outgoingemail" in statement for statement in sql)
    assert all(str(agreement.pk) in statement for statement in sql)  # each one scoped to the agreement
    assert (report.emails_stuck, report.emails_queued, queued) == (0, 0, [])
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENDING, EmailStatus.PENDING}

    with TestCase.captureOnCommitCallbacks(execute=False):
        full = services.sweep(process=queued.append, send=queued.append)
    # The beat sweep still does it: the stuck one shown to staff (their alert is due too) and the due one queued.
    assert (full.emails_stuck, full.emails_queued) == (1, 2)


# --- PostgreSQL, real threads


def _in_threads(*targets) -> list[BaseException]:  # noqa: ANN002
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target) -> None:  # noqa: ANN001
        try:
            barrier.wait()
            target()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    return errors


def _deliver(email_id: int) -> None:
    services.email_send(email_id=email_id)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_episode_give_one_invoice_and_one_email_each(make_low_agreement):
    make_low_agreement(left=60)
    queued: list[int] = []
    services.sweep(process=queued.append, send=lambda pk: None)
    (episode_id,) = queued

    def work() -> None:
        services.episode_process(episode_id=episode_id, send=_deliver)

    assert _in_threads(work, work) == []
    assert Invoice.objects.get().number == number(1)
    recipients = sorted(OutgoingEmail.objects.values_list("recipient", flat=True))
    assert recipients == ALL_RECIPIENTS
    assert sorted(m.to[0] for m in mail.outbox) == ALL_RECIPIENTS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_many_episodes_number_the_invoices_without_gaps(make_low_agreement):
    for _ in range(6):
        make_low_agreement(left=60)
    queued: list[int] = []
    services.sweep(process=queued.append, send=lambda pk: None)
    assert len(queued) == 6

    def work(episode_ids: list[int]):  # noqa: ANN202
        return lambda: [services.episode_process(episode_id=pk, send=_deliver) for pk in episode_ids]

    assert _in_threads(work(queued[0::2]), work(queued[1::2])) == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [number(n) for n in range(1, 7)]
    assert Episode.objects.filter(processed_at__isnull=True).count() == 0
    # Each client address once per episode: three per invoice, plus the owner's.
    assert OutgoingEmail.objects.filter(status=EmailStatus.SENT).count() == 6 * 4
