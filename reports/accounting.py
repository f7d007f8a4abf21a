"""Exports for the accounting software: invoices, credit notes and payments of
a date range, and the monthly deferred-revenue journal, as CSV files in the
import formats QuickBooks Online and Xero document (the README cites each).

The books these files write, with the accounts from settings.ACCOUNTING:
- an invoice sells prepaid hours: its lines go to the deferred-revenue
  account (a liability) through the item or account code set for it;
- a payment is a bank line, matched to its invoice in the bank feed;
- a credit note gives back unused prepaid hours: deferred revenue goes down;
- each month's journal moves what the month earned out of deferred revenue:
  recognised revenue (hours used) on one line, breakage (hours expired or
  forfeited) on its own. Its figures are the revenue report's
  (`reports.selectors.recognised_revenue`), so the two always tie.

Amounts are exact Decimals with two places; quantities are 1 with the line's
amount as the unit amount, so no hour fraction is ever rounded.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy

from agreements.domain import format_minutes
from billing.models import CreditNote, Invoice, InvoiceStatus, Payment
from reports.selectors import add_months, month_start, recognised_revenue

SOFTWARE = {"quickbooks": gettext_lazy("QuickBooks Online"), "xero": gettext_lazy("Xero")}
DOCUMENTS = {
    "invoices": gettext_lazy("Invoices"),
    "credit-notes": gettext_lazy("Credit notes"),
    "payments": gettext_lazy("Payments (bank lines)"),
    "journal": gettext_lazy("Deferred-revenue journal (whole months)"),
}

# QuickBooks Online reads US-style dates by default (the import lets you pick);
# Xero's templates ask for day first.
_DATE_FORMAT = {"quickbooks": "%m/%d/%Y", "xero": "%d/%m/%Y"}

# The column sets, exactly as each import documents them (README: "Exporting to
# QuickBooks Online and Xero"). A leading * marks what Xero's templates require.
QUICKBOOKS_INVOICE_COLUMNS = [
    "InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo", "Item(Product/Service)",
    "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "ItemTaxCode", "ItemTaxAmount", "Currency",
    "Service Date",
]  # fmt: skip
QUICKBOOKS_JOURNAL_COLUMNS = ["Journal No", "Journal Date", "Account Name", "Description", "Debits", "Credits", "Name"]
QUICKBOOKS_BANK_COLUMNS = ["Date", "Description", "Amount"]
_XERO_CONTACT = [
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3", "POAddressLine4",
    "POCity", "PORegion", "POPostalCode", "POCountry",
]  # fmt: skip
_XERO_LINE = [
    "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount", "Discount", "*AccountCode", "*TaxType",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency", "BrandingTheme",
]  # fmt: skip
XERO_INVOICE_COLUMNS = [*_XERO_CONTACT, "*InvoiceNumber", "Reference", "*InvoiceDate", "*DueDate", *_XERO_LINE]
XERO_CREDIT_NOTE_COLUMNS = [*_XERO_CONTACT, "*CreditNoteNumber", "Reference", "*CreditNoteDate", *_XERO_LINE]
XERO_JOURNAL_COLUMNS = [
    "*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2",
]  # fmt: skip
XERO_BANK_COLUMNS = ["*Date", "*Amount", "Payee", "Description", "Reference", "Cheque Number"]

CENT = Decimal("0.01")


class ExportRefused(ValueError):
    """The export cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Export:
    filename: str
    header: list[str]
    rows: list[list[object]]


def _accounts(software: str) -> dict[str, str]:
    return settings.ACCOUNTING[software]


def _date(software: str, day: datetime.date) -> str:
    return day.strftime(_DATE_FORMAT[software])


def _money(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT)


def _address_lines(address: str) -> list[str]:
    """The snapshot address in Xero's four PO address lines (the rest joined on the fourth)."""
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    return (lines[:3] + [", ".join(lines[3:])] + ["", "", "", ""])[:4]


def _tax_name(software: str, document: Invoice | CreditNote) -> str:
    """The document's tax as the software names it: its own label when it
    carries tax (it must match a tax rate set up there), else the no-tax code."""
    return document.tax_label if document.tax_amount else _accounts(software)["no_tax"]


# ---------------------------------------------------------------------------
# Invoices


def _invoices(first: datetime.date, last: datetime.date, currency: str | None):
    # Issued or paid, whether paid now or not; drafts were never sent and a
    # void invoice was never owed (one voided after an export is voided there by hand).
    invoices = Invoice.objects.filter(
        status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID], issued_on__range=(first, last)
    )
    if currency:
        invoices = invoices.filter(currency=currency)
    return invoices.select_related("agreement").prefetch_related("lines").order_by("issued_on", "number")


def _invoice_rows(software: str, first, last, currency) -> list[list[object]]:
    accounts = _accounts(software)
    rows = []
    for invoice in _invoices(first, last, currency):
        lines = list(invoice.lines.all())
        tax_shares = _tax_shares(invoice.tax_amount, [line.amount for line in lines])
        for line, tax in zip(lines, tax_shares, strict=True):
            if software == "quickbooks":
                rows.append([
                    invoice.number, invoice.client_name, _date(software, invoice.issued_on),
                    _date(software, invoice.due_on), _terms(invoice.payment_terms_days), "", "",
                    accounts["item"], line.description, 1, _money(line.amount), _money(line.amount),
                    _tax_name(software, invoice), tax, invoice.currency, "",
                ])  # fmt: skip
            else:
                rows.append([
                    invoice.client_name, invoice.client_email, *_address_lines(invoice.client_address), "", "", "",
                    "", invoice.number, invoice.agreement.name if invoice.agreement_id else "",
                    _date(software, invoice.issued_on), _date(software, invoice.due_on), "", line.description, 1,
                    _money(line.amount), "", accounts["deferred"], _tax_name(software, invoice), "", "", "", "",
                    invoice.currency, "",
                ])  # fmt: skip
    return rows


def _terms(days: int) -> str:
    # QuickBooks' standard terms are named "Net 15", "Net 30"...; "Due on receipt" for 0.
    return f"Net {days}" if days else "Due on receipt"


def _tax_shares(tax: Decimal, amounts: list[Decimal]) -> list[Decimal]:
    """The invoice's tax spread over its lines in proportion, to the cent,
    the last line taking the rounding: the shares add up to the tax exactly."""
    total = sum(amounts, Decimal(0))
    if not amounts:
        return []
    if not tax or not total:
        return [Decimal("0.00")] * len(amounts)
    shares = [_money(tax * amount / total) for amount in amounts[:-1]]
    return [*shares, _money(tax - sum(shares, Decimal(0)))]


# ---------------------------------------------------------------------------
# Credit notes


def _credit_notes(first, last, currency):
    notes = CreditNote.objects.filter(issued_on__range=(first, last))
    if currency:
        notes = notes.filter(currency=currency)
    return notes.select_related("invoice").prefetch_related("lines__invoice").order_by("issued_on", "number")


def _credit_note_rows(software: str, first, last, currency) -> list[list[object]]:
    accounts = _accounts(software)
    rows = []
    for note in _credit_notes(first, last, currency):
        if software == "quickbooks":
            # QuickBooks Online has no credit memo import: the note is a journal
            # entry that takes the prepaid hours out of deferred revenue (and its
            # tax back) and lowers what the customer owes.
            description = gettext("Credit note %(number)s for invoice %(invoice)s") % {
                "number": note.number,
                "invoice": note.invoice.number,
            }
            date = _date(software, note.issued_on)
            rows.append([note.number, date, accounts["deferred"], description, _money(note.subtotal), "", ""])
            if note.tax_amount:
                rows.append([note.number, date, accounts["tax"], description, _money(note.tax_amount), "", ""])
            rows.append(
                [note.number, date, accounts["receivable"], description, "", _money(note.total), note.client_name]
            )
            continue
        for line in note.lines.all():
            rows.append([
                note.client_name, note.client_email, *_address_lines(note.client_address), "", "", "", "",
                note.number, line.invoice.number,
                _date(software, note.issued_on), "", line.description, 1, _money(line.amount), "",
                accounts["deferred"], _tax_name(software, note), "", "", "", "", note.currency, "",
            ])  # fmt: skip
    return rows


# ---------------------------------------------------------------------------
# Payments


def _payment_rows(software: str, first, last, currency) -> list[list[object]]:
    payments = Payment.objects.filter(paid_on__range=(first, last)).select_related("invoice")
    if currency:
        payments = payments.filter(invoice__currency=currency)
    payments = list(payments.order_by("paid_on", "pk"))
    currencies = sorted({payment.invoice.currency for payment in payments})
    if len(currencies) > 1:
        raise ExportRefused(
            gettext("These payments are in %(currencies)s: choose one currency, as a bank statement holds one.")
            % {"currencies": ", ".join(currencies)}
        )
    rows = []
    for payment in payments:
        invoice = payment.invoice
        description = gettext("Payment of invoice %(number)s — %(client)s") % {
            "number": invoice.number,
            "client": invoice.client_name,
        }
        if payment.reference:
            description = f"{description} ({payment.reference})"
        if software == "quickbooks":
            rows.append([_date(software, payment.paid_on), description, _money(payment.amount)])
        else:
            rows.append(
                [_date(software, payment.paid_on), _money(payment.amount), invoice.client_name, description,
                 invoice.number, ""]
            )  # fmt: skip
    return rows


# ---------------------------------------------------------------------------
# The deferred-revenue journal


def journal_months(first: datetime.date, last: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The whole months a range touches: the journal books a month at once."""
    return month_start(first), add_months(month_start(last), 1) - datetime.timedelta(days=1)


def _journal_rows(software: str, first, last, currency) -> list[list[object]]:
    accounts = _accounts(software)
    first, last = journal_months(first, last)
    rows = []
    for month in recognised_revenue(first=first, last=last):
        if currency and month.currency != currency:
            continue
        recognised, breakage = month.recognised, month.breakage
        if not recognised and not breakage:
            continue
        month_end = add_months(month.month, 1) - datetime.timedelta(days=1)
        date = _date(software, month_end)
        number = f"BH-{month.month:%Y-%m}-{month.currency}"
        narration = gettext("Prepaid hours earned in %(month)s (%(currency)s)") % {
            "month": f"{month.month:%Y-%m}",
            "currency": month.currency,
        }
        lines = [
            (accounts["deferred"], gettext("Deferred revenue released"), recognised + breakage),
            (
                accounts["revenue"],
                gettext("Hours used: %(hours)s") % {"hours": format_minutes(month.recognised_minutes)},
                -recognised,
            ),
            (
                accounts["breakage"],
                gettext("Hours expired or forfeited (breakage): %(hours)s")
                % {"hours": format_minutes(month.breakage_minutes)},
                -breakage,
            ),
        ]
        for account, description, amount in lines:
            if not amount:
                continue
            amount = _money(amount)
            if software == "quickbooks":
                debit, credit = (amount, "") if amount > 0 else ("", -amount)
                rows.append([number, date, account, f"{narration}: {description}", debit, credit, ""])
            else:
                rows.append([narration, date, description, account, accounts["no_tax"], amount, "", "", "", ""])
    return rows


# ---------------------------------------------------------------------------

_BUILDERS = {
    "invoices": (_invoice_rows, {"quickbooks": QUICKBOOKS_INVOICE_COLUMNS, "xero": XERO_INVOICE_COLUMNS}),
    "credit-notes": (
        _credit_note_rows,
        {"quickbooks": QUICKBOOKS_JOURNAL_COLUMNS, "xero": XERO_CREDIT_NOTE_COLUMNS},
    ),
    "payments": (_payment_rows, {"quickbooks": QUICKBOOKS_BANK_COLUMNS, "xero": XERO_BANK_COLUMNS}),
    "journal": (_journal_rows, {"quickbooks": QUICKBOOKS_JOURNAL_COLUMNS, "xero": XERO_JOURNAL_COLUMNS}),
}


def accounting_export(
    *, software: str, document: str, first: datetime.date, last: datetime.date, currency: str | None = None
) -> Export:
    """One export file. Raises ExportRefused when it cannot be made as asked."""
    if software not in SOFTWARE or document not in DOCUMENTS:
        raise ExportRefused(gettext("Unknown export."))
    if first > last:
        raise ExportRefused(gettext("The first day must not be after the last one."))
    build, columns = _BUILDERS[document]
    rows = build(software, first, last, currency or None)
    suffix = f"-{currency}" if currency else ""
    return Export(
        filename=f"{software}-{document}-{first:%Y-%m-%d}-{last:%Y-%m-%d}{suffix}.csv",
        header=list(columns[software]),
        rows=rows,
    )
