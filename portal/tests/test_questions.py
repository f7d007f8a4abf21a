"""Questioning a charge from the portal's usage list, and the answer shown on the entry."""

import csv
import datetime
import io
from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import ChargeQuestion, QuestionStatus
from agreements.tests.factories import TicketFactory, work_type

pytestmark = pytest.mark.django_db


def question_url(entry) -> str:
    return reverse("portal:question", args=[entry.public_id])


def test_each_usage_row_offers_to_question_the_charge(client, alice, entry):
    client.force_login(alice)
    page = client.get(reverse("portal:agreement", args=[entry.agreement.public_id])).content.decode()
    assert question_url(entry) in page
    assert "Question this charge" in page


def test_alice_questions_a_charge_and_staff_are_emailed(
    client, alice, staff, entry, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    assert client.get(question_url(entry)).status_code == HTTPStatus.OK
    response = client.post(question_url(entry), {"reason": ""})
    assert "This field is required" in response.content.decode()
    assert not ChargeQuestion.objects.exists()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(question_url(entry), {"reason": "<script>alert(1)</script> nobody came"})
    assert response.status_code == HTTPStatus.FOUND
    question = ChargeQuestion.objects.get()
    assert (question.time_entry, question.raised_by, question.status) == (entry, alice, QuestionStatus.OPEN)
    assert [m.to for m in mail.outbox] == [[staff.email]]

    page = client.get(response["Location"]).content.decode()
    assert "waiting for our answer" in page
    assert question_url(entry) not in page  # no second question while this one is open
    again = client.post(question_url(entry), {"reason": "Again"})
    assert "already questioned" in again.content.decode()
    assert ChargeQuestion.objects.count() == 1


def test_the_outcome_shows_on_the_entry(client, alice, staff, entry):
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    services.question_credit(question=question, actor=staff, minutes=30, reply="Travel is on us.")
    client.force_login(alice)
    page = client.get(reverse("portal:agreement", args=[entry.agreement.public_id])).content.decode()
    assert "Credited" in page and "30 min credited" in page and "Travel is on us." in page


def test_a_corrected_entry_shows_the_answer_on_its_replacement(client, alice, staff, entry):
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    services.question_correct(question=question, actor=staff, reply="It was 45 minutes.", minutes=45)
    client.force_login(alice)
    response = client.get(reverse("portal:agreement", args=[entry.agreement.public_id]))
    [row] = list(response.context["page"])
    assert row.minutes == 45 and row.question == question
    assert "It was 45 minutes." in response.content.decode()


def test_entries_outside_the_window_offer_no_question(client, alice, funded, ticket, technician, settings):
    settings.QUESTION_WINDOW_DAYS = 0
    old = services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate() - datetime.timedelta(days=1),
        minutes=30,
        work_type=work_type(),
    )
    client.force_login(alice)
    page = client.get(reverse("portal:agreement", args=[funded.public_id])).content.decode()
    assert question_url(old) not in page
    response = client.post(question_url(old), {"reason": "Too old"})
    assert "days after the work" in response.content.decode()
    assert not ChargeQuestion.objects.exists()


def test_charlie_gets_404_for_alices_entry(client, charlie, entry):
    client.force_login(charlie)
    assert client.get(question_url(entry)).status_code == HTTPStatus.NOT_FOUND
    assert client.post(question_url(entry), {"reason": "Not mine"}).status_code == HTTPStatus.NOT_FOUND
    assert not ChargeQuestion.objects.exists()


@pytest.mark.parametrize("user", ["staff", "technician"])
def test_the_msp_side_gets_404_on_the_portal_form(client, entry, user, request):
    client.force_login(request.getfixturevalue(user))
    assert client.get(question_url(entry)).status_code == HTTPStatus.NOT_FOUND


def test_a_malformed_id_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/portal/entries/not-a-uuid/question/").status_code == HTTPStatus.NOT_FOUND


def test_the_usage_csv_has_each_entrys_question(client, alice, staff, charlie, charlies_entry, entry, technician):
    def log(days_ago: int, minutes: int, number: str):
        return services.time_entry_log(
            agreement=entry.agreement,
            technician=technician,
            ticket=TicketFactory(client=entry.agreement.client, number=number, subject="VPN"),
            work_date=timezone.localdate() - datetime.timedelta(days=days_ago),
            minutes=minutes,
            work_type=work_type(),
        )

    explained, corrected, waiting, _unquestioned = (
        log(2, 60, "T-2"),
        log(3, 60, "T-3"),
        log(4, 15, "T-4"),
        log(5, 30, "T-5"),
    )
    credit = services.question_raise(time_entry=entry, raised_by=alice, reason="Too long")
    services.question_credit(question=credit, actor=staff, minutes=30, reply="Travel is on us.")
    explain = services.question_raise(time_entry=explained, raised_by=alice, reason="Why?")
    services.question_explain(question=explain, actor=staff, reply="The server was rebuilt.")
    correct = services.question_raise(time_entry=corrected, raised_by=alice, reason="It was shorter")
    services.question_correct(question=correct, actor=staff, reply="It was 45 minutes.", minutes=45)
    services.question_raise(time_entry=waiting, raised_by=alice, reason="Who called?")
    services.question_raise(time_entry=charlies_entry, raised_by=charlie, reason="Charlie's own")

    client.force_login(alice)
    response = client.get(reverse("portal:usage_csv", args=[entry.agreement.public_id]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Date", "Technician", "Ticket", "Subject", "Work type", "Worked (min)", "Charged (min)", "Notes", "Question"
    ]  # fmt: skip
    assert [(row[2], row[5], row[6], row[8]) for row in rows[1:]] == [
        (entry.ticket.number, "90", "90", "Credited (30 min credited)"),
        ("T-2", "60", "60", "Explained"),
        ("T-3", "45", "45", "Corrected"),  # the replacement carries the answer
        ("T-4", "15", "15", "Open"),
        ("T-5", "30", "30", ""),
    ]

    # Charlie's own export shows his question only, and Alice's is 404 for him.
    client.force_login(charlie)
    rows = list(csv.reader(io.StringIO(client.get(
        reverse("portal:usage_csv", args=[charlies_entry.agreement.public_id])
    ).content.decode())))  # fmt: skip
    assert [row[8] for row in rows[1:]] == ["Open"]
    response = client.get(reverse("portal:usage_csv", args=[entry.agreement.public_id]))
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_the_usage_csv_speaks_the_contacts_language(client, alice, staff, entry):
    alice.language = "it"
    alice.save()
    question = services.question_raise(time_entry=entry, raised_by=alice, reason="Troppo lungo")
    services.question_credit(question=question, actor=staff, minutes=30, reply="Il viaggio è gratuito.")
    client.force_login(alice)
    rows = list(csv.reader(io.StringIO(client.get(
        reverse("portal:usage_csv", args=[entry.agreement.public_id])
    ).content.decode())))  # fmt: skip
    assert rows[0][8] == "Contestazione"
    assert rows[1][8] == "Accreditato (30 min accreditati)"
