"""Credit notes, and cancelling a block's unused hours or a whole agreement.

A refund is money going back against a paid invoice, so it is a document:
a credit note, numbered from its own yearly counter at issue (CN-2026-0001),
an immutable snapshot of seller and client like an invoice, one line per
credited invoice. The hours go back to the ledger through
agreements.services in the same transaction; a forfeit (the client gives the
hours up, no money back) needs no document and is the agreements service
alone.

Lock order: the agreement row first (as a block sale does), then the
credited invoice, then the year's credit-note counter. A refund and an
agreement cancellation on the same block queue on the agreement row.
"""

import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements import services as agreement_services
from agreements.domain import block_name, format_minutes, money
from agreements.models import Agreement, AgreementStatus, Block
from audit.models import AuditAction
from audit.services import audit_record
from billing import pdf, signals
from billing.models import CreditNote, CreditNoteLine, CreditNoteNumberCounter, Invoice, InvoiceStatus
from billing.selectors import document_balances, seller_profile_get
from billing.services import balances_snapshot, copy_parties
from monitoring.queueing import task_publish

logger = logging.getLogger(__name__)


class Disposition(models.TextChoices):
    REFUND = "refund", gettext_lazy("Refund the unused hours (credit note)")
    FORFEIT = "forfeit", gettext_lazy("Forfeit the unused hours (no refund)")


@dataclass
class Cancellation:
    """What a cancellation did; `changed` is False when a repeat found nothing to do."""

    agreement: Agreement
    credit_notes: list[CreditNote] = field(default_factory=list)
    refunded_minutes: int = 0
    forfeited_minutes: int = 0
    changed: bool = True


def _clean_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": _("Say why the hours are refunded or forfeited.")})
    reason = reason.strip()
    if len(reason) > 400:
        raise ValidationError({"reason": _("A reason has at most 400 characters.")})
    check_single_line(reason=reason)
    return reason


def _clean_disposition(disposition: object) -> str:
    if disposition not in Disposition.values:
        raise ValidationError({"disposition": _("Choose whether the unused hours are refunded or forfeited.")})
    return str(disposition)


def _require_seller() -> None:
    seller = seller_profile_get()
    if seller is None or not seller.name.strip():
        raise ValidationError(
            _("Fill in the seller profile (your company's name and address) before issuing credit notes.")
        )


def _next_number(year: int) -> int:
    """The next credit-note number of `year` under the counter's row lock (caller's transaction)."""
    CreditNoteNumberCounter.objects.get_or_create(year=year)
    counter = CreditNoteNumberCounter.objects.select_for_update().get(year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def _queue_render(credit_note: CreditNote) -> None:
    from billing.tasks import render_credit_note_pdf

    credit_note_id = credit_note.pk
    # After commit: a worker must read the committed credit note. The download
    # view and the email render a missing PDF on demand if the broker is down.
    transaction.on_commit(
        lambda: task_publish(render_credit_note_pdf, credit_note_id, catch_up="rendering on download or email"),
        robust=True,
    )


def _credited_so_far(block: Block) -> tuple[int, Decimal, Decimal]:
    sums = CreditNote.objects.filter(block=block).aggregate(
        minutes=Sum("minutes"), subtotal=Sum("subtotal"), tax=Sum("tax_amount")
    )
    # money(): SQLite sums decimals as floats.
    return sums["minutes"] or 0, money(sums["subtotal"] or Decimal("0")), money(sums["tax"] or Decimal("0"))


def refund_subtotal(block: Block, minutes: int) -> Decimal:
    """What refunding `minutes` more of the block gives back, before tax.

    Priced from the block's whole refunded time (at block.rate per hour), so
    partial refunds never add up to a cent more or less than one refund would.
    """
    earlier_minutes, earlier_subtotal, _tax = _credited_so_far(block)
    return money(block.rate * Decimal(earlier_minutes + minutes) / 60) - earlier_subtotal


def _bought_on(block: Block) -> int:
    """The block whose invoice sold these hours: hours rolled over at a
    renewal, or moved from another agreement, were bought on the original
    block's invoice."""
    origin = block
    while origin.rolled_over_from_id or origin.moved_from_id:
        origin = origin.rolled_over_from or origin.moved_from
    return origin.pk


def refund_total(block: Block, minutes: int) -> tuple[Invoice | None, Decimal]:
    """The paid invoice a refund of `minutes` of the block credits, and the
    credit note's total with the invoice's tax (for the confirm page)."""
    invoice = (
        Invoice.objects.filter(block_id=_bought_on(block), status=InvoiceStatus.PAID).select_related("client").first()
    )
    if invoice is None:
        return None, Decimal("0.00")
    _minutes, earlier_subtotal, earlier_tax = _credited_so_far(block)
    subtotal = refund_subtotal(block, minutes)
    tax = money((earlier_subtotal + subtotal) * invoice.tax_rate / 100) - earlier_tax
    return invoice, subtotal + tax


def _refund_block(block: Block, *, actor: User | None, reason: str, minutes: int | None) -> CreditNote:
    """Inside the caller's transaction, the agreement row already locked."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .filter(block_id=_bought_on(block))
        .exclude(status=InvoiceStatus.VOID)
        .select_related("client")
        .first()
    )
    if invoice is None or invoice.status != InvoiceStatus.PAID:
        if invoice is not None and invoice.status == InvoiceStatus.ISSUED:
            message = _(
                "Invoice %(number)s of this block is not paid, so there is nothing to refund: void it to cancel "
                "the sale, or forfeit the unused hours."
            ) % {"number": invoice.number}
        else:
            message = _("This block has no paid invoice to credit, so its hours cannot be refunded.")
        raise ValidationError(message)
    balance_before = agreement_services.agreement_balance_locked(block.agreement)
    issued_on = timezone.localdate()
    sequence = _next_number(issued_on.year)
    number = f"CN-{issued_on.year}-{sequence:04d}"
    ledger_reason = (_("Refunded on credit note %(number)s: %(reason)s") % {"number": number, "reason": reason})[:500]
    entry = agreement_services.block_unused_refund(block=block, actor=actor, reason=ledger_reason, minutes=minutes)
    taken = -entry.minutes
    block = Block.objects.get(pk=block.pk)
    _minutes, earlier_subtotal, earlier_tax = _credited_so_far(block)
    subtotal = refund_subtotal(block, taken)
    tax = money((earlier_subtotal + subtotal) * invoice.tax_rate / 100) - earlier_tax
    credit_note = CreditNote(
        client=invoice.client,
        agreement=invoice.agreement,
        invoice=invoice,
        block=block,
        minutes=taken,
        reason=reason,
        number=number,
        number_year=issued_on.year,
        number_sequence=sequence,
        issued_on=issued_on,
        currency=invoice.currency,
        subtotal=subtotal,
        tax_rate=invoice.tax_rate,
        tax_label=invoice.tax_label,
        tax_amount=tax,
        total=subtotal + tax,
        issued_by=actor,
    )
    copy_parties(credit_note, seller_profile_get())
    credit_note.language = invoice.language
    with translation.override(invoice.language):  # stored text, in the credited invoice's language
        description = _("Unused hours refunded — %(block)s") % {"block": block_name(block.minutes)}
    credit_note.full_clean(exclude=["pdf"])
    credit_note.save()
    CreditNoteLine.objects.create(
        credit_note=credit_note,
        position=1,
        invoice=invoice,
        description=description,
        minutes=taken,
        unit_price=block.rate,
        amount=subtotal,
    )
    # Payments writes its refund through Stripe here, in this transaction: the
    # credit note and the money going back commit together or not at all.
    signals.credit_note_issued.send(sender=CreditNote, credit_note=credit_note)
    # The refund is written above, under the agreement lock this runs in: the
    # rows read it as applied, so they print the balance before and after it.
    balances = document_balances(client=invoice.client, agreement=block.agreement, minutes=-taken, applied=True)
    balances_snapshot(credit_note, balances)
    audit_record(
        actor=actor,
        action=AuditAction.BLOCK_REFUND,
        target=credit_note,
        client=invoice.client,
        before={"balance_minutes": balance_before, "minutes_left": block.minutes_left + taken},
        after={
            "balance_minutes": agreement_services.agreement_balance_locked(block.agreement),
            "minutes_left": block.minutes_left,
            "refunded_minutes": taken,
            "credit_note": number,
            "invoice": invoice.number,
            "subtotal": subtotal,
            "tax_amount": tax,
            "total": credit_note.total,
            "reason": reason,
        },
        summary=format_lazy(
            gettext_lazy(
                "Refunded {duration} unused of invoice {invoice} to {client} on credit note {number}: {reason}"
            ),
            duration=format_minutes(taken),
            invoice=invoice.number,
            client=invoice.client.name,
            number=number,
            reason=reason,
        ),
    )
    _queue_render(credit_note)
    return credit_note


def block_unused_cancel(
    *, block: Block, disposition: str, actor: User | None, reason: str, minutes: int | None = None
) -> Cancellation:
    """Refund (credit note against the block's paid invoice) or forfeit a
    block's unused minutes — all of them, or `minutes` of them. The block may
    be partly used; only what is unused now can go."""
    disposition = _clean_disposition(disposition)
    reason = _clean_reason(reason)
    if disposition == Disposition.REFUND:
        _require_seller()
    with transaction.atomic():
        agreement_services.agreement_balance_locked(block.agreement)
        block = Block.objects.select_related("agreement__client").get(pk=block.pk)
        result = Cancellation(agreement=block.agreement)
        if disposition == Disposition.REFUND:
            credit_note = _refund_block(block, actor=actor, reason=reason, minutes=minutes)
            result.credit_notes.append(credit_note)
            result.refunded_minutes = credit_note.minutes
        else:
            entry = agreement_services.block_unused_forfeit(block=block, actor=actor, reason=reason, minutes=minutes)
            result.forfeited_minutes = -entry.minutes
    return result


def agreement_cancel(*, agreement: Agreement, disposition: str, actor: User | None, reason: str) -> Cancellation:
    """End an agreement; every block's unused hours are refunded (one credit
    note per block's paid invoice) or forfeited, all or nothing.

    Refused while a block sale is unpaid (void its invoice, which cancels
    that sale, or record the payment first). Cancelling an agreement that is
    already ended changes nothing (`changed` False): a retry or double click.
    """
    disposition = _clean_disposition(disposition)
    reason = _clean_reason(reason)
    with transaction.atomic():
        agreement_services.agreement_balance_locked(agreement)
        agreement = Agreement.objects.select_related("client").get(pk=agreement.pk)
        if agreement.status == AgreementStatus.ENDED:
            return Cancellation(agreement=agreement, changed=False)
        unpaid = agreement_services.agreement_unpaid_blocks(agreement)
        if unpaid:
            invoice = Invoice.objects.filter(block__in=unpaid).exclude(status=InvoiceStatus.VOID).first()
            if invoice is not None and invoice.number:
                raise ValidationError(
                    _(
                        "Invoice %(number)s of this agreement is not paid: void it (which cancels that block's sale) "
                        "or record its payment before cancelling the agreement."
                    )
                    % {"number": invoice.number}
                )
            raise ValidationError(
                _("A block of this agreement is not paid: cancel its sale or record its payment first.")
            )
        today = timezone.localdate()
        blocks = Block.objects.filter(agreement=agreement, minutes_left__gt=0).filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=today)  # expired hours are breakage already
        )
        result = Cancellation(agreement=agreement)
        if disposition == Disposition.REFUND and blocks.exists():
            _require_seller()
        for block in blocks.order_by("starts_on", "created_at", "id"):
            if disposition == Disposition.REFUND and not block.is_goodwill:  # free hours: nothing to give back
                credit_note = _refund_block(block, actor=actor, reason=reason, minutes=None)
                result.credit_notes.append(credit_note)
                result.refunded_minutes += credit_note.minutes
            else:
                entry = agreement_services.block_unused_forfeit(block=block, actor=actor, reason=reason)
                result.forfeited_minutes += -entry.minutes
        result.agreement, _ended = agreement_services.agreement_end(agreement=agreement, actor=actor, reason=reason)
    return result


# ---------------------------------------------------------------------------
# PDF


def credit_note_render_pdf(*, credit_note: CreditNote) -> str:
    """Render the credit note's PDF and store it under an unguessable name.

    Safe to run twice (the row is locked while rendering; the file is
    rewritten under the same name)."""
    with transaction.atomic():
        credit_note = CreditNote.objects.select_for_update().get(pk=credit_note.pk)
        data = pdf.credit_note_pdf_bytes(credit_note)
        storage = credit_note.pdf.storage
        name = credit_note.pdf.name or f"credit-notes/{credit_note.number_year}/{secrets.token_urlsafe(24)}.pdf"
        if storage.exists(name):
            storage.delete(name)
        name = storage.save(name, ContentFile(data))
        CreditNote.objects.filter(pk=credit_note.pk).update(pdf=name, pdf_rendered_at=timezone.now())
    return name


def credit_note_pdf_is_current(credit_note: CreditNote) -> bool:
    """A credit note never changes, so a stored file is current."""
    return bool(credit_note.pdf.name) and credit_note.pdf.storage.exists(credit_note.pdf.name)


def credit_note_pdf_name(credit_note: CreditNote) -> str:
    """The stored PDF, rendered now if the queued render has not run."""
    if not credit_note_pdf_is_current(credit_note):
        credit_note.pdf.name = credit_note_render_pdf(credit_note=credit_note)
    return credit_note.pdf.name
