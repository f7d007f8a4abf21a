"""Who sees what: every endpoint per role, "Charlie sees nothing" (404) on
every object endpoint, and lists that never leak another client's rows."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.factories import TicketFactory, work_type
from api.tests.helpers import api_as, entry_body
from billing import services as billing_services
from billing.tests.factories import issued_block_invoice

pytestmark = pytest.mark.django_db
# Another client's object, an unknown one, and an endpoint the caller's role may not use all answer this.
NOT_FOUND = {"status": 404, "code": "not_found", "message": "Not found.", "fields": {}}


@pytest.fixture
def world(funded, other_agreement, staff, technician, seller, ticket):
    """Client A (Alice, Bob) and client B (Charlie), each with an agreement,
    a ticket, a time entry, an issued invoice with a payment."""
    b_ticket = TicketFactory(client=other_agreement.client, number="B-1")
    today = timezone.localdate()
    a_entry = agreement_services.time_entry_log(
        agreement=funded, technician=technician, ticket=ticket, work_date=today, minutes=30, work_type=work_type()
    )
    b_entry = agreement_services.time_entry_log(
        agreement=other_agreement,
        technician=technician,
        ticket=b_ticket,
        work_date=today,
        minutes=45,
        work_type=work_type(),
    )
    a_invoice = issued_block_invoice(funded, staff)
    b_invoice = issued_block_invoice(other_agreement, staff)
    for invoice in (a_invoice, b_invoice):
        billing_services.payment_record(
            invoice=invoice,
            amount="100.00",
            method="ach",
            reference=f"ACH-{invoice.pk}",
            paid_on=today,
            actor=staff,
        )
    return {
        "a": {"client": funded.client, "agreement": funded, "ticket": ticket, "entry": a_entry, "invoice": a_invoice},
        "b": {
            "client": other_agreement.client,
            "agreement": other_agreement,
            "ticket": b_ticket,
            "entry": b_entry,
            "invoice": b_invoice,
        },
    }


def object_urls(side: dict) -> list[str]:
    c, ag, t, e, i = (side[k].public_id for k in ("client", "agreement", "ticket", "entry", "invoice"))
    return [
        f"/api/v1/clients/{c}/",
        f"/api/v1/clients/{c}/contacts/",
        f"/api/v1/agreements/{ag}/",
        f"/api/v1/agreements/{ag}/ledger/",
        f"/api/v1/agreements/{ag}/purchases/",
        f"/api/v1/tickets/{t}/",
        f"/api/v1/time-entries/{e}/",
        f"/api/v1/invoices/{i}/",
        f"/api/v1/invoices/{i}/payments/",
        f"/api/v1/invoices/{i}/pdf/",
    ]


def object_writes(side: dict) -> list[tuple[str, dict]]:
    ag, e, i, c = (side[k].public_id for k in ("agreement", "entry", "invoice", "client"))
    return [
        (f"/api/v1/agreements/{ag}/purchases/", {"hours": 5}),
        (f"/api/v1/agreements/{ag}/adjustments/", {"minutes": 60, "reason": "goodwill"}),
        (f"/api/v1/time-entries/{e}/void/", {"reason": "wrong client"}),
        (
            f"/api/v1/invoices/{i}/payments/",
            {"amount": "1.00", "method": "ach", "reference": "X", "paid_on": "2026-01-01"},
        ),
        (f"/api/v1/clients/{c}/contacts/", {"username": "eve", "email": "eve@example.com"}),
    ]


LISTS = ["clients", "agreements", "tickets", "time-entries", "invoices"]


def ids_in(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


# --- Charlie sees nothing of client A ----------------------------------------


def test_charlie_gets_404_on_every_object_of_client_a(world, charlie_api):
    for url in object_urls(world["a"]):
        response = charlie_api.get(url)
        assert response.status_code == HTTPStatus.NOT_FOUND, url
        assert response.json() == NOT_FOUND, url


def test_charlie_gets_404_not_403_writing_to_client_as_objects(world, charlie_api):
    before = world["a"]["agreement"].ledger.count()
    for url, body in object_writes(world["a"]):
        response = charlie_api.post(url, body, format="json")
        assert response.status_code == HTTPStatus.NOT_FOUND, url
    assert world["a"]["agreement"].ledger.count() == before


def test_charlie_cannot_log_time_on_client_as_agreement(world, charlie_api):
    response = charlie_api.post(
        "/api/v1/time-entries/", entry_body(world["a"]["agreement"], world["a"]["ticket"]), format="json"
    )
    assert response.status_code == HTTPStatus.NOT_FOUND  # a contact never logs time, whoever's agreement
    assert response.json() == NOT_FOUND


def test_alice_sees_her_own_clients_objects(world, alice_api):
    for url in object_urls(world["a"]):
        response = alice_api.get(url)
        assert response.status_code == HTTPStatus.OK, url


def test_unknown_and_malformed_ids_are_404(world, staff_api):
    for url in (
        "/api/v1/agreements/00000000-0000-0000-0000-000000000000/",
        "/api/v1/agreements/not-a-uuid/",
        "/api/v1/invoices/123/pdf/",
        "/api/v1/time-entries/00000000-0000-0000-0000-000000000000/void/",
    ):
        method = staff_api.post if url.endswith("void/") else staff_api.get
        assert method(url, {"reason": "x"}, format="json").status_code == HTTPStatus.NOT_FOUND, url


@pytest.mark.parametrize("name", LISTS)
def test_lists_never_leak_another_clients_rows(world, alice_api, charlie_api, name):
    a_ids = ids_in(alice_api.get(f"/api/v1/{name}/"))
    c_ids = ids_in(charlie_api.get(f"/api/v1/{name}/"))
    assert a_ids and c_ids
    assert not a_ids & c_ids
    key = {
        "clients": "client",
        "agreements": "agreement",
        "tickets": "ticket",
        "time-entries": "entry",
        "invoices": "invoice",
    }[name]
    assert str(world["a"][key].public_id) in a_ids
    assert str(world["b"][key].public_id) in c_ids


def test_filtering_on_another_clients_id_finds_nothing(world, charlie_api):
    a = world["a"]
    for url in (
        f"/api/v1/agreements/?client={a['client'].public_id}",
        f"/api/v1/time-entries/?agreement={a['agreement'].public_id}",
        f"/api/v1/invoices/?client={a['client'].public_id}",
        f"/api/v1/tickets/?client={a['client'].public_id}",
    ):
        response = charlie_api.get(url)
        assert response.status_code == HTTPStatus.OK
        assert response.json()["count"] == 0, url


def test_staff_and_technicians_see_every_client(world, staff_api, tech_api):
    for api in (staff_api, tech_api):
        assert ids_in(api.get("/api/v1/clients/")) >= {
            str(world["a"]["client"].public_id),
            str(world["b"]["client"].public_id),
        }
        assert len(ids_in(api.get("/api/v1/agreements/"))) == 2
        assert len(ids_in(api.get("/api/v1/time-entries/"))) == 2


def test_technicians_see_no_billing(world, tech_api):
    a = world["a"]
    for url in (
        "/api/v1/invoices/",
        f"/api/v1/invoices/{a['invoice'].public_id}/",
        f"/api/v1/invoices/{a['invoice'].public_id}/pdf/",
        f"/api/v1/agreements/{a['agreement'].public_id}/purchases/",
    ):
        response = tech_api.get(url)
        assert response.status_code == HTTPStatus.NOT_FOUND, url
        assert response.json() == NOT_FOUND, url
    assert tech_api.get(f"/api/v1/agreements/{a['agreement'].public_id}/ledger/").status_code == HTTPStatus.OK


def test_contacts_are_read_only(world, alice_api):
    a = world["a"]
    writes = [
        ("/api/v1/clients/", {"name": "New"}),
        ("/api/v1/agreements/", {"client": str(a["client"].public_id)}),
        ("/api/v1/tickets/", {"client": str(a["client"].public_id), "number": "9", "subject": "x"}),
        ("/api/v1/time-entries/", entry_body(a["agreement"], a["ticket"])),
        ("/api/v1/tokens/", {"user": "alice", "name": "mine"}),
    ]
    writes += object_writes(a)
    before = a["agreement"].ledger.count()
    for url, body in writes:
        response = alice_api.post(url, body, format="json")
        assert response.status_code == HTTPStatus.NOT_FOUND, url
        assert response.json() == NOT_FOUND, url  # the same answer as an unknown URL or object
    assert a["agreement"].ledger.count() == before


def test_technicians_cannot_sell_adjust_pay_or_create_clients(world, tech_api):
    a = world["a"]
    for url, body in [
        ("/api/v1/clients/", {"name": "New"}),
        (f"/api/v1/agreements/{a['agreement'].public_id}/purchases/", {"hours": 5}),
        (f"/api/v1/agreements/{a['agreement'].public_id}/adjustments/", {"minutes": 5, "reason": "x"}),
        (f"/api/v1/invoices/{a['invoice'].public_id}/payments/", {"amount": "1.00"}),
    ]:
        response = tech_api.post(url, body, format="json")
        assert response.status_code == HTTPStatus.NOT_FOUND, url
        assert response.json() == NOT_FOUND, url


def test_contacts_never_see_drafts(world, alice_api, staff, seller):
    block = agreement_services.block_sell(agreement=world["a"]["agreement"], hours=3, actor=staff)
    draft = billing_services.invoice_create_for_block(block=block, actor=staff)
    assert alice_api.get(f"/api/v1/invoices/{draft.public_id}/").status_code == HTTPStatus.NOT_FOUND
    assert str(draft.public_id) not in ids_in(alice_api.get("/api/v1/invoices/"))


def test_catalogue_is_readable_by_every_role(world, staff_api, tech_api, alice_api):
    for api in (staff_api, tech_api, alice_api):
        tiers = api.get("/api/v1/tiers/").json()["results"]
        assert [t["hours"] for t in tiers] == [10, 20, 30]
        assert tiers[1]["discount_per_hour"] == "10.00"
        kinds = api.get("/api/v1/work-types/").json()["results"]
        assert {k["name"]: k["multiplier"] for k in kinds}["Emergency"] == "2.00"
        assert api.get(f"/api/v1/tiers/{tiers[0]['id']}/").status_code == HTTPStatus.OK


def test_anonymous_gets_401_everywhere(world, anon_api):
    for url in ["/api/v1/clients/", "/api/v1/tiers/", *object_urls(world["a"])]:
        response = anon_api.get(url)
        assert response.status_code == HTTPStatus.UNAUTHORIZED, url
        assert response.json()["code"] == "not_authenticated"


def test_session_auth_serves_the_browsable_api(world, client, staff):
    client.force_login(staff)
    response = client.get("/api/v1/agreements/", HTTP_ACCEPT="text/html")
    assert response.status_code == HTTPStatus.OK
    assert "text/html" in response["Content-Type"]


def test_every_list_is_paginated_with_at_most_100(world, staff_api, technician):
    from agreements.tests.factories import TicketFactory

    TicketFactory.create_batch(120, client=world["a"]["client"])
    response = staff_api.get("/api/v1/tickets/?page_size=500")
    body = response.json()
    assert body["count"] == 122
    assert len(body["results"]) == 100
    assert body["next"]
    assert len(staff_api.get("/api/v1/tickets/").json()["results"]) == 50


def test_api_as_helper_tokens_are_per_user(alice, bob):
    assert api_as(alice).get("/api/v1/clients/").json()["count"] == 1
    assert api_as(bob).get("/api/v1/clients/").json()["count"] == 1


def test_a_filter_without_a_value_or_with_a_bad_boolean_is_a_400(world, staff_api):
    for url, field in (
        ("/api/v1/agreements/?client=", "client"),
        ("/api/v1/clients/?is_active=null", "is_active"),
        ("/api/v1/tickets/?page_size=0", "page_size"),
        ("/api/v1/tickets/?page_size=x", "page_size"),
    ):
        response = staff_api.get(url)
        assert response.status_code == HTTPStatus.BAD_REQUEST, url
        assert field in response.json()["fields"], url
    assert staff_api.get("/api/v1/tickets/?page=99").status_code == HTTPStatus.NOT_FOUND
    assert staff_api.get("/api/v1/tiers/0.5/").json()["code"] == "not_found"
