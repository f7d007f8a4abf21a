"""The monthly statement lists the charges questioned in the month and what came of them,
and a credit is a movement that keeps the statement adding up."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from agreements import services
from agreements.tests.factories import TicketFactory, tier, work_type
from reports import statements
from reports.tests.test_statements import pdf_text

pytestmark = pytest.mark.django_db

MARCH = datetime.date(2026, 3, 1)


def test_questions_and_their_credit_are_on_the_statement(client_a, agreement, alice, staff, technician):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, tzinfo=timezone.get_current_timezone()), tick=False):
        agreement.starts_on = MARCH
        agreement.save()
        block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=MARCH)
        services.block_mark_paid(block=block, actor=staff)
        ticket = TicketFactory(client=client_a, number="4711")
        kwargs = {"agreement": agreement, "technician": technician, "ticket": ticket, "work_type": work_type()}
        credited = services.time_entry_log(work_date=MARCH, minutes=90, **kwargs)
        explained = services.time_entry_log(work_date=MARCH, minutes=30, **kwargs)
        first = services.question_raise(time_entry=credited, raised_by=alice, reason="Nobody came")
        services.question_credit(question=first, actor=staff, minutes=30, reply="Travel is on us.")
        services.question_explain(
            question=services.question_raise(time_entry=explained, raised_by=alice, reason="Why?"),
            actor=staff,
            reply="The backup check.",
        )
        services.question_raise(time_entry=credited, raised_by=alice, reason="Still too long")

    s = statements.statement_build(client=client_a, month=MARCH)

    assert (s.opening_minutes, s.purchased_minutes, s.charged_minutes, s.other_minutes, s.closing_minutes) == (
        0,
        600,
        120,
        30,
        510,
    )
    assert s.opening_minutes + s.purchased_minutes - s.charged_minutes + s.other_minutes == s.closing_minutes
    assert [(m.description, m.minutes) for m in s.movements] == [
        ("Credited after your question: entry of 01 Mar 2026 on ticket #4711", 30)
    ]
    assert [(q.ticket, q.reason, q.outcome, q.reply, q.credited_minutes) for q in s.questions] == [
        ("4711", "Nobody came", "Credited", "Travel is on us.", 30),
        ("4711", "Why?", "Explained", "The backup check.", 0),
        ("4711", "Still too long", "Open", "", 0),
    ]
    text = " ".join(pdf_text(statements.statement_pdf(s)).split())
    assert "Charges you questioned" in text
    assert "Travel is on us." in text and "Still too long" in text
