"""Fixtures for the web faces' tests (imported by each app's tests/conftest.py)."""

import datetime

import pytest
from django.utils import timezone

from agreements import services
from agreements.tests.factories import AgreementFactory, StaffFactory, TicketFactory, tier, work_type


@pytest.fixture
def funded(agreement, staff):
    """Alice's agreement with a paid 10-hour block: a 10 h balance."""
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


@pytest.fixture
def charlies_agreement(client_b, staff):
    agreement = AgreementFactory(client=client_b)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


@pytest.fixture
def charlies_entry(charlies_agreement, client_b, technician):
    return services.time_entry_log(
        agreement=charlies_agreement,
        technician=technician,
        ticket=TicketFactory(client=client_b),
        work_date=timezone.localdate(),
        minutes=30,
        work_type=work_type(),
    )


@pytest.fixture
def entry(funded, ticket, technician):
    return services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate() - datetime.timedelta(days=1),
        minutes=90,
        work_type=work_type(),
    )


def log_entries(agreement, technician, count: int, *, minutes: int = 15) -> None:
    """`count` time entries over the last weeks (for runway and query-count tests)."""
    # Enough hours for every entry, so the reject policy never gets in the way.
    services.ledger_adjust(
        agreement=agreement, minutes=count * 60, reason="Hours for the test", author=StaffFactory(username="sam")
    )
    ticket = TicketFactory(client=agreement.client)
    today = timezone.localdate()
    for n in range(count):
        services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=today - datetime.timedelta(days=n % 50),
            minutes=minutes,
            work_type=work_type(),
            notes=f"entry {n}",
        )


@pytest.fixture
def expiring(agreement, staff, technician):
    """Alice's agreement with a paid 30-hour block that expires in 20 days and
    840 min used 3 days ago (15 min a day): 960 min left, which would last 64
    days, but 21 days at 15 use only 315 of them: the hours run out on the
    expiry date and 645 min expire unused."""
    today = timezone.localdate()
    block = services.block_sell(
        agreement=agreement,
        hours=30,
        actor=staff,
        starts_on=today - datetime.timedelta(days=60),
        expires_on=today + datetime.timedelta(days=20),
    )
    services.block_mark_paid(block=block, actor=staff)
    services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=today - datetime.timedelta(days=3),
        minutes=840,
        work_type=work_type(),
    )
    agreement.refresh_from_db()
    return agreement


def expiry_sentence(minutes: str, on: datetime.date) -> str:
    """The portal's breakage sentence for `on`, in the date format the page uses."""
    from django.utils.formats import date_format

    style = "MONTH_DAY_FORMAT" if on.year == timezone.localdate().year else "DATE_FORMAT"
    return f"{minutes} will expire on {date_format(on, style)} unless used."
