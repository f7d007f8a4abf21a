"""The ledger core: the agreement row lock, allocation in the agreement's burn order, the cached
balance and blocks' minutes left. Only the other services modules call these.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from agreements.domain import in_burn_order
from agreements.events import block_credited_data
from agreements.models import (
    Agreement,
    AgreementStatus,
    Block,
    LedgerEntry,
    LedgerKind,
    OveragePolicy,
    TermEndAction,
)
from agreements.selectors import has_bought_hours
from webhooks.models import EventKind
from webhooks.services import event_emit


class InsufficientBalance(ValidationError):
    """The entry would take the balance beyond what the overage policy allows."""


def _lock(agreement: Agreement, **annotations: object) -> Agreement:
    """Lock the agreement row for the rest of the transaction and return it fresh,
    with `annotations` read in the same statement.

    NO KEY UPDATE still lets other transactions insert rows that reference the
    agreement (invoices, episodes) while we hold the lock. SQLite ignores the
    clause; its IMMEDIATE transactions already serialise writers.
    """
    return Agreement.objects.select_for_update(no_key=True).annotate(**annotations).get(pk=agreement.pk)


def agreement_balance_locked(agreement: Agreement) -> int:
    """The agreement's balance now, its row locked until the caller's transaction ends.

    For a caller in another app that reports the balance before and after a
    change it makes through these services (the audit log): no other writer
    can move the balance in between.
    """
    if not transaction.get_connection().in_atomic_block:  # not an assert: `python -O` would drop it
        raise RuntimeError("Lock the agreement inside the transaction that changes it.")
    return _lock(agreement).balance_minutes


def _write(
    agreement: Agreement, entries: list[LedgerEntry], *, credits_block: bool = False, burn_minutes: int | None = None
) -> None:
    """Insert ledger entries and move the cached sums (the agreement's balance,
    each block's minutes left) by the same amounts.

    `credits_block`: the entries credit a block (its `credited_at` is set in
    the same transaction). That, or hours granted by an adjustment, sets the
    agreement's `has_had_hours` (agreements.selectors.has_bought_hours, kept
    on the row for the sweep) in the same UPDATE as the balance.
    `burn_minutes`: the agreement's cached burn as the time entry these
    entries charge or give back moves it (agreements.runway.burn_moved),
    written in that UPDATE too.
    """
    LedgerEntry.objects.bulk_create(entries)
    agreement.balance_minutes += sum(entry.minutes for entry in entries)
    changes: dict[str, object] = {"balance_minutes": agreement.balance_minutes}
    if credits_block or any(entry.kind == LedgerKind.ADJUSTMENT and entry.minutes > 0 for entry in entries):
        agreement.has_had_hours = changes["has_had_hours"] = True
    if burn_minutes is not None:
        agreement.burn_minutes = changes["burn_minutes"] = burn_minutes
    Agreement.objects.filter(pk=agreement.pk).update(**changes)
    per_block: dict[int, int] = defaultdict(int)
    for entry in entries:
        if entry.block_id is not None:
            per_block[entry.block_id] += entry.minutes
    for block_id, change in per_block.items():
        Block.objects.filter(pk=block_id).update(minutes_left=F("minutes_left") + change)


def _hours_had_recount(agreement: Agreement) -> None:
    """Recount `has_had_hours` from the ledger and the blocks, under the
    agreement's lock: for a credit taken back (a credited block cancelled
    before any of its minutes were used), after which the agreement may
    never have had hours after all."""
    agreement.has_had_hours = Agreement.objects.filter(pk=agreement.pk).filter(has_bought_hours()).exists()
    Agreement.objects.filter(pk=agreement.pk).update(has_had_hours=agreement.has_had_hours)


def _block_remaining(agreement: Agreement) -> dict[int, int]:
    """Unused minutes per block that has any (the cached ledger sum of each block)."""
    return dict(Block.objects.filter(agreement=agreement, minutes_left__gt=0).values_list("pk", "minutes_left"))


def _pool_minutes(agreement: Agreement) -> int:
    """Minutes not tied to a block: adjustments and time beyond every block."""
    balance = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
    in_blocks = Block.objects.filter(agreement=agreement).aggregate(total=Sum("minutes_left"))["total"] or 0
    return balance - in_blocks


def _term_grace_ends_on(agreement: Agreement) -> datetime.date | None:
    """The last day the current term's hours pay for work: the end date plus the grace days."""
    if agreement.ends_on is None:
        return None
    return agreement.ends_on + datetime.timedelta(days=agreement.grace_days)


def _usable_blocks(
    agreement: Agreement, on: datetime.date, blocks: list[Block] | None = None
) -> list[tuple[Block, int]]:
    """Blocks with minutes left that may pay for work done `on`, in the
    agreement's burn order (agreements.domain.in_burn_order).

    Skipped: blocks not yet started or already expired on that date (the
    term's own hours only after its grace days), and blocks never credited
    (unpaid under the usable-when-paid policy: they have no minutes left).
    `blocks`: the agreement's blocks with minutes left, when the caller has
    read them already.
    """
    if blocks is None:
        blocks = _blocks_with_minutes_left(agreement)
    in_grace = (
        agreement.ends_on is not None
        and agreement.grace_days
        and agreement.ends_on < on <= _term_grace_ends_on(agreement)
    )

    def still_valid(block: Block) -> bool:
        if block.expires_on is None or block.expires_on >= on:
            return True
        return bool(in_grace) and block.expires_on == agreement.ends_on

    usable = [block for block in blocks if block.starts_on <= on and still_valid(block)]
    return [(block, block.minutes_left) for block in in_burn_order(usable, agreement.burn_order)]


def _blocks_with_minutes_left(agreement: Agreement) -> list[Block]:
    return list(Block.objects.filter(agreement=agreement, minutes_left__gt=0).order_by())


@dataclass(frozen=True)
class _Funds:
    """What can pay for work done on one date, read once under the agreement's
    lock: the usable blocks in burn order with their minutes left, and the
    pool (minutes not tied to a block)."""

    usable: list[tuple[Block, int]]
    pool: int

    @property
    def minutes(self) -> int:
        return sum(left for _, left in self.usable) + self.pool


def _funds(locked: Agreement, on: datetime.date) -> _Funds:
    """`locked` is the row the caller's transaction has just locked, so its
    balance is current: one query on the blocks gives both parts (minutes left
    is never negative, so the blocks with none add nothing to the pool's sum)."""
    blocks = _blocks_with_minutes_left(locked)
    return _Funds(_usable_blocks(locked, on, blocks), locked.balance_minutes - sum(b.minutes_left for b in blocks))


def _allocate_debit(
    agreement: Agreement,
    minutes: int,
    on: datetime.date,
    kind: str,
    usable: list[tuple[Block, int]] | None = None,
    **fields: object,
) -> list[LedgerEntry]:
    """Entries that take `minutes` from the usable blocks in burn order, the rest from the pool.

    `usable`: the blocks as _funds read them; the minutes taken are deducted
    from it, so a second debit in the same transaction allocates after the first."""
    if usable is None:
        usable = _usable_blocks(agreement, on)
    entries = []
    left = minutes
    for index, (block, available) in enumerate(usable):
        if left == 0:
            break
        take = min(available, left)
        if take:
            entries.append(LedgerEntry(agreement=agreement, block=block, kind=kind, minutes=-take, **fields))
            usable[index] = (block, available - take)
        left -= take
    if left:
        entries.append(LedgerEntry(agreement=agreement, block=None, kind=kind, minutes=-left, **fields))
    return entries


def _usable_minutes(agreement: Agreement, on: datetime.date) -> int:
    return sum(left for _, left in _usable_blocks(agreement, on)) + _pool_minutes(agreement)


def _chargeable_minutes(agreement: Agreement, on: datetime.date, funds: _Funds | None = None) -> int | None:
    """How many minutes the overage policy lets one entry worked `on` charge
    now; None when there is no limit (bill-overage). `funds`: as _funds read
    them under the lock, when the caller has them."""
    if agreement.overage_policy == OveragePolicy.BILL_OVERAGE:
        return None
    floor = -agreement.overage_limit_minutes if agreement.overage_policy == OveragePolicy.ALLOW_NEGATIVE else 0
    usable = funds.minutes if funds is not None else _usable_minutes(agreement, on)
    return max(usable - floor, 0)


def _check_overage(agreement: Agreement, charged: int, on: datetime.date, funds: _Funds | None = None) -> None:
    if charged == 0:
        return
    allowed = _chargeable_minutes(agreement, on, funds)
    if allowed is not None and charged > allowed:
        raise InsufficientBalance(
            gettext(
                "This entry would charge %(charged)s min but only %(allowed)s min can be charged to "
                "%(client)s on %(date)s (overage policy: %(policy)s). "
                "Sell a block or ask staff for an adjustment first."
            )
            % {
                "charged": charged,
                "allowed": allowed,
                "client": agreement.client,
                "date": f"{on:%Y-%m-%d}",
                "policy": agreement.get_overage_policy_display().lower(),
            }
        )


def _credit_block(
    agreement: Agreement, block: Block, author: User | None, kind: str = LedgerKind.PURCHASE, reason: str = ""
) -> list[LedgerEntry]:
    """Write the block's credit (a purchase, or goodwill or moved hours), once;
    a new block first repays overage the agreement ran into (unless overage is
    billed separately)."""
    entries = [
        LedgerEntry(agreement=agreement, block=block, kind=kind, minutes=block.minutes, reason=reason, author=author)
    ]
    pool = _pool_minutes(agreement)
    if pool < 0 and agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        repay = min(-pool, block.minutes)
        # Stored: written in the language active now, like every ledger reason.
        reason = gettext("Overage repaid from the new block")
        entries += [
            LedgerEntry(agreement=agreement, block=block, kind=LedgerKind.SETTLEMENT, minutes=-repay, reason=reason),
            LedgerEntry(agreement=agreement, block=None, kind=LedgerKind.SETTLEMENT, minutes=repay, reason=reason),
        ]
    _write(agreement, entries, credits_block=True)
    block.credited_at = timezone.now()
    Block.objects.filter(pk=block.pk).update(credited_at=block.credited_at)
    event_emit(EventKind.BLOCK_CREDITED, data=lambda: block_credited_data(agreement, block, kind))
    return entries


def _expire_blocks_of(agreement: Agreement, today: datetime.date) -> int:
    """Expiry entries for the unused minutes of blocks past their end date.

    The hours that end with the term wait for its grace days; those of a
    renewing agreement are never expired here at all: the renewal
    (agreements.services.renewals) first rolls over its share of them, then
    expires the rest, under the same lock. Were this sweep to run first (it
    runs at night, the renewal later), it would expire hours the rollover
    promised to carry.
    """
    remaining = _block_remaining(agreement)
    expired = Block.objects.filter(pk__in=[pk for pk, left in remaining.items() if left > 0], expires_on__lt=today)
    if agreement.ends_on is not None:
        renewing = agreement.term_end_action == TermEndAction.RENEW and agreement.status == AgreementStatus.ACTIVE
        if renewing or today <= _term_grace_ends_on(agreement):
            expired = expired.exclude(expires_on=agreement.ends_on)
    entries = [
        LedgerEntry(
            agreement=agreement,
            block=block,
            kind=LedgerKind.EXPIRY,
            minutes=-remaining[block.pk],
            reason=gettext("Block expired on %(date)s") % {"date": f"{block.expires_on:%Y-%m-%d}"},
        )
        for block in expired
    ]
    if entries:
        _write(agreement, entries)
    return sum(-entry.minutes for entry in entries)
