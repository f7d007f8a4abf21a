"""A credit note is emailed to the billing contacts once, with its PDF attached."""

import shutil
import subprocess

import pytest
from django.core import mail

from agreements.tests.factories import ClientContactFactory
from billing.models import CreditNote
from billing.tests.test_credit_notes import paid_block
from notifications import services
from notifications.models import EmailKind, OutgoingEmail


def test_each_credit_note_is_emailed_once_with_its_pdf(agreement, client_a, staff, seller):
    ClientContactFactory(client=client_a, user__username="alice", user__email="alice@acme.example")
    ClientContactFactory(client=client_a, user__username="ned", user__email="ned@acme.example", receives_invoices=False)
    first = paid_block(agreement, staff, hours=10, ref="ACH-1")
    paid_block(agreement, staff, hours=2, ref="ACH-2")
    queued = []

    result = services.agreement_cancel_and_notify(
        agreement=agreement, disposition="refund", actor=staff, reason="Client leaves", send=queued.append
    )

    assert len(result.credit_notes) == 2
    emails = OutgoingEmail.objects.filter(kind=EmailKind.CREDIT_NOTE).order_by("credit_note__number", "recipient")
    assert [(e.credit_note.number, e.recipient) for e in emails] == [
        (n.number, r)
        for n in sorted(result.credit_notes, key=lambda n: n.number)
        for r in ("alice@acme.example", "billing@acme-dental.example")
    ]
    note = CreditNote.objects.get(invoice=first)
    # Recording again (a retried task, a second call) adds nothing.
    assert {e.pk for e in services.credit_note_emails_record(credit_note=note, send=queued.append)} == {
        e.pk for e in emails if e.credit_note_id == note.pk
    }
    assert OutgoingEmail.objects.filter(kind=EmailKind.CREDIT_NOTE).count() == 4

    email = emails.get(credit_note=note, recipient="alice@acme.example")
    assert email.subject == f"Credit note {note.number} from Northwind IT — $1,000.00"
    assert f"credit note {note.number} for Acme Dental" in email.body_text
    assert f"against invoice {first.number}" in email.body_text
    assert "Amount credited: $1,000.00" in email.body_text
    assert "Hours taken back: 10 h" in email.body_text
    assert services.email_send(email_id=email.pk).outcome == "sent"
    [message] = mail.outbox
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"Credit-note-{note.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True).stdout.decode()
        assert note.number in text and first.number in text


def test_a_forfeit_sends_no_credit_note(agreement, client_a, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)

    result = services.block_unused_cancel_and_notify(
        block=invoice.block, disposition="forfeit", actor=staff, reason="Given up", send=lambda _id: None
    )

    assert result.forfeited_minutes == 120
    assert not OutgoingEmail.objects.filter(kind=EmailKind.CREDIT_NOTE).exists()


@pytest.mark.parametrize("refund_minutes", [None, 30])
def test_a_block_refund_emails_its_credit_note(agreement, staff, seller, refund_minutes):
    invoice = paid_block(agreement, staff, hours=2)
    queued = []

    result = services.block_unused_cancel_and_notify(
        block=invoice.block,
        disposition="refund",
        actor=staff,
        reason="Partial refund",
        minutes=refund_minutes,
        send=queued.append,
    )

    [note] = result.credit_notes
    assert note.minutes == (refund_minutes or 120)
    assert list(OutgoingEmail.objects.filter(credit_note=note).values_list("recipient", flat=True)) == [
        "billing@acme-dental.example"
    ]
