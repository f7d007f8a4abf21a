"""Cancelling: a block's unused hours refunded or forfeited, an agreement ended.

The ledger side only. billing.credit_notes issues the credit note for a
refund and calls these in the same transaction; agreements knows nothing of
invoices. A refund or a forfeit takes the hours back with a REFUND or FORFEIT
entry on the block, so balance = ledger holds and the revenue reports show
the money returned (refunds) apart from the hours given up (breakage).
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import format_minutes
from agreements.models import Agreement, AgreementStatus, Block, LedgerEntry, LedgerKind
from agreements.services.ledger import _expire_blocks_of, _lock, _write
from audit.models import AuditAction
from audit.services import audit_record


def _clean_reason(reason: object, *, message: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": message})
    reason = reason.strip()
    if len(reason) > 500:
        raise ValidationError({"reason": gettext("A reason has at most 500 characters.")})
    check_single_line(reason=reason)
    return reason


def _unused_minutes_to_take(block: Block, left: int, minutes: int | None, *, what: str) -> int:
    """`minutes` (None: every unused minute), checked against what is unused now."""
    if left == 0:
        raise ValidationError(
            gettext("The block has no unused hours left: all %(minutes)s are used, expired or taken back already.")
            % {"minutes": format_minutes(block.minutes)}
        )
    if minutes is None:
        return left
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= left:
        raise ValidationError(
            {
                "minutes": gettext(
                    "Only %(left)s min of this block are unused (%(used)s min are used, expired or taken back "
                    "already): %(what)s between 1 and %(left)s min."
                )
                % {"left": left, "used": block.minutes - left, "what": what}
            }
        )
    return minutes


def _locked_block(block: Block, today: datetime.date) -> tuple[Agreement, Block]:
    """Lock the block's agreement, write off hours past their expiry (they are
    breakage already, never refundable), and read the block fresh."""
    agreement = _lock(block.agreement)
    _expire_blocks_of(agreement, today)
    return agreement, Block.objects.get(pk=block.pk)


def block_unused_refund(*, block: Block, actor: User | None, reason: str, minutes: int | None = None) -> LedgerEntry:
    """Take back unused minutes of a paid block that are being refunded (all of
    them by default). For billing's credit note, which records the audit
    event: call inside its transaction; it is the credit note that refunds."""
    reason = _clean_reason(reason, message=gettext("Say why the hours are refunded."))
    with transaction.atomic():
        agreement, block = _locked_block(block, timezone.localdate())
        if block.cancelled_at is not None:
            raise ValidationError(gettext("This block sale was cancelled; there is nothing to refund."))
        if block.is_goodwill:
            raise ValidationError(gettext("Goodwill hours were free, so there is nothing to refund: forfeit them."))
        if block.paid_at is None:
            raise ValidationError(
                gettext(
                    "This block is not paid, so there is nothing to refund: cancel the sale by voiding its invoice."
                )
            )
        take = _unused_minutes_to_take(block, block.minutes_left, minutes, what=gettext("refund"))
        entry = LedgerEntry(
            agreement=agreement, block=block, kind=LedgerKind.REFUND, minutes=-take, reason=reason, author=actor
        )
        _write(agreement, [entry])
    return entry


def block_unused_forfeit(*, block: Block, actor: User | None, reason: str, minutes: int | None = None) -> LedgerEntry:
    """The client gives up unused minutes of a block (all by default): no money
    goes back, the hours are breakage. Paid or not, the block's sale stands."""
    reason = _clean_reason(reason, message=gettext("Say why the hours are forfeited."))
    with transaction.atomic():
        agreement, block = _locked_block(block, timezone.localdate())
        if block.cancelled_at is not None:
            raise ValidationError(gettext("This block sale was cancelled; it has no hours to forfeit."))
        if block.credited_at is None:
            raise ValidationError(
                gettext(
                    "This block's hours were never credited (it is not paid): cancel the sale by voiding its "
                    "invoice instead."
                )
            )
        take = _unused_minutes_to_take(block, block.minutes_left, minutes, what=gettext("forfeit"))
        balance_before = agreement.balance_minutes
        entry = LedgerEntry(
            agreement=agreement, block=block, kind=LedgerKind.FORFEIT, minutes=-take, reason=reason, author=actor
        )
        _write(agreement, [entry])
        audit_record(
            actor=actor,
            action=AuditAction.BLOCK_FORFEIT,
            target=block,
            client=agreement.client,
            before={"balance_minutes": balance_before, "minutes_left": block.minutes_left},
            after={
                "balance_minutes": agreement.balance_minutes,
                "minutes_left": block.minutes_left - take,
                "forfeited_minutes": take,
                "reason": reason,
            },
            summary=format_lazy(
                gettext_lazy("Forfeited {duration} unused of a {block} block of {client}: {reason}"),
                duration=format_minutes(take),
                block=format_minutes(block.minutes),
                client=agreement.client.name,
                reason=reason,
            ),
        )
    return entry


def agreement_unpaid_blocks(agreement: Agreement) -> list[Block]:
    """Blocks whose sale is neither paid nor cancelled: they stop an agreement
    from being cancelled (void the invoice, or record its payment, first).
    Goodwill blocks were given, not sold: there is nothing to pay."""
    return list(
        Block.objects.filter(
            agreement=agreement, paid_at__isnull=True, cancelled_at__isnull=True, is_goodwill=False
        ).order_by("starts_on", "created_at", "id")
    )


def agreement_end(*, agreement: Agreement, actor: User | None, reason: str) -> tuple[Agreement, bool]:
    """End an agreement: no more time, sales or low-balance reloads on it.

    Every block's unused hours must be refunded or forfeited first (billing's
    agreement_cancel does both in one transaction). Returns the agreement and
    whether this call ended it: ending an ended agreement changes nothing.
    """
    reason = _clean_reason(reason, message=gettext("Say why the agreement is cancelled."))
    with transaction.atomic():
        agreement = _lock(agreement)
        if agreement.status == AgreementStatus.ENDED:
            return agreement, False
        _expire_blocks_of(agreement, timezone.localdate())
        if agreement_unpaid_blocks(agreement):
            raise ValidationError(
                gettext(
                    "A block of this agreement is not paid: void its invoice (which cancels that sale) or record "
                    "its payment before cancelling the agreement."
                )
            )
        unused = Block.objects.filter(agreement=agreement, minutes_left__gt=0).count()
        if unused:
            raise ValidationError(
                gettext("%(count)s block(s) still have unused hours: refund or forfeit them first.") % {"count": unused}
            )
        Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.ENDED)
        agreement.status = AgreementStatus.ENDED
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_CANCEL,
            target=agreement,
            client=agreement.client,
            before={"status": AgreementStatus.ACTIVE, "balance_minutes": agreement.balance_minutes},
            after={"status": AgreementStatus.ENDED, "balance_minutes": agreement.balance_minutes, "reason": reason},
            summary=format_lazy(
                gettext_lazy("Cancelled the agreement {agreement} of {client}: {reason}"),
                agreement=agreement.name,
                client=agreement.client.name,
                reason=reason,
            ),
        )
    return agreement, True
