"""The monthly close invoices overage and emails it; a reload sale bills it too."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import LedgerKind
from agreements.tests.factories import (
    TechnicianFactory,
    TicketFactory,
    bill_overage_agreement,
    tier,
    work_type,
)
from billing.models import Invoice, InvoiceKind, SellerProfile
from notifications.models import EmailKind, OutgoingEmail
from notifications.tasks import bill_overage
from notifications.tests.conftest import sweep_now

CLIENT_RECIPIENTS = ["alice@example.com", "billing@acme-dental.example"]


@pytest.fixture
def overage_agreement(client_a, alice, seller, msp_staff):
    """Acme Dental at $150/h under bill-overage: a paid 10-h block, then 120 min
    normal and 300 min emergency (2×): 120 min beyond the block."""
    agreement = bill_overage_agreement(client_a, actor=msp_staff, billing_increment_minutes=1, reload_tier=tier(10))
    technician = TechnicianFactory(username="tess")
    for minutes, kind in ((120, "Normal"), (300, "Emergency")):
        agreement_services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=TicketFactory(client=client_a),
            work_date=timezone.localdate(),
            minutes=minutes,
            work_type=work_type(kind),
        )
    agreement.refresh_from_db()
    assert agreement.balance_minutes == -120
    return agreement


def close() -> list[str]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return bill_overage()


def test_the_monthly_close_invoices_the_overage_and_emails_it(overage_agreement):
    lines = close()

    invoice = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    assert (invoice.overage_minutes, invoice.total) == (120, Decimal("300.00"))
    assert lines == [f"Overage invoiced: {invoice.number} for Acme Dental (2 h, 300.00 USD)"]
    assert sorted(m.to[0] for m in mail.outbox) == CLIENT_RECIPIENTS
    message = mail.outbox[0]
    assert invoice.number in message.subject
    ((filename, _content, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"Invoice-{invoice.number}.pdf", "application/pdf")
    assert list(overage_agreement.ledger.filter(kind=LedgerKind.OVERAGE_BILLED).values_list("minutes", flat=True)) == [
        120
    ]


def test_a_second_close_bills_and_sends_nothing_more(overage_agreement):
    close()
    sent = len(mail.outbox)

    assert close() == ["No unbilled overage."]

    assert Invoice.objects.filter(kind=InvoiceKind.OVERAGE).count() == 1
    assert len(mail.outbox) == sent == 2


def test_a_dry_run_shows_the_overage_and_changes_nothing(overage_agreement):
    out = io.StringIO()
    call_command("bill_overage", "--dry-run", stdout=out)

    assert out.getvalue() == "Would invoice: Acme Dental — Prepaid support hours (2 h, 300.00 USD)\n"
    assert not Invoice.objects.filter(kind=InvoiceKind.OVERAGE).exists()
    assert mail.outbox == []


def test_without_a_seller_profile_the_close_says_why_and_writes_nothing(overage_agreement):
    SellerProfile.objects.all().delete()

    (line,) = close()

    assert line.startswith("Not invoiced: Acme Dental — Prepaid support hours: Fill in the seller profile")
    assert not Invoice.objects.filter(kind=InvoiceKind.OVERAGE).exists()
    assert not overage_agreement.ledger.filter(kind=LedgerKind.OVERAGE_BILLED).exists()


def test_the_reload_raised_by_the_sweep_bills_the_overage_with_it(overage_agreement):
    sweep_now()

    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    overage = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    assert (reload.block.minutes, overage.overage_minutes) == (600, 120)
    overage_mails = OutgoingEmail.objects.filter(kind=EmailKind.INVOICE, invoice=overage)
    assert sorted(overage_mails.values_list("recipient", flat=True)) == CLIENT_RECIPIENTS
    assert {m.to[0] for m in mail.outbox if overage.number in m.subject} == set(CLIENT_RECIPIENTS)

    assert close() == ["No unbilled overage."]
