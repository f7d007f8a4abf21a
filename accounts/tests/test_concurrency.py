"""Two staff members adding the same username at the same moment: one account
is made and the other is told the username is taken, never a server error.

Real threads and committed transactions on PostgreSQL."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.services import technician_create
from agreements import services
from agreements.tests.factories import ClientFactory
from agreements.tests.test_concurrency import run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5
AT_ONCE = 4


def _race(create) -> None:
    for number in range(ROUNDS):
        refused = _attempt_at_once(create, username=f"sam{number}")
        assert User.objects.filter(username=f"sam{number}").count() == 1
        assert [error.message_dict for error in refused] == [
            {"username": ["A user with that username already exists."]}
        ] * (AT_ONCE - 1)


def _attempt_at_once(create, *, username: str) -> list[ValidationError]:
    refused: list[ValidationError] = []

    def attempt(index: int) -> None:
        try:
            create(username=username, email=f"{username}-{index}@example.com")
        except ValidationError as error:
            refused.append(error)

    assert run_in_threads(AT_ONCE, attempt) == []
    return refused


def test_two_technicians_with_one_username_at_once_give_one_account_and_a_clear_refusal():
    _race(technician_create)


def test_two_client_contacts_with_one_username_at_once_give_one_account_and_a_clear_refusal():
    client = ClientFactory(name="Racing Co")
    _race(lambda **fields: services.client_contact_create(client=client, **fields))
