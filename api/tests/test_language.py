"""The API answers in the language of the request's Accept-Language header:
its own error messages from our catalogue, DRF's from DRF's."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone, translation

from api.tests.helpers import entry_body

pytestmark = pytest.mark.django_db


def italian(message: str) -> str:
    with translation.override("it"):
        return translation.gettext(message)


def test_it_answers_drf_messages_in_the_language_asked_for(tech_api, funded, ticket):
    body = entry_body(funded, ticket)
    del body["minutes"]
    response = tech_api.post("/api/v1/time-entries/", body, format="json", HTTP_ACCEPT_LANGUAGE="it")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert italian("This field is required.") != "This field is required."
    assert response.json()["fields"] == {"minutes": [italian("This field is required.")]}


def test_it_answers_in_english_without_accept_language(tech_api, funded, ticket):
    body = entry_body(funded, ticket, ticket_number="1")
    response = tech_api.post("/api/v1/time-entries/", body, format="json")
    assert response.json()["fields"] == {"ticket": ["Give either ticket (an id) or ticket_number, not both."]}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        # Refused by the serializer.
        ({"ticket_number": "1"}, "ticket", "Give either ticket (an id) or ticket_number, not both."),
        # Refused by agreements.services.
        (
            {"work_date": (timezone.localdate() + datetime.timedelta(days=1)).isoformat()},
            "work_date",
            "Time cannot be logged for a future date.",
        ),
    ],
)
def test_it_answers_our_own_messages_in_italian(tech_api, funded, ticket, change, field, message):
    body = entry_body(funded, ticket, **change)
    response = tech_api.post("/api/v1/time-entries/", body, format="json", HTTP_ACCEPT_LANGUAGE="it")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert italian(message) != message  # translated in the catalogue
    assert response.json()["fields"] == {field: [italian(message)]}
