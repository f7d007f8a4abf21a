"""The hot time-entry POST's SQL (issue 20): how many statements it runs, and
how many of them while it holds the agreement's row lock, which every other
writer on that agreement waits for.

Counted with the request's real transaction (transaction=True); the
low-balance check the POST queues after commit is left out (notifications
owns it and its own query count).
"""

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import Agreement, LedgerEntry, TimeEntry
from agreements.runway import burn_refresh_stale
from agreements.selectors import ledger_balance
from api.tests.helpers import entry_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checks_queued(monkeypatch):
    queued = []
    monkeypatch.setattr("api.views.queue_agreement_check", queued.append)
    return queued


@pytest.fixture
def counted(funded):
    """The funded agreement with its burn counted for today, as the nightly
    recount (or any entry today) leaves it: the POST moves it by the entry's
    minutes in the balance's UPDATE."""
    burn_refresh_stale()
    funded.refresh_from_db()
    return funded


def _post(tech_api, body, key):
    tech_api.get("/api/v1/tiers/")  # the token's first use of the minute writes its last use: not counted
    with CaptureQueriesContext(connection) as captured:
        response = tech_api.post("/api/v1/time-entries/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    return response, [query["sql"] for query in captured.captured_queries]


def test_it_logs_time_in_14_statements(tech_api, counted, ticket, checks_queued):
    funded = counted
    body = entry_body(funded, ticket)  # looks up the work type: before counting
    response, statements = _post(tech_api, body, "first-key")

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert len(statements) == 14, "\n".join(statements)
    # The burn moves in the balance's UPDATE: nothing sums the entries.
    assert not [sql for sql in statements if "SUM(" in sql.upper()]
    # No savepoints: the key is claimed with INSERT … ON CONFLICT DO NOTHING and
    # the service joins the view's transaction.
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    assert "ON CONFLICT DO NOTHING" in statements[2]
    # Unique lookups carry no ORDER BY; staff and technicians' scope adds no subquery.
    assert not [sql for sql in statements if "ORDER BY" in sql]
    assert not [sql for sql in statements if "IN (SELECT" in sql]
    # Still every guarantee: one entry, its debit, the balance equal to the ledger, the check queued.
    entry = TimeEntry.objects.get()
    assert LedgerEntry.objects.filter(time_entry=entry).count() == 1
    funded.refresh_from_db()
    assert funded.balance_minutes == ledger_balance(funded) == 600 - 30
    assert checks_queued == [funded.pk]
    assert Agreement.objects.values_list("burn_minutes", flat=True).get(pk=funded.pk) == 30


def test_a_burn_counted_on_another_day_costs_one_recount(tech_api, funded, ticket, checks_queued):
    body = entry_body(funded, ticket)
    response, statements = _post(tech_api, body, "first-key")  # the factory's agreement was never counted

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert len(statements) == 15, "\n".join(statements)
    [recount] = [sql for sql in statements if "SUM(" in sql.upper()]
    assert recount.startswith('UPDATE "agreements_agreement"')
    assert Agreement.objects.values_list("burn_minutes", flat=True).get(pk=funded.pk) == 30


@pytest.mark.postgres
def test_it_holds_the_agreement_lock_for_8_statements(tech_api, counted, ticket, checks_queued):
    funded = counted
    body = entry_body(funded, ticket)
    response, statements = _post(tech_api, body, "first-key")

    assert response.status_code == HTTPStatus.CREATED, response.content
    [lock] = [n for n, sql in enumerate(statements) if "FOR NO KEY UPDATE" in sql]
    under_lock = statements[lock:]
    # The lock, which also reads whether the agreement covers the work type;
    # its blocks with minutes left (read once for the overage check and the
    # allocation); the entry; its debit; the balance with the cached burn;
    # the block's minutes left; the key's stored response; COMMIT.
    assert len(under_lock) == 8, "\n".join(under_lock)
    assert [sql.split()[0] for sql in under_lock] == [
        "SELECT",
        "SELECT",
        "INSERT",
        "INSERT",
        "UPDATE",
        "UPDATE",
        "UPDATE",
        "COMMIT",
    ]
    assert statements[0].startswith('SELECT "api_apitoken"')
    assert statements[1] == "BEGIN"


def test_a_retry_replays_without_writing(tech_api, funded, ticket, checks_queued):
    body = entry_body(funded, ticket)
    first, _ = _post(tech_api, body, "the-key")
    again, statements = _post(tech_api, body, "the-key")

    assert again.status_code == first.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    # The token, BEGIN, the claim that finds the key taken, the key row locked, COMMIT.
    assert len(statements) == 5, "\n".join(statements)
    assert TimeEntry.objects.count() == 1
    funded.refresh_from_db()
    assert funded.balance_minutes == ledger_balance(funded) == 600 - 30
