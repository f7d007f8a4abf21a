"""Changing hours after the sale: free (goodwill) blocks, and unused hours moved
between two agreements of one client.

A goodwill block has no rate and no amount (no invoice): its hours carry no
deferred revenue and earn none when used. Moved hours keep the rate of the
block they came from, so the money deferred on them moves with them: the
source block gives the minutes up with a MOVE_OUT entry, a new block on the
target (`Block.moved_from`) takes them with MOVE_IN, both in one transaction
that locks the two agreements in primary-key order, as every service that
locks two agreements does (time_entry_log_for_client, agreement_reorder), so
two moves in opposite directions queue instead of deadlocking.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import MAX_BLOCK_MINUTES, block_price, check_date_in_range, format_minutes
from agreements.models import Agreement, AgreementStatus, Block, LedgerEntry, LedgerKind, OveragePolicy
from agreements.services.ledger import _credit_block, _lock, _write
from audit.models import AuditAction
from audit.services import audit_record

MAX_REASON_LENGTH = 500


def _check_staff(actor: User | None, message: str) -> None:
    if actor is None or not actor.is_msp_staff:
        raise PermissionDenied(message)


def _clean_minutes(minutes: object) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_BLOCK_MINUTES:
        raise ValidationError(
            {"minutes": gettext("Enter a whole number of minutes between 1 and %(max)s.") % {"max": MAX_BLOCK_MINUTES}}
        )
    return minutes


def _clean_reason(reason: object, *, message: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": message})
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            {"reason": gettext("A reason has at most %(max)s characters.") % {"max": MAX_REASON_LENGTH}}
        )
    check_single_line(reason=reason)
    return reason


def _starts_on(agreement: Agreement, today: datetime.date) -> datetime.date:
    """Hours added now are usable from today, or from the agreement's start if later."""
    return max(today, agreement.starts_on)


@dataclass(frozen=True)
class GoodwillGrant:
    block: Block  # the goodwill block
    entries: list[LedgerEntry]  # its credit, and any earlier overage it repaid


@dataclass(frozen=True)
class HoursMove:
    block: Block  # the new block on the target agreement
    entries: list[LedgerEntry]  # out of the source block, into the new one (and any overage it repaid)


def block_grant_goodwill(
    *,
    agreement: Agreement,
    minutes: int,
    reason: str,
    actor: User,
    expires_on: datetime.date | None = None,
) -> GoodwillGrant:
    """Give the client free hours: a goodwill block, credited at once, with no
    rate, amount or invoice. It expires on `expires_on`, else with the term."""
    _check_staff(actor, gettext("Only MSP staff can grant goodwill hours."))
    minutes = _clean_minutes(minutes)
    reason = _clean_reason(reason, message=gettext("Say why the goodwill hours are granted."))
    today = timezone.localdate()
    check_date_in_range(expires_on, field="expires_on", today=today)
    if expires_on is not None and expires_on < today:
        raise ValidationError({"expires_on": gettext("Goodwill hours cannot expire before today.")})
    with transaction.atomic():
        agreement = _lock(agreement)
        if agreement.status != AgreementStatus.ACTIVE:
            raise ValidationError(gettext("Goodwill hours can only be granted on an active agreement."))
        client = agreement.client
        starts_on = _starts_on(agreement, today)
        expires_on = expires_on or agreement.ends_on
        if expires_on is not None and expires_on < starts_on:
            raise ValidationError(
                {
                    "expires_on": gettext("The hours would expire on %(date)s, before they can be used.")
                    % {"date": f"{expires_on:%Y-%m-%d}"}
                }
            )
        block = Block(
            agreement=agreement,
            tier=None,
            minutes=minutes,
            rate=Decimal("0.00"),
            amount=Decimal("0.00"),
            currency=client.currency,
            starts_on=starts_on,
            expires_on=expires_on,
            created_by=actor,
            is_goodwill=True,
        )
        block.full_clean()
        block.save()
        balance_before = agreement.balance_minutes
        entries = _credit_block(agreement, block, actor, kind=LedgerKind.GOODWILL, reason=reason)
        audit_record(
            actor=actor,
            action=AuditAction.BLOCK_GOODWILL,
            target=block,
            client=client,
            before={"balance_minutes": balance_before},
            after={
                "balance_minutes": agreement.balance_minutes,
                "minutes": minutes,
                "rate": block.rate,
                "amount": block.amount,
                "starts_on": block.starts_on,
                "expires_on": block.expires_on,
                "reason": reason,
            },
            summary=format_lazy(
                gettext_lazy("Granted {duration} of goodwill hours to {client} ({agreement}): {reason}"),
                duration=format_minutes(minutes),
                client=client.name,
                agreement=agreement.name,
                reason=reason,
            ),
        )
    block.refresh_from_db()
    return GoodwillGrant(block=block, entries=entries)


def _lock_both(first: Agreement, second: Agreement) -> dict[int, Agreement]:
    """Lock two agreements in primary-key order, the one order every service uses."""
    return {pk: _lock(Agreement(pk=pk)) for pk in sorted({first.pk, second.pk})}


def _lowest_balance_allowed(agreement: Agreement) -> int | None:
    """How far down the overage policy lets the balance go; None: no limit (bill-overage)."""
    if agreement.overage_policy == OveragePolicy.BILL_OVERAGE:
        return None
    return -agreement.overage_limit_minutes if agreement.overage_policy == OveragePolicy.ALLOW_NEGATIVE else 0


def block_hours_move(*, block: Block, to_agreement: Agreement, minutes: int, reason: str, actor: User) -> HoursMove:
    """Move `minutes` of a block's unused hours to another agreement of the same
    client, at the block's rate: a new block there (same rate, expiry and paid
    state), credited at once."""
    _check_staff(actor, gettext("Only MSP staff can move hours."))
    minutes = _clean_minutes(minutes)
    reason = _clean_reason(reason, message=gettext("Say why the hours are moved."))
    if block.agreement_id == to_agreement.pk:
        raise ValidationError({"to_agreement": gettext("Choose another agreement: the hours are on this one already.")})
    today = timezone.localdate()
    with transaction.atomic():
        locked = _lock_both(block.agreement, to_agreement)
        source, target = locked[block.agreement_id], locked[to_agreement.pk]
        block = Block.objects.get(pk=block.pk)
        if source.client_id != target.client_id:
            raise ValidationError(
                {"to_agreement": gettext("Hours can only move between agreements of the same client.")}
            )
        if target.status != AgreementStatus.ACTIVE:
            raise ValidationError(
                {
                    "to_agreement": gettext("The agreement “%(agreement)s” has ended; it takes no more hours.")
                    % {"agreement": target.name}
                }
            )
        if block.cancelled_at is not None:
            raise ValidationError(gettext("This block sale was cancelled; it has no hours to move."))
        if block.credited_at is None:
            raise ValidationError(
                gettext("This block's hours were never credited (it is not paid): there are no unused hours to move.")
            )
        if not block.is_goodwill and block.paid_at is None:
            # Its invoice bills the hours where they are: voiding it must be able to take them all back.
            raise ValidationError(
                gettext("This block is not paid yet: record its payment (or void its invoice) before moving its hours.")
            )
        if block.expires_on is not None and block.expires_on < today:
            raise ValidationError(
                gettext("This block expired on %(date)s; its unused hours cannot move.")
                % {"date": f"{block.expires_on:%Y-%m-%d}"}
            )
        if minutes > block.minutes_left:
            raise ValidationError(
                {
                    "minutes": gettext("Only %(left)s min of this block are unused: move between 1 and %(left)s min.")
                    % {"left": block.minutes_left}
                }
            )
        lowest = _lowest_balance_allowed(source)
        if lowest is not None and source.balance_minutes - minutes < lowest:
            raise ValidationError(
                {
                    "minutes": gettext(
                        "Moving %(minutes)s min would take “%(agreement)s” to %(balance)s min, below what its "
                        "overage policy allows (%(lowest)s min)."
                    )
                    % {
                        "minutes": minutes,
                        "agreement": source.name,
                        "balance": source.balance_minutes - minutes,
                        "lowest": lowest,
                    }
                }
            )
        # Never usable before the source block was.
        starts_on = max(_starts_on(target, today), block.starts_on)
        if block.expires_on is not None and block.expires_on < starts_on:
            raise ValidationError(
                {
                    "to_agreement": gettext("“%(agreement)s” starts on %(date)s, after these hours expire.")
                    % {"agreement": target.name, "date": f"{target.starts_on:%Y-%m-%d}"}
                }
            )
        moved = Block(
            agreement=target,
            tier=None,
            minutes=minutes,
            rate=block.rate,
            # Priced as a block of `minutes` at the source's rate is priced.
            amount=block_price(hourly_rate=block.rate, discount_per_hour=Decimal("0"), minutes=minutes)[1],
            currency=block.currency,
            starts_on=starts_on,
            expires_on=block.expires_on,
            paid_at=block.paid_at,
            created_by=actor,
            moved_from=block,
            is_goodwill=block.is_goodwill,
        )
        moved.full_clean()
        moved.save()
        before = {
            "source_balance_minutes": source.balance_minutes,
            "target_balance_minutes": target.balance_minutes,
            "block_minutes_left": block.minutes_left,
        }
        out = LedgerEntry(
            agreement=source, block=block, kind=LedgerKind.MOVE_OUT, minutes=-minutes, reason=reason, author=actor
        )
        _write(source, [out])
        entries = [out, *_credit_block(target, moved, actor, kind=LedgerKind.MOVE_IN, reason=reason)]
        audit_record(
            actor=actor,
            action=AuditAction.BLOCK_MOVE,
            target=block,
            client=source.client,
            before=before,
            after={
                "source_balance_minutes": source.balance_minutes,
                "target_balance_minutes": target.balance_minutes,
                "block_minutes_left": block.minutes_left - minutes,
                "moved_minutes": minutes,
                "to_agreement": target.public_id,
                "to_block": moved.public_id,
                "rate": moved.rate,
                "amount": moved.amount,
                "reason": reason,
            },
            summary=format_lazy(
                gettext_lazy(
                    "Moved {duration} unused of a {block} block of {client} from {source} to {target}: {reason}"
                ),
                duration=format_minutes(minutes),
                block=format_minutes(block.minutes),
                client=source.client.name,
                source=source.name,
                target=target.name,
                reason=reason,
            ),
        )
    moved.refresh_from_db()
    return HoursMove(block=moved, entries=entries)
