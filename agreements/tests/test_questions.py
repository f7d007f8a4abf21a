"""A client questions a charge; staff explain it, credit minutes back, or correct
the entry. Exact minutes, balance = ledger, audit, and refusals that change nothing."""

import datetime
from http import HTTPStatus

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import (
    Agreement,
    ChargeQuestion,
    LedgerEntry,
    LedgerKind,
    QuestionStatus,
    TimeEntry,
)
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import StaffFactory, TicketFactory, bill_overage_agreement, tier, work_type
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def funded(agreement, staff):
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


@pytest.fixture
def entry(funded, ticket, technician):
    return services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=TODAY - DAY,
        minutes=90,
        work_type=work_type(),
    )


@pytest.fixture
def question(entry, alice):
    return services.question_raise(time_entry=entry, raised_by=alice, reason="We were closed that day.")


def state() -> tuple:
    return (
        LedgerEntry.objects.count(),
        AuditEvent.objects.count(),
        list(ChargeQuestion.objects.order_by("pk").values_list("pk", "status", "credited_minutes")),
        list(Agreement.objects.order_by("pk").values_list("pk", "balance_minutes")),
        TimeEntry.objects.filter(voided_at__isnull=True).count(),
    )


def balance(agreement) -> int:
    return Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)


# ---------------------------------------------------------------------------
# Raising


def test_it_records_an_open_question_and_audits_it(entry, alice):
    before = balance(entry.agreement)
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="  Too long for a password reset. ")
    assert (question.status, question.reason, question.raised_by, question.credited_minutes) == (
        QuestionStatus.OPEN,
        "Too long for a password reset.",
        alice,
        0,
    )
    assert balance(entry.agreement) == before == 600 - 90
    event = AuditEvent.objects.get(action=AuditAction.QUESTION_RAISE)
    assert (event.actor, event.target_id, event.client_id) == (
        alice,
        str(question.public_id),
        entry.agreement.client_id,
    )
    assert event.after["charged_minutes"] == 90


def test_it_refuses_a_second_open_question_on_the_same_entry(question, bob):
    before = state()
    with pytest.raises(ValidationError, match="already questioned"):
        services.question_raise(time_entry=question.time_entry, raised_by=bob, reason="Me too")
    assert state() == before


def test_the_database_holds_one_open_question_per_entry(question, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        ChargeQuestion.objects.create(time_entry=question.time_entry, raised_by=bob, reason="Raced past the check")


def test_a_new_question_may_follow_an_answered_one(question, staff, bob):
    services.question_explain(question=question, actor=staff, reply="The reset needed a site visit.")
    again = services.question_raise(time_entry=question.time_entry, raised_by=bob, reason="Still too long")
    assert again.status == QuestionStatus.OPEN


def test_a_contact_of_another_client_cannot_question(entry, charlie):
    before = state()
    with pytest.raises(PermissionDenied):
        services.question_raise(time_entry=entry, raised_by=charlie, reason="Not mine")
    assert state() == before


@pytest.mark.parametrize("user", ["staff", "technician"])
def test_only_client_contacts_raise_questions(entry, user, request):
    with pytest.raises(PermissionDenied):
        services.question_raise(time_entry=entry, raised_by=request.getfixturevalue(user), reason="Why?")


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 2001, "bad\x00byte"])
def test_a_reason_is_required_and_checked(entry, alice, reason):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.question_raise(time_entry=entry, raised_by=alice, reason=reason)
    assert "reason" in error.value.message_dict
    assert state() == before


def test_entries_older_than_the_window_cannot_be_questioned(funded, ticket, technician, alice, settings):
    settings.QUESTION_WINDOW_DAYS = 30
    funded.starts_on = TODAY - 60 * DAY
    funded.save()
    kwargs = {"agreement": funded, "technician": technician, "ticket": ticket, "minutes": 30, "work_type": work_type()}
    edge = services.time_entry_log(work_date=TODAY - 30 * DAY, **kwargs)
    old = services.time_entry_log(work_date=TODAY - 31 * DAY, **kwargs)
    assert services.question_raise(time_entry=edge, raised_by=alice, reason="Edge of the window").is_open
    with pytest.raises(ValidationError, match="30 days"):
        services.question_raise(time_entry=old, raised_by=alice, reason="Too old")


def test_a_voided_entry_cannot_be_questioned(entry, alice, staff):
    services.time_entry_void(time_entry=entry, actor=staff, reason="Logged twice")
    with pytest.raises(ValidationError, match="voided"):
        services.question_raise(time_entry=entry, raised_by=alice, reason="Why?")


# ---------------------------------------------------------------------------
# Explaining


def test_explaining_changes_nothing_but_the_question(question, staff):
    ledger = LedgerEntry.objects.count()
    services.question_explain(question=question, actor=staff, reply="The router was replaced on site.")
    question.refresh_from_db()
    assert (question.status, question.reply, question.resolved_by, question.credited_minutes) == (
        QuestionStatus.EXPLAINED,
        "The router was replaced on site.",
        staff,
        0,
    )
    assert question.resolved_at is not None
    assert LedgerEntry.objects.count() == ledger
    assert balance(question.time_entry.agreement) == 510
    event = AuditEvent.objects.get(action=AuditAction.QUESTION_EXPLAIN)
    assert (event.before["status"], event.after["status"]) == ("open", "explained")
    assert event.before["balance_minutes"] == event.after["balance_minutes"] == 510


def test_only_staff_answer(question, technician, alice):
    before = state()
    for user in (technician, alice):
        with pytest.raises(PermissionDenied):
            services.question_explain(question=question, actor=user, reply="Because")
        with pytest.raises(PermissionDenied):
            services.question_credit(question=question, actor=user, minutes=10, reply="Because")
    assert state() == before


def test_a_reply_is_required(question, staff):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.question_explain(question=question, actor=staff, reply="  ")
    assert "reply" in error.value.message_dict
    assert state() == before


# ---------------------------------------------------------------------------
# Crediting


def test_a_partial_credit_gives_back_exact_minutes_by_one_entry_naming_the_question(question, staff):
    agreement = question.time_entry.agreement
    assert balance(agreement) == 510
    services.question_credit(question=question, actor=staff, minutes=30, reply="Half an hour was travel.")
    question.refresh_from_db()
    assert (question.status, question.credited_minutes) == (QuestionStatus.CREDITED, 30)
    credit = LedgerEntry.objects.get(kind=LedgerKind.QUESTION_CREDIT)
    assert (credit.minutes, credit.question, credit.time_entry, credit.block, credit.author) == (
        30,
        question,
        question.time_entry,
        None,
        staff,
    )
    assert balance(agreement) == 540
    assert assert_balance_is_ledger_sum(agreement) == 540
    event = AuditEvent.objects.get(action=AuditAction.QUESTION_CREDIT)
    assert (event.before["balance_minutes"], event.after["balance_minutes"], event.after["minutes"]) == (510, 540, 30)


def test_a_full_credit_gives_back_every_charged_minute(question, staff):
    services.question_credit(question=question, actor=staff, minutes=90, reply="Our mistake.")
    assert balance(question.time_entry.agreement) == 600
    assert assert_balance_is_ledger_sum(question.time_entry.agreement) == 600


@pytest.mark.parametrize("minutes", [0, -5, 91, "30", 30.0, True, None])
def test_a_credit_is_between_one_and_the_charged_minutes(question, staff, minutes):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.question_credit(question=question, actor=staff, minutes=minutes, reply="Sorry")
    assert "minutes" in error.value.message_dict
    assert state() == before


def test_a_second_answer_is_refused_and_credits_nothing_more(question, staff):
    services.question_credit(question=question, actor=staff, minutes=30, reply="Travel time.")
    before = state()
    with pytest.raises(ValidationError, match="already answered"):
        services.question_credit(question=question, actor=staff, minutes=30, reply="Travel time.")
    with pytest.raises(ValidationError, match="already answered"):
        services.question_explain(question=question, actor=StaffFactory(username="other"), reply="Late")
    assert state() == before
    assert LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT).count() == 1


def test_an_entry_voided_meanwhile_is_not_credited_again(question, staff):
    services.time_entry_void(time_entry=question.time_entry, actor=staff, reason="Logged twice")
    before = state()
    with pytest.raises(ValidationError, match="minutes are back already"):
        services.question_credit(question=question, actor=staff, minutes=30, reply="Sorry")
    assert state() == before
    services.question_explain(question=question, actor=staff, reply="We voided it: logged twice.")
    assert assert_balance_is_ledger_sum(question.time_entry.agreement) == 600


def test_the_database_holds_one_credit_per_question(question, staff):
    services.question_credit(question=question, actor=staff, minutes=30, reply="Travel time.")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            agreement=question.time_entry.agreement, kind=LedgerKind.QUESTION_CREDIT, minutes=5, question=question
        )


def test_billed_overage_minutes_are_not_given_back_as_hours(client_a, staff, technician, alice):
    agreement = bill_overage_agreement(client_a, actor=staff)
    entry = services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=client_a),
        work_date=TODAY,
        minutes=660,  # 600 from the block, 60 beyond it
        work_type=work_type(),
    )
    services.overage_mark_billed(agreement=agreement, minutes=60, reason="Invoice 2026-0001", actor=staff)
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too much")
    assert services.question_creditable_minutes(question) == 600
    before = state()
    with pytest.raises(ValidationError, match="60 min of this entry were billed as overage"):
        services.question_credit(question=question, actor=staff, minutes=601, reply="Sorry")
    assert state() == before
    services.question_credit(question=question, actor=staff, minutes=600, reply="The block part back")
    assert assert_balance_is_ledger_sum(agreement) == 600


def test_unbilled_overage_is_credited_and_no_longer_billed(client_a, staff, technician, alice):
    agreement = bill_overage_agreement(client_a, actor=staff, technician=technician, logged=660)
    entry = TimeEntry.objects.get(agreement=agreement)
    assert services.overage_unbilled_minutes(agreement) == 60
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too much")
    assert services.question_creditable_minutes(question) == 660
    services.question_credit(question=question, actor=staff, minutes=60, reply="The last hour was ours")
    agreement.refresh_from_db()
    assert services.overage_unbilled_minutes(agreement) == 0
    assert assert_balance_is_ledger_sum(agreement) == 0


# ---------------------------------------------------------------------------
# Correcting


def test_a_correction_voids_and_replaces_the_entry_once(question, staff):
    entry = question.time_entry
    services.question_correct(question=question, actor=staff, reply="It was 45 minutes.", minutes=45)
    question.refresh_from_db()
    entry.refresh_from_db()
    assert question.status == QuestionStatus.CORRECTED
    assert entry.is_void
    assert (question.correction.minutes, question.correction.charged_minutes, question.correction.corrects) == (
        45,
        45,
        entry,
    )
    assert balance(entry.agreement) == 600 - 45
    assert assert_balance_is_ledger_sum(entry.agreement) == 555
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))[-2:]
    assert actions == [AuditAction.TIME_ENTRY_CORRECT, AuditAction.QUESTION_CORRECT]
    before = state()
    with pytest.raises(ValidationError, match="already answered"):
        services.question_correct(question=question, actor=staff, reply="Again", minutes=30)
    assert state() == before


def test_a_refused_correction_leaves_the_question_open(question, staff):
    before = state()
    with pytest.raises(ValidationError):
        services.question_correct(question=question, actor=staff, reply="Zero", minutes=0)
    assert state() == before
    question.refresh_from_db()
    assert question.is_open


def test_the_admin_shows_questions_read_only(client, superuser, question, staff, alice):
    services.question_credit(question=question, actor=staff, minutes=30, reply="Travel is on us.")
    client.force_login(superuser)
    changelist = client.get(reverse("admin:agreements_chargequestion_changelist"))
    assert changelist.status_code == HTTPStatus.OK
    page = changelist.content.decode()
    assert reverse("admin:agreements_chargequestion_change", args=[question.pk]) in page
    assert '<td class="field-status">Credited</td>' in page
    assert '<td class="field-credited_minutes">30</td>' in page

    change = client.get(reverse("admin:agreements_chargequestion_change", args=[question.pk]))
    assert change.status_code == HTTPStatus.OK
    page = change.content.decode()
    assert "We were closed that day." in page and "Travel is on us." in page
    assert 'name="reason"' not in page and 'name="credited_minutes"' not in page  # nothing to edit
    before = state()
    for url in (
        reverse("admin:agreements_chargequestion_add"),
        reverse("admin:agreements_chargequestion_delete", args=[question.pk]),
    ):
        assert client.get(url).status_code == HTTPStatus.FORBIDDEN
    client.post(
        reverse("admin:agreements_chargequestion_change", args=[question.pk]),
        {"status": "open", "credited_minutes": "90", "reason": "edited", "reply": "edited"},
    )
    assert state() == before

    client.force_login(alice)  # a client contact is not admin staff: sent to the admin's sign-in
    response = client.get(reverse("admin:agreements_chargequestion_change", args=[question.pk]))
    assert response.status_code == HTTPStatus.FOUND and "/admin/login/" in response["Location"]
