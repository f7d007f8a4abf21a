"""Charge questions with their emails: each step of agreements.services.questions,
and the email to the other side, recorded in the same transaction (all or
nothing) and queued after commit. A new question goes to staff in their
language; an answer to the client's contacts in theirs (the client's language
by default). One email per step and recipient: the topic names the step.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from agreements.models import ChargeQuestion, ClientContact
from agreements.services import questions
from notifications.models import EmailKind
from notifications.services import (
    Enqueue,
    _email_context,
    _unique,
    emails_record,
    staff_recipients,
)


def client_contact_recipients(client_id: int) -> list[str]:
    """Every active contact of the client: any of them may have asked."""
    return _unique(
        ClientContact.objects.filter(client_id=client_id, user__is_active=True)
        .order_by("pk")
        .values_list("user__email", flat=True)
    )


def _record(question: ChargeQuestion, *, kind: str, step: str, recipients: list[str], default: str, send: Enqueue):
    entry = question.time_entry
    context = _email_context(
        entry.agreement_id,
        question=question,
        entry=entry,
        resolve_path=reverse("dashboard:question_resolve", args=[question.public_id]),
    )
    return emails_record(
        kind,
        topic=f"question:{question.public_id}:{step}",
        agreement_id=entry.agreement_id,
        context=context,
        recipients=recipients,
        default=default,
        send=send,
    )


def question_raise_and_notify(*, send: Enqueue, **raise_: object) -> ChargeQuestion:
    with transaction.atomic():
        question = questions.question_raise(**raise_)
        _record(
            question,
            kind=EmailKind.QUESTION_RAISED_STAFF,
            step="raised",
            recipients=staff_recipients(),
            default=settings.LANGUAGE_CODE,
            send=send,
        )
    return question


def _answered(question: ChargeQuestion, send: Enqueue) -> ChargeQuestion:
    client = question.time_entry.agreement.client
    _record(
        question,
        kind=EmailKind.QUESTION_ANSWERED,
        step="answered",
        recipients=client_contact_recipients(client.pk),
        default=client.language,
        send=send,
    )
    return question


def question_explain_and_notify(*, send: Enqueue, **explain: object) -> ChargeQuestion:
    with transaction.atomic():
        return _answered(questions.question_explain(**explain), send)


def question_credit_and_notify(*, send: Enqueue, **credit: object) -> ChargeQuestion:
    with transaction.atomic():
        return _answered(questions.question_credit(**credit), send)


def question_correct_and_notify(*, send: Enqueue, **correct: object) -> ChargeQuestion:
    with transaction.atomic():
        return _answered(questions.question_correct(**correct), send)
