"""The technician's timer: one per technician, stopped into exact whole minutes."""

import datetime
import uuid

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agreements import services
from agreements.models import Timer
from agreements.services.timers import timer_elapsed_minutes
from agreements.tests.factories import TechnicianFactory, TicketFactory, work_type

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def started(technician, agreement, ticket):
    with time_machine.travel(START, tick=False):
        return services.timer_start(
            technician=technician,
            client=agreement.client,
            agreement=agreement,
            ticket=ticket,
            work_type=work_type("After-hours"),
            notes="Printer queue",
        )


def test_it_rounds_elapsed_time_up_to_a_whole_minute():
    assert timer_elapsed_minutes(started_at=START, now=START) == 1
    assert timer_elapsed_minutes(started_at=START, now=START + datetime.timedelta(seconds=60)) == 1
    assert timer_elapsed_minutes(started_at=START, now=START + datetime.timedelta(seconds=61)) == 2
    assert timer_elapsed_minutes(started_at=START, now=START + datetime.timedelta(minutes=95, seconds=1)) == 96


def test_it_stops_with_the_exact_minutes_and_the_time_form_data(started, technician, agreement, ticket):
    with time_machine.travel(START + datetime.timedelta(minutes=47, seconds=12), tick=False):
        stopped = services.timer_stop(technician=technician)
    assert stopped.minutes == 48
    assert stopped.prefill == {
        "client": agreement.client,
        "agreement": agreement,
        "ticket": ticket,
        "work_date": datetime.date(2026, 3, 2),
        "started_at": datetime.time(9, 0),
        "minutes": 48,
        "work_type": work_type("After-hours"),
        "notes": "Printer queue",
    }
    assert stopped.timer_id == started.public_id
    assert not Timer.objects.exists()


def test_a_dry_run_stop_leaves_the_timer_running(started, technician):
    with time_machine.travel(START + datetime.timedelta(minutes=5), tick=False):
        assert services.timer_stop(technician=technician, dry_run=True).minutes == 5
    assert Timer.objects.get() == started


def test_it_refuses_a_second_running_timer(started, technician, agreement):
    other = TicketFactory(client=agreement.client, number="900")
    with pytest.raises(ValidationError) as refused:
        services.timer_start(technician=technician, client=agreement.client, ticket=other, work_type=work_type())
    assert refused.value.messages == [
        f"A timer is already running on ticket #{started.ticket.number} since 09:00: "
        "stop or discard it before starting another."
    ]
    assert Timer.objects.get() == started


def test_the_database_allows_one_timer_per_technician(started, technician, agreement, ticket):
    with pytest.raises(IntegrityError), transaction.atomic():
        Timer.objects.create(technician=technician, client=agreement.client, ticket=ticket, work_type=work_type())


def test_another_technician_runs_a_timer_of_their_own(started, agreement, ticket):
    other = TechnicianFactory(username="otto")
    services.timer_start(technician=other, client=agreement.client, ticket=ticket, work_type=work_type())
    assert Timer.objects.count() == 2


def test_it_refuses_a_ticket_or_agreement_of_another_client(technician, agreement, client_b):
    foreign = TicketFactory(client=client_b)
    with pytest.raises(ValidationError) as refused:
        services.timer_start(
            technician=technician, client=agreement.client, agreement=agreement, ticket=foreign, work_type=work_type()
        )
    assert refused.value.message_dict == {"ticket": ["This ticket belongs to another client."]}
    assert not Timer.objects.exists()


def test_a_client_contact_cannot_run_a_timer(alice, agreement, ticket):
    with pytest.raises(ValidationError):
        services.timer_start(technician=alice, client=agreement.client, ticket=ticket, work_type=work_type())
    assert not Timer.objects.exists()


def test_discard_logs_nothing(started, technician):
    services.timer_discard(technician=technician)
    assert not Timer.objects.exists()
    with pytest.raises(ValidationError, match="No timer is running."):
        services.timer_discard(technician=technician)
    with pytest.raises(ValidationError, match="No timer is running."):
        services.timer_stop(technician=technician)


def test_a_timer_past_midnight_asks_about_yesterday(started, technician):
    later = datetime.datetime(2026, 3, 3, 0, 20, tzinfo=datetime.UTC)
    with time_machine.travel(later, tick=False):
        stopped = services.timer_stop(technician=technician, dry_run=True)
        assert stopped.minutes == 15 * 60 + 20
        assert stopped.crosses_midnight()
        assert (
            services.timer_midnight_question(stopped) == "This timer started yesterday at 09:00 — is 15 h 20 min right?"
        )


def test_a_timer_days_old_names_its_date(started, technician):
    with time_machine.travel(datetime.datetime(2026, 3, 4, 8, 0, tzinfo=datetime.UTC), tick=False):
        stopped = services.timer_stop(technician=technician, dry_run=True)
        assert services.timer_midnight_question(stopped) == (
            "This timer started on 02 Mar 2026 at 09:00 — is 47 h right?"
        )


def test_a_timer_stopped_the_same_day_asks_nothing(started, technician):
    with time_machine.travel(START + datetime.timedelta(hours=14, minutes=59), tick=False):
        assert not services.timer_stop(technician=technician, dry_run=True).crosses_midnight()


def test_timer_end_ends_only_that_timer(started, technician):
    assert services.timer_end(technician=technician, timer_id=uuid.uuid4()) is False
    assert services.timer_end(technician=technician, timer_id=started.public_id) is True
    assert not Timer.objects.exists()
