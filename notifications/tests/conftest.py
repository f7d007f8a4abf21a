import datetime
import io

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, StaffFactory, TechnicianFactory, tier, work_type
from billing.models import SellerProfile


@pytest.fixture
def seller(db):
    return SellerProfile.objects.create(
        name="Northwind IT",
        email="billing@northwind.example",
        address="12 Harbour Road\nPortsmouth",
        payment_instructions="ACH to Northwind IT, routing 011000015, account 123456789",
        payment_terms_days=15,
    )


@pytest.fixture
def msp_staff(db):
    return StaffFactory(username="owner", email="owner@northwind.example")


def use_hours(agreement, minutes: int) -> None:
    """Log `minutes` of normal time on a ticket of the agreement's client."""
    technician = TechnicianFactory(username="logger")
    ticket = agreement_services.ticket_get_or_create(client=agreement.client, number="LOW-1", subject="Server patching")
    while minutes > 0:
        chunk = min(minutes, 24 * 60)
        agreement_services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=timezone.localdate(),
            minutes=chunk,
            work_type=work_type("Normal"),
        )
        minutes -= chunk


@pytest.fixture
def make_low_agreement(client_a, alice, bob, seller, msp_staff):
    """An agreement of Acme Dental with a paid 10-h block, used down to `left` minutes."""

    def make(*, left: int = 120, **fields):
        fields.setdefault("billing_increment_minutes", 1)  # so any `left` is reachable exactly
        agreement = AgreementFactory(client=client_a, reload_tier=tier(20), **fields)
        block = agreement_services.block_sell(
            agreement=agreement,
            tier=tier(10),
            actor=msp_staff,
            starts_on=timezone.localdate() - datetime.timedelta(days=30),
        )
        agreement_services.block_mark_paid(block=block, actor=msp_staff)
        use_hours(agreement, 600 - left)
        agreement.refresh_from_db()
        return agreement

    return make


def sweep_now() -> str:
    """`manage.py sweep_low_balances`, running the work it queues after commit
    (tests run inside a transaction that never commits)."""
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("sweep_low_balances", stdout=out)
    return out.getvalue()


@pytest.fixture
def smtp_port(settings):
    """Email goes over SMTP to 127.0.0.1 on a free port (start a server there, or not)."""
    from notifications.tests.smtp import free_port

    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 5
    return port
