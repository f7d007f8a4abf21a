"""Questioned charges through the API: client tokens raise and read their own,
staff list and answer; another client's question or entry is not found."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, ChargeQuestion, LedgerEntry, LedgerKind
from agreements.selectors import ledger_balance

pytestmark = pytest.mark.django_db

LIST = "/api/v1/questions/"


@pytest.fixture
def entry(funded, ticket, technician, normal):
    return services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=90,
        work_type=normal,
    )


def resolve_url(question_id) -> str:
    return f"{LIST}{question_id}/resolve/"


def test_alice_raises_and_reads_her_question_and_staff_credit_it(alice_api, staff_api, entry, alice):
    body = {"time_entry": str(entry.public_id), "reason": "Nobody came that day."}
    response = alice_api.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    replay = alice_api.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    question = response.json()
    assert replay.json() == question
    assert (question["status"], question["reason"], question["charged_minutes"], question["raised_by"]) == (
        "open",
        "Nobody came that day.",
        90,
        "alice",
    )
    again = alice_api.post(LIST, body, format="json")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert "already questioned" in str(again.json())
    assert ChargeQuestion.objects.count() == 1

    assert [q["id"] for q in alice_api.get(LIST).json()["results"]] == [question["id"]]
    assert [q["id"] for q in staff_api.get(LIST).json()["results"]] == [question["id"]]

    answer = {"outcome": "credited", "minutes": 30, "reply": "Travel is on us."}
    resolved = staff_api.post(resolve_url(question["id"]), answer, format="json")
    assert resolved.status_code == HTTPStatus.OK, resolved.json()
    assert (resolved.json()["status"], resolved.json()["credited_minutes"]) == ("credited", 30)
    twice = staff_api.post(resolve_url(question["id"]), answer, format="json")
    assert twice.status_code == HTTPStatus.BAD_REQUEST
    assert LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT).count() == 1
    agreement = Agreement.objects.get(pk=entry.agreement_id)
    assert agreement.balance_minutes == ledger_balance(agreement) == 540
    seen = alice_api.get(f"{LIST}{question['id']}/").json()
    assert (seen["status"], seen["reply"]) == ("credited", "Travel is on us.")


def test_a_correction_through_the_api_names_the_replacement(alice, staff_api, entry):
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    response = staff_api.post(
        resolve_url(question.public_id),
        {"outcome": "corrected", "reply": "It was 45 minutes.", "corrected_minutes": 45},
        format="json",
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    question.refresh_from_db()
    assert response.json()["correction"] == str(question.correction.public_id)
    assert question.correction.minutes == 45


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "credited", "reply": "x"}, "minutes"),
        ({"outcome": "credited", "reply": "x", "minutes": 91}, "minutes"),
        ({"outcome": "credited", "reply": "x", "minutes": "30"}, "minutes"),
        ({"outcome": "sideways", "reply": "x"}, "outcome"),
        ({"outcome": "explained", "reply": ""}, "reply"),
        ({"outcome": "corrected", "reply": "x"}, "corrected_minutes"),
    ],
)
def test_bad_answers_change_nothing(alice, staff_api, entry, body, field):
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    response = staff_api.post(resolve_url(question.public_id), body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["fields"], response.json()
    question.refresh_from_db()
    assert question.is_open
    assert not LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT).exists()


def test_charlie_sees_nothing_and_cannot_question_alices_entry(charlie_api, alice, entry):
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    assert charlie_api.get(LIST).json()["results"] == []
    assert charlie_api.get(f"{LIST}{question.public_id}/").status_code == HTTPStatus.NOT_FOUND
    assert charlie_api.post(resolve_url(question.public_id), {}, format="json").status_code == HTTPStatus.NOT_FOUND
    response = charlie_api.post(LIST, {"time_entry": str(entry.public_id), "reason": "Mine?"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "No time entry" in str(response.json())
    assert ChargeQuestion.objects.count() == 1


def test_technicians_and_alice_cannot_answer_and_staff_cannot_raise(alice_api, tech_api, staff_api, alice, entry):
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    answer = {"outcome": "explained", "reply": "Because"}
    assert alice_api.post(resolve_url(question.public_id), answer, format="json").status_code == 404
    assert tech_api.post(resolve_url(question.public_id), answer, format="json").status_code == 404
    assert tech_api.get(LIST).status_code == HTTPStatus.NOT_FOUND
    body = {"time_entry": str(entry.public_id), "reason": "Why?"}
    assert staff_api.post(LIST, body, format="json").status_code == HTTPStatus.NOT_FOUND
    question.refresh_from_db()
    assert question.is_open
