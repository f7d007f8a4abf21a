"""Proving a changed agreement setting takes effect: log time, sweep, bill
(shared by the service, dashboard and API tests of agreement_update)."""

import io

from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, TimeEntry
from agreements.tests.factories import TicketFactory, work_type


def log(agreement: Agreement, minutes: int, technician) -> TimeEntry:  # noqa: ANN001
    """Log `minutes` of normal time today on a new ticket of the agreement's client."""
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate(),
        minutes=minutes,
        work_type=work_type(),
    )


def sweep_now() -> str:
    """The beat's low-balance sweep, with the work it queues run after commit."""
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("sweep_low_balances", stdout=out)
    return out.getvalue()
