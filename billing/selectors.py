"""Reads of invoices, scoped to what a user may see.

Invoices are money matters: staff see every invoice, a client contact sees
their own client's issued invoices (never drafts), and everyone else —
technicians included — sees none. Whatever is out of scope is "not found".
"""

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from agreements.models import Agreement, AgreementStatus, Client
from agreements.selectors import clients_for_user
from billing.models import BalanceBasis, CreditNote, Invoice, InvoiceBalance, InvoiceStatus, Payment, SellerProfile


def invoices_for_user(user: User) -> QuerySet[Invoice]:
    if not user.is_authenticated or not user.is_active:
        return Invoice.objects.none()
    invoices = Invoice.objects.select_related("client", "agreement", "block")
    if user.is_msp_staff:
        return invoices
    if user.is_client_contact:
        return invoices.filter(client__in=clients_for_user(user)).exclude(status=InvoiceStatus.DRAFT)
    return Invoice.objects.none()


def invoice_get_for_user(user: User, public_id: uuid.UUID | str) -> Invoice:
    """The invoice, or Invoice.DoesNotExist if unknown or not the user's to see."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise Invoice.DoesNotExist(f"“{public_id}” is not an invoice id.") from None
    return invoices_for_user(user).get(public_id=public_id)


def credit_notes_for_user(user: User) -> QuerySet[CreditNote]:
    """Credit notes, scoped exactly like invoices: staff see all, a client
    contact their own client's, everyone else none."""
    if not user.is_authenticated or not user.is_active:
        return CreditNote.objects.none()
    credit_notes = CreditNote.objects.select_related("client", "agreement", "invoice", "block")
    if user.is_msp_staff:
        return credit_notes
    if user.is_client_contact:
        return credit_notes.filter(client__in=clients_for_user(user))
    return CreditNote.objects.none()


def credit_note_get_for_user(user: User, public_id: uuid.UUID | str) -> CreditNote:
    """The credit note, or CreditNote.DoesNotExist if unknown or not the user's to see."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise CreditNote.DoesNotExist(f"“{public_id}” is not a credit note id.") from None
    return credit_notes_for_user(user).get(public_id=public_id)


def invoice_amount_paid(invoice: Invoice) -> Decimal:
    return Payment.objects.filter(invoice=invoice).aggregate(total=Coalesce(Sum("amount"), Decimal("0.00")))["total"]


def invoice_amount_due(invoice: Invoice) -> Decimal:
    if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.VOID):
        return Decimal("0.00")
    return invoice.total - invoice_amount_paid(invoice)


def invoices_overdue(invoices: QuerySet[Invoice], *, today: datetime.date | None = None) -> QuerySet[Invoice]:
    """Issued, unpaid invoices past their due date (the "to chase" list)."""
    return invoices.filter(status=InvoiceStatus.ISSUED, due_on__lt=today or timezone.localdate())


def invoice_is_overdue(invoice: Invoice, *, today: datetime.date | None = None) -> bool:
    return invoice.status == InvoiceStatus.ISSUED and invoice.due_on < (today or timezone.localdate())


def seller_profile_get() -> SellerProfile | None:
    return SellerProfile.objects.filter(pk=1).first()


def invoice_figures(invoices: QuerySet[Invoice], *, today: datetime.date | None = None) -> dict[str, int]:
    """How many invoices wait for payment, and how many of those are overdue."""
    unpaid = invoices.filter(status=InvoiceStatus.ISSUED)
    return {"unpaid": unpaid.count(), "overdue": invoices_overdue(unpaid, today=today).count()}


# ---------------------------------------------------------------------------
# The balance printed on a document


@dataclass(frozen=True)
class AgreementBalance:
    agreement: Agreement
    before: int  # minutes
    after: int  # minutes


def document_balances(*, client: Client, agreement: Agreement, minutes: int, applied: bool) -> list[AgreementBalance]:
    """The client's balance per agreement, before a document and after it.

    The one computation behind every document that prints a balance
    (invoices and credit notes): `agreement` and `minutes` say what the
    document adds (positive) or takes back (negative); `applied` says whether
    those minutes are already in the balance (a block credited when it was
    sold, overage settled or a refund written at issue) or arrive later (a
    block credited once its invoice is paid). The client's other active
    agreements are listed unchanged, so the document shows the whole balance.
    Called inside the transaction that holds `agreement`'s row lock, the
    figures are exact.
    """
    rows = []
    agreements = client.agreements.filter(Q(status=AgreementStatus.ACTIVE) | Q(pk=agreement.pk))
    for each in agreements.order_by("position", "pk"):
        now = each.balance_minutes
        if each.pk != agreement.pk:
            rows.append(AgreementBalance(each, now, now))
        elif applied:
            rows.append(AgreementBalance(each, now - minutes, now))
        else:
            rows.append(AgreementBalance(each, now, now + minutes))
    return rows


def invoice_balance_preview(invoice: Invoice) -> tuple[str, list[AgreementBalance]]:
    """What issuing the invoice now would snapshot: its balance basis and rows.

    A block's hours credited already (usable at once, auto-reload) are in the
    balance; otherwise they come once paid. Overage is settled when the
    invoice is issued, so it is read before that and shown as applied.
    """
    if invoice.block is not None:
        credited = invoice.block.credited_at is not None
        basis = BalanceBasis.APPLIED if credited else BalanceBasis.ON_PAYMENT
        minutes = invoice.block.minutes
    else:
        credited, basis, minutes = False, BalanceBasis.APPLIED, invoice.overage_minutes
    rows = document_balances(client=invoice.client, agreement=invoice.agreement, minutes=minutes, applied=credited)
    return basis, rows


def invoice_balances(invoice: Invoice) -> tuple[str, list[InvoiceBalance]]:
    """The balance rows to print: the snapshot of an issued invoice, a live
    preview for a draft, none for an invoice issued before balances were kept."""
    if invoice.status != InvoiceStatus.DRAFT:
        return invoice.balance_basis, list(invoice.balances.all())
    basis, rows = invoice_balance_preview(invoice)
    return basis, [
        InvoiceBalance(
            agreement=row.agreement,
            agreement_name=row.agreement.name,
            minutes_before=row.before,
            minutes_after=row.after,
        )
        for row in rows
    ]
