"""Staff see open questions on the dashboard and the client's page, and answer them."""

from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from agreements import services
from agreements.models import Agreement, LedgerEntry, LedgerKind, QuestionStatus
from agreements.selectors import ledger_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def question(entry, alice):
    return services.question_raise(time_entry=entry, raised_by=alice, reason="Nobody came <b>that</b> day.")


def resolve_url(question) -> str:
    return reverse("dashboard:question_resolve", args=[question.public_id])


def test_open_questions_show_on_the_home_and_client_pages(client, staff, question):
    client.force_login(staff)
    entry = question.time_entry
    for url in (reverse("dashboard:home"), reverse("dashboard:client", args=[entry.agreement.client.public_id])):
        page = client.get(url).content.decode()
        assert resolve_url(question) in page, url
        assert f"#{entry.ticket.number}" in page
        assert "tess" in page  # the technician
        assert "Nobody came &lt;b&gt;that&lt;/b&gt; day." in page


def test_staff_credit_part_of_the_charge(client, staff, question, django_capture_on_commit_callbacks):
    client.force_login(staff)
    assert client.get(resolve_url(question)).status_code == HTTPStatus.OK
    response = client.post(resolve_url(question), {"outcome": "credited", "reply": "Travel is on us."})
    assert "Enter the minutes to credit." in response.content.decode()
    response = client.post(resolve_url(question), {"outcome": "credited", "reply": "Too much", "credit_minutes": "91"})
    assert "At most 90 min can be credited" in response.content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            resolve_url(question), {"outcome": "credited", "reply": "Travel is on us.", "credit_minutes": "30"}
        )
    assert response.status_code == HTTPStatus.FOUND
    agreement = Agreement.objects.get(pk=question.time_entry.agreement_id)
    assert agreement.balance_minutes == ledger_balance(agreement) == 600 - 90 + 30
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com"]
    # A double click: the second post finds the question answered, credits nothing.
    again = client.post(
        resolve_url(question), {"outcome": "credited", "reply": "Travel is on us.", "credit_minutes": "30"}
    )
    assert again.status_code == HTTPStatus.OK
    assert LedgerEntry.objects.filter(kind=LedgerKind.QUESTION_CREDIT).count() == 1
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 540
    page = client.get(reverse("dashboard:home")).content.decode()
    assert resolve_url(question) not in page


def test_staff_explain_and_correct(client, staff, question, alice):
    client.force_login(staff)
    client.post(resolve_url(question), {"outcome": "explained", "reply": "The router was replaced."})
    question.refresh_from_db()
    assert question.status == QuestionStatus.EXPLAINED
    second = services.question_raise(time_entry=question.time_entry, raised_by=alice, reason="Still too long")
    response = client.post(resolve_url(second), {"outcome": "corrected", "reply": "Fixed", "minutes": "45"})
    assert response.status_code == HTTPStatus.FOUND
    second.refresh_from_db()
    assert (second.status, second.correction.minutes) == (QuestionStatus.CORRECTED, 45)


@pytest.mark.parametrize("user", ["alice", "charlie", "technician"])
def test_only_staff_open_the_resolve_page(client, question, user, request):
    client.force_login(request.getfixturevalue(user))
    assert client.get(resolve_url(question)).status_code == HTTPStatus.NOT_FOUND
    assert client.post(resolve_url(question), {"outcome": "explained", "reply": "x"}).status_code == 404
    question.refresh_from_db()
    assert question.is_open


def test_the_outcome_is_a_set_of_labelled_radio_buttons(client, staff, question):
    """Not a text box around the radios: each outcome is a form-check with its label."""
    client.force_login(staff)
    page = client.get(resolve_url(question)).content.decode()
    assert '<legend class="form-label fs-6">Outcome</legend>' in page
    assert (
        '<div class="form-check"><input type="radio" name="outcome" value="credited" id="id_outcome_1" required> '
        '<label class="form-check-label" for="id_outcome_1">Credit minutes back</label></div>'
    ) in page
    assert 'type="radio" name="outcome" value="credited" class="form-control"' not in page
    page = client.post(resolve_url(question), {"reply": "No outcome chosen"}).content.decode()
    fieldset = page[page.index("<fieldset") : page.index("</fieldset>")]
    assert 'aria-describedby="id_outcome_errors"' in fieldset
    assert '<div class="invalid-feedback d-block" id="id_outcome_errors">This field is required.</div>' in fieldset
