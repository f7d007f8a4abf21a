"""A questioned charge is credited, corrected or raised exactly once, also when
the same request arrives many times at the same moment (a double click, two
staff) on PostgreSQL: committed transactions and real threads."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import (
    ChargeQuestion,
    ClientContact,
    CreditPolicy,
    LedgerEntry,
    LedgerKind,
    QuestionStatus,
    TimeEntry,
)
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import (
    AgreementFactory,
    ClientFactory,
    StaffFactory,
    TechnicianFactory,
    TicketFactory,
    UserFactory,
    tier,
    work_type,
)
from agreements.tests.test_concurrency import run_in_threads
from notifications import questions as notify
from notifications.models import EmailKind, OutgoingEmail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLICKS = 8


@pytest.fixture
def world():
    client = ClientFactory(name="Clicky Co")
    agreement = AgreementFactory(client=client, credit_policy=CreditPolicy.IMMEDIATE)
    staff = [StaffFactory(username=f"staff{i}") for i in range(CLICKS)]
    services.block_sell(agreement=agreement, tier=tier(10), actor=staff[0], starts_on=agreement.starts_on)
    contact = UserFactory(username="clicky", role="client")
    ClientContact.objects.create(client=client, user=contact)
    entry = services.time_entry_log(
        agreement=agreement,
        technician=TechnicianFactory(username="clicky-tech"),
        ticket=TicketFactory(client=client),
        work_date=timezone.localdate(),
        minutes=90,
        work_type=work_type(),
    )
    return {"agreement": agreement, "staff": staff, "contact": contact, "entry": entry}


def test_concurrent_credits_of_one_question_credit_it_once(world):
    question = services.question_raise(time_entry=world["entry"], raised_by=world["contact"], reason="Too long")

    def credit(index: int) -> None:
        notify.question_credit_and_notify(
            question=ChargeQuestion.objects.get(pk=question.pk),
            actor=world["staff"][index],
            minutes=30,
            reply="Travel is on us.",
            send=lambda email_id: None,
        )

    errors = run_in_threads(CLICKS, credit)

    assert len(errors) == CLICKS - 1
    assert all(isinstance(e, ValidationError) and "already answered" in str(e) for e in errors), errors
    assert LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT, question=question).count() == 1
    question.refresh_from_db()
    assert (question.status, question.credited_minutes) == (QuestionStatus.CREDITED, 30)
    assert assert_balance_is_ledger_sum(world["agreement"]) == 600 - 90 + 30
    assert OutgoingEmail.objects.filter(kind=EmailKind.QUESTION_ANSWERED).count() == 1


def test_concurrent_answers_of_different_kinds_change_the_balance_at_most_once(world):
    question = services.question_raise(time_entry=world["entry"], raised_by=world["contact"], reason="Too long")

    def answer(index: int) -> None:
        fresh = ChargeQuestion.objects.get(pk=question.pk)
        actor = world["staff"][index]
        if index % 3 == 0:
            services.question_credit(question=fresh, actor=actor, minutes=90, reply="All back")
        elif index % 3 == 1:
            services.question_correct(question=fresh, actor=actor, reply="It was 45 min", minutes=45)
        else:
            services.question_explain(question=fresh, actor=actor, reply="It is right")

    errors = run_in_threads(CLICKS, answer)

    assert len(errors) == CLICKS - 1, errors
    question.refresh_from_db()
    expected = {
        QuestionStatus.CREDITED: 600,
        QuestionStatus.CORRECTED: 600 - 45,
        QuestionStatus.EXPLAINED: 600 - 90,
    }[question.status]
    assert assert_balance_is_ledger_sum(world["agreement"]) == expected
    assert TimeEntry.objects.filter(voided_at__isnull=True).count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT).count() == (
        1 if question.status == QuestionStatus.CREDITED else 0
    )


def test_concurrent_raises_open_one_question(world):
    def raise_(index: int) -> None:
        services.question_raise(time_entry=world["entry"], raised_by=world["contact"], reason=f"Click {index}")

    errors = run_in_threads(CLICKS, raise_)

    assert len(errors) == CLICKS - 1
    assert all("already questioned" in str(e) for e in errors), errors
    assert ChargeQuestion.objects.filter(status=QuestionStatus.OPEN).count() == 1
