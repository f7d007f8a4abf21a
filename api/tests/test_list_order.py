"""Every list's default order ends with the id, newest first: rows that tie on
their dates still come in one fixed order, so no row is skipped or repeated
between pages (and the order is the one the list's index holds)."""

import datetime as dt

import pytest
from django.utils import timezone

from agreements.models import Ticket, TimeEntry
from agreements.tests.factories import TicketFactory, tier
from api.tests.helpers import entry_body
from billing.models import Invoice
from billing.services import invoice_sell_block

pytestmark = pytest.mark.django_db

SAME_MOMENT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _ids(api, path: str, **params) -> list[str]:
    response = api.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


def _newest_id_first(model, rows) -> list[str]:
    return [str(row.public_id) for row in model.objects.filter(pk__in=[r.pk for r in rows]).order_by("-id")]


def test_time_entries_on_the_same_day_and_moment_come_newest_id_first_on_every_page(
    tech_api, staff_api, funded, ticket
):
    for _ in range(5):
        response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=5), format="json")
        assert response.status_code == 201, response.content
    TimeEntry.objects.update(work_date=timezone.localdate(), created_at=SAME_MOMENT)
    expected = _newest_id_first(TimeEntry, TimeEntry.objects.all())

    pages = _ids(staff_api, "/api/v1/time-entries/", page_size=2)
    pages += _ids(staff_api, "/api/v1/time-entries/", page_size=2, page=2)
    pages += _ids(staff_api, "/api/v1/time-entries/", page_size=2, page=3)

    assert pages == expected


def test_tickets_created_at_the_same_moment_come_newest_id_first(staff_api, client_a):
    tickets = [TicketFactory(client=client_a) for _ in range(4)]
    Ticket.objects.update(created_at=SAME_MOMENT)

    assert _ids(staff_api, "/api/v1/tickets/") == _newest_id_first(Ticket, tickets)


def test_invoices_created_at_the_same_moment_come_newest_id_first(staff_api, funded, staff, seller):
    invoices = [invoice_sell_block(agreement=funded, actor=staff, tier=tier(10)) for _ in range(4)]
    Invoice.objects.update(created_at=SAME_MOMENT)

    assert _ids(staff_api, "/api/v1/invoices/") == _newest_id_first(Invoice, invoices)
