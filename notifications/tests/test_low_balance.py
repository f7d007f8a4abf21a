import subprocess
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import LedgerKind, OveragePolicy
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import TechnicianFactory, TicketFactory, work_type
from billing import services as billing_services
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from notifications import services
from notifications.models import EmailKind, EmailStatus, Episode, EpisodeKind, OutgoingEmail
from notifications.tasks import queue_agreement_check
from notifications.tests.conftest import sweep_now, use_hours

CLIENT_RECIPIENTS = {"billing@acme-dental.example", "alice@example.com", "bob@example.com"}


def pdf_text(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def test_it_leaves_agreements_above_the_threshold_alone(make_low_agreement):
    make_low_agreement(left=121)
    sweep_now()
    assert not Episode.objects.exists()
    assert mail.outbox == []


def test_it_sends_one_reload_invoice_when_the_balance_reaches_the_threshold(make_low_agreement):
    agreement = make_low_agreement(left=120)
    output = sweep_now()

    episode = Episode.objects.get()
    assert (episode.agreement, episode.kind, episode.balance_at_open, episode.is_open) == (
        agreement,
        "low_balance",
        120,
        True,
    )
    invoice = episode.reload_invoice
    assert (invoice.kind, invoice.status, invoice.total, invoice.currency) == (
        InvoiceKind.RELOAD,
        InvoiceStatus.ISSUED,
        Decimal("1800.00"),
        "USD",
    )
    assert invoice.block.minutes == 1200 and invoice.block.credited_at is None  # usable once paid
    assert "Episodes opened: 1 — Acme Dental (low, 2 h left)" in output

    client_mails = [m for m in mail.outbox if m.to[0] in CLIENT_RECIPIENTS]
    assert sorted(m.to[0] for m in client_mails) == sorted(CLIENT_RECIPIENTS)
    message = client_mails[0]
    assert message.subject == f"Acme Dental: your support hours are running low — reload invoice {invoice.number}"
    assert message.from_email == "Northwind IT <billing@localhost>"
    assert message.reply_to == ["billing@northwind.example"]
    assert "2 h remain" in message.body and "$1,800.00" in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html" and "Acme Dental" in html
    ((filename, content, attachment_type),) = message.attachments
    assert (filename, attachment_type) == (f"Invoice-{invoice.number}.pdf", "application/pdf")
    text = pdf_text(content)
    assert invoice.number in text and "Acme Dental" in text and "1,800.00" in text

    staff_mails = [m for m in mail.outbox if m.to == ["owner@northwind.example"]]
    assert len(staff_mails) == 1 and staff_mails[0].subject.startswith("Low balance: Acme Dental has 2 h left")
    assert len(mail.outbox) == 4
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}


def test_a_second_sweep_sends_nothing_more(make_low_agreement):
    make_low_agreement(left=60)
    sweep_now()
    sweep_now()
    assert Episode.objects.count() == 1 and Invoice.objects.count() == 1
    assert len(mail.outbox) == 4


def test_paying_closes_the_episode_and_a_later_fall_opens_a_new_one(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=90)
    sweep_now()
    invoice = Episode.objects.get().reload_invoice
    billing_services.payment_record(
        invoice=invoice,
        amount=invoice.total,
        method="ach",
        reference="ACH-778",
        paid_on=invoice.issued_on,
        actor=msp_staff,
    )
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 90 + 1200
    sweep_now()
    assert Episode.objects.get().closed_at is not None

    use_hours(agreement, 1200)
    sweep_now()
    assert Episode.objects.count() == 2
    assert Invoice.objects.filter(kind=InvoiceKind.RELOAD).count() == 2
    assert len(mail.outbox) == 8


def test_the_charge_mode_credits_the_block_at_once_and_tells_the_client(make_low_agreement):
    agreement = make_low_agreement(left=100, topup_mode="charge")
    sweep_now()
    episode = Episode.objects.get()
    assert episode.auto_reloaded
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 100 + 1200
    assert agreement.ledger.filter(kind=LedgerKind.PURCHASE, block=episode.reload_invoice.block).exists()
    client_mail = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert client_mail.subject.startswith("Acme Dental: we have reloaded your support hours")
    assert "Balance now: 21 h 40 min" in client_mail.body
    # The balance is back above the threshold: the next sweep closes the episode.
    sweep_now()
    assert not Episode.objects.get().is_open


def test_an_exhausted_agreement_under_the_reject_policy_alerts_staff(make_low_agreement):
    make_low_agreement(left=0, overage_policy=OveragePolicy.REJECT)
    sweep_now()
    assert set(Episode.objects.values_list("kind", flat=True)) == {EpisodeKind.LOW_BALANCE, EpisodeKind.EXHAUSTED}
    alert = OutgoingEmail.objects.get(kind=EmailKind.EXHAUSTED_STAFF)
    assert alert.recipient == "owner@northwind.example" and alert.status == EmailStatus.SENT
    assert alert.subject == "Exhausted: Acme Dental has no hours left — new time entries are refused"


def test_html_in_a_client_name_is_escaped_in_the_html_part(make_low_agreement, client_a):
    client_a.name = "Acme <b>Dental</b> & Sons"
    client_a.save()
    make_low_agreement(left=60)
    sweep_now()
    message = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    html = message.alternatives[0][0]
    assert "Acme &lt;b&gt;Dental&lt;/b&gt; &amp; Sons" in html and "<b>Dental</b>" not in html
    assert message.subject.startswith("Acme <b>Dental</b> & Sons:")  # plain text, not HTML-escaped


def test_a_failure_while_recording_the_emails_leaves_exactly_one_invoice(make_low_agreement, monkeypatch):
    make_low_agreement(left=60)
    real_record = services._record_emails
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(services, "_record_emails", crash_once)
    with pytest.raises(RuntimeError):
        sweep_now()
    # The invoice was numbered and committed first; its emails rolled back whole.
    assert Invoice.objects.count() == 1 and OutgoingEmail.objects.count() == 0
    sweep_now()  # the next run (or the broker's redelivery) records and sends them
    invoice = Invoice.objects.get()
    assert invoice.number.endswith("-0001")
    assert len(mail.outbox) == 4


def test_a_request_that_rolls_back_queues_nothing(make_low_agreement, django_capture_on_commit_callbacks):
    make_low_agreement(left=60)
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.sweep(process=queued.append, send=queued.append)
                raise RuntimeError("request failed")
        except RuntimeError:
            pass
    assert callbacks == [] and queued == []
    assert not Episode.objects.exists()


def test_an_open_alert_of_another_kind_does_not_hide_a_new_low_balance_episode(make_low_agreement):
    agreement = make_low_agreement(left=0, overage_policy=OveragePolicy.REJECT)
    Episode.objects.create(
        agreement=agreement,
        kind=EpisodeKind.LOW_BALANCE,
        balance_at_open=60,
        threshold_at_open=120,
        closed_at=timezone.now(),
    )
    Episode.objects.create(agreement=agreement, kind=EpisodeKind.EXHAUSTED, balance_at_open=0, threshold_at_open=120)
    assert list(services.low_balance_candidates()) == [agreement]


def test_logging_time_checks_that_agreement_at_once(make_low_agreement):
    other = make_low_agreement(left=60)  # low too, but not the one being worked on
    agreement = make_low_agreement(left=30, overage_policy=OveragePolicy.REJECT)
    with TestCase.captureOnCommitCallbacks(execute=True):
        agreement_services.time_entry_log(
            agreement=agreement,
            technician=TechnicianFactory(username="quick"),
            ticket=TicketFactory(client=agreement.client),
            work_date=timezone.localdate(),
            minutes=30,
            work_type=work_type("Normal"),
        )
        queue_agreement_check(agreement.pk)
    kinds = set(Episode.objects.filter(agreement=agreement).values_list("kind", flat=True))
    assert kinds == {EpisodeKind.LOW_BALANCE, EpisodeKind.EXHAUSTED}
    assert not Episode.objects.filter(agreement=other).exists()  # left for the beat sweep
    assert OutgoingEmail.objects.filter(kind=EmailKind.EXHAUSTED_STAFF, status=EmailStatus.SENT).count() == 1
