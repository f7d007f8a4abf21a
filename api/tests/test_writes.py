"""Writes through the API go through the services: what each role may do,
the responses' shapes, and bad input answered with a clear 400 that changes
nothing."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements.models import Agreement, Client, LedgerEntry, Ticket, TimeEntry
from agreements.selectors import ledger_balance
from agreements.tests.factories import TicketFactory, tier, work_type
from api.models import ApiToken, token_hash
from api.tests.helpers import api_as, entry_body
from billing.models import Invoice, InvoiceStatus, Payment

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def snapshot(agreement: Agreement) -> tuple:
    agreement.refresh_from_db()
    return (
        agreement.balance_minutes,
        LedgerEntry.objects.count(),
        TimeEntry.objects.count(),
        Invoice.objects.count(),
        Payment.objects.count(),
    )


# --- time entries ---------------------------------------------------------------


def test_it_logs_time_and_charges_rounded_minutes(tech_api, funded, ticket, technician):
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=7), format="json")
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["minutes"] == 7
    assert body["charged_minutes"] == 15
    assert body["technician"] == "tess"
    assert body["agreement"] == str(funded.public_id)
    assert body["ticket_number"] == ticket.number
    funded.refresh_from_db()
    assert funded.balance_minutes == 600 - 15 == ledger_balance(funded)
    assert tech_api.get(f"/api/v1/time-entries/{body['id']}/").json() == body


def test_it_logs_time_on_a_ticket_number_creating_the_ticket(staff_api, funded):
    body = entry_body(funded, None, minutes=60, ticket_number="PSA-77", ticket_subject="VPN down")
    response = staff_api.post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert Ticket.objects.get(client=funded.client, number="PSA-77").subject == "VPN down"
    assert response.json()["technician"] == "sam"


def test_html_in_notes_is_stored_as_typed_and_only_ever_sent_as_json(tech_api, funded, ticket, client, staff):
    # The project's rule (agreements tests): notes are plain text, stored as
    # typed and escaped wherever shown. The API answers JSON, never HTML.
    notes = '<script>alert("x")</script> fixed'
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, notes=notes), format="json")
    assert response.status_code == HTTPStatus.CREATED
    assert response["Content-Type"] == "application/json"
    assert response.json()["notes"] == notes
    client.force_login(staff)
    page = client.get(f"/api/v1/time-entries/{response.json()['id']}/", HTTP_ACCEPT="text/html").content.decode()
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"minutes": -30}, "minutes", "more than zero"),
        ({"minutes": 0}, "minutes", "more than zero"),
        ({"minutes": 100_000}, "minutes", "longer than 24 hours"),
        ({"minutes": 10**30}, "minutes", "longer than 24 hours"),
        ({"minutes": "1.5h"}, "minutes", "valid integer"),
        ({"minutes": "12.5"}, "minutes", "valid integer"),
        ({"minutes": True}, "minutes", "valid integer"),
        ({"minutes": "30"}, "minutes", "valid integer"),
        ({"work_type": "1"}, "work_type", "Incorrect type"),
        ({"notes": 42}, "notes", "JSON string"),
        ({"minutes": None}, "minutes", "null"),
        ({"agreement": "00000000-0000-0000-0000-000000000000"}, "agreement", "No agreement with id"),
        ({"agreement": "nope"}, "agreement", "No agreement with id"),
        ({"work_type": 999_999}, "work_type", "Invalid pk"),
        ({"work_date": "2026-13-45"}, "work_date", "Date has wrong format"),
        ({"work_date": (TODAY.replace(year=TODAY.year + 1)).isoformat()}, "work_date", "future date"),
    ],
)
def test_bad_time_entries_get_a_clear_400_and_change_nothing(tech_api, funded, ticket, change, field, message):
    before = snapshot(funded)
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, **change), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    body = response.json()
    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert message in " ".join(body["fields"][field]), body
    assert body["message"]
    assert snapshot(funded) == before


def test_malformed_json_is_a_400(tech_api, funded):
    response = tech_api.post("/api/v1/time-entries/", "{not json", content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "parse_error"


def test_time_beyond_the_balance_is_409_and_changes_nothing(tech_api, funded, ticket):
    before = snapshot(funded)
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=24 * 60), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST or response.status_code == HTTPStatus.CONFLICT
    # 10 h block, 24 h entry: refused by the reject policy
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "insufficient_balance"
    assert "only 600 min can be charged" in response.json()["message"]
    assert snapshot(funded) == before


def test_a_ticket_of_another_client_is_refused(tech_api, funded, other_agreement):
    other_ticket = TicketFactory(client=other_agreement.client)
    before = snapshot(funded)
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, other_ticket), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "belongs to another client" in response.json()["fields"]["ticket"][0]
    assert snapshot(funded) == before


def test_either_ticket_or_ticket_number(tech_api, funded, ticket):
    response = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, ticket_number="1"), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "either" in response.json()["fields"]["ticket"][0]


def test_a_technician_voids_their_own_entry_and_gets_the_minutes_back(tech_api, funded, ticket):
    entry = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=60), format="json").json()
    response = tech_api.post(f"/api/v1/time-entries/{entry['id']}/void/", {"reason": "wrong ticket"}, format="json")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["voided_at"]
    assert response.json()["void_reason"] == "wrong ticket"
    funded.refresh_from_db()
    assert funded.balance_minutes == 600
    again = tech_api.post(f"/api/v1/time-entries/{entry['id']}/void/", {"reason": "again"}, format="json")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert again.json()["message"] == "This time entry is already void."


def test_a_technician_cannot_void_anothers_entry_but_staff_can(staff_api, tech_api, funded, ticket):
    entry = staff_api.post("/api/v1/time-entries/", entry_body(funded, ticket), format="json").json()
    response = tech_api.post(f"/api/v1/time-entries/{entry['id']}/void/", {"reason": "x"}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["message"] == "Technicians can only change their own time entries."
    assert (
        staff_api.post(f"/api/v1/time-entries/{entry['id']}/void/", {"reason": "x"}, format="json").status_code == 200
    )


def test_void_needs_a_reason(tech_api, funded, ticket):
    entry = tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket), format="json").json()
    response = tech_api.post(f"/api/v1/time-entries/{entry['id']}/void/", {"reason": ""}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "reason" in response.json()["fields"]


def test_time_entries_filter_and_order(tech_api, funded, ticket):
    for minutes in (15, 30, 45):
        tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=minutes), format="json")
    rows = tech_api.get(f"/api/v1/time-entries/?agreement={funded.public_id}&ordering=charged_minutes").json()
    assert [row["charged_minutes"] for row in rows["results"]] == [15, 30, 45]
    assert tech_api.get("/api/v1/time-entries/?technician=nobody").json()["count"] == 0
    bad = tech_api.get("/api/v1/time-entries/?work_date_from=yesterday")
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert "work_date_from" in bad.json()["fields"]


# --- purchases, payments, adjustments ---------------------------------------------


def test_staff_sells_a_block_and_its_invoice_is_issued(staff_api, agreement, seller):
    response = staff_api.post(
        f"/api/v1/agreements/{agreement.public_id}/purchases/", {"tier": tier(20).pk}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert body["block"]["minutes"] == 1200
    assert body["block"]["rate"] == "90.00"
    assert body["block"]["amount"] == "1800.00"
    assert body["block"]["currency"] == "USD"
    assert body["invoice"]["status"] == "issued"
    assert body["invoice"]["total"] == "1800.00"
    assert body["invoice"]["number"].startswith(f"{TODAY.year}-")
    assert body["balance_minutes"] == 0  # usable when paid
    listed = staff_api.get(f"/api/v1/agreements/{agreement.public_id}/purchases/").json()
    assert [row["id"] for row in listed["results"]] == [body["block"]["id"]]


def test_a_purchase_without_a_seller_profile_says_what_to_do(staff_api, agreement):
    response = staff_api.post(f"/api/v1/agreements/{agreement.public_id}/purchases/", {"hours": 5}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "seller profile" in response.json()["message"]
    assert not agreement.blocks.exists()  # all or nothing


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": 0}, "hours"),
        ({"hours": 10_001}, "hours"),
        ({"hours": "ten"}, "hours"),
        ({}, "non_field_errors"),
        ({"tier": 1, "hours": 3}, "non_field_errors"),
        ({"tier": 999}, "tier"),
    ],
)
def test_bad_purchases_are_400_and_sell_nothing(staff_api, agreement, seller, body, field):
    response = staff_api.post(f"/api/v1/agreements/{agreement.public_id}/purchases/", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert field in response.json()["fields"] or response.json()["message"]
    assert not agreement.blocks.exists()
    assert not Invoice.objects.exists()


def test_staff_records_a_payment_which_credits_the_hours(staff_api, agreement, seller, alice):
    sold = staff_api.post(
        f"/api/v1/agreements/{agreement.public_id}/purchases/", {"tier": tier(10).pk}, format="json"
    ).json()
    url = f"/api/v1/invoices/{sold['invoice']['id']}/payments/"
    first = staff_api.post(
        url, {"amount": "400.00", "method": "ach", "reference": "ACH-1", "paid_on": TODAY.isoformat()}, format="json"
    )
    assert first.status_code == HTTPStatus.CREATED, first.json()
    assert first.json()["amount"] == "400.00"
    assert first.json()["currency"] == "USD"
    invoice = staff_api.get(f"/api/v1/invoices/{sold['invoice']['id']}/").json()
    assert (invoice["amount_paid"], invoice["amount_due"], invoice["status"]) == ("400.00", "600.00", "issued")
    rest = staff_api.post(
        url, {"amount": "600.00", "method": "card", "reference": "CARD-2", "paid_on": TODAY.isoformat()}, format="json"
    )
    assert rest.status_code == HTTPStatus.CREATED
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 600
    invoice = api_as(alice).get(f"/api/v1/invoices/{sold['invoice']['id']}/").json()
    assert (invoice["status"], invoice["amount_due"]) == ("paid", "0.00")
    assert [p["reference"] for p in staff_api.get(url).json()["results"]] == ["ACH-1", "CARD-2"]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "decimal string"),
        (1000, "decimal string"),
        (999.99, "decimal string"),
        ("-5.00", "more than zero"),
        ("0", "more than zero"),
        ("1.234", "decimal places"),
        ("5000.00", "more than the"),
        ("1e400", "digits"),
        ("NaN", "decimal string"),
    ],
)
def test_bad_payments_are_400_and_change_nothing(staff_api, agreement, seller, amount, message):
    sold = staff_api.post(
        f"/api/v1/agreements/{agreement.public_id}/purchases/", {"tier": tier(10).pk}, format="json"
    ).json()
    before = snapshot(agreement)
    response = staff_api.post(
        f"/api/v1/invoices/{sold['invoice']['id']}/payments/",
        {"amount": amount, "method": "ach", "reference": "R", "paid_on": TODAY.isoformat()},
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert message in " ".join(response.json()["fields"].get("amount", [])), response.json()
    assert snapshot(agreement) == before


def test_staff_adjusts_the_balance_with_a_reason(staff_api, funded):
    response = staff_api.post(
        f"/api/v1/agreements/{funded.public_id}/adjustments/",
        {"minutes": -90, "reason": "Onsite visit logged on paper"},
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert body["balance_minutes"] == 510
    assert [(e["kind"], e["minutes"], e["author"]) for e in body["entries"]] == [("adjustment", -90, "sam")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"minutes": 0, "reason": "x"}, "minutes"),
        ({"minutes": 60, "reason": ""}, "reason"),
        ({"minutes": 10**9, "reason": "x"}, "minutes"),
        ({"minutes": "6O", "reason": "x"}, "minutes"),
    ],
)
def test_bad_adjustments_are_400(staff_api, funded, body, field):
    before = snapshot(funded)
    response = staff_api.post(f"/api/v1/agreements/{funded.public_id}/adjustments/", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["fields"]
    assert snapshot(funded) == before


def test_the_ledger_shows_every_entry_with_the_running_balance(staff_api, tech_api, alice_api, funded, ticket):
    tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=45), format="json")
    staff_api.post(
        f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 30, "reason": "goodwill"}, format="json"
    )
    rows = alice_api.get(f"/api/v1/agreements/{funded.public_id}/ledger/").json()["results"]
    assert [(r["kind"], r["minutes"], r["balance_after_minutes"]) for r in rows] == [
        ("purchase", 600, 600),
        ("debit", -45, 555),
        ("adjustment", 30, 585),
    ]
    assert rows[1]["ticket_number"] == ticket.number


def test_agreements_show_balance_and_runway(tech_api, funded, ticket):
    tech_api.post("/api/v1/time-entries/", entry_body(funded, ticket, minutes=8 * 60), format="json")
    body = tech_api.get(f"/api/v1/agreements/{funded.public_id}/").json()
    assert body["balance_minutes"] == 120
    assert body["currency"] == "USD"
    # 480 min in the 8-week window: 60 min a week; 120 min left lasts 14 days.
    assert body["runway"] == {
        "burn_per_week_minutes": 60,
        "runway_days": 14,
        "runs_out_on": (TODAY + __import__("datetime").timedelta(days=14)).isoformat(),
        "expiring_unused_minutes": 0,
        "expiring_on": None,
    }


# --- clients, agreements, tickets, contacts ------------------------------------------


def test_staff_creates_a_client_an_agreement_and_a_contact(staff_api):
    client = staff_api.post(
        "/api/v1/clients/", {"name": "Cedar Clinic", "hourly_rate": "120.00", "currency": "eur"}, format="json"
    )
    assert client.status_code == HTTPStatus.CREATED, client.json()
    assert (client.json()["hourly_rate"], client.json()["currency"]) == ("120.00", "EUR")
    agreement = staff_api.post(
        "/api/v1/agreements/",
        {"client": client.json()["id"], "credit_policy": "immediate", "work_types": [work_type().pk]},
        format="json",
    )
    assert agreement.status_code == HTTPStatus.CREATED, agreement.json()
    assert agreement.json()["balance_minutes"] == 0
    assert agreement.json()["runway"]["runway_days"] is None
    contact = staff_api.post(
        f"/api/v1/clients/{client.json()['id']}/contacts/",
        {"username": "dana", "email": "dana@cedar.example"},
        format="json",
    )
    assert contact.status_code == HTTPStatus.CREATED, contact.json()
    assert staff_api.get(f"/api/v1/clients/{client.json()['id']}/contacts/").json()["results"][0]["username"] == "dana"


def test_bad_clients_and_agreements_are_400(staff_api, client_a):
    duplicate = staff_api.post("/api/v1/clients/", {"name": "acme dental"}, format="json")
    assert duplicate.status_code == HTTPStatus.BAD_REQUEST
    assert "already exists" in duplicate.json()["fields"]["name"][0]
    rate = staff_api.post("/api/v1/clients/", {"name": "X", "hourly_rate": "12,50"}, format="json")
    assert "hourly_rate" in rate.json()["fields"]
    term = staff_api.post(
        "/api/v1/agreements/",
        {"client": str(client_a.public_id), "starts_on": "2026-05-01", "ends_on": "2026-01-01"},
        format="json",
    )
    assert term.status_code == HTTPStatus.BAD_REQUEST
    assert term.json()["fields"]
    assert Client.objects.count() == 1
    assert not Agreement.objects.exists()


def test_technicians_find_or_create_tickets(tech_api, client_a):
    body = {"client": str(client_a.public_id), "number": "#42", "subject": "Email"}
    first = tech_api.post("/api/v1/tickets/", body, format="json")
    assert first.status_code == HTTPStatus.CREATED
    assert first.json()["number"] == "42"
    again = tech_api.post("/api/v1/tickets/", {**body, "subject": ""}, format="json")
    assert again.json()["id"] == first.json()["id"]
    new_without_subject = tech_api.post("/api/v1/tickets/", {**body, "number": "43", "subject": ""}, format="json")
    assert new_without_subject.status_code == HTTPStatus.BAD_REQUEST
    assert "subject" in new_without_subject.json()["fields"]


# --- tokens -------------------------------------------------------------------------------


def test_staff_creates_a_token_shown_once_and_stored_as_a_hash(staff_api, alice):
    response = staff_api.post("/api/v1/tokens/", {"user": "alice", "name": "Accounting sync"}, format="json")
    assert response.status_code == HTTPStatus.CREATED
    key = response.json()["key"]
    token = ApiToken.objects.get(public_id=response.json()["id"])
    assert token.key_hash == token_hash(key)
    assert key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    shown = staff_api.get(f"/api/v1/tokens/{token.public_id}/").json()
    assert "key" not in shown
    assert shown["prefix"] == key[:10]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/clients/").json()["count"] == 1
    revoked = staff_api.post(f"/api/v1/tokens/{token.public_id}/revoke/")
    assert revoked.json()["is_active"] is False
    refused = api.get("/api/v1/clients/")
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert refused.json()["message"] == "Invalid or revoked token."


def test_only_staff_manage_tokens(tech_api, alice_api, staff_api, alice):
    token_id = staff_api.post("/api/v1/tokens/", {"user": "alice", "name": "x"}, format="json").json()["id"]
    for api in (tech_api, alice_api):
        # 404, as for a URL that does not exist: the token endpoints are not theirs to know of.
        assert api.get("/api/v1/tokens/").status_code == HTTPStatus.NOT_FOUND
        assert api.get(f"/api/v1/tokens/{token_id}/").status_code == HTTPStatus.NOT_FOUND
        assert api.post("/api/v1/tokens/", {"user": "alice", "name": "x"}, format="json").status_code == 404
        assert api.post(f"/api/v1/tokens/{token_id}/revoke/").status_code == HTTPStatus.NOT_FOUND
    assert ApiToken.objects.get(public_id=token_id).revoked_at is None
    assert ApiToken.objects.filter(name="x").count() == 1  # no token created by them


def test_bad_tokens_are_401(anon_api, alice):
    for header in ("Token nope", "Token", "Token a b", "Bearer bh_forged"):
        anon_api.credentials(HTTP_AUTHORIZATION=header)
        response = anon_api.get("/api/v1/clients/")
        assert response.status_code == HTTPStatus.UNAUTHORIZED, header
        assert response["WWW-Authenticate"].startswith("Token")


def test_a_token_of_a_deactivated_user_stops_working(alice):
    api = api_as(alice)
    alice.is_active = False
    alice.save()
    assert api.get("/api/v1/clients/").status_code == HTTPStatus.UNAUTHORIZED


def test_requests_are_throttled_per_token(settings, alice, bob):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/min"}}
    api = api_as(alice)
    assert [api.get("/api/v1/tiers/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = api.get("/api/v1/tiers/")
    assert throttled.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert api_as(bob).get("/api/v1/tiers/").status_code == HTTPStatus.OK  # another token, its own budget
    assert api_as(alice).get("/api/v1/tiers/").status_code == HTTPStatus.OK  # and per token, not per user


def test_invoice_pdf_is_served_to_staff_and_the_client(staff_api, alice_api, agreement, seller):
    sold = staff_api.post(
        f"/api/v1/agreements/{agreement.public_id}/purchases/", {"tier": tier(10).pk}, format="json"
    ).json()
    for api in (staff_api, alice_api):
        response = api.get(f"/api/v1/invoices/{sold['invoice']['id']}/pdf/", HTTP_ACCEPT="application/pdf")
        assert response.status_code == HTTPStatus.OK
        assert response["Content-Type"] == "application/pdf"
        assert response["Cache-Control"] == "private, no-store"
        assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert Invoice.objects.get().status == InvoiceStatus.ISSUED
