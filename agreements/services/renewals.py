"""The end of an agreement's term: renew it (with a rollover of unused hours)
or end it.

A renewing agreement goes through two steps, each once per term:
1. `renewal_open`, `renewal_invoice_days` before the end: the renewal block
   for the next term is sold (billing passes the sale, which also issues its
   invoice) and a Renewal row records it. The row is unique per agreement and
   term end, and it is inserted under the agreement's row lock, so two runs at
   once sell one block.
2. `agreement_term_close`, the day after the end plus the grace days: the
   share of the unused hours the rollover policy allows moves into carry-over
   blocks (rollover entries), the rest expires (expiry entries), and the term
   moves on. An ending agreement's status becomes ended and its hours expire.

Rolled-over minutes leave the old block with a negative rollover entry and
enter a carry-over block (`Block.rolled_over_from`) with a positive one: the
carry-over block keeps the old block's rate, so deferred revenue is unchanged
by the move (the report counts it as a transfer), and its start, so an
oldest-first allocation spends it before the new term's block. Carry-over
hours never roll a second time: they expire with their own date.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from agreements.domain import add_months, format_minutes, next_term_ends_on, rollover_allowance
from agreements.models import (
    Agreement,
    AgreementStatus,
    Block,
    LedgerEntry,
    LedgerKind,
    Renewal,
    TermEndAction,
)
from agreements.services.ledger import _expire_blocks_of, _lock, _term_grace_ends_on, _write
from audit.models import AuditAction
from audit.services import audit_record

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class RolledBlock:
    block: Block
    unused: int  # its minutes left at the end of the term
    rolled: int  # of which roll over; the rest expires


@dataclass(frozen=True)
class TermEnd:
    """What the end of the current term does, at the unused hours of now."""

    agreement: Agreement
    action: str  # TermEndAction
    term_starts_on: datetime.date
    term_ends_on: datetime.date
    last_usable_on: datetime.date  # the end plus the grace days
    new_term_ends_on: datetime.date | None  # renewing only
    renewal_minutes: int  # the renewal block's size (0 when ending)
    rolled_expires_on: datetime.date | None  # when rolled-over hours expire
    blocks: list[RolledBlock] = field(default_factory=list)

    @property
    def renews(self) -> bool:
        return self.action == TermEndAction.RENEW

    @property
    def renews_on(self) -> datetime.date:
        return self.term_ends_on + DAY

    @property
    def rolled_minutes(self) -> int:
        return sum(item.rolled for item in self.blocks)

    @property
    def expiring_minutes(self) -> int:
        return sum(item.unused - item.rolled for item in self.blocks)

    @property
    def invoice_on(self) -> datetime.date | None:
        if not self.renews:
            return None
        return self.term_ends_on - datetime.timedelta(days=self.agreement.renewal_invoice_days or 0)


def agreement_term_starts_on(agreement: Agreement) -> datetime.date:
    """The first day of the current term: the day after the last renewal's end, else the agreement's start."""
    last = (
        Renewal.objects.filter(agreement=agreement, renewed_at__isnull=False)
        .order_by("-term_ends_on")
        .values_list("term_ends_on", flat=True)
        .first()
    )
    return last + DAY if last else agreement.starts_on


def _term_end_blocks(agreement: Agreement) -> list[Block]:
    """Credited blocks that end with the term and still hold minutes, oldest first."""
    return list(
        Block.objects.filter(
            agreement=agreement, expires_on=agreement.ends_on, minutes_left__gt=0, credited_at__isnull=False
        ).order_by("starts_on", "created_at", "id")
    )


def _renews(agreement: Agreement) -> bool:
    """Whether the current term renews: a renewing agreement whose renewal
    sale was not cancelled (its invoice voided: the client declined)."""
    if agreement.term_end_action != TermEndAction.RENEW:
        return False
    return not Renewal.objects.filter(
        agreement=agreement, term_ends_on=agreement.ends_on, block__cancelled_at__isnull=False
    ).exists()


def _renewal_minutes(agreement: Agreement) -> int:
    renewal = Renewal.objects.filter(agreement=agreement, term_ends_on=agreement.ends_on).select_related("block")
    sold = renewal.first()
    if sold is not None:
        return sold.block.minutes
    return agreement.renewal_tier.minutes if agreement.renewal_tier_id else 0


def term_end_preview(agreement: Agreement) -> TermEnd | None:
    """The coming end of the term, with what would roll over and what would
    expire at the hours unused now; None for an agreement without an end or
    no longer active. Reads only: the portal and the client page show it,
    and `agreement_term_close` applies the same figures."""
    if agreement.ends_on is None or agreement.status != AgreementStatus.ACTIVE:
        return None
    renews = _renews(agreement)
    new_end = next_term_ends_on(agreement_term_starts_on(agreement), agreement.ends_on) if renews else None
    renewal_minutes = _renewal_minutes(agreement) if renews else 0
    blocks = _term_end_blocks(agreement)
    # Carry-over hours never roll twice: they count as unused but roll nothing.
    rollable = [block for block in blocks if block.rolled_over_from_id is None]
    allowance = (
        rollover_allowance(
            policy=agreement.rollover_policy,
            unused_minutes=sum(block.minutes_left for block in rollable),
            cap_minutes=agreement.rollover_cap_minutes,
            cap_percent=agreement.rollover_cap_percent,
            renewal_minutes=renewal_minutes,
        )
        if renews
        else 0
    )
    items = []
    for block in blocks:  # oldest first: the hours that would be used first roll first
        rolled = 0
        if block.rolled_over_from_id is None:
            rolled = min(block.minutes_left, allowance)
            allowance -= rolled
        items.append(RolledBlock(block=block, unused=block.minutes_left, rolled=rolled))
    rolled_expires_on = None
    if new_end is not None:
        months = agreement.rollover_grace_months
        rolled_expires_on = min(add_months(agreement.ends_on, months), new_end) if months else new_end
    return TermEnd(
        agreement=agreement,
        action=TermEndAction.RENEW if renews else TermEndAction.END,
        term_starts_on=agreement_term_starts_on(agreement),
        term_ends_on=agreement.ends_on,
        last_usable_on=_term_grace_ends_on(agreement),
        new_term_ends_on=new_end,
        renewal_minutes=renewal_minutes,
        rolled_expires_on=rolled_expires_on,
        blocks=items,
    )


# ---------------------------------------------------------------------------
# Step 1: the renewal block, sold before the end


@dataclass(frozen=True)
class RenewalTerm:
    """The next term, for the caller that sells its block."""

    starts_on: datetime.date
    ends_on: datetime.date


SellBlock = Callable[[Agreement, RenewalTerm], Block]


def _invoice_due(agreement: Agreement, today: datetime.date) -> bool:
    return (
        agreement.status == AgreementStatus.ACTIVE
        and agreement.term_end_action == TermEndAction.RENEW
        and agreement.ends_on is not None
        and today >= agreement.ends_on - datetime.timedelta(days=agreement.renewal_invoice_days or 0)
    )


def renewals_due_to_open(today: datetime.date) -> list[Agreement]:
    """Renewing agreements whose renewal block is due and not sold yet for this term."""
    sold = Renewal.objects.filter(agreement=OuterRef("pk"), term_ends_on=OuterRef("ends_on"))
    candidates = (
        Agreement.objects.filter(status=AgreementStatus.ACTIVE, term_end_action=TermEndAction.RENEW)
        .exclude(Exists(sold))
        .select_related("client", "renewal_tier")
        .order_by("pk")
    )
    return [agreement for agreement in candidates if _invoice_due(agreement, today)]


def renewal_open(*, agreement: Agreement, sell: SellBlock, today: datetime.date | None = None) -> Renewal | None:
    """Sell the next term's block through `sell` and record the renewal, once
    per term; None if it is not due, or another run recorded it first.

    `sell` is billing's sale (block and invoice); it runs in this transaction,
    after the agreement row is locked, so a second run waits here and then
    finds the Renewal row. The unique (agreement, term end) backs this up.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        agreement = _lock(agreement)
        if not _invoice_due(agreement, today):
            return None
        if Renewal.objects.filter(agreement=agreement, term_ends_on=agreement.ends_on).exists():
            return None
        term_starts_on = agreement_term_starts_on(agreement)
        term = RenewalTerm(
            starts_on=agreement.ends_on + DAY, ends_on=next_term_ends_on(term_starts_on, agreement.ends_on)
        )
        block = sell(agreement, term)
        if block.agreement_id != agreement.pk or block.starts_on != term.starts_on:
            raise ValueError("The renewal block must start the agreement's next term.")
        try:
            with transaction.atomic():
                return Renewal.objects.create(
                    agreement=agreement,
                    term_starts_on=term_starts_on,
                    term_ends_on=agreement.ends_on,
                    new_term_ends_on=term.ends_on,
                    block=block,
                )
        except IntegrityError:
            # Only without the row lock (never in this code): undo the sale too.
            transaction.set_rollback(True)
            return None


# ---------------------------------------------------------------------------
# Step 2: the term ends


@dataclass(frozen=True)
class TermClose:
    agreement: Agreement
    action: str
    term_ends_on: datetime.date
    rolled_minutes: int
    expired_minutes: int
    new_term_ends_on: datetime.date | None


def _close_due(agreement: Agreement, today: datetime.date) -> bool:
    return (
        agreement.status == AgreementStatus.ACTIVE
        and agreement.ends_on is not None
        and today > _term_grace_ends_on(agreement)
    )


def terms_due_to_close(today: datetime.date) -> list[Agreement]:
    """Active agreements past their end and grace days."""
    candidates = Agreement.objects.filter(status=AgreementStatus.ACTIVE, ends_on__isnull=False, ends_on__lt=today)
    return [
        agreement for agreement in candidates.select_related("client").order_by("pk") if _close_due(agreement, today)
    ]


def agreement_term_close(
    *, agreement: Agreement, today: datetime.date | None = None, actor: User | None = None
) -> TermClose | None:
    """Renew or end the agreement whose term (and grace) is over, once.

    None when nothing is due: not past the grace yet, already done (the term
    moved on or the agreement ended), or a renewing agreement whose renewal
    block was not sold (`renewal_open` first; the task runs both in order).
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        agreement = _lock(agreement)
        if not _close_due(agreement, today):
            return None
        balance_before = agreement.balance_minutes
        old_end = agreement.ends_on
        if not _renews(agreement):  # an ending agreement, or a renewal the client declined
            agreement.status = AgreementStatus.ENDED
            Agreement.objects.filter(pk=agreement.pk).update(status=agreement.status)
            expired = _expire_blocks_of(agreement, today)
            audit_record(
                actor=actor,
                action=AuditAction.AGREEMENT_END,
                target=agreement,
                client=agreement.client,
                before={"balance_minutes": balance_before, "status": AgreementStatus.ACTIVE},
                after={"balance_minutes": agreement.balance_minutes, "status": agreement.status, "expired": expired},
                summary=format_lazy(
                    gettext_lazy("The term of {agreement} ({client}) ended on {date}; {expired} expired."),
                    agreement=agreement.name,
                    client=agreement.client.name,
                    date=f"{old_end:%Y-%m-%d}",
                    expired=format_minutes(expired),
                ),
            )
            return TermClose(agreement, TermEndAction.END, old_end, 0, expired, None)
        renewal = Renewal.objects.filter(agreement=agreement, term_ends_on=old_end, renewed_at__isnull=True).first()
        if renewal is None:
            return None
        plan = term_end_preview(agreement)
        entries: list[LedgerEntry] = []
        reason = gettext("Unused hours of the term ending %(date)s") % {"date": f"{old_end:%Y-%m-%d}"}
        for item in plan.blocks:
            if item.rolled:
                old = item.block
                carry = Block(
                    agreement=agreement,
                    minutes=item.rolled,
                    rate=old.rate,
                    amount=0,
                    currency=old.currency,
                    starts_on=old.starts_on,
                    expires_on=max(plan.rolled_expires_on, old.starts_on),
                    paid_at=old.paid_at,
                    credited_at=timezone.now(),
                    rolled_over_from=old,
                    is_goodwill=old.is_goodwill,  # free hours stay free (nothing to pay or refund)
                )
                carry.save()
                entries += [
                    LedgerEntry(
                        agreement=agreement, block=old, kind=LedgerKind.ROLLOVER, minutes=-item.rolled, reason=reason
                    ),
                    LedgerEntry(
                        agreement=agreement, block=carry, kind=LedgerKind.ROLLOVER, minutes=item.rolled, reason=reason
                    ),
                ]
            if item.unused - item.rolled:
                entries.append(
                    LedgerEntry(
                        agreement=agreement,
                        block=item.block,
                        kind=LedgerKind.EXPIRY,
                        minutes=-(item.unused - item.rolled),
                        reason=reason,
                    )
                )
        if entries:
            # A carry-over block is credited as it is made.
            _write(agreement, entries, credits_block=any(item.rolled for item in plan.blocks))
        agreement.ends_on = renewal.new_term_ends_on
        Agreement.objects.filter(pk=agreement.pk).update(ends_on=agreement.ends_on)
        Renewal.objects.filter(pk=renewal.pk).update(
            renewed_at=timezone.now(), rolled_over_minutes=plan.rolled_minutes, expired_minutes=plan.expiring_minutes
        )
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_RENEW,
            target=agreement,
            client=agreement.client,
            before={"balance_minutes": balance_before, "ends_on": old_end},
            after={
                "balance_minutes": agreement.balance_minutes,
                "ends_on": agreement.ends_on,
                "rolled_over_minutes": plan.rolled_minutes,
                "expired_minutes": plan.expiring_minutes,
            },
            summary=format_lazy(
                gettext_lazy("Renewed {agreement} ({client}) until {date}: {rolled} rolled over, {expired} expired."),
                agreement=agreement.name,
                client=agreement.client.name,
                date=f"{agreement.ends_on:%Y-%m-%d}",
                rolled=format_minutes(plan.rolled_minutes),
                expired=format_minutes(plan.expiring_minutes),
            ),
        )
        return TermClose(
            agreement, TermEndAction.RENEW, old_end, plan.rolled_minutes, plan.expiring_minutes, agreement.ends_on
        )
