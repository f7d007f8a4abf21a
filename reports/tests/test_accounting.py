"""Accounting exports: the documented column sets, exact rows, and figures that
tie to the revenue and cash reports (the shared `dataset`: see conftest)."""

import csv
import datetime
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from agreements.models import Block
from agreements.tests.factories import AgreementFactory, ClientFactory
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentMethod
from reports import selectors
from reports.accounting import ExportRefused, accounting_export

JAN_1, MAR_31 = datetime.date(2026, 1, 1), datetime.date(2026, 3, 31)

# The column sets as QuickBooks Online and Xero document them (README cites the pages).
QUICKBOOKS_INVOICES = [
    "InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo", "Item(Product/Service)",
    "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "ItemTaxCode", "ItemTaxAmount", "Currency",
    "Service Date",
]  # fmt: skip
QUICKBOOKS_JOURNAL = ["Journal No", "Journal Date", "Account Name", "Description", "Debits", "Credits", "Name"]
QUICKBOOKS_BANK = ["Date", "Description", "Amount"]
XERO_CONTACT = [
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3", "POAddressLine4",
    "POCity", "PORegion", "POPostalCode", "POCountry",
]  # fmt: skip
XERO_LINE = [
    "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount", "Discount", "*AccountCode", "*TaxType",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency", "BrandingTheme",
]  # fmt: skip
XERO_INVOICES = [*XERO_CONTACT, "*InvoiceNumber", "Reference", "*InvoiceDate", "*DueDate", *XERO_LINE]
XERO_CREDIT_NOTES = [*XERO_CONTACT, "*CreditNoteNumber", "Reference", "*CreditNoteDate", *XERO_LINE]
XERO_JOURNAL = [
    "*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2",
]  # fmt: skip
XERO_BANK = ["*Date", "*Amount", "Payee", "Description", "Reference", "Cheque Number"]


@pytest.fixture
def books(dataset):
    """The dataset's invoices with their snapshot and lines; a credit note on B1's invoice."""
    for invoice in Invoice.objects.all():
        Invoice.objects.filter(pk=invoice.pk).update(
            client_name=invoice.client.name,
            client_email=f"billing@{invoice.client.name.split()[0].lower()}.example",
            client_address="1 Main Street\nSuite 4\nSpringfield\nIL 62701\nUSA",
            payment_terms_days=14,
        )
        InvoiceLine.objects.create(
            invoice=invoice, position=1, description=f"Block of {invoice.block.minutes // 60} hours",
            minutes=invoice.block.minutes, unit_price=invoice.block.rate, amount=invoice.total,
        )  # fmt: skip
    inv2 = Invoice.objects.get(number="2026-0002")
    note = CreditNote.objects.create(
        client=inv2.client, agreement=inv2.agreement, invoice=inv2, block=inv2.block, minutes=120,
        reason="Client left", number="CN-2026-0001", number_year=2026, number_sequence=1,
        issued_on=datetime.date(2026, 2, 20), client_name="Birch Legal", client_email="billing@birch.example",
        currency="USD", subtotal=Decimal("240.00"), total=Decimal("240.00"),
    )  # fmt: skip
    CreditNoteLine.objects.create(
        credit_note=note, position=1, invoice=inv2, description="2 h unused of Block of 10 hours", minutes=120,
        unit_price=Decimal("120.00"), amount=Decimal("240.00"),
    )  # fmt: skip
    return dataset


def _block(agreement, currency="USD"):
    return Block.objects.create(
        agreement=agreement, minutes=600, rate=Decimal("50.00"), amount=Decimal("500.00"), currency=currency,
        starts_on=datetime.date(2026, 3, 1),
    )  # fmt: skip


def _export(software, document, first=JAN_1, last=MAR_31, currency=None):
    return accounting_export(software=software, document=document, first=first, last=last, currency=currency)


@pytest.mark.parametrize(
    "software, document, columns",
    [
        ("quickbooks", "invoices", QUICKBOOKS_INVOICES),
        ("quickbooks", "credit-notes", QUICKBOOKS_JOURNAL),
        ("quickbooks", "payments", QUICKBOOKS_BANK),
        ("quickbooks", "journal", QUICKBOOKS_JOURNAL),
        ("xero", "invoices", XERO_INVOICES),
        ("xero", "credit-notes", XERO_CREDIT_NOTES),
        ("xero", "payments", XERO_BANK),
        ("xero", "journal", XERO_JOURNAL),
    ],
)
def test_each_file_has_the_documented_columns_and_rows_as_wide(books, software, document, columns):
    export = _export(software, document)
    assert export.header == columns
    assert export.rows
    assert {len(row) for row in export.rows} == {len(columns)}


def test_quickbooks_invoices_list_issued_and_paid_invoices_line_by_line(books):
    rows = _export("quickbooks", "invoices").rows
    assert [row[0] for row in rows] == ["2026-0001", "2026-0002", "2026-0003"]  # the void 2026-0004 is left out
    assert rows[0] == [
        "2026-0001", "Acme Dental", "01/05/2026", "01/19/2026", "Net 14", "", "", "Prepaid support hours",
        "Block of 10 hours", 1, Decimal("1000.00"), Decimal("1000.00"), "NON", Decimal("0.00"), "USD", "",
    ]  # fmt: skip


def test_xero_invoices_carry_the_contact_address_and_the_deferred_revenue_account(books):
    rows = _export("xero", "invoices", first=datetime.date(2026, 1, 20), last=datetime.date(2026, 1, 20)).rows
    assert rows == [
        [
            "Birch Legal", "billing@birch.example", "1 Main Street", "Suite 4", "Springfield", "IL 62701, USA",
            "", "", "", "", "2026-0002", books.birch_agreement.name, "20/01/2026", "03/02/2026", "",
            "Block of 10 hours", 1, Decimal("1200.00"), "", "835", "Tax Exempt", "", "", "", "", "USD", "",
        ]
    ]  # fmt: skip


def test_invoice_totals_tie_to_the_cash_report(books):
    """The lines exported for a month add up to what the cash report says was invoiced in it."""
    for month in selectors.cash(first=JAN_1, last=MAR_31):
        last = selectors.add_months(month.month, 1) - datetime.timedelta(days=1)
        for software, amount_column, tax_column in (("quickbooks", 11, 13), ("xero", 17, None)):
            rows = _export(software, "invoices", first=month.month, last=last).rows
            exported = sum((row[amount_column] for row in rows), Decimal(0))
            if tax_column is not None:
                exported += sum((row[tax_column] for row in rows), Decimal(0))
            assert exported == month.invoiced, (software, month.month)


def test_tax_is_spread_over_the_lines_to_the_cent(db):
    agreement = AgreementFactory(client=ClientFactory(name="Cobalt Labs"))
    invoice = Invoice.objects.create(
        kind="block", status=InvoiceStatus.ISSUED, client=agreement.client, agreement=agreement, block=_block(agreement),
        number="2026-0100", number_year=2026, number_sequence=100, issued_on=datetime.date(2026, 3, 2),
        due_on=datetime.date(2026, 3, 2), currency="USD", client_name="Cobalt Labs", subtotal=Decimal("100.00"),
        tax_rate=Decimal("10.00"), tax_label="Sales tax 10%", tax_amount=Decimal("10.00"), total=Decimal("110.00"),
    )  # fmt: skip
    for position, amount in enumerate(("33.33", "33.33", "33.34"), start=1):
        InvoiceLine.objects.create(
            invoice=invoice, position=position, description=f"Line {position}", unit_price=Decimal(amount),
            amount=Decimal(amount),
        )  # fmt: skip
    rows = _export("quickbooks", "invoices").rows
    assert [(row[12], row[13]) for row in rows] == [
        ("Sales tax 10%", Decimal("3.33")),
        ("Sales tax 10%", Decimal("3.33")),
        ("Sales tax 10%", Decimal("3.34")),
    ]
    assert [row[20] for row in _export("xero", "invoices").rows] == ["Sales tax 10%"] * 3


def test_the_journal_books_each_month_as_the_revenue_report_does(books):
    rows = _export("quickbooks", "journal").rows
    assert rows == [
        ["BH-2026-01-USD", "01/31/2026", "Deferred Revenue",
         "Prepaid hours earned in 2026-01 (USD): Deferred revenue released", Decimal("440.00"), "", ""],
        ["BH-2026-01-USD", "01/31/2026", "Services", "Prepaid hours earned in 2026-01 (USD): Hours used: 4 h",
         "", Decimal("440.00"), ""],
        ["BH-2026-02-USD", "02/28/2026", "Deferred Revenue",
         "Prepaid hours earned in 2026-02 (USD): Deferred revenue released", Decimal("1800.00"), "", ""],
        ["BH-2026-02-USD", "02/28/2026", "Services", "Prepaid hours earned in 2026-02 (USD): Hours used: 8 h 30 min",
         "", Decimal("840.00"), ""],
        ["BH-2026-02-USD", "02/28/2026", "Breakage Income",
         "Prepaid hours earned in 2026-02 (USD): Hours expired or forfeited (breakage): 8 h", "", Decimal("960.00"), ""],
        ["BH-2026-03-USD", "03/31/2026", "Deferred Revenue",
         "Prepaid hours earned in 2026-03 (USD): Deferred revenue released", Decimal("50.00"), "", ""],
        ["BH-2026-03-USD", "03/31/2026", "Services", "Prepaid hours earned in 2026-03 (USD): Hours used: 30 min",
         "", Decimal("50.00"), ""],
    ]  # fmt: skip


def test_the_journal_ties_to_the_revenue_report_and_balances(books):
    for software in ("quickbooks", "xero"):
        for month in selectors.recognised_revenue(first=JAN_1, last=MAR_31):
            rows = _export(software, "journal", first=month.month, last=month.month).rows
            if software == "quickbooks":
                debits = sum((row[4] for row in rows if row[4] != ""), Decimal(0))
                credits = sum((row[5] for row in rows if row[5] != ""), Decimal(0))
                revenue = sum((row[5] for row in rows if row[2] == "Services"), Decimal(0))
                breakage = sum((row[5] for row in rows if row[2] == "Breakage Income"), Decimal(0))
            else:
                amounts = [row[5] for row in rows]
                debits = sum((a for a in amounts if a > 0), Decimal(0))
                credits = -sum((a for a in amounts if a < 0), Decimal(0))
                revenue = -sum((row[5] for row in rows if row[3] == "200"), Decimal(0))
                breakage = -sum((row[5] for row in rows if row[3] == "260"), Decimal(0))
            assert debits == credits == month.earned
            assert (revenue, breakage) == (month.recognised, month.breakage)


def test_a_xero_journal_line_is_a_signed_amount(books):
    rows = _export("xero", "journal", first=datetime.date(2026, 2, 1), last=datetime.date(2026, 2, 28)).rows
    assert [(row[0], row[1], row[3], row[4], row[5]) for row in rows] == [
        ("Prepaid hours earned in 2026-02 (USD)", "28/02/2026", "835", "Tax Exempt", Decimal("1800.00")),
        ("Prepaid hours earned in 2026-02 (USD)", "28/02/2026", "200", "Tax Exempt", Decimal("-840.00")),
        ("Prepaid hours earned in 2026-02 (USD)", "28/02/2026", "260", "Tax Exempt", Decimal("-960.00")),
    ]


def test_the_journal_books_whole_months(books):
    """A range inside February still books all of February: a journal is per month."""
    inside = _export("quickbooks", "journal", first=datetime.date(2026, 2, 10), last=datetime.date(2026, 2, 11))
    whole = _export("quickbooks", "journal", first=datetime.date(2026, 2, 1), last=datetime.date(2026, 2, 28))
    assert inside.rows == whole.rows


def test_credit_notes_for_quickbooks_are_a_balanced_journal_entry(books):
    rows = _export("quickbooks", "credit-notes").rows
    text = "Credit note CN-2026-0001 for invoice 2026-0002"
    assert rows == [
        ["CN-2026-0001", "02/20/2026", "Deferred Revenue", text, Decimal("240.00"), "", ""],
        ["CN-2026-0001", "02/20/2026", "Accounts Receivable (A/R)", text, "", Decimal("240.00"), "Birch Legal"],
    ]


def test_credit_notes_for_xero_name_the_invoice_they_credit_with_positive_amounts(books):
    (row,) = _export("xero", "credit-notes").rows
    assert row[0] == "Birch Legal"
    assert row[10:13] == ["CN-2026-0001", "2026-0002", "20/02/2026"]
    assert row[14:19] == ["2 h unused of Block of 10 hours", 1, Decimal("240.00"), "", "835"]


def test_payments_are_bank_lines(books):
    assert _export("quickbooks", "payments").rows == [
        ["01/08/2026", "Payment of invoice 2026-0001 — Acme Dental (ACH-1)", Decimal("1000.00")],
        ["02/10/2026", "Payment of invoice 2026-0002 — Birch Legal (ACH-2)", Decimal("700.00")],
    ]
    assert _export("xero", "payments").rows[1] == [
        "10/02/2026", Decimal("700.00"), "Birch Legal", "Payment of invoice 2026-0002 — Birch Legal (ACH-2)",
        "2026-0002", "",
    ]  # fmt: skip


def test_payments_in_two_currencies_need_a_currency_chosen(books):
    euro = AgreementFactory(client=ClientFactory(name="Rossi Srl", currency="EUR"))
    invoice = Invoice.objects.create(
        kind="block", status=InvoiceStatus.PAID, client=euro.client, agreement=euro, block=_block(euro, "EUR"),
        number="2026-0200",
        number_year=2026, number_sequence=200, issued_on=datetime.date(2026, 3, 1), due_on=datetime.date(2026, 3, 1),
        currency="EUR", client_name="Rossi Srl", subtotal=Decimal("500.00"), total=Decimal("500.00"),
        paid_at=timezone.now(),
    )  # fmt: skip
    Payment.objects.create(
        invoice=invoice,
        method="bank_transfer",
        reference="SEPA-77",
        amount=Decimal("500.00"),
        paid_on=datetime.date(2026, 3, 3),
    )
    with pytest.raises(ExportRefused, match="in EUR, USD: choose one currency"):
        _export("xero", "payments")
    assert [row[1] for row in _export("xero", "payments", currency="EUR").rows] == [Decimal("500.00")]
    assert len(_export("xero", "payments", currency="USD").rows) == 2


def test_a_sepa_direct_debit_is_a_bank_line_like_any_payment(books):
    euro = AgreementFactory(client=ClientFactory(name="Rossi Srl", currency="EUR"))
    invoice = Invoice.objects.create(
        kind="block", status=InvoiceStatus.PAID, client=euro.client, agreement=euro, block=_block(euro, "EUR"),
        number="2026-0201", number_year=2026, number_sequence=201, issued_on=datetime.date(2026, 3, 1),
        due_on=datetime.date(2026, 3, 1), currency="EUR", client_name="Rossi Srl", subtotal=Decimal("500.00"),
        total=Decimal("500.00"), paid_at=timezone.now(),
    )  # fmt: skip
    Payment.objects.create(
        invoice=invoice,
        method=PaymentMethod.SEPA_DEBIT,
        reference="pi_3SepaDebit",
        amount=Decimal("500.00"),
        paid_on=datetime.date(2026, 3, 9),
    )
    assert _export("quickbooks", "payments", currency="EUR").rows == [
        ["03/09/2026", "Payment of invoice 2026-0201 — Rossi Srl (pi_3SepaDebit)", Decimal("500.00")]
    ]
    assert _export("xero", "payments", currency="EUR").rows == [
        ["09/03/2026", Decimal("500.00"), "Rossi Srl", "Payment of invoice 2026-0201 — Rossi Srl (pi_3SepaDebit)",
         "2026-0201", ""],
    ]  # fmt: skip


@override_settings(
    ACCOUNTING={
        "quickbooks": {"item": "Hours", "deferred": "Unearned", "revenue": "Support income", "breakage": "Lapsed",
                       "receivable": "A/R", "tax": "VAT control", "no_tax": "Exempt"},
        "xero": {"deferred": "2400", "revenue": "4000", "breakage": "4900", "no_tax": "No VAT"},
    }
)  # fmt: skip
def test_the_accounts_come_from_the_settings(books):
    invoice = _export("quickbooks", "invoices").rows[0]
    assert (invoice[7], invoice[12]) == ("Hours", "Exempt")
    journal = _export("quickbooks", "journal", first=datetime.date(2026, 2, 1), last=datetime.date(2026, 2, 1)).rows
    assert [row[2] for row in journal] == ["Unearned", "Support income", "Lapsed"]
    assert [row[2] for row in _export("quickbooks", "credit-notes").rows] == ["Unearned", "A/R"]
    xero = _export("xero", "journal", first=datetime.date(2026, 2, 1), last=datetime.date(2026, 2, 1)).rows
    assert [(row[3], row[4]) for row in xero] == [("2400", "No VAT"), ("4000", "No VAT"), ("4900", "No VAT")]
    assert _export("xero", "invoices").rows[0][19:21] == ["2400", "No VAT"]


def test_a_range_backwards_is_refused(db):
    with pytest.raises(ExportRefused, match="first day must not be after"):
        _export("xero", "invoices", first=MAR_31, last=JAN_1)


# ---------------------------------------------------------------------------
# The page and the command


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_staff_download_an_export_from_the_reports(client, staff, books):
    client.force_login(staff)
    page = client.get(reverse("reports:accounting"))
    assert page.status_code == HTTPStatus.OK
    assert b"Download CSV" in page.content and b"Deferred Revenue" in page.content
    response = client.get(
        reverse("reports:accounting"),
        {"download": "1", "software": "xero", "document": "journal", "first": "2026-02-01", "last": "2026-02-28"},
    )
    assert response["Content-Disposition"] == 'attachment; filename="xero-journal-2026-02-01-2026-02-28.csv"'
    rows = _csv(response)
    assert rows[0] == XERO_JOURNAL
    assert [row[5] for row in rows[1:]] == ["1800.00", "-840.00", "-960.00"]  # no apostrophe before a minus


def test_the_page_says_why_an_export_cannot_be_made_and_downloads_nothing(client, staff, books):
    client.force_login(staff)
    params = {"download": "1", "software": "quickbooks", "document": "invoices"}
    backwards = client.get(reverse("reports:accounting"), {**params, "first": "2026-03-01", "last": "2026-01-01"})
    assert backwards["Content-Type"].startswith("text/html")
    assert "The first day must not be after the last one." in backwards.content.decode()
    not_a_date = client.get(reverse("reports:accounting"), {**params, "first": "1,5", "last": "2026-01-01"})
    assert "Enter a valid date." in not_a_date.content.decode()
    unknown = client.get(reverse("reports:accounting"), {**params, "software": "sage", "first": "2026-01-01",
                                                           "last": "2026-01-31"})  # fmt: skip
    assert unknown["Content-Type"].startswith("text/html")
    assert "Select a valid choice." in unknown.content.decode()


def test_technicians_and_client_contacts_get_no_export(client, technician, alice, books):
    params = {"download": "1", "software": "xero", "document": "invoices", "first": "2026-01-01",
              "last": "2026-03-31"}  # fmt: skip
    for user in (technician, alice):
        client.force_login(user)
        assert client.get(reverse("reports:accounting"), params).status_code == HTTPStatus.NOT_FOUND


def test_the_command_writes_the_same_file(books, tmp_path):
    target = tmp_path / "invoices.csv"
    call_command(
        "export_accounting", "quickbooks", "invoices", "--from", "2026-01-01", "--to", "2026-03-31",
        "--output", str(target), stderr=io.StringIO(),
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0] == QUICKBOOKS_INVOICES
    assert [row[0] for row in rows[1:]] == ["2026-0001", "2026-0002", "2026-0003"]
    out = io.StringIO()
    call_command("export_accounting", "xero", "payments", "--from", "2026-01-01", "--to", "2026-01-31", stdout=out)
    assert list(csv.reader(io.StringIO(out.getvalue())))[1][:2] == ["08/01/2026", "1000.00"]


def test_the_command_refuses_clearly(books):
    AgreementFactory(client=ClientFactory(name="Rossi Srl", currency="EUR"))
    with pytest.raises(CommandError, match="first day must not be after"):
        call_command("export_accounting", "xero", "invoices", "--from", "2026-03-01", "--to", "2026-01-01")
