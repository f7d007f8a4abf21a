"""Each big API list reads its first page from an index in the list's own order, instead of
sorting every row (the time-entry list sorted 80,000 joined rows to return 50 at 10,000 clients).

At test sizes the planner rightly prefers a sequential scan, so the plan is asked for with
sequential scans and sorts priced out: if an index can give the order, the plan uses it and
has no Sort; if none can, the Sort stays. The query is the one the list really ran."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.tests.factories import TicketFactory, tier
from api.tests.helpers import entry_body
from billing.credit_notes import block_unused_cancel
from billing.services import invoice_sell_block
from billing.tests.test_credit_notes import paid_block

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan_of_the_page_query(api, path: str, table: str) -> list[dict]:
    with CaptureQueriesContext(connection) as captured:
        assert api.get(path).status_code == 200
    [sql] = [q["sql"] for q in captured.captured_queries if f'FROM "{table}"' in q["sql"] and "LIMIT" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return list(_nodes(plan[0]["Plan"]))


@pytest.mark.parametrize(
    ("path", "table", "index"),
    [
        ("/api/v1/time-entries/", "agreements_timeentry", "timeentry_list_order_idx"),
        ("/api/v1/tickets/", "agreements_ticket", "ticket_list_order_idx"),
        ("/api/v1/invoices/", "billing_invoice", "invoice_list_order_idx"),
        ("/api/v1/credit-notes/", "billing_creditnote", "creditnote_list_order_idx"),
        ("/api/v1/clients/", "agreements_client", "agreements_client_name_key"),
        ("/api/v1/agreements/", "agreements_agreement", "agreements_client_name_key"),
    ],
)
def test_the_staff_list_reads_its_page_in_index_order_without_a_sort(
    staff_api, tech_api, funded, ticket, staff, seller, path, table, index
):
    TicketFactory(client=funded.client)
    tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=5), format="json")
    invoice_sell_block(agreement=funded, actor=staff, tier=tier(10))
    paid = paid_block(funded, staff, hours=10)
    block_unused_cancel(block=paid.block, disposition="refund", actor=staff, reason="Client leaves", minutes=90)

    nodes = _plan_of_the_page_query(staff_api, path, table)

    # An Incremental Sort (agreements: by position within each client, read in name order) sorts
    # one client's rows at a time and stops at the page's end; a Sort would read every row first.
    assert [n["Node Type"] for n in nodes if n["Node Type"] == "Sort"] == []
    assert index in {n.get("Index Name") for n in nodes}
