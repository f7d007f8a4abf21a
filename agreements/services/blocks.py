"""Blocks: sold, credited, paid, cancelled, expired; overage settled."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import (
    MAX_BLOCK_HOURS,
    block_price,
    check_date_in_range,
    format_minutes,
)
from agreements.models import (
    Agreement,
    AgreementStatus,
    Block,
    CreditPolicy,
    LedgerEntry,
    LedgerKind,
    OveragePolicy,
    TermEndAction,
    Tier,
)
from agreements.services.ledger import (
    _block_remaining,
    _credit_block,
    _expire_blocks_of,
    _hours_had_recount,
    _lock,
    _pool_minutes,
    _term_grace_ends_on,
    _write,
)
from audit.models import AuditAction
from audit.services import audit_record


def block_sell(
    *,
    agreement: Agreement,
    actor: User | None,
    tier: Tier | None = None,
    hours: int | None = None,
    starts_on: datetime.date | None = None,
    expires_on: datetime.date | None = None,
    credit_later: bool = False,
) -> Block:
    """Sell a block of a tier, or of custom whole hours at the client's rate.

    Under the "usable at once" credit policy the hours are credited now;
    otherwise `block_mark_paid` credits them when the block is paid.
    `credit_later` holds them back under either policy (a reload drafted for
    staff's review: billing credits it when the draft is issued).
    """
    _check_size(tier, hours)
    today = timezone.localdate()
    check_date_in_range(starts_on, field="starts_on", today=today)
    check_date_in_range(expires_on, field="expires_on", today=today)
    with transaction.atomic():
        agreement = _lock(agreement)
        if agreement.status != AgreementStatus.ACTIVE:
            raise ValidationError(gettext("Blocks can only be sold on an active agreement."))
        client = agreement.client
        minutes = tier.minutes if tier else hours * 60
        discount = tier.discount_per_hour if tier else Decimal("0")
        rate, amount = block_price(hourly_rate=client.hourly_rate, discount_per_hour=discount, minutes=minutes)
        starts_on = starts_on or timezone.localdate()
        if starts_on < agreement.starts_on:
            raise ValidationError({"starts_on": gettext("A block cannot start before its agreement does.")})
        block = Block(
            agreement=agreement,
            tier=tier,
            minutes=minutes,
            rate=rate,
            amount=amount,
            currency=client.currency,
            starts_on=starts_on,
            # Hours bought under a fixed-term agreement expire with the term.
            expires_on=expires_on or agreement.ends_on,
            created_by=actor,
        )
        block.full_clean()
        block.save()
        balance_before = agreement.balance_minutes
        if agreement.credit_policy == CreditPolicy.IMMEDIATE and not credit_later:
            _credit_block(agreement, block, actor)
        audit_record(
            actor=actor,
            action=AuditAction.BLOCK_SELL,
            target=block,
            client=client,
            before={"balance_minutes": balance_before},
            after={
                "balance_minutes": agreement.balance_minutes,
                "tier": tier.name if tier else None,
                "minutes": block.minutes,
                "rate": block.rate,
                "amount": block.amount,
                "currency": block.currency,
                "starts_on": block.starts_on,
                "expires_on": block.expires_on,
                "credited": block.credited_at is not None,
            },
            summary=format_lazy(
                gettext_lazy("Sold a {duration} block to {client} ({agreement}) for {amount} {currency}."),
                duration=format_minutes(block.minutes),
                client=client.name,
                agreement=agreement.name,
                amount=block.amount,
                currency=block.currency,
            ),
        )
    return block


def _check_size(tier: Tier | None, hours: int | None) -> None:
    if (tier is None) == (hours is None):
        raise ValidationError(gettext("Choose a tier or enter a number of hours, not both."))
    if hours is not None and (
        isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_BLOCK_HOURS
    ):
        raise ValidationError(
            {"hours": gettext("Hours must be a whole number between 1 and %(max)s.") % {"max": MAX_BLOCK_HOURS}}
        )
    if tier is not None and not tier.is_active:
        raise ValidationError({"tier": gettext("The tier “%(tier)s” is no longer on sale.") % {"tier": tier}})


def block_resize(*, block: Block, actor: User | None, tier: Tier | None = None, hours: int | None = None) -> Block:
    """Change the size of a block not credited, paid or cancelled yet (a
    reload drafted for staff's review), priced as a new sale would be.
    billing calls it while the block's draft invoice is locked, and rewrites
    the draft's lines; no ledger entry, as no hour of it was ever usable."""
    _check_size(tier, hours)
    with transaction.atomic():
        agreement = _lock(block.agreement)
        block = Block.objects.get(pk=block.pk)
        if block.credited_at is not None or block.paid_at is not None or block.cancelled_at is not None:
            raise ValidationError(gettext("Only a block whose hours are not credited yet can change size."))
        minutes = tier.minutes if tier else hours * 60
        discount = tier.discount_per_hour if tier else Decimal("0")
        rate, amount = block_price(
            hourly_rate=agreement.client.hourly_rate, discount_per_hour=discount, minutes=minutes
        )
        before = {"tier": block.tier.name if block.tier else None, "minutes": block.minutes, "amount": block.amount}
        block.tier, block.minutes, block.rate, block.amount = tier, minutes, rate, amount
        block.full_clean()
        block.save(update_fields=["tier", "minutes", "rate", "amount"])
        audit_record(
            actor=actor,
            action=AuditAction.BLOCK_RESIZE,
            target=block,
            client=agreement.client,
            before=before,
            after={"tier": tier.name if tier else None, "minutes": minutes, "amount": amount},
            summary=format_lazy(
                gettext_lazy(
                    "Changed the drafted block of {client} ({agreement}) to {duration} for {amount} {currency}."
                ),
                client=agreement.client.name,
                agreement=agreement.name,
                duration=format_minutes(minutes),
                amount=amount,
                currency=block.currency,
            ),
        )
    return block


def block_credit(*, block: Block, actor: User | None = None) -> Block:
    """Make a block's hours usable now, paid or not (auto-reload with payment on file).

    Safe to call twice: the hours are credited once.
    """
    with transaction.atomic():
        agreement = _lock(block.agreement)
        block = Block.objects.get(pk=block.pk)
        if block.cancelled_at is not None:
            raise ValidationError(gettext("This block sale was cancelled; its hours cannot be credited."))
        if block.credited_at is None:
            _credit_block(agreement, block, actor)
    return block


def block_mark_paid(*, block: Block, paid_at: datetime.datetime | None = None, actor: User | None = None) -> Block:
    """Record that a block is paid; under "usable when paid" its hours are credited now,
    and hours taken back after a failed debit (block_credit_take_back) are given back.

    Safe to call twice: the hours are credited once.
    """
    if paid_at is not None and paid_at > timezone.now():
        raise ValidationError({"paid_at": gettext("A payment date cannot be in the future.")})
    with transaction.atomic():
        _lock(block.agreement)  # credits and payment state change together
        block = Block.objects.get(pk=block.pk)
        if block.cancelled_at is not None:
            raise ValidationError(gettext("This block sale was cancelled; its hours cannot be credited."))
        if block.is_goodwill:
            raise ValidationError(gettext("Goodwill hours are free: there is nothing to pay."))
        if block.paid_at is None:
            block.paid_at = paid_at or timezone.now()
            Block.objects.filter(pk=block.pk).update(paid_at=block.paid_at)
        block = block_credit(block=block, actor=actor)
        if taken := _taken_back(block):
            # Its debit failed and the unused hours were taken back: paid now, they come back.
            agreement = _lock(block.agreement)  # the row as block_credit left it
            _write(
                agreement,
                [
                    LedgerEntry(
                        agreement=agreement,
                        block=block,
                        kind=LedgerKind.REINSTATED,
                        minutes=taken,
                        reason=gettext("Paid: the hours taken back are given back"),
                        author=actor,
                    )
                ],
            )
        return block


def block_cancel(*, block: Block, actor: User | None, reason: str, record_audit: bool = True) -> Block:
    """Cancel a block sale (its invoice was voided).

    Refused once any of its minutes were used: a partly used block must be
    paid for, or corrected with an adjustment. Unused credited minutes are
    taken back with a cancellation entry; an uncredited block is never
    credited afterwards. `record_audit=False` is for billing.invoice_void,
    whose own audit event covers the cancellation.
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": gettext("Say why the block is cancelled.")})
    check_single_line(reason=reason.strip())
    with transaction.atomic():
        agreement = _lock(block.agreement)
        block = Block.objects.get(pk=block.pk)
        if block.cancelled_at is not None:
            return block
        balance_before = agreement.balance_minutes
        if block.credited_at is not None:
            left = _block_remaining(agreement).get(block.pk, 0)
            # Minutes taken back already (a failed debit, block_credit_take_back) are unused too.
            if left + _taken_back(block) != block.minutes:
                raise ValidationError(
                    gettext(
                        "%(used)s of the block's %(minutes)s min are already used or expired; "
                        "it cannot be cancelled. Record the payment, or adjust the balance with a reason."
                    )
                    % {"used": block.minutes - left, "minutes": block.minutes}
                )
            if left:
                _write(
                    agreement,
                    [
                        LedgerEntry(
                            agreement=agreement,
                            block=block,
                            kind=LedgerKind.CANCELLATION,
                            minutes=-left,
                            reason=reason.strip(),
                            author=actor,
                        )
                    ],
                )
        block.cancelled_at = timezone.now()
        Block.objects.filter(pk=block.pk).update(cancelled_at=block.cancelled_at)
        if block.credited_at is not None:
            _hours_had_recount(agreement)  # its credit no longer counts as hours the client had
        if record_audit:
            audit_record(
                actor=actor,
                action=AuditAction.BLOCK_CANCEL,
                target=block,
                client=agreement.client,
                before={"balance_minutes": balance_before, "cancelled": False},
                after={"balance_minutes": agreement.balance_minutes, "cancelled": True, "reason": reason.strip()},
                summary=format_lazy(
                    gettext_lazy("Cancelled the sale of a {duration} block to {client}: {reason}"),
                    duration=format_minutes(block.minutes),
                    client=agreement.client.name,
                    reason=reason.strip(),
                ),
            )
    return block


def _taken_back(block: Block) -> int:
    """Minutes of a block still standing taken back by block_credit_take_back
    (cancellation entries on a block whose sale is not cancelled)."""
    if block.cancelled_at is not None:
        return 0
    total = LedgerEntry.objects.filter(
        block=block, kind__in=[LedgerKind.CANCELLATION, LedgerKind.REINSTATED]
    ).aggregate(sum=Sum("minutes"))["sum"]
    return -(total or 0)


@dataclass(frozen=True)
class TakeBack:
    taken: int  # unused minutes taken back now
    used: int  # minutes of the block already used (or expired): they stay used, and are owed


def block_credit_take_back(*, block: Block, actor: User | None, reason: str) -> TakeBack:
    """The money for a block credited before payment did not come (a bank
    debit failed): take back its unused minutes, as voiding its invoice would
    (a cancellation entry), while the sale stands and its invoice stays due.
    The minutes already used stay used; the caller tells staff they are owed.

    Nothing happens for a block not credited, paid, cancelled or free, and a
    second call finds nothing left to take.
    """
    reason = reason.strip()
    check_single_line(reason=reason)
    with transaction.atomic():
        agreement = _lock(block.agreement)
        block = Block.objects.get(pk=block.pk)
        if block.credited_at is None or block.paid_at is not None or block.cancelled_at is not None:
            return TakeBack(0, 0)
        if block.is_goodwill:
            return TakeBack(0, 0)
        _expire_blocks_of(agreement, timezone.localdate())
        left = Block.objects.values_list("minutes_left", flat=True).get(pk=block.pk)
        used = block.minutes - left - _taken_back(block)
        if left > 0:
            _write(
                agreement,
                [
                    LedgerEntry(
                        agreement=agreement,
                        block=block,
                        kind=LedgerKind.CANCELLATION,
                        minutes=-left,
                        reason=reason,
                        author=actor,
                    )
                ],
            )
        return TakeBack(taken=max(left, 0), used=used)


def overage_unbilled_minutes(agreement: Agreement) -> int:
    """Minutes charged beyond every block and not yet billed; only the
    bill-overage policy bills them (the others repay them from the next block)."""
    if agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        return 0
    return max(-_pool_minutes(agreement), 0)


def overage_mark_billed(*, agreement: Agreement, minutes: int, reason: str, actor: User | None) -> LedgerEntry:
    """Overage minutes put on an invoice at the hourly rate are settled: the
    pool is credited back, so the next block is not spent on them."""
    with transaction.atomic():
        agreement = _lock(agreement)
        unbilled = overage_unbilled_minutes(agreement)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= unbilled:
            raise ValidationError(
                {
                    "minutes": gettext("Between 1 and %(unbilled)s min of overage can be billed on this agreement.")
                    % {"unbilled": unbilled}
                }
            )
        entry = LedgerEntry(
            agreement=agreement,
            block=None,
            kind=LedgerKind.OVERAGE_BILLED,
            minutes=minutes,
            reason=reason,
            author=actor,
        )
        _write(agreement, [entry])
    return entry


def blocks_expire(*, today: datetime.date | None = None) -> int:
    """Expire the unused minutes of every block past its end date; returns minutes expired."""
    today = today or timezone.localdate()
    candidates = (
        Agreement.objects.filter(blocks__expires_on__lt=today, blocks__credited_at__isnull=False)
        .distinct()
        .values_list("pk", flat=True)
    )
    expired = 0
    for agreement_pk in candidates:
        with transaction.atomic():
            agreement = _lock(Agreement(pk=agreement_pk))
            expired += _expire_blocks_of(agreement, today)
    return expired


MAX_EXPIRY_CHANGE_REASON = 400  # leaves room in the ledger entry's reason for the two dates


def block_expiry_change(
    *, block: Block, expires_on: datetime.date | None, actor: User | None, reason: str
) -> LedgerEntry:
    """Move a block's expiry date after the sale (None: it never expires).

    Never to a day before today (so never before any work it has paid for:
    time is never dated in the future), nor before the block starts, nor
    past the last day of a term that ends (its grace days included: no time
    is charged after it); never on a block already expired or cancelled, nor
    on an ended agreement. The change is a ledger entry of no minutes naming
    both dates and the reason, and an audit event.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say why the expiry date changes.")})
    check_single_line(reason=reason)
    if len(reason) > MAX_EXPIRY_CHANGE_REASON:
        raise ValidationError(
            {"reason": gettext("Keep the reason under %(max)s characters.") % {"max": MAX_EXPIRY_CHANGE_REASON}}
        )
    today = timezone.localdate()
    check_date_in_range(expires_on, field="expires_on", today=today)
    if expires_on is not None and expires_on < today:
        raise ValidationError({"expires_on": gettext("A block's expiry date cannot be before today.")})
    with transaction.atomic():
        agreement = _lock(block.agreement)
        block = Block.objects.get(pk=block.pk)
        if agreement.status != AgreementStatus.ACTIVE:
            raise ValidationError({"expires_on": gettext("The blocks of an ended agreement keep their dates.")})
        if block.cancelled_at is not None:
            raise ValidationError({"expires_on": gettext("This block sale was cancelled; its dates cannot change.")})
        expired = block.expires_on is not None and block.expires_on < today
        if expired or LedgerEntry.objects.filter(block=block, kind=LedgerKind.EXPIRY).exists():
            raise ValidationError(
                {"expires_on": gettext("This block has expired already; its expiry date cannot change.")}
            )
        if expires_on == block.expires_on:
            raise ValidationError({"expires_on": gettext("The block already has this expiry date.")})
        last_usable = _term_grace_ends_on(agreement)
        if (
            agreement.term_end_action == TermEndAction.END
            and last_usable is not None
            and (expires_on is None or expires_on > last_usable)
        ):
            # Time is refused after the term (and its grace days); hours beyond it could never be used.
            raise ValidationError(
                {
                    "expires_on": gettext("The agreement ends on %(date)s; its blocks cannot expire after %(last)s.")
                    % {"date": f"{agreement.ends_on:%Y-%m-%d}", "last": f"{last_usable:%Y-%m-%d}"}
                }
            )
        if expires_on is not None and expires_on < block.starts_on:
            raise ValidationError(
                {
                    "expires_on": gettext("The block starts on %(date)s; it cannot expire before that.")
                    % {"date": f"{block.starts_on:%Y-%m-%d}"}
                }
            )
        old, new = _expiry_text(block.expires_on), _expiry_text(expires_on)
        # Stored: written in the language active now, like every ledger reason.
        entry = LedgerEntry(
            agreement=agreement,
            block=block,
            kind=LedgerKind.EXPIRY_CHANGE,
            minutes=0,
            reason=gettext("Expiry changed from %(old)s to %(new)s: %(reason)s")
            % {"old": old, "new": new, "reason": reason},
            author=actor,
        )
        _write(agreement, [entry])
        before = block.expires_on
        block.expires_on = expires_on
        Block.objects.filter(pk=block.pk).update(expires_on=expires_on)
        audit_record(
            actor=actor,
            action=AuditAction.BLOCK_EXPIRY_CHANGE,
            target=block,
            client=agreement.client,
            before={"expires_on": before},
            after={"expires_on": expires_on, "reason": reason},
            summary=format_lazy(
                gettext_lazy(
                    "Changed the expiry of a {duration} block of {client} ({agreement}) from {old} to {new}: {reason}"
                ),
                duration=format_minutes(block.minutes),
                client=agreement.client.name,
                agreement=agreement.name,
                old=_expiry_text(before, lazy=True),
                new=_expiry_text(expires_on, lazy=True),
                reason=reason,
            ),
        )
    return entry


def _expiry_text(expires_on: datetime.date | None, *, lazy: bool = False) -> str:
    if expires_on is not None:
        return f"{expires_on:%Y-%m-%d}"
    return gettext_lazy("no expiry") if lazy else gettext("no expiry")
