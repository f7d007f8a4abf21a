"""Estimate emails: a waiting estimate reaches the client's billing contacts with
signed links, in their language; the decision reaches the technician and
staff once; an overrun reaches staff once. One test reads what a real SMTP
server received."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import EstimateStatus
from agreements.tests.factories import tier, work_type
from notifications import estimates
from notifications.models import EmailKind, OutgoingEmail
from notifications.tasks import check_agreement, queue_sending
from notifications.tests.smtp import start_smtp

pytestmark = pytest.mark.django_db

BILLING = "billing@acme-dental.example"


@pytest.fixture
def funded(agreement, staff, seller):
    """Acme's agreement with a paid 10-hour block: 600 min."""
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    mail.outbox.clear()
    return agreement


def make(ticket, technician, minutes, callbacks):
    with callbacks(execute=True):
        return estimates.estimate_create_and_notify(
            ticket=ticket,
            actor=technician,
            minutes=minutes,
            work_type=work_type(),
            description="Replace the file server disks",
            send=queue_sending,
        )


def links(body: str) -> dict[str, str]:
    return {
        action: re.search(rf"{label}: (http\S+)", body).group(1)
        for action, label in (("approve", "Approve"), ("decline", "Decline"))
    }


def test_a_covered_estimate_emails_nobody(funded, ticket, technician, alice, django_capture_on_commit_callbacks):
    made = make(ticket, technician, 120, django_capture_on_commit_callbacks)
    assert made.status == EstimateStatus.APPROVED
    assert mail.outbox == []


def test_a_waiting_estimate_reaches_every_billing_contact_with_links(
    funded, client_a, ticket, technician, alice, bob, django_capture_on_commit_callbacks
):
    client_a.language = "it"
    client_a.save()
    bob.language = "en"
    bob.save()
    made = make(ticket, technician, 700, django_capture_on_commit_callbacks)

    received = {message.to[0]: message for message in mail.outbox}
    assert set(received) == {BILLING, "alice@example.com", "bob@example.com"}
    english = received["bob@example.com"]
    number = ticket.number
    assert english.subject == f"Please approve an estimate for ticket #{number} — Northwind IT"
    assert "Estimated time: 11 h 40 min (Normal)" in english.body
    assert "It would charge: 11 h 45 min" in english.body
    assert "Your balance: 10 h" in english.body
    assert "Hours reserved by estimates: 11 h 45 min" in english.body
    assert "The links work once, for 7 days." in english.body
    found = links(english.body)
    assert set(found) == {"approve", "decline"}
    assert "/portal/estimates/link/" in found["approve"]
    assert english.body.startswith("Hello,")
    # The client's language for the others (the new strings' Italian comes with the translations).
    assert received["alice@example.com"].body.startswith("Buongiorno,")
    assert received[BILLING].body.startswith("Buongiorno,")
    assert (
        OutgoingEmail.objects.filter(
            kind=EmailKind.ESTIMATE_APPROVAL, topic=f"estimate:{made.public_id}:approval"
        ).count()
        == 3
    )


def test_the_decision_reaches_the_technician_and_staff_once(
    funded, ticket, technician, staff, alice, bob, django_capture_on_commit_callbacks
):
    made = make(ticket, technician, 700, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        estimates.estimate_approve_and_notify(estimate=made, actor=alice, send=queue_sending)
    with pytest.raises(ValidationError), django_capture_on_commit_callbacks(execute=True):
        estimates.estimate_decline_and_notify(estimate=made, actor=bob, send=queue_sending)

    assert sorted(message.to[0] for message in mail.outbox) == [staff.email, technician.email]
    message = mail.outbox[0]
    assert message.subject == f"Acme Dental approved the estimate for ticket #{ticket.number}"
    assert "the work can start" in message.body
    assert "Decided by: alice" in message.body


def test_a_link_declines_once_and_says_so_the_second_time(
    funded, ticket, technician, staff, alice, django_capture_on_commit_callbacks
):
    make(ticket, technician, 700, django_capture_on_commit_callbacks)
    token = links(mail.outbox[0].body)["decline"].rstrip("/").rsplit("/", 1)[1]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decided, action = estimates.estimate_decide_by_link(token=token, send=queue_sending)
    assert (decided.status, action, decided.decided_by) == (EstimateStatus.DECLINED, "decline", None)
    assert [m.subject for m in mail.outbox] == [f"Acme Dental declined the estimate for ticket #{ticket.number}"] * 2
    assert "Decided by: the emailed link" in mail.outbox[0].body
    with pytest.raises(services.EstimateLinkError, match="already decided"):
        estimates.estimate_decide_by_link(token=token, send=queue_sending)
    assert len(mail.outbox) == 2


def test_an_overrun_emails_staff_once(funded, ticket, technician, staff, django_capture_on_commit_callbacks):
    made = make(ticket, technician, 60, django_capture_on_commit_callbacks)
    services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=67,
        work_type=work_type(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        check_agreement(funded.pk)
        check_agreement(funded.pk)

    [message] = mail.outbox
    assert message.to == [staff.email]
    assert message.subject == f"Ticket #{ticket.number} for Acme Dental went beyond its estimate"
    assert "Flagged beyond: 1 h 6 min" in message.body
    assert "Logged since the estimate: 1 h 7 min" in message.body
    made.refresh_from_db()
    assert made.overrun_flagged_at is not None


def test_the_smtp_server_receives_the_approval_email_with_working_links(
    funded, ticket, technician, alice, smtp_port, django_capture_on_commit_callbacks
):
    controller, inbox = start_smtp(smtp_port)
    try:
        made = make(ticket, technician, 700, django_capture_on_commit_callbacks)
    finally:
        controller.stop()
    received = {tuple(rcpt): msg for rcpt, msg in inbox.messages}
    assert set(received) == {("alice@example.com",), (BILLING,)}
    message = received[("alice@example.com",)]
    assert message["Subject"].strip() == f"Please approve an estimate for ticket #{ticket.number} — Northwind IT"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "It would charge: 11 h 45 min" in text
    token = links(text)["approve"].rstrip("/").rsplit("/", 1)[1]
    assert token in html
    assert services.estimate_for_link(token) == (made, "approve")
