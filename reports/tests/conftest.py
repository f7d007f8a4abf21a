"""A small, known dataset written straight into the tables with the dates
the reports group by (the services stamp every row "now"), so each report's
figures can be worked out by hand — see the comments next to each row."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from agreements.models import Agreement, Block, Client, LedgerEntry, LedgerKind, TimeEntry
from agreements.tests.factories import AgreementFactory, TechnicianFactory, TicketFactory, work_type
from billing.models import Invoice, InvoiceKind, InvoiceStatus, Payment, SellerProfile
from ui.tests.fixtures import expiring  # noqa: F401 - the shared fixture of hours that expire unused


def at(year: int, month: int, day: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, 12, 0))


@dataclass
class Dataset:
    acme: Client
    birch: Client
    acme_agreement: Agreement
    birch_agreement: Agreement
    a1: Block
    a2: Block
    b1: Block


def _block(agreement: Agreement, minutes: int, rate: str, when: datetime.datetime, **extra) -> Block:
    rate = Decimal(rate)
    block = Block.objects.create(
        agreement=agreement,
        minutes=minutes,
        rate=rate,
        amount=rate * minutes / 60,
        currency="USD",
        starts_on=when.date(),
        credited_at=when,
        paid_at=when,
        **extra,
    )
    LedgerEntry.objects.create(
        agreement=agreement, block=block, kind=LedgerKind.PURCHASE, minutes=minutes, created_at=when
    )
    return block


def _entry(agreement, technician, day, minutes, type_name, charged, **extra) -> TimeEntry:
    return TimeEntry.objects.create(
        agreement=agreement,
        ticket=TicketFactory(client=agreement.client),
        technician=technician,
        work_date=day,
        minutes=minutes,
        work_type=work_type(type_name),
        charged_minutes=charged,
        **extra,
    )


def _ledger(agreement, block, kind, minutes, when, **extra) -> LedgerEntry:
    return LedgerEntry.objects.create(
        agreement=agreement, block=block, kind=kind, minutes=minutes, created_at=when, **extra
    )


def _invoice(block, kind, number, issued, due, total, status=InvoiceStatus.ISSUED, **extra) -> Invoice:
    agreement = block.agreement
    return Invoice.objects.create(
        kind=kind,
        status=status,
        client=agreement.client,
        agreement=agreement,
        block=block,
        number=f"2026-{number:04d}",
        number_year=2026,
        number_sequence=number,
        issued_on=issued,
        due_on=due,
        currency="USD",
        subtotal=Decimal(total),
        total=Decimal(total),
        **extra,
    )


@pytest.fixture
def dataset(client_a, client_b) -> Dataset:
    tess = TechnicianFactory(username="tess", first_name="Tess", last_name="Ng")
    tom = TechnicianFactory(username="tom", first_name="Tom", last_name="Ode")
    acme = AgreementFactory(client=client_a, starts_on=datetime.date(2025, 12, 1))
    birch = AgreementFactory(client=client_b, starts_on=datetime.date(2025, 12, 1))

    # Acme: A1 10 h at $100 (Jan 5), A2 20 h at $90 (Feb 10). Birch: B1 10 h at $120 (Jan 20).
    a1 = _block(acme, 600, "100.00", at(2026, 1, 5))
    a2 = _block(acme, 1200, "90.00", at(2026, 2, 10))
    b1 = _block(birch, 600, "120.00", at(2026, 1, 20), expires_on=datetime.date(2026, 2, 27))

    # Time. TE2 is void (its debit is reversed in February); TE5 is non-billable.
    te1 = _entry(acme, tess, datetime.date(2026, 1, 10), 90, "Normal", 90)
    te2 = _entry(
        acme,
        tess,
        datetime.date(2026, 1, 25),
        30,
        "Normal",
        30,
        voided_at=at(2026, 2, 20),
        void_reason="Wrong client",
    )
    te3 = _entry(acme, tom, datetime.date(2026, 2, 15), 360, "After-hours", 540)
    te4 = _entry(birch, tom, datetime.date(2026, 1, 22), 120, "Normal", 120)
    _entry(acme, tess, datetime.date(2026, 2, 16), 45, "Non-billable", 0)

    _ledger(acme, a1, LedgerKind.DEBIT, -90, at(2026, 1, 10), time_entry=te1)
    debit2 = _ledger(acme, a1, LedgerKind.DEBIT, -30, at(2026, 1, 25), time_entry=te2)
    _ledger(acme, a1, LedgerKind.DEBIT, -480, at(2026, 2, 15), time_entry=te3)  # the rest of A1 first
    _ledger(acme, a2, LedgerKind.DEBIT, -60, at(2026, 2, 15), time_entry=te3)
    _ledger(acme, a1, LedgerKind.REVERSAL, 30, at(2026, 2, 20), time_entry=te2, reverses=debit2, reason="Wrong")
    _ledger(acme, a1, LedgerKind.ADJUSTMENT, -30, at(2026, 3, 5), reason="Goodwill correction")
    _ledger(birch, b1, LedgerKind.DEBIT, -120, at(2026, 1, 22), time_entry=te4)
    _ledger(birch, b1, LedgerKind.EXPIRY, -480, at(2026, 2, 28), reason="Block expired on 2026-02-27")

    # Invoices: A1 paid in January; B1 part-paid in February; A2 a reload, unpaid; one void.
    inv1 = _invoice(
        a1,
        InvoiceKind.BLOCK,
        1,
        datetime.date(2026, 1, 5),
        datetime.date(2026, 1, 19),
        "1000.00",
        status=InvoiceStatus.PAID,
        paid_at=at(2026, 1, 8),
    )
    inv2 = _invoice(b1, InvoiceKind.BLOCK, 2, datetime.date(2026, 1, 20), datetime.date(2026, 2, 3), "1200.00")
    _invoice(a2, InvoiceKind.RELOAD, 3, datetime.date(2026, 2, 10), datetime.date(2026, 2, 24), "1800.00")
    _invoice(
        a2,
        InvoiceKind.BLOCK,
        4,
        datetime.date(2026, 2, 12),
        datetime.date(2026, 2, 26),
        "1800.00",
        status=InvoiceStatus.VOID,
        voided_at=at(2026, 2, 12),
        void_reason="Duplicate",
    )
    Payment.objects.create(
        invoice=inv1, method="ach", reference="ACH-1", amount=Decimal("1000.00"), paid_on=datetime.date(2026, 1, 8)
    )
    Payment.objects.create(
        invoice=inv2, method="ach", reference="ACH-2", amount=Decimal("700.00"), paid_on=datetime.date(2026, 2, 10)
    )
    return Dataset(client_a, client_b, acme, birch, a1, a2, b1)


@pytest.fixture
def seller(db):
    return SellerProfile.objects.create(
        name="Northwind IT",
        email="billing@northwind.example",
        address="12 Harbour Road\nPortsmouth",
        payment_instructions="ACH to Northwind IT",
        payment_terms_days=15,
    )
