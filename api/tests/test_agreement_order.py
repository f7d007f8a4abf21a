"""Several agreements per client through the API: their order and cover, and
time entries logged by client, charged to the agreement chosen."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, LedgerEntry, TimeEntry
from agreements.selectors import ledger_balance
from agreements.tests.factories import AgreementFactory, TicketFactory, work_type

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def project(client_a, staff):
    agreement = AgreementFactory(client=client_a, name="Office move project")
    block = services.block_sell(agreement=agreement, hours=1, actor=staff)
    services.block_mark_paid(block=block, actor=staff)
    return agreement


@pytest.fixture
def support(client_a, staff, project):
    agreement = AgreementFactory(client=client_a, name="General support")
    block = services.block_sell(agreement=agreement, hours=10, actor=staff)
    services.block_mark_paid(block=block, actor=staff)
    return agreement


def by_client(client, ticket, *, minutes=30, kind="Normal", **extra) -> dict:
    return {
        "client": str(client.public_id),
        "ticket": str(ticket.public_id),
        "work_date": TODAY.isoformat(),
        "minutes": minutes,
        "work_type": work_type(kind).pk,
        **extra,
    }


def balances(*agreements) -> list[int]:
    return [ledger_balance(a) for a in agreements]


def test_an_entry_by_client_answers_with_the_agreement_chosen(tech_api, client_a, project, support, ticket):
    response = tech_api.post("/api/v1/time-entries/", by_client(client_a, ticket, minutes=45), format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert body["agreement"] == str(project.public_id)
    assert body["agreement_name"] == "Office move project"
    assert body["client"] == str(client_a.public_id)
    assert body["charged_minutes"] == 45
    response = tech_api.post("/api/v1/time-entries/", by_client(client_a, ticket, minutes=30), format="json")
    assert response.json()["agreement"] == str(support.public_id)
    assert balances(project, support) == [15, 570]


def test_a_new_ticket_number_is_created_for_the_client(staff_api, client_a, project, support):
    body = by_client(client_a, TicketFactory(client=client_a), ticket_number="PSA-9", ticket_subject="New PC")
    del body["ticket"]
    response = staff_api.post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert TimeEntry.objects.get().ticket.number == "PSA-9"
    assert TimeEntry.objects.get().ticket.client == client_a


def test_a_retry_with_the_same_key_returns_the_same_entry_and_charges_once(
    tech_api, client_a, project, support, ticket
):
    body = by_client(client_a, ticket, minutes=45)
    first = tech_api.post("/api/v1/time-entries/", body, format="json", HTTP_IDEMPOTENCY_KEY="psa-1")
    again = tech_api.post("/api/v1/time-entries/", body, format="json", HTTP_IDEMPOTENCY_KEY="psa-1")
    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert TimeEntry.objects.count() == 1
    assert balances(project, support) == [15, 600]


def test_when_no_agreement_can_take_it_409_says_why_and_nothing_changes(
    tech_api, client_a, project, support, ticket, staff
):
    services.agreement_set_work_types(agreement=support, work_types=[work_type("Normal")], actor=staff)
    rows = LedgerEntry.objects.count()
    response = tech_api.post(
        "/api/v1/time-entries/", by_client(client_a, ticket, minutes=60, kind="Emergency"), format="json"
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "no_agreement_can_take"
    assert response.json()["message"] == (
        "No agreement of Acme Dental can take this entry: “Office move project”: 120 min to charge, only 60 min "
        "allowed (overage policy: reject time beyond the balance); “General support”: does not cover "
        "“Emergency” work. Sell a block or ask staff first."
    )
    assert LedgerEntry.objects.count() == rows
    assert not TimeEntry.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agreement": "both"}, "either agreement or client"),
        ({"client": None}, "either agreement or client"),
        ({"client": "00000000-0000-0000-0000-000000000000"}, "No client with id"),
    ],
)
def test_agreement_or_client_one_of_them(tech_api, client_a, project, ticket, change, message):
    body = by_client(client_a, ticket)
    if change.get("agreement") == "both":
        body["agreement"] = str(project.public_id)
    elif "client" in change and change["client"] is None:
        del body["client"]
    else:
        body.update(change)
    response = tech_api.post("/api/v1/time-entries/", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in " ".join(sum(response.json()["fields"].values(), []))
    assert not TimeEntry.objects.exists()


def test_a_client_contact_cannot_post_time_for_any_client(alice_api, charlie_api, client_a, project, ticket):
    for api in (alice_api, charlie_api):
        response = api.post("/api/v1/time-entries/", by_client(client_a, ticket), format="json")
        assert response.status_code == HTTPStatus.NOT_FOUND
    assert not TimeEntry.objects.exists()
    assert balances(project) == [60]


def test_another_clients_ticket_is_refused(tech_api, client_a, client_b, project):
    response = tech_api.post(
        "/api/v1/time-entries/", by_client(client_a, TicketFactory(client=client_b)), format="json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "belongs to another client" in response.json()["fields"]["ticket"][0]
    assert balances(project) == [60]


# --- order and cover --------------------------------------------------------


def test_agreements_show_their_place_in_the_order(staff_api, client_a, project, support):
    listed = staff_api.get(f"/api/v1/agreements/?client={client_a.public_id}").json()["results"]
    assert [(a["name"], a["position"]) for a in listed] == [("Office move project", 1), ("General support", 2)]


def test_staff_move_an_agreement_and_set_its_work_types(staff_api, client_a, project, support):
    emergency = work_type("Emergency")
    response = staff_api.patch(
        f"/api/v1/agreements/{support.public_id}/", {"position": 1, "work_types": [emergency.pk]}, format="json"
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["position"] == 1
    assert response.json()["work_types"] == [emergency.pk]
    project.refresh_from_db()
    assert project.position == 2
    response = staff_api.patch(f"/api/v1/agreements/{support.public_id}/", {"work_types": []}, format="json")
    assert response.json()["work_types"] == []


def test_staff_create_an_agreement_at_a_chosen_place(staff_api, client_a, project):
    response = staff_api.post(
        "/api/v1/agreements/", {"client": str(client_a.public_id), "name": "Urgent", "position": 1}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert response.json()["position"] == 1
    assert list(Agreement.objects.filter(client=client_a).order_by("position").values_list("name", flat=True)) == [
        "Urgent",
        "Office move project",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"position": 3}, "position"),
        ({"position": 0}, "position"),
        ({"position": "1"}, "position"),
        ({"work_types": [999_999]}, "work_types"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_changes_are_400_and_change_nothing(staff_api, project, support, body, field):
    response = staff_api.patch(f"/api/v1/agreements/{support.public_id}/", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.json()
    assert field in response.json()["fields"]
    support.refresh_from_db()
    assert support.position == 2
    assert not support.work_types.exists()


def test_only_staff_change_an_agreement_and_another_client_sees_nothing(
    tech_api, alice_api, charlie_api, project, support
):
    for api in (tech_api, alice_api, charlie_api):
        response = api.patch(f"/api/v1/agreements/{support.public_id}/", {"position": 1}, format="json")
        assert response.status_code == HTTPStatus.NOT_FOUND
    support.refresh_from_db()
    assert support.position == 2


@pytest.mark.parametrize("work_types", [{}, {"1": 1}, "1", 1])
def test_work_types_must_be_a_json_array(staff_api, client_a, project, work_types):
    response = staff_api.patch(f"/api/v1/agreements/{project.public_id}/", {"work_types": work_types}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "work_types" in response.json()["fields"]
    response = staff_api.post(
        "/api/v1/agreements/", {"client": str(client_a.public_id), "work_types": work_types}, format="json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "work_types" in response.json()["fields"]
    assert Agreement.objects.count() == 1
