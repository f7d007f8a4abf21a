"""The expiry-aware runway in the API: hours that expire unused, and ordering by runway."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, TicketFactory, work_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def steady(client_b, staff, technician):
    """Client B's agreement: 280 min left at 420 per 8 weeks, 37 days, nothing expires."""
    agreement = AgreementFactory(client=client_b)
    agreement_services.ledger_adjust(agreement=agreement, minutes=700, reason="Opening balance", author=staff)
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=client_b),
        work_date=timezone.localdate(),
        minutes=420,
        work_type=work_type(),
    )
    return agreement


def test_an_agreement_tells_which_hours_will_expire_unused(alice_api, expiring):
    on = timezone.localdate() + datetime.timedelta(days=20)
    response = alice_api.get(f"/api/v1/agreements/{expiring.public_id}/")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["balance_minutes"] == 960
    assert response.json()["runway"] == {
        "burn_per_week_minutes": 105,
        "runway_days": 20,
        "runs_out_on": on.isoformat(),
        "expiring_unused_minutes": 645,
        "expiring_on": on.isoformat(),
    }


def test_charlie_gets_nothing_of_it(charlie_api, expiring):
    response = charlie_api.get(f"/api/v1/agreements/{expiring.public_id}/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "expiring" not in response.content.decode()
    assert charlie_api.get("/api/v1/agreements/").json()["results"] == []


def test_ordering_by_runway_days_uses_the_expiry(staff_api, expiring, steady):
    def order(ordering: str) -> list[tuple[str, int]]:
        response = staff_api.get("/api/v1/agreements/", {"ordering": ordering})
        assert response.status_code == HTTPStatus.OK, response.json()
        return [(row["client_name"], row["runway"]["runway_days"]) for row in response.json()["results"]]

    # Blind to expiry the yearly hours (64 days) would come after the steady ones (37).
    assert order("runway_days") == [("Acme Dental", 20), ("Birch Legal", 37)]
    assert order("-runway_days") == [("Birch Legal", 37), ("Acme Dental", 20)]
    assert order("-balance_minutes,runway_days") == [("Acme Dental", 20), ("Birch Legal", 37)]
    response = staff_api.get("/api/v1/agreements/", {"ordering": "runway_days", "page_size": 1, "page": 2})
    assert [row["client_name"] for row in response.json()["results"]] == ["Birch Legal"]
    assert response.json()["count"] == 2
    # Filters still apply before the ordering.
    filtered = staff_api.get("/api/v1/agreements/", {"ordering": "runway_days", "client": str(steady.client.public_id)})
    assert [row["client_name"] for row in filtered.json()["results"]] == ["Birch Legal"]


def test_an_unknown_parameter_is_still_refused_when_ordering_by_runway(staff_api, expiring):
    response = staff_api.get("/api/v1/agreements/", {"ordering": "runway_days", "colour": "red"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "colour: Unknown query parameter" in response.json()["message"]


def test_the_schema_documents_the_expiry_fields(client):
    runway = client.get("/api/schema/?format=json").json()["components"]["schemas"]["Runway"]
    assert {"expiring_unused_minutes", "expiring_on"} <= set(runway["properties"])
    assert runway["properties"]["expiring_on"]["format"] == "date"
    assert "expire" in runway["properties"]["expiring_unused_minutes"]["description"]
