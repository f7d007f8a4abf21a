"""Numbering under real concurrency: threads issuing at the same moment on PostgreSQL."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import CreditPolicy
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory
from billing import services
from billing.models import Invoice, InvoiceNumberCounter, InvoiceStatus, PaymentMethod, SellerProfile
from billing.selectors import invoice_amount_paid

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
# Blocks of custom hours, not tiers: a transactional test flushes the tiers the data migration made.

THREADS = 12


def run_at_once(target, args_list) -> list[BaseException]:
    """Start every call at once (a barrier), each in its own thread and connection."""
    barrier = threading.Barrier(len(args_list))
    errors: list[BaseException] = []

    def worker(*args):
        try:
            barrier.wait()
            target(*args)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_issues_get_consecutive_unique_numbers():
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    drafts = []
    for n in range(THREADS):
        agreement = AgreementFactory(client=ClientFactory(name=f"Client {n}"))
        block = agreement_services.block_sell(agreement=agreement, hours=10, actor=staff)
        drafts.append(services.invoice_create_for_block(block=block, actor=staff))

    errors = run_at_once(lambda draft: services.invoice_issue(invoice=draft, actor=staff), [(d,) for d in drafts])

    assert errors == []
    year = Invoice.objects.values_list("number_year", flat=True).first()
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"{year}-{n:04d}" for n in range(1, THREADS + 1)]
    assert InvoiceNumberCounter.objects.get(year=year).last_number == THREADS


def test_the_same_payment_posted_at_once_credits_once():
    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Acme"), credit_policy=CreditPolicy.ON_PAYMENT)
    invoice = services.invoice_sell_block(agreement=agreement, hours=20, actor=staff)

    def record(_):
        services.payment_record(
            invoice=invoice,
            amount="2000.00",
            method=PaymentMethod.ACH,
            reference="ACH-42",
            paid_on=timezone.localdate(),
            actor=staff,
        )

    errors = run_at_once(record, [(n,) for n in range(8)])

    assert errors == []
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.payments.count() == 1
    assert str(invoice_amount_paid(invoice)) == "2000.00"
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 1200


def test_overage_billed_from_several_places_at_once_is_billed_once():
    """The monthly close, a sale and staff all billing the same overage at the same moment."""
    from agreements.models import LedgerKind, OveragePolicy, WorkType
    from agreements.tests.factories import TechnicianFactory, TicketFactory
    from billing.models import InvoiceKind

    SellerProfile.objects.create(name="Northwind IT Services")
    staff = StaffFactory(username="sam")
    agreement = AgreementFactory(client=ClientFactory(name="Acme"), overage_policy=OveragePolicy.BILL_OVERAGE)
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=TechnicianFactory(username="tess"),
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate(),
        minutes=90,
        work_type=WorkType.objects.get(name="Normal"),
    )

    def bill(n):
        if n % 2:
            services.block_sale_invoices(agreement=agreement, hours=1, actor=staff)
        else:
            services.invoice_bill_overage(agreement=agreement, actor=staff)

    errors = run_at_once(bill, [(n,) for n in range(THREADS)])

    assert errors == []
    overage = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    assert overage.overage_minutes == 90
    assert list(agreement.ledger.filter(kind=LedgerKind.OVERAGE_BILLED).values_list("minutes", flat=True)) == [90]
