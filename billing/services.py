"""Every change to invoices and payments, in one place.

Keyword-only functions named `<entity>_<action>`; views, the admin, tasks
and other apps (notifications raises reload invoices) call these and nothing
else writes an invoice. On an existing invoice the lock order is always
invoice row → agreement row (the agreements services take the latter), so
two flows never wait on each other in opposite orders.
"""

import datetime
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements import services as agreement_services
from agreements.domain import (
    block_name,
    check_ascii_number,
    check_date_in_range,
    check_plain_decimal,
    format_minutes,
    money,
)
from agreements.models import Agreement, Block, CreditPolicy, OveragePolicy, Tier
from audit.models import AuditAction
from audit.services import audit_record
from billing import pdf
from billing.events import invoice_data
from billing.models import (
    CreditNote,
    CreditNoteBalance,
    Invoice,
    InvoiceBalance,
    InvoiceKind,
    InvoiceLine,
    InvoiceNumberCounter,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    SellerProfile,
)
from billing.selectors import AgreementBalance, invoice_amount_paid, invoice_balance_preview, seller_profile_get
from billing.templatetags.billing_tags import format_money
from monitoring.queueing import task_publish
from webhooks.models import EventKind
from webhooks.services import event_emit

logger = logging.getLogger(__name__)

MAX_PAYMENT = Decimal("1000000000")


# ---------------------------------------------------------------------------
# Helpers


def _lock(invoice: Invoice) -> Invoice:
    """Lock the invoice row for the rest of the transaction and return it fresh."""
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("client", "agreement", "block")
        .get(pk=invoice.pk)
    )


def _about(invoice: Invoice, numbered: str, draft: str, **values: object) -> str:
    """The sentence about a numbered invoice, or the one about a draft, filled in.

    Both are whole sentences translated at the call: "invoice 2026-0001" glued
    into another sentence would not translate.
    """
    return (numbered if invoice.number else draft) % {"number": invoice.number, **values}


def _set_totals(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    invoice.subtotal = money(sum((line.amount for line in lines), Decimal("0")))
    invoice.tax_rate = settings.INVOICE_TAX_RATE
    invoice.tax_label = settings.INVOICE_TAX_LABEL if invoice.tax_rate else ""
    invoice.tax_amount = money(invoice.subtotal * invoice.tax_rate / 100)
    invoice.total = invoice.subtotal + invoice.tax_amount


def copy_parties(document: "Invoice | CreditNote", seller: SellerProfile | None) -> None:
    """Copy the client's and the seller's details onto a document (an invoice
    or a credit note), so later edits of either never reach it."""
    client = document.client
    client.refresh_from_db()
    document.client_name = client.billing_name or client.name
    document.client_address = client.billing_address
    document.client_email = client.billing_email
    document.language = client.language
    if seller is not None:
        document.seller_name = seller.name
        document.seller_address = seller.address
        document.seller_email = seller.email
        document.seller_phone = seller.phone
        document.seller_website = seller.website
        document.seller_tax_id = seller.tax_id
        # Uploads get new names and old files are kept, so the name is enough
        # to keep printing the logo this document was issued with.
        document.seller_logo = seller.logo.name if seller.logo else ""


def balances_snapshot(document: "Invoice | CreditNote", rows: list[AgreementBalance]) -> None:
    """Store a document's balance rows (from selectors.document_balances)
    with it, inside the transaction that holds the agreement's row lock."""
    model, document_field = (
        (InvoiceBalance, "invoice") if isinstance(document, Invoice) else (CreditNoteBalance, "credit_note")
    )
    model.objects.bulk_create(
        model(
            position=position,
            agreement=row.agreement,
            agreement_name=row.agreement.name,
            minutes_before=row.before,
            minutes_after=row.after,
            **{document_field: document},
        )
        for position, row in enumerate(rows, start=1)
    )


def _snapshot(invoice: Invoice, seller: SellerProfile | None) -> None:
    """Copy the seller's and the client's details onto the invoice.

    Done for drafts (so a preview shows current details) and again at issue;
    after issue nothing calls it, so later edits never reach the invoice.
    """
    copy_parties(invoice, seller)
    if seller is not None:
        invoice.payment_instructions = seller.payment_instructions
        invoice.payment_terms_days = seller.payment_terms_days


def _save_new(invoice: Invoice, lines: list[InvoiceLine]) -> Invoice:
    _snapshot(invoice, seller_profile_get())
    _set_totals(invoice, lines)
    invoice.full_clean(exclude=["pdf"])
    invoice.save()
    for position, line in enumerate(lines, start=1):
        line.invoice = invoice
        line.position = position
    InvoiceLine.objects.bulk_create(lines)
    return invoice


def _queue_render(invoice: Invoice) -> None:
    from billing.tasks import render_invoice_pdf

    invoice_id = invoice.pk
    # After commit only: a worker started earlier could read the invoice
    # before this transaction commits and render a draft, an old status, or
    # find nothing at all. A broker outage must not turn a committed issue or
    # payment into an error. Catch-up: the PDF download view and the email
    # that attaches the invoice both render a missing or stale PDF on demand.
    transaction.on_commit(
        lambda: task_publish(render_invoice_pdf, invoice_id, catch_up="rendering on download or email"),
        robust=True,
    )


def _next_number(year: int) -> int:
    """Take the next number of `year` under the counter's row lock (caller's transaction)."""
    # get_or_create copes with two transactions creating the year's row at once.
    InvoiceNumberCounter.objects.get_or_create(year=year)
    counter = InvoiceNumberCounter.objects.select_for_update().get(year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


# ---------------------------------------------------------------------------
# Creating and issuing


def _block_lines(block: Block) -> list[InvoiceLine]:
    """The list price and the prepaid discount as separate lines, as MSPs show them."""
    minutes = block.minutes
    discount = block.tier.discount_per_hour if block.tier is not None else Decimal("0")
    hours = Decimal(minutes) / 60
    # Stored text, written once in the language of the client's invoices.
    with translation.override(block.agreement.client.language):
        name = block_name(minutes)
        discount_name = _("Prepaid block discount")
    if discount > 0:
        list_rate = block.rate + discount
        lines = [
            InvoiceLine(description=name, minutes=minutes, unit_price=list_rate, amount=money(list_rate * hours)),
            InvoiceLine(
                description=discount_name,
                minutes=minutes,
                unit_price=-discount,
                amount=-money(discount * hours),
            ),
        ]
        if sum(line.amount for line in lines) == block.amount:
            return lines
    # Without a discount (or if the tier changed since the sale and the lines
    # no longer add up to what was sold), one line at the price sold.
    return [InvoiceLine(description=name, minutes=minutes, unit_price=block.rate, amount=block.amount)]


def invoice_create_for_block(*, block: Block, kind: str = InvoiceKind.BLOCK, actor: User | None) -> Invoice:
    """A draft invoice for a sold block (a first purchase or a reload)."""
    if kind not in (InvoiceKind.BLOCK, InvoiceKind.RELOAD):
        raise ValidationError({"kind": _("A block is billed on a block-purchase or a reload invoice.")})
    with transaction.atomic():
        # The block row lock makes a second, simultaneous invoice for the same
        # block wait and then see the first (the unique constraint backs this up).
        block = (
            Block.objects.select_for_update(of=("self",)).select_related("agreement__client", "tier").get(pk=block.pk)
        )
        if block.cancelled_at is not None:
            raise ValidationError(_("This block sale was cancelled; it cannot be invoiced."))
        existing = Invoice.objects.filter(block=block).exclude(status=InvoiceStatus.VOID).first()
        if existing is not None:
            raise ValidationError(
                _about(
                    existing,
                    _("This block is already billed on invoice %(number)s."),
                    _("This block is already billed on this draft invoice."),
                )
            )
        invoice = Invoice(
            kind=kind,
            client=block.agreement.client,
            agreement=block.agreement,
            block=block,
            currency=block.currency,
            created_by=actor,
        )
        return _save_new(invoice, _block_lines(block))


def invoice_draft_change_block(
    *, invoice: Invoice, actor: User | None, tier: Tier | None = None, hours: int | None = None
) -> Invoice:
    """Give a draft block invoice (a reload drafted for review) another block
    size: a tier, or whole hours at the client's rate. The block is resized
    and the draft's lines and totals rewritten; nothing is numbered."""
    with transaction.atomic():
        invoice = _lock(invoice)
        if invoice.status != InvoiceStatus.DRAFT or invoice.block is None:
            raise ValidationError(_("Only a draft block invoice can change its block."))
        block = agreement_services.block_resize(block=invoice.block, actor=actor, tier=tier, hours=hours)
        invoice.lines.all().delete()
        lines = _block_lines(block)
        for position, line in enumerate(lines, start=1):
            line.invoice = invoice
            line.position = position
        InvoiceLine.objects.bulk_create(lines)
        invoice.block = block
        _set_totals(invoice, lines)
        invoice.save(update_fields=["subtotal", "tax_rate", "tax_label", "tax_amount", "total"])
    return invoice


def overage_rate_of(agreement: Agreement) -> Decimal:
    """The hourly rate overage is billed at: the agreement's own, else the client's."""
    return agreement.overage_rate if agreement.overage_rate is not None else agreement.client.hourly_rate


def invoice_create_for_overage(*, agreement: Agreement, actor: User | None) -> Invoice:
    """A draft invoice for the time charged beyond every block, at the overage rate.

    Only under the bill-overage policy (under the others a new block repays
    overage). Issuing it settles those minutes in the ledger.
    """
    agreement = Agreement.objects.select_related("client").get(pk=agreement.pk)
    if agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        raise ValidationError(
            _("This agreement does not bill overage: time beyond the balance is repaid from the next block.")
        )
    minutes = agreement_services.overage_unbilled_minutes(agreement)
    if minutes == 0:
        raise ValidationError(_("There is no unbilled overage on this agreement."))
    if Invoice.objects.filter(agreement=agreement, kind=InvoiceKind.OVERAGE, status=InvoiceStatus.DRAFT).exists():
        raise ValidationError(_("An overage invoice for this agreement is already in draft: issue or void it first."))
    client = agreement.client
    with translation.override(client.language):  # stored text, in the language of the client's invoices
        description = _("Support time beyond prepaid hours")
    rate = overage_rate_of(agreement)
    line = InvoiceLine(
        description=description,
        minutes=minutes,
        unit_price=rate,
        amount=money(rate * Decimal(minutes) / 60),
    )
    invoice = Invoice(
        kind=InvoiceKind.OVERAGE,
        client=client,
        agreement=agreement,
        overage_minutes=minutes,
        currency=client.currency,
        created_by=actor,
    )
    with transaction.atomic():
        return _save_new(invoice, [line])


def invoice_issue(*, invoice: Invoice, actor: User | None, queue_pdf: bool = True) -> Invoice:
    """Number the draft, freeze its snapshot, fix its dates, and queue its PDF
    (`queue_pdf=False`: the caller renders it itself, so no second render).

    The number comes from the year's counter, locked in this transaction:
    concurrent issues queue, and a failed issue gives its number back. The
    counter stays locked until the caller's transaction commits, so callers
    commit the issue before slow work (the PDF, emails).
    Issuing an overage invoice settles its minutes in the ledger.
    """
    seller = seller_profile_get()
    if seller is None or not seller.name.strip():
        raise ValidationError(
            _(
                "Fill in the seller profile (your company's name, address and payment instructions) "
                "before issuing invoices."
            )
        )
    with transaction.atomic():
        invoice = _lock(invoice)
        # The balance snapshot and, for overage, settling the minutes (below)
        # need the agreement row: taken before the year's counter, in the order
        # of every flow that holds both.
        agreement_services.agreement_balance_locked(invoice.agreement)
        if invoice.status != InvoiceStatus.DRAFT:
            raise ValidationError(
                _about(
                    invoice,
                    _("Invoice %(number)s is %(status)s; only a draft can be issued."),
                    _("This draft invoice is %(status)s; only a draft can be issued."),
                    status=invoice.get_status_display().lower(),
                )
            )
        if invoice.block is not None and invoice.block.cancelled_at is not None:
            raise ValidationError(_("The block on this invoice was cancelled; void the draft instead."))
        if (
            invoice.block is not None
            and invoice.block.credited_at is None
            and invoice.agreement.credit_policy == CreditPolicy.IMMEDIATE
        ):
            # A reload drafted for review held its hours back; under "usable at
            # once" they come with the issue, before the balances printed on it.
            invoice.block = agreement_services.block_credit(block=invoice.block, actor=actor)
        _snapshot(invoice, seller)
        _set_totals(invoice, list(invoice.lines.all()))
        issued_on = timezone.localdate()
        sequence = _next_number(issued_on.year)
        invoice.number = f"{issued_on.year}-{sequence:04d}"
        invoice.number_year = issued_on.year
        invoice.number_sequence = sequence
        invoice.issued_on = issued_on
        invoice.due_on = issued_on + datetime.timedelta(days=invoice.payment_terms_days)
        invoice.status = InvoiceStatus.ISSUED
        invoice.issued_by = actor
        # Read before overage is settled below: the rows show it settling.
        invoice.balance_basis, balances = invoice_balance_preview(invoice)
        invoice.save()
        balances_snapshot(invoice, balances)
        if invoice.kind == InvoiceKind.OVERAGE:
            unbilled = agreement_services.overage_unbilled_minutes(invoice.agreement)
            if invoice.overage_minutes > unbilled:
                raise ValidationError(
                    _(
                        "The unbilled overage changed since this draft was made (now %(unbilled)s): "
                        "void the draft and create a new overage invoice."
                    )
                    % {"unbilled": format_minutes(unbilled)}
                )
            agreement_services.overage_mark_billed(
                agreement=invoice.agreement,
                minutes=invoice.overage_minutes,
                reason=_("Billed on invoice %(number)s") % {"number": invoice.number},
                actor=actor,
            )
        event_emit(EventKind.INVOICE_ISSUED, data=lambda: invoice_data(invoice))
        if queue_pdf:
            _queue_render(invoice)
    return invoice


def invoice_bill_overage(*, agreement: Agreement, actor: User | None) -> Invoice | None:
    """Issue an invoice for every unbilled minute of overage now; None when
    there is none (or the agreement does not bill overage).

    Each minute is billed once: the agreement row stays locked from counting
    the minutes to settling them in the ledger at issue, so the monthly close,
    a sale and a staff request running at once bill them once between them.
    """
    with transaction.atomic():
        agreement_services.agreement_balance_locked(agreement)
        agreement = Agreement.objects.select_related("client").get(pk=agreement.pk)
        if agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
            return None
        if agreement_services.overage_unbilled_minutes(agreement) == 0:
            return None
        draft = invoice_create_for_overage(agreement=agreement, actor=actor)
        return invoice_issue(invoice=draft, actor=actor)


@dataclass(frozen=True)
class BlockSale:
    invoice: Invoice  # the block's invoice
    overage_invoice: Invoice | None  # the unbilled overage, billed with the sale


def block_sale_invoices(
    *,
    agreement: Agreement,
    actor: User | None,
    tier: Tier | None = None,
    hours: int | None = None,
    starts_on: datetime.date | None = None,
    expires_on: datetime.date | None = None,
    kind: str = InvoiceKind.BLOCK,
    credit_now: bool = False,
    queue_pdf: bool = True,
) -> BlockSale:
    """Sell a block and issue its invoice, all or nothing. Under the
    bill-overage policy a sale also bills the overage run up so far, on an
    invoice of its own (the block's hours never repay it).

    `credit_now` (auto-reload with payment on file) makes the hours usable
    before the invoice is issued, so the balance printed on it says they are
    already added, not that they come once paid. `queue_pdf=False`: the
    caller renders the block's invoice itself (see invoice_issue).
    """
    with transaction.atomic():
        block = agreement_services.block_sell(
            agreement=agreement, actor=actor, tier=tier, hours=hours, starts_on=starts_on, expires_on=expires_on
        )
        if credit_now:
            block = agreement_services.block_credit(block=block, actor=actor)
        invoice = invoice_create_for_block(block=block, kind=kind, actor=actor)
        invoice = invoice_issue(invoice=invoice, actor=actor, queue_pdf=queue_pdf)
        return BlockSale(invoice=invoice, overage_invoice=invoice_bill_overage(agreement=agreement, actor=actor))


def reload_invoice_draft(*, agreement: Agreement, tier: Tier, actor: User | None) -> Invoice:
    """Sell a reload block whose hours wait for staff (credited when the
    draft is issued) and bill it on a draft reload invoice, all or nothing.
    Staff may change its size (invoice_draft_change_block), issue it
    (invoice_issue) or void it (invoice_void cancels the block)."""
    with transaction.atomic():
        block = agreement_services.block_sell(agreement=agreement, actor=actor, tier=tier, credit_later=True)
        return invoice_create_for_block(block=block, kind=InvoiceKind.RELOAD, actor=actor)


def renewal_invoice_issue(
    *, agreement: Agreement, today: datetime.date | None = None, queue_pdf: bool = True
) -> BlockSale | None:
    """Sell the renewal block of the agreement's next term and issue its
    invoice, once per term (agreements.services.renewal_open holds the lock
    and the Renewal row); None when it is not due or already sold.
    `queue_pdf=False`: the caller renders the invoice itself."""
    sales: list[BlockSale] = []

    def sell(locked: Agreement, term: agreement_services.RenewalTerm) -> Block:
        sale = block_sale_invoices(
            agreement=locked,
            actor=None,
            tier=locked.renewal_tier,
            starts_on=term.starts_on,
            expires_on=term.ends_on,
            queue_pdf=queue_pdf,
        )
        sales.append(sale)
        return sale.invoice.block

    renewal = agreement_services.renewal_open(agreement=agreement, sell=sell, today=today)
    return sales[0] if renewal is not None else None


def invoice_sell_block(**sale: object) -> Invoice:
    """block_sale_invoices for a caller that needs only the block's invoice."""
    return block_sale_invoices(**sale).invoice


# ---------------------------------------------------------------------------
# Payments


def _single_line_error(**field: str) -> str | None:
    try:
        check_single_line(**field)
    except ValidationError as error:
        return next(iter(error.message_dict.values()))[0]
    return None


def _parse_amount(value: object) -> Decimal:
    """A payment amount as exact cents, or a ValidationError saying what is wrong."""
    typed = value
    if isinstance(value, bool) or isinstance(value, float):
        # Floats cannot hold cents exactly; the caller must pass a string or Decimal.
        raise ValidationError({"amount": _("Enter the amount as a decimal number such as 1800.00.")})
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        try:
            check_ascii_number(value)
        except ValidationError as error:
            raise ValidationError({"amount": error.messages}) from None
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(
                {"amount": _("“%(value)s” is not an amount; enter a number such as 1800.00.") % {"value": value}}
            ) from None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError({"amount": _("Enter the amount as a decimal number such as 1800.00.")})
    if value <= 0:
        raise ValidationError({"amount": _("A payment must be more than zero.")})
    # Before the cents check: quantizing 1e309 overflows the decimal context.
    if value >= MAX_PAYMENT:
        raise ValidationError({"amount": _("That amount is larger than any invoice; check the number.")})
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError({"amount": _("An amount has at most two decimals (cents).")})
    if isinstance(typed, str):
        try:
            check_plain_decimal(typed)
        except ValidationError as error:
            raise ValidationError({"amount": error.messages}) from None
    return money(value)


def payment_record(
    *,
    invoice: Invoice,
    amount: Decimal | str | int,
    method: str,
    reference: str,
    paid_on: datetime.date,
    actor: User | None,
) -> Payment:
    """Record money received against an issued invoice.

    The payment that completes the total marks the invoice paid and credits
    its block's hours, in the same transaction. Recording the same reference
    again with the same details returns the first payment and credits nothing.
    """
    amount = _parse_amount(amount)
    errors: dict[str, str] = {}
    if method not in PaymentMethod.values:
        errors["method"] = _("Choose a payment method: ACH, card, bank transfer, cheque or SEPA Direct Debit.")
    reference = reference.strip() if isinstance(reference, str) else ""
    if not reference:
        errors["reference"] = _("Enter the payment's reference (ACH trace, card transaction id, cheque number…).")
    elif len(reference) > 100:
        errors["reference"] = _("A reference has at most 100 characters.")
    elif not_single_line := _single_line_error(reference=reference):
        errors["reference"] = not_single_line
    if not isinstance(paid_on, datetime.date) or isinstance(paid_on, datetime.datetime):
        errors["paid_on"] = _("Enter the date the payment was received.")
    elif paid_on > timezone.localdate():
        errors["paid_on"] = _("A payment cannot be dated in the future.")
    else:
        try:
            check_date_in_range(paid_on, field="paid_on", today=timezone.localdate())
        except ValidationError as error:
            errors.update({name: messages[0] for name, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        invoice = _lock(invoice)
        earlier = Payment.objects.filter(invoice=invoice, reference=reference).first()
        if earlier is not None:
            if (earlier.amount, earlier.method, earlier.paid_on) == (amount, method, paid_on):
                return earlier  # the same payment recorded again: nothing more is credited
            # A payment exists, so the invoice was issued and has its number.
            raise ValidationError(
                {
                    "reference": _(
                        "A payment with reference “%(reference)s” is already recorded on invoice %(number)s "
                        "(%(amount)s on %(date)s); a different payment needs its own reference."
                    )
                    % {
                        "reference": reference,
                        "number": invoice.number,
                        "amount": format_money(earlier.amount, invoice.currency),
                        "date": f"{earlier.paid_on:%Y-%m-%d}",
                    }
                }
            )
        if invoice.status == InvoiceStatus.DRAFT:
            raise ValidationError(_("Issue the invoice before recording a payment on it."))
        if invoice.status == InvoiceStatus.PAID:
            raise ValidationError(_("Invoice %(number)s is already paid in full.") % {"number": invoice.number})
        if invoice.status == InvoiceStatus.VOID:
            raise ValidationError(
                _about(
                    invoice,
                    _("Invoice %(number)s is void; payments cannot be recorded on it."),
                    _("This draft invoice is void; payments cannot be recorded on it."),
                )
            )
        if paid_on < invoice.issued_on:
            # Cash outstanding on a day is what was issued minus what was paid by
            # then: a payment older than its invoice would make it negative.
            raise ValidationError(
                {
                    "paid_on": _("Invoice %(number)s was issued on %(date)s; a payment on it cannot be dated earlier.")
                    % {"number": invoice.number, "date": f"{invoice.issued_on:%Y-%m-%d}"}
                }
            )
        paid = invoice_amount_paid(invoice)
        due = invoice.total - paid
        if amount > due:
            raise ValidationError(
                {
                    "amount": _("%(amount)s is more than the %(due)s still due on invoice %(number)s.")
                    % {
                        "amount": format_money(amount, invoice.currency),
                        "due": format_money(due, invoice.currency),
                        "number": invoice.number,
                    }
                }
            )
        status_before = invoice.status
        balance_before = agreement_services.agreement_balance_locked(invoice.agreement)
        payment = Payment.objects.create(
            invoice=invoice, method=method, reference=reference, amount=amount, paid_on=paid_on, recorded_by=actor
        )
        if paid + amount == invoice.total:
            invoice.status = InvoiceStatus.PAID
            invoice.paid_at = timezone.now()
            invoice.save(update_fields=["status", "paid_at"])
            if invoice.block is not None:
                # Same transaction: the invoice is never paid without its hours, nor the reverse.
                agreement_services.block_mark_paid(block=invoice.block, paid_at=invoice.paid_at, actor=actor)
            event_emit(EventKind.INVOICE_PAID, data=lambda: invoice_data(invoice))
            _queue_render(invoice)  # the PDF gets its PAID stamp
        audit_record(
            actor=actor,
            action=AuditAction.PAYMENT_RECORD,
            target=invoice,
            client=invoice.client,
            before={"status": status_before, "amount_paid": money(paid), "balance_minutes": balance_before},
            after={
                "status": invoice.status,
                "amount_paid": money(paid + amount),
                "balance_minutes": agreement_services.agreement_balance_locked(invoice.agreement),
                "amount": amount,
                "method": method,
                "reference": reference,
                "paid_on": paid_on,
            },
            summary=format_lazy(
                gettext_lazy("Recorded payment {reference} of {amount} {currency} on invoice {number} for {client}."),
                reference=reference,
                amount=amount,
                currency=invoice.currency,
                number=invoice.number,
                client=invoice.client.name,
            ),
        )
    return payment


# ---------------------------------------------------------------------------
# Voiding


def invoice_void(*, invoice: Invoice, actor: User | None, reason: str) -> Invoice:
    """Void a draft or an unpaid issued invoice; it keeps its number.

    The block it bills is cancelled through agreements.services.block_cancel:
    refused while any of the block's credited hours are used; unused credited
    hours are taken back with a cancellation ledger entry. An invoice with
    money recorded against it cannot be voided. Voiding an issued overage
    invoice writes the overage off: its minutes stay settled in the ledger.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": _("Say why the invoice is voided.")})
    reason = reason.strip()[:500]
    check_single_line(reason=reason)
    with transaction.atomic():
        invoice = _lock(invoice)
        if invoice.status == InvoiceStatus.VOID:
            raise ValidationError(
                _about(invoice, _("Invoice %(number)s is already void."), _("This draft invoice is already void."))
            )
        if invoice.status == InvoiceStatus.PAID:
            raise ValidationError(
                _("Invoice %(number)s is paid; a paid invoice cannot be voided.") % {"number": invoice.number}
            )
        paid = invoice_amount_paid(invoice)
        if paid:
            raise ValidationError(
                _(
                    "%(amount)s is already recorded against invoice %(number)s; "
                    "it cannot be voided while payments are recorded on it."
                )
                % {"amount": format_money(paid, invoice.currency), "number": invoice.number}
            )
        status_before = invoice.status
        balance_before = agreement_services.agreement_balance_locked(invoice.agreement)
        if invoice.block is not None:
            # One audit event for the whole void (below), the cancellation included.
            agreement_services.block_cancel(
                block=invoice.block,
                actor=actor,
                reason=_about(
                    invoice,
                    _("Invoice %(number)s voided: %(reason)s"),
                    _("This draft invoice voided: %(reason)s"),
                    reason=reason,
                ),
                record_audit=False,
            )
        invoice.status = InvoiceStatus.VOID
        invoice.voided_at = timezone.now()
        invoice.voided_by = actor
        invoice.void_reason = reason
        invoice.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
        if invoice.number:
            _queue_render(invoice)  # the PDF gets its VOID stamp
        audit_record(
            actor=actor,
            action=AuditAction.INVOICE_VOID,
            target=invoice,
            client=invoice.client,
            before={"status": status_before, "balance_minutes": balance_before},
            after={
                "status": invoice.status,
                "balance_minutes": agreement_services.agreement_balance_locked(invoice.agreement),
                "block_cancelled": invoice.block is not None,
                "reason": reason,
            },
            summary=format_lazy(
                gettext_lazy("Voided invoice {number} of {client}: {reason}")
                if invoice.number
                else gettext_lazy("Voided a draft invoice of {client}: {reason}"),
                number=invoice.number,
                client=invoice.client.name,
                reason=reason,
            ),
        )
    return invoice


# ---------------------------------------------------------------------------
# PDF


def _new_pdf_name(invoice: Invoice) -> str:
    # Unguessable: knowing one invoice's file name tells nothing about another's.
    return f"invoices/{invoice.number_year}/{secrets.token_urlsafe(24)}.pdf"


def invoice_render_pdf(*, invoice: Invoice) -> str:
    """Render an issued invoice's PDF and store it; returns the storage name.

    Safe to run twice: the file is rewritten under the same name. The
    invoice row stays locked while rendering so two renders (a retry racing
    a redelivery) write one after the other, never interleaved.
    """
    with transaction.atomic():
        invoice = _lock(invoice)
        if invoice.status == InvoiceStatus.DRAFT:
            raise ValidationError(_("A draft has no stored PDF; issue it first (or use invoice_preview_pdf)."))
        data = pdf.invoice_pdf_bytes(invoice)
        storage = invoice.pdf.storage
        name = invoice.pdf.name or _new_pdf_name(invoice)
        if storage.exists(name):
            storage.delete(name)
        name = storage.save(name, ContentFile(data))
        rendered_at = timezone.now()
        Invoice.objects.filter(pk=invoice.pk).update(pdf=name, pdf_status=invoice.status, pdf_rendered_at=rendered_at)
    return name


def invoice_pdf_is_current(invoice: Invoice) -> bool:
    """A stored PDF exists and shows the invoice's present status (PAID/VOID stamp)."""
    return (
        bool(invoice.pdf.name) and invoice.pdf_status == invoice.status and invoice.pdf.storage.exists(invoice.pdf.name)
    )


def invoice_preview_pdf(*, invoice: Invoice) -> bytes:
    """The PDF as bytes without storing it (drafts, marked DRAFT)."""
    return pdf.invoice_pdf_bytes(invoice)
