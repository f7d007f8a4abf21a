import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Block, CreditPolicy, LedgerEntry, LedgerKind, OveragePolicy
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, ClientFactory, tier, work_type
from billing import services
from billing.models import Invoice, InvoiceKind, InvoiceNumberCounter, InvoiceStatus, Payment, PaymentMethod
from billing.tests.factories import draft_block_invoice, issued_block_invoice

TODAY = timezone.localdate()
YEAR = TODAY.year


def pay(invoice, amount, reference="ACH-1", actor=None, method=PaymentMethod.ACH, paid_on=TODAY):
    return services.payment_record(
        invoice=invoice, amount=amount, method=method, reference=reference, paid_on=paid_on, actor=actor
    )


def reload(invoice) -> Invoice:
    return Invoice.objects.get(pk=invoice.pk)


# --- drafts and lines --------------------------------------------------------


def test_it_bills_a_discounted_tier_as_list_price_and_discount_lines(agreement, staff, seller):
    invoice = draft_block_invoice(agreement, staff, hours=20)
    lines = list(invoice.lines.all())
    assert [str(line) for line in lines] == [
        "20-hour support block — 20 h × $100.00",
        "Prepaid block discount — 20 h × −$10.00",
    ]
    assert [(line.minutes, line.unit_price, line.amount) for line in lines] == [
        (1200, Decimal("100.00"), Decimal("2000.00")),
        (1200, Decimal("-10.00"), Decimal("-200.00")),
    ]
    assert (invoice.subtotal, invoice.tax_amount, invoice.total, invoice.currency) == (
        Decimal("1800.00"),
        Decimal("0.00"),
        Decimal("1800.00"),
        "USD",
    )
    assert invoice.total == invoice.block.amount


def test_it_bills_custom_hours_on_one_line_at_the_clients_rate(staff, seller):
    agreement = AgreementFactory(client=ClientFactory(name="Euro GmbH", hourly_rate=Decimal("85.50"), currency="EUR"))
    block = agreement_services.block_sell(agreement=agreement, hours=3, actor=staff)
    invoice = services.invoice_create_for_block(block=block, kind=InvoiceKind.BLOCK, actor=staff)
    assert [str(line) for line in invoice.lines.all()] == ["3-hour support block — 3 h × €85.50"]
    assert (invoice.total, invoice.currency) == (Decimal("256.50"), "EUR")


def test_a_draft_has_no_number_and_no_dates(agreement, staff, seller):
    invoice = draft_block_invoice(agreement, staff)
    assert (invoice.status, invoice.number, invoice.issued_on, invoice.due_on) == (
        InvoiceStatus.DRAFT,
        None,
        None,
        None,
    )


def test_it_adds_tax_from_the_setting(agreement, staff, seller, settings):
    settings.INVOICE_TAX_RATE = Decimal("8.25")
    settings.INVOICE_TAX_LABEL = "Sales tax"
    invoice = issued_block_invoice(agreement, staff, hours=10)
    assert (invoice.subtotal, invoice.tax_rate, invoice.tax_amount, invoice.total) == (
        Decimal("1000.00"),
        Decimal("8.25"),
        Decimal("82.50"),
        Decimal("1082.50"),
    )


def test_it_refuses_a_second_invoice_for_the_same_block(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    with pytest.raises(ValidationError, match=f"already billed on invoice {invoice.number}"):
        services.invoice_create_for_block(block=invoice.block, kind=InvoiceKind.RELOAD, actor=staff)


def test_it_refuses_an_unknown_kind_for_a_block(agreement, staff, seller):
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    with pytest.raises(ValidationError, match="block-purchase or a reload"):
        services.invoice_create_for_block(block=block, kind=InvoiceKind.OVERAGE, actor=staff)
    assert not Invoice.objects.exists()


# --- issuing and numbering ------------------------------------------------------


def test_it_numbers_invoices_per_year_without_gaps(agreement, staff, seller):
    numbers = [issued_block_invoice(agreement, staff, hours=10).number for _ in range(3)]
    assert numbers == [f"{YEAR}-0001", f"{YEAR}-0002", f"{YEAR}-0003"]
    assert InvoiceNumberCounter.objects.get(year=YEAR).last_number == 3


def test_each_year_starts_its_own_sequence(agreement, staff, seller):
    InvoiceNumberCounter.objects.create(year=YEAR - 1, last_number=57)
    assert issued_block_invoice(agreement, staff).number == f"{YEAR}-0001"
    assert InvoiceNumberCounter.objects.get(year=YEAR - 1).last_number == 57


def test_a_refused_issue_uses_no_number(staff, seller, technician, client_a):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    overage = _overage(agreement, technician, minutes=90)
    # The overage shrinks after the draft (the entry is voided): issuing is refused, atomically.
    agreement_services.time_entry_void(time_entry=overage, actor=staff, reason="Wrong client")
    draft = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    with pytest.raises(ValidationError, match="unbilled overage changed"):
        services.invoice_issue(invoice=draft, actor=staff)
    assert reload(draft).status == InvoiceStatus.DRAFT
    assert not InvoiceNumberCounter.objects.filter(year=YEAR, last_number__gt=0).exists()
    assert issued_block_invoice(agreement, staff).number == f"{YEAR}-0001"


def test_it_sets_the_due_date_from_the_terms(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    assert (invoice.issued_on, invoice.due_on, invoice.payment_terms_days) == (
        TODAY,
        TODAY + datetime.timedelta(days=15),
        15,
    )
    seller.payment_terms_days = 0
    seller.save()
    assert issued_block_invoice(agreement, staff, hours=10).due_on == TODAY  # due on receipt


def test_it_issues_a_draft_only_once(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    with pytest.raises(ValidationError, match="only a draft can be issued"):
        services.invoice_issue(invoice=invoice, actor=staff)
    assert reload(invoice).number == f"{YEAR}-0001"


def test_it_refuses_to_issue_without_a_seller_profile(agreement, staff):
    invoice = draft_block_invoice(agreement, staff)
    with pytest.raises(ValidationError, match="seller profile"):
        services.invoice_issue(invoice=invoice, actor=staff)
    assert reload(invoice).status == InvoiceStatus.DRAFT


def test_an_issued_invoice_is_a_snapshot(agreement, staff, seller, client_a):
    invoice = issued_block_invoice(agreement, staff)
    client_a.name = "Acme Dental Group"
    client_a.billing_name = "Acme Holdings LLC"
    client_a.billing_address = "9 New Road\nShelbyville"
    client_a.billing_email = "ap@acme-holdings.example"
    client_a.currency = "CAD"
    client_a.save()
    seller.name = "Renamed MSP"
    seller.address = "Elsewhere"
    seller.tax_id = "NEW-TAX"
    seller.payment_instructions = "Pay somewhere else"
    seller.save()
    invoice = reload(invoice)
    assert (invoice.client_name, invoice.client_address, invoice.client_email, invoice.currency) == (
        "Acme Dental",
        "1 Main Street\nSpringfield",
        "billing@acme-dental.example",
        "USD",
    )
    assert (invoice.seller_name, invoice.seller_tax_id) == ("Northwind IT Services", "EIN 12-3456789")
    assert invoice.payment_instructions.startswith("ACH or wire")
    assert invoice.total == Decimal("1800.00")


def test_a_draft_takes_the_details_current_when_it_is_issued(agreement, staff, seller, client_a):
    invoice = draft_block_invoice(agreement, staff)
    client_a.billing_name = "Acme Holdings LLC"
    client_a.save()
    invoice = services.invoice_issue(invoice=invoice, actor=staff)
    assert invoice.client_name == "Acme Holdings LLC"


def test_invoices_are_never_deleted(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    with pytest.raises(TypeError):
        invoice.delete()
    with pytest.raises(TypeError):
        Invoice.objects.all().delete()


def test_selling_a_block_is_all_or_nothing(agreement, staff):
    # No seller profile: the issue fails, and neither the block nor the invoice remain.
    with pytest.raises(ValidationError, match="seller profile"):
        services.invoice_sell_block(agreement=agreement, tier=tier(20), actor=staff)
    assert (Block.objects.count(), Invoice.objects.count()) == (0, 0)


def test_it_sells_a_reload(agreement, staff, seller):
    invoice = services.invoice_sell_block(agreement=agreement, tier=tier(10), actor=staff, kind=InvoiceKind.RELOAD)
    assert (invoice.kind, invoice.status, invoice.total) == (
        InvoiceKind.RELOAD,
        InvoiceStatus.ISSUED,
        Decimal("1000.00"),
    )


# --- payments ---------------------------------------------------------------


def test_full_payment_marks_paid_and_credits_the_hours(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    assert assert_balance_is_ledger_sum(agreement) == 0
    payment = pay(invoice, "1800.00", actor=staff)
    invoice = reload(invoice)
    assert (payment.amount, payment.recorded_by, invoice.status) == (Decimal("1800.00"), staff, InvoiceStatus.PAID)
    assert invoice.paid_at is not None
    assert invoice.block.paid_at is not None and invoice.block.credited_at is not None
    assert assert_balance_is_ledger_sum(agreement) == 1200


def test_partial_payments_are_recorded_and_hours_credited_once_at_full_payment(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, Decimal("1000.00"), reference="CHQ-101", method=PaymentMethod.CHEQUE)
    assert reload(invoice).status == InvoiceStatus.ISSUED
    assert assert_balance_is_ledger_sum(agreement) == 0
    pay(invoice, "800", reference="CHQ-102", method=PaymentMethod.CHEQUE)
    assert reload(invoice).status == InvoiceStatus.PAID
    assert assert_balance_is_ledger_sum(agreement) == 1200
    assert LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.PURCHASE).count() == 1


def test_the_same_payment_recorded_twice_credits_once(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    first = pay(invoice, "1800.00", reference="ACH-777")
    again = pay(invoice, "1800.00", reference="ACH-777")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1
    assert assert_balance_is_ledger_sum(agreement) == 1200


def test_a_partial_payment_recorded_twice_counts_once(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, "900.00", reference="ACH-1")
    pay(invoice, "900.00", reference="ACH-1")
    assert reload(invoice).status == InvoiceStatus.ISSUED
    assert Payment.objects.count() == 1
    assert assert_balance_is_ledger_sum(agreement) == 0


def test_a_reused_reference_with_other_details_is_refused(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, "900.00", reference="ACH-1")
    with pytest.raises(ValidationError, match="already recorded"):
        pay(invoice, "900.01", reference="ACH-1")
    assert Payment.objects.count() == 1


def test_over_payment_is_refused_and_changes_nothing(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, "1000.00", reference="A")
    with pytest.raises(ValidationError) as error:
        pay(invoice, "800.01", reference="B")
    assert error.value.message_dict == {
        "amount": [f"$800.01 is more than the $800.00 still due on invoice {invoice.number}."]
    }
    assert Payment.objects.count() == 1
    assert reload(invoice).status == InvoiceStatus.ISSUED
    assert assert_balance_is_ledger_sum(agreement) == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5.00", "more than zero"),
        ("0", "more than zero"),
        (Decimal("-0.01"), "more than zero"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("12,50", "not an amount"),
        ("1800.001", "two decimals"),
        ("NaN", "decimal number"),
        ("Infinity", "decimal number"),
        (1800.0, "decimal number"),
        (None, "decimal number"),
        (True, "decimal number"),
        ("1e12", "larger than any invoice"),
        # Python's Decimal reads these too; an amount is typed as plain digits.
        ("1_000", "plain number with at most two decimals"),
        ("1E+2", "plain number with at most two decimals"),
        ("1e2", "plain number with at most two decimals"),
        (" +100", "plain number with at most two decimals"),
        (".5", "plain number with at most two decimals"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(agreement, staff, seller, amount, message):
    invoice = issued_block_invoice(agreement, staff)
    with pytest.raises(ValidationError, match=message) as error:
        pay(invoice, amount)
    assert list(error.value.message_dict) == ["amount"]
    assert Payment.objects.count() == 0
    assert reload(invoice).status == InvoiceStatus.ISSUED
    assert assert_balance_is_ledger_sum(agreement) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"method": "bitcoin"}, "method"),
        ({"reference": "   "}, "reference"),
        ({"reference": None}, "reference"),
        ({"reference": "x" * 101}, "reference"),
        ({"paid_on": TODAY + datetime.timedelta(days=1)}, "paid_on"),
        ({"paid_on": "2026-01-01"}, "paid_on"),
    ],
)
def test_bad_payment_details_are_refused(agreement, staff, seller, fields, field):
    invoice = issued_block_invoice(agreement, staff)
    with pytest.raises(ValidationError) as error:
        services.payment_record(
            **{
                "invoice": invoice,
                "amount": "1800.00",
                "method": PaymentMethod.ACH,
                "reference": "R1",
                "paid_on": TODAY,
                "actor": staff,
                **fields,
            }
        )
    assert list(error.value.message_dict) == [field]
    assert Payment.objects.count() == 0
    assert reload(invoice).status == InvoiceStatus.ISSUED


def test_a_payment_dated_before_the_invoice_was_issued_is_refused(agreement, staff, seller):
    """Money for an invoice is received once it exists: an earlier date would
    make the cash outstanding on the days between negative."""
    invoice = issued_block_invoice(agreement, staff)
    Invoice.objects.filter(pk=invoice.pk).update(issued_on=TODAY - datetime.timedelta(days=3))
    invoice.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        pay(invoice, "1800.00", paid_on=TODAY - datetime.timedelta(days=4))
    assert error.value.message_dict == {
        "paid_on": [
            f"Invoice {invoice.number} was issued on {invoice.issued_on:%Y-%m-%d}; "
            "a payment on it cannot be dated earlier."
        ]
    }
    assert Payment.objects.count() == 0
    assert pay(invoice, "1800.00", paid_on=TODAY - datetime.timedelta(days=3)).amount == Decimal("1800.00")


def test_a_paid_invoice_takes_no_more_payments(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, "1800.00", reference="A")
    with pytest.raises(ValidationError, match="already paid in full"):
        pay(invoice, "1.00", reference="B")
    assert Payment.objects.count() == 1
    assert assert_balance_is_ledger_sum(agreement) == 1200


def test_a_void_invoice_takes_no_payments(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    services.invoice_void(invoice=invoice, actor=staff, reason="Sold by mistake")
    with pytest.raises(ValidationError, match="is void"):
        pay(invoice, "1800.00")
    assert Payment.objects.count() == 0
    assert assert_balance_is_ledger_sum(agreement) == 0


def test_a_draft_takes_no_payments(agreement, staff, seller):
    invoice = draft_block_invoice(agreement, staff)
    with pytest.raises(ValidationError, match="Issue the invoice"):
        pay(invoice, "1800.00")
    assert Payment.objects.count() == 0


# --- voiding ----------------------------------------------------------------


def test_voiding_keeps_the_number_and_cancels_the_block(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    voided = services.invoice_void(invoice=invoice, actor=staff, reason="Client changed their mind")
    voided = reload(voided)
    assert (voided.status, voided.number, voided.void_reason, voided.voided_by) == (
        InvoiceStatus.VOID,
        f"{YEAR}-0001",
        "Client changed their mind",
        staff,
    )
    assert voided.block.cancelled_at is not None
    # The next invoice continues the sequence: the void one keeps its number.
    assert issued_block_invoice(agreement, staff, hours=10).number == f"{YEAR}-0002"


def test_a_cancelled_block_is_never_credited(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    services.invoice_void(invoice=invoice, actor=staff, reason="Duplicate")
    with pytest.raises(ValidationError):
        agreement_services.block_mark_paid(block=invoice.block, actor=staff)
    assert assert_balance_is_ledger_sum(agreement) == 0


def test_voiding_a_draft_leaves_no_number(agreement, staff, seller):
    invoice = draft_block_invoice(agreement, staff)
    voided = services.invoice_void(invoice=invoice, actor=staff, reason="Typo")
    assert (voided.status, voided.number) == (InvoiceStatus.VOID, None)
    assert not InvoiceNumberCounter.objects.exists()


def test_voiding_takes_back_unused_credited_hours(client_a, staff, seller):
    agreement = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)
    invoice = issued_block_invoice(agreement, staff)
    assert assert_balance_is_ledger_sum(agreement) == 1200  # usable at once, before payment
    services.invoice_void(invoice=invoice, actor=staff, reason="Sold to the wrong client")
    assert assert_balance_is_ledger_sum(agreement) == 0
    cancellation = LedgerEntry.objects.get(agreement=agreement, kind=LedgerKind.CANCELLATION)
    assert (cancellation.minutes, cancellation.block_id, cancellation.author) == (-1200, invoice.block_id, staff)
    assert cancellation.reason == f"Invoice {invoice.number} voided: Sold to the wrong client"


def test_voiding_is_refused_while_credited_hours_are_partly_used(client_a, staff, seller, technician, ticket):
    agreement = AgreementFactory(client=client_a, credit_policy=CreditPolicy.IMMEDIATE)
    invoice = issued_block_invoice(agreement, staff)
    agreement_services.time_entry_log(
        agreement=agreement, technician=technician, ticket=ticket, work_date=TODAY, minutes=30, work_type=work_type()
    )
    with pytest.raises(ValidationError, match="30 of the block's 1200 min are already used"):
        services.invoice_void(invoice=invoice, actor=staff, reason="Mistake")
    invoice = reload(invoice)
    assert (invoice.status, invoice.voided_at, invoice.block.cancelled_at) == (InvoiceStatus.ISSUED, None, None)
    assert assert_balance_is_ledger_sum(agreement) == 1170


def test_a_paid_invoice_cannot_be_voided(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, "1800.00")
    with pytest.raises(ValidationError, match="paid invoice cannot be voided"):
        services.invoice_void(invoice=invoice, actor=staff, reason="Mistake")
    assert reload(invoice).status == InvoiceStatus.PAID
    assert assert_balance_is_ledger_sum(agreement) == 1200


def test_an_invoice_with_a_partial_payment_cannot_be_voided(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    pay(invoice, "100.00")
    with pytest.raises(ValidationError, match=r"\$100.00 is already recorded"):
        services.invoice_void(invoice=invoice, actor=staff, reason="Mistake")
    assert reload(invoice).status == InvoiceStatus.ISSUED


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_voiding_needs_a_reason(agreement, staff, seller, reason):
    invoice = issued_block_invoice(agreement, staff)
    with pytest.raises(ValidationError, match="Say why"):
        services.invoice_void(invoice=invoice, actor=staff, reason=reason)
    assert reload(invoice).status == InvoiceStatus.ISSUED


def test_voiding_twice_is_refused(agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    services.invoice_void(invoice=invoice, actor=staff, reason="Mistake")
    with pytest.raises(ValidationError, match="already void"):
        services.invoice_void(invoice=invoice, actor=staff, reason="Again")


# --- overage ----------------------------------------------------------------


def _overage(agreement, technician, *, minutes: int):
    """Log time on an agreement with no hours and raise a draft overage invoice for it."""
    from agreements.tests.factories import TicketFactory

    entry = agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=TODAY,
        minutes=minutes,
        work_type=work_type(),
    )
    services.invoice_create_for_overage(agreement=agreement, actor=None)
    return entry


def test_an_overage_invoice_bills_time_beyond_the_balance_at_the_hourly_rate(client_a, staff, seller, technician):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    _overage(agreement, technician, minutes=105)
    invoice = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    assert [str(line) for line in invoice.lines.all()] == ["Support time beyond prepaid hours — 1 h 45 min × $100.00"]
    assert (invoice.overage_minutes, invoice.block, invoice.total) == (105, None, Decimal("175.00"))


def test_issuing_an_overage_invoice_settles_its_minutes(client_a, staff, seller, technician):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    _overage(agreement, technician, minutes=90)
    assert agreement_services.overage_unbilled_minutes(agreement) == 90
    invoice = services.invoice_issue(invoice=Invoice.objects.get(kind=InvoiceKind.OVERAGE), actor=staff)
    assert agreement_services.overage_unbilled_minutes(agreement) == 0
    billed = LedgerEntry.objects.get(agreement=agreement, kind=LedgerKind.OVERAGE_BILLED)
    assert (billed.minutes, billed.reason) == (90, f"Billed on invoice {invoice.number}")
    # The next block is not spent on the overage already billed.
    block_invoice = issued_block_invoice(agreement, staff, hours=10)
    pay(block_invoice, "1000.00")
    assert assert_balance_is_ledger_sum(agreement) == 600
    # Paying the overage invoice credits no hours.
    pay(invoice, "150.00", reference="OVR")
    assert reload(invoice).status == InvoiceStatus.PAID
    assert assert_balance_is_ledger_sum(agreement) == 600


def test_no_overage_invoice_without_the_bill_overage_policy(agreement, staff, seller):
    with pytest.raises(ValidationError, match="does not bill overage"):
        services.invoice_create_for_overage(agreement=agreement, actor=staff)


def test_no_overage_invoice_without_unbilled_overage(client_a, staff, seller):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    with pytest.raises(ValidationError, match="no unbilled overage"):
        services.invoice_create_for_overage(agreement=agreement, actor=staff)
    assert not Invoice.objects.exists()


def test_one_overage_draft_at_a_time(client_a, staff, seller, technician):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    _overage(agreement, technician, minutes=30)
    with pytest.raises(ValidationError, match="already in draft"):
        services.invoice_create_for_overage(agreement=agreement, actor=staff)
