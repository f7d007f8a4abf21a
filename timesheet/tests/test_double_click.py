"""A double click on "Save" sends the same form twice at once. When the entry
was saved, both answers must say so: the one the browser shows is the second.

Real threads and committed transactions on PostgreSQL: on SQLite the writers
are serialised and the race cannot happen."""

import threading
import time
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.db import close_old_connections, connection
from django.test import Client

from agreements.models import Ticket, TimeEntry
from agreements.selectors import ledger_balance
from timesheet.tests.test_views import LOG, form_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 30


def test_a_double_click_on_a_new_ticket_saves_once_and_both_answers_say_saved(technician, funded):
    browsers = [Client(), Client()]
    for browser in browsers:
        browser.force_login(technician)
    barrier = threading.Barrier(len(browsers))
    answers: list[tuple[int, list[str]]] = []
    errors: list[BaseException] = []

    def click(browser: Client) -> None:
        try:
            for number in range(ROUNDS):
                barrier.wait(timeout=10)
                if browser is browsers[1]:  # the second click, a few milliseconds after the first
                    time.sleep(number % 10 / 250)
                data = form_data(
                    funded, ticket=f"DC-{number}", idempotency_key=f"click-{number}", duration="15", save="1"
                )
                response = browser.post(LOG, data)
                answers.append((response.status_code, [str(m) for m in get_messages(response.wsgi_request)]))
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()

    assert errors == []
    assert len(answers) == 2 * ROUNDS
    for status, shown in answers:
        assert status == HTTPStatus.FOUND
        assert shown and shown[0].startswith("Logged 15 min on ticket #DC-")
    assert Ticket.objects.filter(number__startswith="DC-").count() == ROUNDS
    assert TimeEntry.objects.filter(agreement=funded).count() == ROUNDS
    funded.refresh_from_db()
    assert funded.balance_minutes == 600 - ROUNDS * 15 == ledger_balance(funded)
