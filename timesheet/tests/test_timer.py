"""The timer on the time page: start, it survives a reload, stop into the prefilled form, save."""

import datetime
import re
from http import HTTPStatus

import pytest
import time_machine
from django.urls import reverse

from agreements import services
from agreements.models import Ticket, TimeEntry, Timer
from agreements.tests.factories import TechnicianFactory, work_type
from timesheet.forms import agreement_label

pytestmark = pytest.mark.django_db
LOG = reverse("timesheet:log")
START = reverse("timesheet:timer_start")
DISCARD = reverse("timesheet:timer_discard")
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def start_data(agreement, **overrides):
    data = {
        "timer-agreement": agreement_label(agreement),
        "timer-ticket": "4711",
        "timer-subject": "Mail server down",
        "timer-work_type": work_type().pk,
        "timer-notes": "Restarting the queue",
    }
    data.update(overrides)
    return data


@pytest.fixture
def running(client, technician, funded):
    client.force_login(technician)
    with time_machine.travel(T0, tick=False):
        response = client.post(START, start_data(funded))
    assert response.status_code == HTTPStatus.FOUND
    return Timer.objects.get()


def test_it_starts_a_timer_and_shows_it_after_a_reload(client, running, funded):
    assert running.ticket.number == "4711"
    assert running.agreement == funded
    with time_machine.travel(T0 + datetime.timedelta(minutes=12, seconds=5), tick=False):
        page = client.get(LOG).content.decode()
    assert 'data-testid="timer-running"' in page
    assert "#4711" in page
    assert '<dd class="col-7" data-testid="timer-started">09:00</dd>' in page
    assert "13 min</dd>" in page


def test_the_timer_form_has_its_own_labels_and_ids(client, technician, funded):
    client.force_login(technician)
    page = client.get(LOG).content.decode()
    assert page.count(">Client / agreement<") == 1
    assert 'for="id_timer-agreement">Timer for: client or agreement<' in page
    labels = re.findall(r'<label class="form-label" for="[^"]+">([^<]+)<', page)
    time_form = ["Client / agreement", "Ticket number", "Ticket subject", "Date worked", "Start time", "Duration"]
    for label in time_form + ["Work type", "Notes"]:
        # Playwright's get_by_label matches substrings, ignoring case: one field each.
        assert [text.strip() for text in labels if label.lower() in text.lower()] == [label], label
    assert 'for="id_agreement">Client / agreement<' in page


def test_a_second_timer_is_refused_with_a_message(client, running, funded):
    response = client.post(START, start_data(funded, **{"timer-ticket": "5000", "timer-subject": "Other"}))
    assert response.status_code == HTTPStatus.OK
    assert "A timer is already running on ticket #4711 since 09:00" in response.content.decode()
    assert Timer.objects.get() == running
    assert not Ticket.objects.filter(number="5000").exists()  # the refused start leaves no ticket


def test_stop_prefills_the_form_with_the_charge_preview_and_logs_nothing(client, running, funded):
    with time_machine.travel(T0 + datetime.timedelta(minutes=44, seconds=1), tick=False):
        response = client.get(LOG, {"stop": "1"})
    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert form.data["duration"] == "0:45"
    assert form.data["ticket"] == "4711"
    assert form.data["agreement"] == agreement_label(funded)
    assert form.data["notes"] == "Restarting the queue"
    assert form.data["started_at"] == "09:00"
    assert form.data["work_date"] == "2026-03-02"
    assert form.data["timer"] == str(running.public_id)
    assert response.context["preview"].entry.charged_minutes == 45
    assert response.context["preview"].balance_after == 600 - 45
    assert not TimeEntry.objects.exists()
    assert Timer.objects.exists()  # runs on until the entry is saved


def test_saving_the_prefilled_entry_ends_the_timer(client, running, funded):
    with time_machine.travel(T0 + datetime.timedelta(minutes=44, seconds=1), tick=False):
        data = dict(client.get(LOG, {"stop": "1"}).context["form"].data)
        response = client.post(LOG, {**data, "save": "1"})
    assert response.status_code == HTTPStatus.FOUND
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.ticket.number, entry.notes) == (45, "4711", "Restarting the queue")
    assert entry.started_at == datetime.time(9, 0)
    assert not Timer.objects.exists()


def test_a_timer_past_midnight_asks_before_stopping_and_takes_the_corrected_minutes(client, running, funded):
    late = datetime.datetime(2026, 3, 3, 0, 20, tzinfo=datetime.UTC)
    with time_machine.travel(late, tick=False):
        asked = client.get(LOG, {"stop": "1"})
        assert "This timer started yesterday at 09:00 — is 15 h 20 min right?" in asked.content.decode()
        assert "preview" not in asked.context or asked.context["preview"] is None
        corrected = client.get(LOG, {"stop": "1", "confirmed": "1", "timer-minutes": "8:00"})
    assert corrected.context["form"].data["duration"] == "8:00"
    assert corrected.context["form"].data["work_date"] == "2026-03-02"
    assert corrected.context["preview"].entry.minutes == 480
    assert not TimeEntry.objects.exists()


def test_discard_logs_nothing(client, running):
    response = client.post(DISCARD, follow=True)
    assert "Timer discarded: nothing was logged." in response.content.decode()
    assert not Timer.objects.exists()
    assert not TimeEntry.objects.exists()


def test_it_starts_a_timer_on_the_ticket_of_an_entry(client, technician, entry):
    client.force_login(technician)
    assert "Start timer" in client.get(reverse("timesheet:mine")).content.decode()
    response = client.post(START, {"entry": str(entry.public_id)})
    assert response.status_code == HTTPStatus.FOUND
    timer = Timer.objects.get()
    assert (timer.ticket, timer.agreement, timer.work_type) == (entry.ticket, entry.agreement, entry.work_type)


def test_another_technicians_entry_and_timer_are_out_of_reach(client, running, entry):
    other = TechnicianFactory(username="otto")
    client.force_login(other)
    assert client.post(START, {"entry": str(entry.public_id)}).status_code == HTTPStatus.NOT_FOUND
    page = client.get(LOG).content.decode()
    assert 'data-testid="timer-running"' not in page
    assert client.get(LOG, {"stop": "1"}, follow=True).context["form"].data == {}
    client.post(DISCARD)
    assert Timer.objects.get() == running


def test_charlie_gets_404_on_every_timer_page(client, charlie, running):
    client.force_login(charlie)
    assert client.post(START, {}).status_code == HTTPStatus.NOT_FOUND
    assert client.post(DISCARD).status_code == HTTPStatus.NOT_FOUND
    assert Timer.objects.get() == running


def test_starting_needs_post(client, technician):
    client.force_login(technician)
    assert client.get(START).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_services_stop_is_what_the_page_shows(running, technician):
    with time_machine.travel(T0 + datetime.timedelta(minutes=3), tick=False):
        assert services.timer_stop(technician=technician, dry_run=True).minutes == 3
