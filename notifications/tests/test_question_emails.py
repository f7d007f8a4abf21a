"""Each step of a questioned charge emails the other side, in their language,
once, after commit: a new question to staff, the answer to the client's contacts."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone, translation
from django.utils.formats import date_format

from agreements import services
from agreements.tests.factories import ClientContactFactory, StaffFactory, tier, work_type
from notifications import questions
from notifications.models import EmailKind, OutgoingEmail
from notifications.tasks import queue_sending
from notifications.tests.smtp import start_smtp

pytestmark = pytest.mark.django_db

WORKED_ON = timezone.localdate() - datetime.timedelta(days=2)


def long_date(language: str) -> str:
    with translation.override(language):
        return date_format(WORKED_ON, "j F Y")


@pytest.fixture
def entry(agreement, staff, ticket, technician, seller):
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=WORKED_ON,
        minutes=90,
        work_type=work_type(),
        notes="Printer driver",
    )


def raise_question(entry, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return questions.question_raise_and_notify(
            time_entry=entry, raised_by=user, reason="Nobody came that day.", send=queue_sending
        )


def test_a_new_question_is_emailed_to_staff_with_the_entry_and_reason(
    entry, alice, staff, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    question = raise_question(entry, alice, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert message.to == [staff.email]
    number = entry.ticket.number
    assert message.subject == f"Acme Dental questioned a charge on ticket #{number} ({long_date('en')})"
    assert "Nobody came that day." in message.body
    assert "Printer driver" in message.body
    assert "Charged: 1 h 30 min" in message.body
    assert f"/dashboard/questions/{question.public_id}/" in message.body
    html = message.alternatives[0][0]
    assert "Nobody came that day." in html
    [recorded] = OutgoingEmail.objects.filter(kind=EmailKind.QUESTION_RAISED_STAFF)
    assert (recorded.agreement_id, recorded.topic, recorded.status) == (
        entry.agreement_id,
        f"question:{question.public_id}:raised",
        "sent",
    )


def test_the_answer_reaches_every_contact_in_their_language(
    entry, client_a, alice, bob, staff, django_capture_on_commit_callbacks
):
    client_a.language = "it"
    client_a.save()
    bob.language = "en"  # Bob reads English whatever his company's language
    bob.save()
    ClientContactFactory(client=client_a, user__username="gone", user__is_active=False)
    question = raise_question(entry, alice, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        questions.question_credit_and_notify(
            question=question, actor=staff, minutes=30, reply="Travel time is not charged.", send=queue_sending
        )

    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert sorted(by_recipient) == ["alice@example.com", "bob@example.com"]
    number = entry.ticket.number
    english = by_recipient["bob@example.com"]
    assert english.subject == f"Your question on ticket #{number} ({long_date('en')}) is answered — Northwind IT"
    assert "We credited 30 min back to your balance." in english.body
    assert "Travel time is not charged." in english.body
    assert "Balance now: 9 h" in english.body
    italian = by_recipient["alice@example.com"]
    # The client's language: Italian dates now; the Italian words come with the catalogue.
    assert long_date("it") in italian.subject and long_date("it") != long_date("en")
    assert '<html lang="it">' in italian.alternatives[0][0]


def test_each_step_is_emailed_once_whatever_is_called_twice(entry, alice, staff, django_capture_on_commit_callbacks):
    question = raise_question(entry, alice, django_capture_on_commit_callbacks)
    queued = []
    questions.question_explain_and_notify(question=question, actor=staff, reply="Explained", send=queued.append)
    with pytest.raises(Exception, match="already answered"):
        questions.question_explain_and_notify(question=question, actor=staff, reply="Again", send=queued.append)
    assert OutgoingEmail.objects.filter(kind=EmailKind.QUESTION_ANSWERED).count() == 1
    # Recording the same step again (a retry) adds no row.
    questions._answered(question, queued.append)
    assert OutgoingEmail.objects.filter(kind=EmailKind.QUESTION_ANSWERED).count() == 1


def test_a_refused_step_records_no_email(entry, alice, staff, django_capture_on_commit_callbacks):
    question = raise_question(entry, alice, django_capture_on_commit_callbacks)
    with pytest.raises(Exception, match="minutes"):
        questions.question_credit_and_notify(question=question, actor=staff, minutes=91, reply="Too much", send=print)
    assert not OutgoingEmail.objects.filter(kind=EmailKind.QUESTION_ANSWERED).exists()


def test_a_real_smtp_server_receives_each_step_in_the_recipients_language(
    entry, client_a, alice, bob, staff, smtp_port, django_capture_on_commit_callbacks
):
    """The question reaches staff, the answer the Italian client's contacts, as received over SMTP."""
    client_a.language = "it"
    client_a.save()
    StaffFactory(username="paola", email="paola@northwind.example", language="it")  # staff who read Italian
    number = entry.ticket.number
    controller, inbox = start_smtp(smtp_port)
    try:
        question = raise_question(entry, alice, django_capture_on_commit_callbacks)
        raised = {tuple(rcpt): message for rcpt, message in inbox.messages}
        inbox.messages.clear()
        with django_capture_on_commit_callbacks(execute=True):
            questions.question_credit_and_notify(
                question=question, actor=staff, minutes=30, reply="Il tempo di viaggio non si paga.", send=queue_sending
            )
        answered = {tuple(rcpt): message for rcpt, message in inbox.messages}
    finally:
        controller.stop()

    assert set(raised) == {(staff.email,), ("paola@northwind.example",)}
    english = raised[(staff.email,)]
    assert english["Subject"].strip() == f"Acme Dental questioned a charge on ticket #{number} ({long_date('en')})"
    assert "alice of Acme Dental questioned this charge:" in english.get_body(("plain",)).get_content()
    italian = raised[("paola@northwind.example",)]
    assert italian["Subject"].strip() == (
        f"Acme Dental ha contestato un addebito sul ticket #{number} ({long_date('it')})"
    )
    text = italian.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "alice di Acme Dental ha contestato questo addebito:" in text
    assert "Motivo indicato:\nNobody came that day." in text
    assert f"/dashboard/questions/{question.public_id}/" in text

    assert set(answered) == {("alice@example.com",), ("bob@example.com",)}
    for message in answered.values():
        assert message["Subject"].strip() == (
            f"Risposta alla Vostra contestazione sul ticket #{number} ({long_date('it')}) — Northwind IT"
        )
        text = message.get_body(("plain",)).get_content()
        assert "Abbiamo riaccreditato 30 min sul Vostro saldo." in text
        assert "Il tempo di viaggio non si paga." in text
        assert "Saldo attuale: 9 h" in text
        assert "Abbiamo riaccreditato 30 min sul Vostro saldo." in message.get_body(("html",)).get_content()
    assert set(OutgoingEmail.objects.values_list("kind", "recipient", "status")) == {
        (EmailKind.QUESTION_RAISED_STAFF, staff.email, "sent"),
        (EmailKind.QUESTION_RAISED_STAFF, "paola@northwind.example", "sent"),
        (EmailKind.QUESTION_ANSWERED, "alice@example.com", "sent"),
        (EmailKind.QUESTION_ANSWERED, "bob@example.com", "sent"),
    }
