"""Overage is billed: at the agreement's overage rate (else the client's),
with every sale, on request, and once per minute whoever asks."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import LedgerKind, OveragePolicy
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import (
    ClientFactory,
    TicketFactory,
    bill_overage_agreement,
    tier,
    work_type,
)
from billing import services
from billing.models import Invoice, InvoiceKind, InvoiceStatus

pytestmark = pytest.mark.django_db


def log(agreement, technician, minutes: int, kind: str = "Normal"):
    return agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate(),
        minutes=minutes,
        work_type=work_type(kind),
    )


@pytest.fixture
def overage_agreement(staff):
    """$150/h, bill-overage, one paid 10-hour block."""
    return bill_overage_agreement(ClientFactory(name="Harbour Clinic"), actor=staff, billing_increment_minutes=1)


def test_time_beyond_the_block_is_billed_at_the_clients_rate(overage_agreement, staff, technician, seller):
    log(overage_agreement, technician, 120)
    log(overage_agreement, technician, 300, "Emergency")
    assert assert_balance_is_ledger_sum(overage_agreement) == 600 - 120 - 600 == -120

    invoice = services.invoice_bill_overage(agreement=overage_agreement, actor=staff)

    assert (invoice.kind, invoice.status, invoice.overage_minutes) == (InvoiceKind.OVERAGE, InvoiceStatus.ISSUED, 120)
    assert [(line.minutes, line.unit_price, line.amount) for line in invoice.lines.all()] == [
        (120, Decimal("150.00"), Decimal("300.00"))
    ]
    assert invoice.total == Decimal("300.00")
    assert agreement_services.overage_unbilled_minutes(overage_agreement) == 0
    assert assert_balance_is_ledger_sum(overage_agreement) == 0


def test_the_agreements_overage_rate_wins_over_the_clients(overage_agreement, staff, technician, seller):
    overage_agreement.overage_rate = Decimal("175.50")
    overage_agreement.save(update_fields=["overage_rate"])
    log(overage_agreement, technician, 600 + 45)

    invoice = services.invoice_bill_overage(agreement=overage_agreement, actor=staff)

    # 45 min at $175.50/h = $131.625, rounded half up to the cent.
    assert (invoice.overage_minutes, invoice.total) == (45, Decimal("131.63"))


def test_each_minute_is_billed_once_however_often_billing_runs(overage_agreement, staff, technician, seller):
    log(overage_agreement, technician, 600 + 30)
    first = services.invoice_bill_overage(agreement=overage_agreement, actor=staff)
    assert services.invoice_bill_overage(agreement=overage_agreement, actor=staff) is None

    log(overage_agreement, technician, 20)
    second = services.invoice_bill_overage(agreement=overage_agreement, actor=staff)

    assert (first.overage_minutes, second.overage_minutes) == (30, 20)
    billed = overage_agreement.ledger.filter(kind=LedgerKind.OVERAGE_BILLED)
    assert sorted(billed.values_list("minutes", flat=True)) == [20, 30]
    assert Invoice.objects.filter(kind=InvoiceKind.OVERAGE).count() == 2


def test_selling_a_block_bills_the_overage_on_an_invoice_of_its_own(overage_agreement, staff, technician, seller):
    log(overage_agreement, technician, 600 + 90)

    sale = services.block_sale_invoices(agreement=overage_agreement, tier=tier(20), actor=staff)

    assert (sale.invoice.kind, sale.invoice.total) == (InvoiceKind.BLOCK, Decimal("2800.00"))  # 20 h at $140/h
    assert (sale.overage_invoice.overage_minutes, sale.overage_invoice.total) == (90, Decimal("225.00"))
    assert sale.overage_invoice.number != sale.invoice.number
    # Once paid, the new block is whole: the overage was billed, not repaid from it.
    services.payment_record(
        invoice=sale.invoice,
        amount="2800.00",
        method="ach",
        reference="ACH-9",
        paid_on=timezone.localdate(),
        actor=staff,
    )
    assert assert_balance_is_ledger_sum(overage_agreement) == 1200


def test_a_sale_without_overage_raises_no_overage_invoice(overage_agreement, staff, seller):
    sale = services.block_sale_invoices(agreement=overage_agreement, tier=tier(10), actor=staff)
    assert sale.overage_invoice is None
    assert list(Invoice.objects.values_list("kind", flat=True)) == [InvoiceKind.BLOCK]


def test_other_policies_bill_no_overage(agreement, staff, seller):
    assert services.invoice_bill_overage(agreement=agreement, actor=staff) is None
    assert not Invoice.objects.exists()


def test_an_overage_rate_is_refused_under_a_policy_that_would_ignore_it(staff):
    client = ClientFactory(name="Harbour Clinic")
    with pytest.raises(ValidationError) as error:
        agreement_services.agreement_create(
            client=client, overage_policy=OveragePolicy.REJECT, overage_rate=Decimal("120.00")
        )
    assert error.value.message_dict["overage_rate"] == [
        "An overage rate applies only under the bill-overage policy; leave it empty or change the policy."
    ]
    with pytest.raises(ValidationError) as error:
        agreement_services.agreement_create(
            client=client, overage_policy=OveragePolicy.BILL_OVERAGE, overage_limit_minutes=60
        )
    assert "overage_limit_minutes" in error.value.message_dict
