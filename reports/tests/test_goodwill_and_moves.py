"""Goodwill hours and hours moved between a client's agreements on the monthly statement."""

import subprocess

import pytest
from django.utils import timezone

from agreements import services
from agreements.tests.factories import AgreementFactory, TicketFactory, work_type
from reports import statements

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def test_the_statement_names_goodwill_hours_and_shows_moved_hours(client_a, staff, technician):
    today = timezone.localdate()
    helpdesk = AgreementFactory(client=client_a, name="Helpdesk")
    projects = AgreementFactory(client=client_a, name="Projects")
    block = services.block_mark_paid(block=services.block_sell(agreement=helpdesk, hours=10, actor=staff), actor=staff)
    services.block_grant_goodwill(agreement=helpdesk, minutes=60, reason="Sorry for the outage", actor=staff)
    services.block_hours_move(block=block, to_agreement=projects, minutes=30, reason="Wrong agreement", actor=staff)
    services.time_entry_log(
        agreement=helpdesk,
        technician=technician,
        ticket=TicketFactory(client=client_a),
        work_date=today,
        minutes=15,
        work_type=work_type("Normal"),
    )

    s = statements.statement_build(client=client_a, month=today.replace(day=1))

    assert (s.opening_minutes, s.purchased_minutes, s.goodwill_minutes, s.charged_minutes) == (0, 600, 60, 15)
    assert sorted((m.description, m.minutes) for m in s.movements) == [
        ("Unused hours moved from another agreement: Wrong agreement", 30),
        ("Unused hours moved to another agreement: Wrong agreement", -30),
    ]
    total = s.opening_minutes + s.purchased_minutes + s.goodwill_minutes - s.charged_minutes + s.other_minutes
    assert total == s.closing_minutes == 645
    assert [(line.agreement.name, line.closing) for line in s.balances] == [("Helpdesk", 615), ("Projects", 30)]
    text = pdf_text(statements.statement_pdf(s))
    assert "1 h of goodwill support, free of" in text  # the cell wraps before "charge"
    assert "$0.00/h" in text
    assert "GOODWILL" in text and "(FREE)" in text  # the figure's label, in capitals
    assert "Unused hours moved to another agreement: Wrong agreement" in text
