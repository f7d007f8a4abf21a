"""/api/v1/timers/: the technician's own timer; staff may list; another technician's is not found."""

import datetime
from http import HTTPStatus

import pytest
import time_machine
from django.utils import timezone

from agreements.models import Ticket, TimeEntry, Timer
from agreements.tests.factories import TechnicianFactory, work_type
from api.tests.helpers import api_as

pytestmark = pytest.mark.django_db
# Today (the funded block starts today), at 09:00: entries dated from the timer can be charged.
T0 = datetime.datetime.combine(timezone.localdate(), datetime.time(9, 0), tzinfo=timezone.get_current_timezone())
TIMERS = "/api/v1/timers/"


def start_body(agreement, ticket, **extra) -> dict:
    body = {
        "agreement": str(agreement.public_id),
        "work_type": work_type().pk,
        "notes": "Printer queue",
    }
    if ticket is not None:
        body["ticket"] = str(ticket.public_id)
    body.update(extra)
    return body


@pytest.fixture
def running(tech_api, funded, ticket):
    with time_machine.travel(T0, tick=False):
        response = tech_api.post(TIMERS, start_body(funded, ticket), format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    return response.json()


def test_it_starts_and_shows_the_current_timer(tech_api, running, funded, ticket):
    assert running["ticket"] == str(ticket.public_id)
    assert running["agreement"] == str(funded.public_id)
    assert running["technician"] == "tess"
    with time_machine.travel(T0 + datetime.timedelta(minutes=10, seconds=1), tick=False):
        current = tech_api.get(TIMERS + "current/").json()
    assert current["id"] == running["id"]
    assert current["elapsed_minutes"] == 11
    assert tech_api.get(TIMERS + running["id"] + "/").json()["id"] == running["id"]


def test_it_refuses_a_second_timer(tech_api, running, funded, ticket):
    response = tech_api.post(TIMERS, start_body(funded, ticket), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "A timer is already running on ticket" in response.json()["message"]
    assert Timer.objects.count() == 1


def test_it_starts_on_a_new_ticket_number(tech_api, funded):
    body = start_body(funded, None, ticket_number="T-9", ticket_subject="New laptop")
    assert tech_api.post(TIMERS, body, format="json").status_code == HTTPStatus.CREATED
    assert Timer.objects.get().ticket == Ticket.objects.get(number="T-9")


def test_stop_answers_the_minutes_and_a_time_entry_body_and_logs_nothing(tech_api, running, funded, ticket):
    with time_machine.travel(T0 + datetime.timedelta(minutes=29, seconds=30), tick=False):
        response = tech_api.post(TIMERS + "current/stop/", format="json")
        assert response.status_code == HTTPStatus.OK
        body = response.json()
        assert body["minutes"] == 30
        assert body["crosses_midnight"] is False
        assert body["time_entry"] == {
            "agreement": str(funded.public_id),
            "ticket": str(ticket.public_id),
            "work_date": T0.date().isoformat(),
            "started_at": "09:00",
            "minutes": 30,
            "work_type": work_type().pk,
            "notes": "Printer queue",
        }
        assert not TimeEntry.objects.exists()
        assert not Timer.objects.exists()
        # The body posts as it is.
        logged = tech_api.post("/api/v1/time-entries/", body["time_entry"], format="json")
    assert logged.status_code == HTTPStatus.CREATED, logged.json()
    assert logged.json()["minutes"] == 30


def test_stop_past_midnight_says_so(tech_api, running):
    with time_machine.travel(T0 + datetime.timedelta(hours=15, minutes=20), tick=False):
        body = tech_api.post(TIMERS + "current/stop/", format="json").json()
    assert (body["minutes"], body["crosses_midnight"]) == (920, True)


def test_discard(tech_api, running):
    assert tech_api.delete(TIMERS + "current/").status_code == HTTPStatus.NO_CONTENT
    assert not Timer.objects.exists()
    assert tech_api.get(TIMERS + "current/").status_code == HTTPStatus.NOT_FOUND


def test_another_technicians_timer_is_not_found(running, funded, ticket):
    otto = api_as(TechnicianFactory(username="otto"))
    assert otto.get(TIMERS + running["id"] + "/").status_code == HTTPStatus.NOT_FOUND
    assert otto.post(TIMERS + running["id"] + "/stop/", format="json").status_code == HTTPStatus.NOT_FOUND
    assert otto.delete(TIMERS + running["id"] + "/").status_code == HTTPStatus.NOT_FOUND
    assert otto.get(TIMERS + "current/").status_code == HTTPStatus.NOT_FOUND
    assert otto.get(TIMERS).json()["results"] == []
    assert Timer.objects.count() == 1


def test_staff_list_every_timer_but_stop_only_their_own(staff_api, running):
    listed = staff_api.get(TIMERS).json()["results"]
    assert [t["id"] for t in listed] == [running["id"]]
    assert staff_api.get(TIMERS + running["id"] + "/").status_code == HTTPStatus.OK
    assert staff_api.post(TIMERS + running["id"] + "/stop/", format="json").status_code == HTTPStatus.NOT_FOUND
    assert staff_api.delete(TIMERS + running["id"] + "/").status_code == HTTPStatus.NOT_FOUND
    assert Timer.objects.count() == 1


def test_charlie_sees_no_timer_and_cannot_start_one(charlie_api, running, funded, ticket):
    assert charlie_api.get(TIMERS).json()["results"] == []
    assert charlie_api.get(TIMERS + running["id"] + "/").status_code == HTTPStatus.NOT_FOUND
    assert charlie_api.post(TIMERS, start_body(funded, ticket), format="json").status_code == HTTPStatus.NOT_FOUND
    assert Timer.objects.count() == 1


def test_a_foreign_ticket_is_refused(tech_api, funded, client_b):
    from agreements.tests.factories import TicketFactory

    foreign = TicketFactory(client=client_b)
    response = tech_api.post(TIMERS, start_body(funded, foreign), format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["fields"] == {"ticket": ["This ticket belongs to another client."]}
    assert not Timer.objects.exists()


def test_the_schema_documents_the_timer(tech_api):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/timers/"])
    assert {"get", "delete"} <= set(paths["/api/v1/timers/{id}/"])
    assert "post" in paths["/api/v1/timers/{id}/stop/"]
