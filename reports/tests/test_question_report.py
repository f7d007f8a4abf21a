"""The questioned-charges report: per client and per technician, outcomes,
minutes credited and the median time to answer, on the page and as CSV."""

import csv
import datetime
import io
from http import HTTPStatus

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.tests.factories import (
    AgreementFactory,
    TechnicianFactory,
    TicketFactory,
    tier,
    work_type,
)
from reports import selectors

pytestmark = pytest.mark.django_db

TZ = timezone.get_current_timezone()
MARCH = datetime.date(2026, 3, 1)


def at(day: int, hour: int, minute: int = 0):
    return time_machine.travel(datetime.datetime(2026, 3, day, hour, minute, tzinfo=TZ), tick=False)


@pytest.fixture
def questions(client_a, client_b, alice, charlie, staff, technician):
    other_tech = TechnicianFactory(username="omar")
    with at(1, 8):
        agreements = {}
        for client in (client_a, client_b):
            agreement = AgreementFactory(client=client, starts_on=MARCH)
            block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=MARCH)
            services.block_mark_paid(block=block, actor=staff)
            agreements[client.pk] = agreement

        def log(client, tech):
            return services.time_entry_log(
                agreement=agreements[client.pk],
                technician=tech,
                ticket=TicketFactory(client=client),
                work_date=MARCH,
                minutes=60,
                work_type=work_type(),
            )

        a1, a2, a3 = log(client_a, technician), log(client_a, technician), log(client_a, other_tech)
        b1 = log(client_b, other_tech)
    with at(2, 9):
        q1 = services.question_raise(time_entry=a1, raised_by=alice, reason="One")
        q2 = services.question_raise(time_entry=a2, raised_by=alice, reason="Two")
        services.question_raise(time_entry=a3, raised_by=alice, reason="Three")
        q4 = services.question_raise(time_entry=b1, raised_by=charlie, reason="Four")
    with at(2, 10):  # 60 min later
        services.question_credit(question=q1, actor=staff, minutes=15, reply="Sorry")
    with at(2, 13):  # 240 min
        services.question_explain(question=q2, actor=staff, reply="Right")
    with at(3, 9):  # 1440 min
        services.question_credit(question=q4, actor=staff, minutes=60, reply="All back")


def test_it_counts_per_client_with_the_median_time_to_answer(questions):
    rows = selectors.question_report(first=MARCH, last=datetime.date(2026, 3, 31), by="client")
    assert [
        (r.label, r.raised, r.open, r.explained, r.credited, r.corrected, r.credited_minutes,
         r.median_minutes_to_resolve)
        for r in rows
    ] == [("Acme Dental", 3, 1, 1, 1, 0, 15, 60), ("Birch Legal", 1, 0, 0, 1, 0, 60, 1440)]  # fmt: skip


def test_it_counts_per_technician(questions):
    rows = selectors.question_report(first=MARCH, last=datetime.date(2026, 3, 31), by="technician")
    assert [(r.label, r.raised, r.credited_minutes, r.median_minutes_to_resolve) for r in rows] == [
        ("omar", 2, 60, 1440),
        ("tess", 2, 15, 60),
    ]


def test_the_page_and_the_csv(client, staff, questions):
    client.force_login(staff)
    url = reverse("reports:questions")
    params = {"first": "2026-03", "last": "2026-03", "by": "technician"}
    with at(31, 12):
        page = client.get(url, params)
        response = client.get(url, {**params, "format": "csv"})
    assert page.status_code == HTTPStatus.OK
    assert "omar" in page.content.decode()
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Technician"
    assert rows[1:] == [["omar", "2", "1", "0", "1", "0", "60", "1440"], ["tess", "2", "0", "1", "1", "0", "15", "60"]]


@pytest.mark.parametrize("user", ["alice", "technician"])
def test_only_staff_see_the_report(client, user, request):
    client.force_login(request.getfixturevalue(user))
    assert client.get(reverse("reports:questions")).status_code == HTTPStatus.NOT_FOUND
