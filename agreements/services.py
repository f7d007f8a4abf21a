"""Every change to an agreement's balance, in one place.

Each service that touches the ledger runs in one transaction that first
locks the agreement row, so concurrent writers (many technicians, the API,
a worker) queue up instead of losing updates. The cached
`Agreement.balance_minutes` is rewritten from the same locked transaction.
Views, the API, admin actions and tasks call these functions; none of them
writes a ledger entry itself.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts import services as account_services
from accounts.models import Role, User
from accounts.services import user_save_new
from accounts.validators import check_single_line
from agreements.domain import (
    MAX_BLOCK_HOURS,
    MAX_BLOCK_MINUTES,
    MAX_ENTRY_MINUTES,
    block_price,
    charged_minutes,
    check_date_in_range,
    format_minutes,
)
from agreements.models import (
    Agreement,
    AgreementStatus,
    Block,
    Client,
    ClientContact,
    CreditPolicy,
    LedgerEntry,
    LedgerKind,
    OveragePolicy,
    Ticket,
    Tier,
    TimeEntry,
    WorkType,
)
from audit.models import AuditAction
from audit.services import audit_record


class InsufficientBalance(ValidationError):
    """The entry would take the balance beyond what the overage policy allows."""


class IdempotencyConflict(ValidationError):
    """An idempotency key was reused for a different request."""


# ---------------------------------------------------------------------------
# Clients and agreements


def client_create(
    *,
    name: str,
    hourly_rate: Decimal = Decimal("100.00"),
    currency: str | None = None,
    billing_email: str = "",
    billing_address: str = "",
    billing_name: str = "",
    language: str = "",
) -> Client:
    client = Client(
        name=name.strip(),
        hourly_rate=hourly_rate,
        billing_email=billing_email,
        billing_address=billing_address,
        billing_name=billing_name,
    )
    if currency:
        client.currency = currency.upper()
    if language:
        client.language = language
    _client_save(client)
    return client


def _client_save(client: Client, *, update_fields: list[str] | None = None) -> None:
    """Validate and save, with one message for a name another client already
    has (ignoring case): found before saving, or by the database's constraint
    when two requests take the same name at once."""
    taken = ValidationError({"name": gettext("A client named “%(name)s” already exists.") % {"name": client.name}})
    if Client.objects.filter(name__iexact=client.name).exclude(pk=client.pk).exists():
        raise taken
    client.full_clean()
    try:
        with transaction.atomic():
            client.save(update_fields=update_fields)
    except IntegrityError:
        raise taken from None


def client_update(
    *,
    client: Client,
    actor: User,
    name: str | None = None,
    hourly_rate: Decimal | None = None,
    currency: str | None = None,
    billing_name: str | None = None,
    billing_email: str | None = None,
    billing_address: str | None = None,
    language: str | None = None,
) -> Client:
    """Change a client's details; None leaves a field as it is.

    A new hourly rate prices future sales only: blocks keep the rate they were
    sold at. The currency is fixed once the client has a block or an invoice,
    which carry their own currency: mixing them would make totals meaningless."""
    wanted: dict[str, object] = {
        "name": name.strip() if name is not None else None,
        "hourly_rate": hourly_rate,
        "currency": currency.strip().upper() if currency is not None else None,
        "billing_name": billing_name,
        "billing_email": billing_email,
        "billing_address": billing_address,
        "language": language,
    }
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        before = {field: getattr(client, field) for field, value in wanted.items() if value is not None}
        changed = [field for field, value in wanted.items() if value is not None and value != before[field]]
        if not changed:
            return client
        if "currency" in changed and (
            Block.objects.filter(agreement__client=client).exists() or client.invoices.exists()
        ):
            raise ValidationError(
                {
                    "currency": gettext(
                        "The currency cannot change once the client has blocks or invoices: "
                        "their amounts are in %(currency)s."
                    )
                    % {"currency": client.currency}
                }
            )
        for field in changed:
            setattr(client, field, wanted[field])
        _client_save(client, update_fields=changed)
        audit_record(
            actor=actor,
            action=AuditAction.CLIENT_UPDATE,
            target=client,
            client=client,
            before={field: before[field] for field in changed},
            after={field: getattr(client, field) for field in changed},
            summary=format_lazy(
                gettext_lazy("Changed the details of {client}: {fields}"),
                client=client.name,
                fields=format_lazy(
                    ", ".join(["{}"] * len(changed)), *(Client._meta.get_field(f).verbose_name for f in changed)
                ),
            ),
        )
    return client


def client_contact_create(
    *,
    client: Client,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    receives_invoices: bool = True,
) -> ClientContact:
    """A user with the client role, tied to exactly one client (no usable password yet)."""
    with transaction.atomic():
        user = User(username=username, email=email, first_name=first_name, last_name=last_name, role=Role.CLIENT)
        user.set_unusable_password()
        user_save_new(user)
        return ClientContact.objects.create(user=user, client=client, receives_invoices=receives_invoices)


def client_contact_invite(*, client: Client, invited_by: User, **contact: Any) -> ClientContact:
    """Add a contact to a client (the fields of client_contact_create) and
    invite them to choose a password, in the client's language: the contact
    and the invitation exist together or not at all."""
    with transaction.atomic():
        created = client_contact_create(client=client, **contact)
        account_services.invitation_send(user=created.user, invited_by=invited_by, language=client.language)
    return created


def _check_agreement_terms(agreement: Agreement) -> None:
    """Bounds the model's field types do not give: a plausible term, and no
    threshold, limit or increment beyond the largest block or the longest entry."""
    _ = gettext
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    for name in ("starts_on", "ends_on"):
        try:
            check_date_in_range(getattr(agreement, name), field=name, today=today)
        except ValidationError as error:
            errors.update(error.message_dict)
    if not errors and agreement.ends_on and agreement.starts_on and agreement.ends_on < agreement.starts_on:
        errors["ends_on"] = [_("The agreement cannot end before it starts.")]
    limits = {
        "low_balance_threshold_minutes": (
            MAX_BLOCK_MINUTES,
            _("A threshold cannot be more than the largest block (%(hours)s h)."),
        ),
        "overage_limit_minutes": (
            MAX_BLOCK_MINUTES,
            _("An overage limit cannot be more than the largest block (%(hours)s h)."),
        ),
        "billing_increment_minutes": (
            MAX_ENTRY_MINUTES,
            _("A billing increment cannot be longer than a day (%(minutes)s min)."),
        ),
    }
    for name, (maximum, message) in limits.items():
        value = getattr(agreement, name)
        if isinstance(value, int) and value > maximum:
            errors[name] = [message % {"hours": MAX_BLOCK_HOURS, "minutes": MAX_ENTRY_MINUTES}]
    # A setting only one overage policy reads is refused under the others:
    # accepted and then ignored, it would promise what no code does.
    if agreement.overage_limit_minutes and agreement.overage_policy != OveragePolicy.ALLOW_NEGATIVE:
        errors["overage_limit_minutes"] = [
            _("An overage limit applies only under the allow-negative policy; leave it at 0 or change the policy.")
        ]
    if agreement.overage_rate is not None and agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        errors["overage_rate"] = [
            _("An overage rate applies only under the bill-overage policy; leave it empty or change the policy.")
        ]
    if errors:
        raise ValidationError(errors)


def agreement_create(*, client: Client, work_types: list[WorkType] | None = None, **fields: object) -> Agreement:
    agreement = Agreement(client=client, **fields)
    _check_agreement_terms(agreement)
    agreement.full_clean()
    with transaction.atomic():
        agreement.save()
        if work_types:
            agreement.work_types.set(work_types)
    return agreement


# ---------------------------------------------------------------------------
# The ledger: locking, allocation, cached balance


def _lock(agreement: Agreement) -> Agreement:
    """Lock the agreement row for the rest of the transaction and return it fresh.

    NO KEY UPDATE still lets other transactions insert rows that reference the
    agreement (invoices, episodes) while we hold the lock. SQLite ignores the
    clause; its IMMEDIATE transactions already serialise writers.
    """
    return Agreement.objects.select_for_update(no_key=True).get(pk=agreement.pk)


def agreement_balance_locked(agreement: Agreement) -> int:
    """The agreement's balance now, its row locked until the caller's transaction ends.

    For a caller in another app that reports the balance before and after a
    change it makes through these services (the audit log): no other writer
    can move the balance in between.
    """
    if not transaction.get_connection().in_atomic_block:  # not an assert: `python -O` would drop it
        raise RuntimeError("Lock the agreement inside the transaction that changes it.")
    return _lock(agreement).balance_minutes


def _write(agreement: Agreement, entries: list[LedgerEntry]) -> None:
    """Insert ledger entries and move the cached sums (the agreement's balance,
    each block's minutes left) by the same amounts."""
    LedgerEntry.objects.bulk_create(entries)
    agreement.balance_minutes += sum(entry.minutes for entry in entries)
    Agreement.objects.filter(pk=agreement.pk).update(balance_minutes=agreement.balance_minutes)
    per_block: dict[int, int] = defaultdict(int)
    for entry in entries:
        if entry.block_id is not None:
            per_block[entry.block_id] += entry.minutes
    for block_id, change in per_block.items():
        Block.objects.filter(pk=block_id).update(minutes_left=F("minutes_left") + change)


def _block_remaining(agreement: Agreement) -> dict[int, int]:
    """Unused minutes per block that has any (the cached ledger sum of each block)."""
    return dict(Block.objects.filter(agreement=agreement, minutes_left__gt=0).values_list("pk", "minutes_left"))


def _pool_minutes(agreement: Agreement) -> int:
    """Minutes not tied to a block: adjustments and time beyond every block."""
    balance = Agreement.objects.values_list("balance_minutes", flat=True).get(pk=agreement.pk)
    in_blocks = Block.objects.filter(agreement=agreement).aggregate(total=Sum("minutes_left"))["total"] or 0
    return balance - in_blocks


def _usable_blocks(agreement: Agreement, on: datetime.date) -> list[tuple[Block, int]]:
    """Blocks with minutes left that may pay for work done `on`, oldest first.

    Skipped: blocks not yet started or already expired on that date, and
    blocks never credited (unpaid under the usable-when-paid policy).
    """
    remaining = _block_remaining(agreement)
    blocks = Block.objects.filter(pk__in=[pk for pk, left in remaining.items() if left > 0], starts_on__lte=on).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=on)
    )
    return [(block, remaining[block.pk]) for block in blocks.order_by("starts_on", "created_at", "id")]


def _allocate_debit(
    agreement: Agreement, minutes: int, on: datetime.date, kind: str, **fields: object
) -> list[LedgerEntry]:
    """Entries that take `minutes` from the oldest usable blocks first, the rest from the pool."""
    entries = []
    left = minutes
    for block, available in _usable_blocks(agreement, on):
        if left == 0:
            break
        take = min(available, left)
        entries.append(LedgerEntry(agreement=agreement, block=block, kind=kind, minutes=-take, **fields))
        left -= take
    if left:
        entries.append(LedgerEntry(agreement=agreement, block=None, kind=kind, minutes=-left, **fields))
    return entries


def _usable_minutes(agreement: Agreement, on: datetime.date) -> int:
    return sum(left for _, left in _usable_blocks(agreement, on)) + _pool_minutes(agreement)


def _check_overage(agreement: Agreement, charged: int, on: datetime.date) -> None:
    if charged == 0 or agreement.overage_policy == OveragePolicy.BILL_OVERAGE:
        return
    usable = _usable_minutes(agreement, on)
    floor = -agreement.overage_limit_minutes if agreement.overage_policy == OveragePolicy.ALLOW_NEGATIVE else 0
    if usable - charged < floor:
        allowed = max(usable - floor, 0)
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


def _credit_block(agreement: Agreement, block: Block, author: User | None) -> None:
    """Write the block's purchase credit, once; a new block first repays overage
    the agreement ran into (unless overage is billed separately)."""
    entries = [
        LedgerEntry(agreement=agreement, block=block, kind=LedgerKind.PURCHASE, minutes=block.minutes, author=author)
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
    _write(agreement, entries)
    block.credited_at = timezone.now()
    Block.objects.filter(pk=block.pk).update(credited_at=block.credited_at)


def _expire_blocks_of(agreement: Agreement, today: datetime.date) -> int:
    """Expiry entries for the unused minutes of blocks past their end date."""
    remaining = _block_remaining(agreement)
    expired = Block.objects.filter(pk__in=[pk for pk, left in remaining.items() if left > 0], expires_on__lt=today)
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


# ---------------------------------------------------------------------------
# Blocks


def block_sell(
    *,
    agreement: Agreement,
    actor: User | None,
    tier: Tier | None = None,
    hours: int | None = None,
    starts_on: datetime.date | None = None,
    expires_on: datetime.date | None = None,
) -> Block:
    """Sell a block of a tier, or of custom whole hours at the client's rate.

    Under the "usable at once" credit policy the hours are credited now;
    otherwise `block_mark_paid` credits them when the block is paid.
    """
    if (tier is None) == (hours is None):
        raise ValidationError(gettext("Choose a tier or enter a number of hours, not both."))
    if hours is not None and (
        isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_BLOCK_HOURS
    ):
        raise ValidationError(
            {"hours": gettext("Hours must be a whole number between 1 and %(max)s.") % {"max": MAX_BLOCK_HOURS}}
        )
    today = timezone.localdate()
    check_date_in_range(starts_on, field="starts_on", today=today)
    check_date_in_range(expires_on, field="expires_on", today=today)
    if tier is not None and not tier.is_active:
        raise ValidationError({"tier": gettext("The tier “%(tier)s” is no longer on sale.") % {"tier": tier}})
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
        if agreement.credit_policy == CreditPolicy.IMMEDIATE:
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
    """Record that a block is paid; under "usable when paid" its hours are credited now.

    Safe to call twice: the hours are credited once.
    """
    if paid_at is not None and paid_at > timezone.now():
        raise ValidationError({"paid_at": gettext("A payment date cannot be in the future.")})
    with transaction.atomic():
        _lock(block.agreement)  # credits and payment state change together
        block = Block.objects.get(pk=block.pk)
        if block.cancelled_at is not None:
            raise ValidationError(gettext("This block sale was cancelled; its hours cannot be credited."))
        if block.paid_at is None:
            block.paid_at = paid_at or timezone.now()
            Block.objects.filter(pk=block.pk).update(paid_at=block.paid_at)
        return block_credit(block=block, actor=actor)


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
            if left != block.minutes:
                raise ValidationError(
                    gettext(
                        "%(used)s of the block's %(minutes)s min are already used or expired; "
                        "it cannot be cancelled. Record the payment, or adjust the balance with a reason."
                    )
                    % {"used": block.minutes - left, "minutes": block.minutes}
                )
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


# ---------------------------------------------------------------------------
# Time entries


@dataclass(frozen=True)
class _EntryRequest:
    agreement_pk: int
    ticket_pk: int
    work_date: datetime.date
    minutes: int
    work_type_pk: int
    notes: str

    @classmethod
    def of(cls, entry: TimeEntry) -> "_EntryRequest":
        return cls(entry.agreement_id, entry.ticket_id, entry.work_date, entry.minutes, entry.work_type_id, entry.notes)


def _validate_entry(
    *,
    agreement: Agreement,
    technician: User,
    ticket: Ticket,
    work_date: datetime.date,
    minutes: object,
    work_type: WorkType,
) -> None:
    if not technician.works_for_msp:
        raise PermissionDenied(gettext("Only technicians and staff can log time."))
    errors: dict[str, str] = {}
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        errors["minutes"] = gettext("Enter the duration as a whole number of minutes.")
    elif minutes <= 0:
        errors["minutes"] = gettext("The duration must be more than zero minutes.")
    elif minutes > MAX_ENTRY_MINUTES:
        errors["minutes"] = gettext("One entry cannot be longer than 24 hours; split it by day.")
    if ticket.client_id != agreement.client_id:
        errors["ticket"] = gettext("Ticket #%(number)s belongs to another client.") % {"number": ticket.number}
    if not work_type.is_active:
        errors["work_type"] = gettext("The work type “%(name)s” is no longer in use.") % {"name": work_type.name}
    elif agreement.work_types.exists() and not agreement.work_types.filter(pk=work_type.pk).exists():
        errors["work_type"] = gettext("This agreement does not cover “%(name)s” work.") % {"name": work_type.name}
    if work_date > timezone.localdate():
        errors["work_date"] = gettext("Time cannot be logged for a future date.")
    elif work_date < agreement.starts_on or (agreement.ends_on and work_date > agreement.ends_on):
        errors["work_date"] = gettext("The date is outside the agreement's term.")
    if agreement.status != AgreementStatus.ACTIVE:
        errors["agreement"] = gettext("This agreement has ended; time cannot be logged on it.")
    if errors:
        raise ValidationError(errors)


def time_entry_log(
    *,
    agreement: Agreement,
    technician: User,
    ticket: Ticket,
    work_date: datetime.date,
    minutes: int,
    work_type: WorkType,
    notes: str = "",
    idempotency_key: str | None = None,
    corrects: TimeEntry | None = None,
) -> TimeEntry:
    """Log time on a ticket and charge it to the agreement.

    With an idempotency key, a retry of the same request returns the entry
    the first one created and charges nothing more.
    """
    request = _EntryRequest(agreement.pk, ticket.pk, work_date, minutes, work_type.pk, notes)
    with transaction.atomic():
        # Checked against the locked row: an agreement ended or changed a
        # moment ago must not take time on the strength of a stale copy.
        agreement = _lock(agreement)
        if idempotency_key:
            earlier = TimeEntry.objects.filter(technician=technician, idempotency_key=idempotency_key).first()
            if earlier is not None:
                return _replay(earlier, request)
        _validate_entry(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=work_date,
            minutes=minutes,
            work_type=work_type,
        )
        charged = charged_minutes(
            minutes=minutes,
            increment=agreement.billing_increment_minutes,
            rounding_mode=agreement.rounding_mode,
            multiplier=work_type.multiplier,
        )
        _check_overage(agreement, charged, work_date)
        entry = TimeEntry(
            agreement=agreement,
            ticket=ticket,
            technician=technician,
            work_date=work_date,
            minutes=minutes,
            work_type=work_type,
            charged_minutes=charged,
            notes=notes,
            idempotency_key=idempotency_key or None,
            corrects=corrects,
        )
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError:
            # The same key was used at the same moment on another agreement
            # (whose lock we do not hold): the database kept the first one.
            earlier = TimeEntry.objects.filter(technician=technician, idempotency_key=idempotency_key).first()
            if earlier is None:
                raise
            return _replay(earlier, request)
        if charged:
            _write(
                agreement,
                _allocate_debit(agreement, charged, work_date, LedgerKind.DEBIT, time_entry=entry, author=technician),
            )
    return entry


def _replay(earlier: TimeEntry, request: _EntryRequest) -> TimeEntry:
    if _EntryRequest.of(earlier) != request:
        raise IdempotencyConflict(
            gettext("This idempotency key was already used for a different time entry; use a new key for a new entry.")
        )
    return earlier


def _check_may_change(time_entry: TimeEntry, actor: User) -> None:
    if actor.is_msp_staff:
        return
    if actor.is_technician and time_entry.technician_id == actor.pk:
        return
    raise PermissionDenied(gettext("Technicians can only change their own time entries."))


def time_entry_void(*, time_entry: TimeEntry, actor: User, reason: str, record_audit: bool = True) -> TimeEntry:
    """Void an entry: reversal entries give its minutes back to the blocks they came from.

    `record_audit=False` is for time_entry_correct, whose own audit event covers the void.
    """
    _check_may_change(time_entry, actor)
    if not reason or not reason.strip():
        raise ValidationError({"reason": gettext("Say why the entry is voided.")})
    check_single_line(reason=reason.strip())
    with transaction.atomic():
        agreement = _lock(time_entry.agreement)
        time_entry = TimeEntry.objects.select_related("ticket", "technician").get(pk=time_entry.pk)
        if time_entry.is_void:
            raise ValidationError(gettext("This time entry is already void."))
        balance_before = agreement.balance_minutes
        reversals = [
            LedgerEntry(
                agreement=agreement,
                block=debit.block,
                kind=LedgerKind.REVERSAL,
                minutes=-debit.minutes,
                time_entry=time_entry,
                reverses=debit,
                reason=reason.strip(),
                author=actor,
            )
            for debit in time_entry.ledger.filter(kind=LedgerKind.DEBIT)
        ]
        if reversals:
            _write(agreement, reversals)
            # Minutes given back to a block that has since expired expire again.
            _expire_blocks_of(agreement, timezone.localdate())
        time_entry.voided_at = timezone.now()
        time_entry.voided_by = actor
        time_entry.void_reason = reason.strip()
        TimeEntry.objects.filter(pk=time_entry.pk).update(
            voided_at=time_entry.voided_at, voided_by=actor, void_reason=time_entry.void_reason
        )
        if record_audit:
            audit_record(
                actor=actor,
                action=AuditAction.TIME_ENTRY_VOID,
                target=time_entry,
                client=agreement.client,
                before={
                    "balance_minutes": balance_before,
                    "charged_minutes": time_entry.charged_minutes,
                    "voided": False,
                },
                after={"balance_minutes": agreement.balance_minutes, "voided": True, "reason": time_entry.void_reason},
                summary=format_lazy(
                    gettext_lazy(
                        "Voided {technician}'s {duration} on ticket #{ticket} ({date}) for {client}: {reason}"
                    ),
                    technician=time_entry.technician.username,
                    duration=format_minutes(time_entry.minutes),
                    ticket=time_entry.ticket.number,
                    date=time_entry.work_date.isoformat(),
                    client=agreement.client.name,
                    reason=time_entry.void_reason,
                ),
            )
    return time_entry


def _entry_audit_fields(entry: TimeEntry) -> dict[str, object]:
    return {
        "minutes": entry.minutes,
        "charged_minutes": entry.charged_minutes,
        "work_type": entry.work_type.name,
        "work_date": entry.work_date,
        "notes": entry.notes,
    }


def time_entry_correct(
    *,
    time_entry: TimeEntry,
    actor: User,
    reason: str,
    minutes: int | None = None,
    work_type: WorkType | None = None,
    work_date: datetime.date | None = None,
    notes: str | None = None,
) -> TimeEntry:
    """Correct an entry: void it and log its replacement, in one transaction."""
    with transaction.atomic():
        # Locked first, so the balance before is the one the correction changes.
        balance_before = _lock(time_entry.agreement).balance_minutes
        voided = time_entry_void(time_entry=time_entry, actor=actor, reason=reason, record_audit=False)
        replacement = time_entry_log(
            agreement=voided.agreement,
            technician=voided.technician,
            ticket=voided.ticket,
            work_date=work_date or voided.work_date,
            minutes=voided.minutes if minutes is None else minutes,
            work_type=work_type or voided.work_type,
            notes=voided.notes if notes is None else notes,
            corrects=voided,
        )
        agreement = _lock(voided.agreement)
        audit_record(
            actor=actor,
            action=AuditAction.TIME_ENTRY_CORRECT,
            target=voided,
            client=agreement.client,
            before={"balance_minutes": balance_before, **_entry_audit_fields(voided)},
            after={
                "balance_minutes": agreement.balance_minutes,
                **_entry_audit_fields(replacement),
                "replacement": replacement.public_id,
                "reason": voided.void_reason,
            },
            summary=format_lazy(
                gettext_lazy(
                    "Corrected {technician}'s entry on ticket #{ticket} for {client}: {old} → {new}. {reason}"
                ),
                technician=voided.technician.username,
                ticket=voided.ticket.number,
                client=agreement.client.name,
                old=format_minutes(voided.minutes),
                new=format_minutes(replacement.minutes),
                reason=voided.void_reason,
            ),
        )
        return replacement


# ---------------------------------------------------------------------------
# Manual adjustments


def ledger_adjust(*, agreement: Agreement, minutes: int, reason: str, author: User) -> list[LedgerEntry]:
    """A staff correction of the balance, with a reason. Credits go to the
    agreement's pool; debits are taken like time, oldest block first."""
    if not author.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff can adjust a balance."))
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes == 0:
        raise ValidationError({"minutes": gettext("Enter a whole, non-zero number of minutes (negative to deduct).")})
    if abs(minutes) > MAX_BLOCK_MINUTES:
        raise ValidationError({"minutes": gettext("That adjustment is larger than any block; check the number.")})
    if not reason or not reason.strip():
        raise ValidationError({"reason": gettext("A reason is required for every adjustment.")})
    check_single_line(reason=reason.strip())
    with transaction.atomic():
        agreement = _lock(agreement)
        fields = {"reason": reason.strip(), "author": author}
        if minutes > 0:
            entries = [
                LedgerEntry(agreement=agreement, block=None, kind=LedgerKind.ADJUSTMENT, minutes=minutes, **fields)
            ]
        else:
            entries = _allocate_debit(agreement, -minutes, timezone.localdate(), LedgerKind.ADJUSTMENT, **fields)
        balance_before = agreement.balance_minutes
        _write(agreement, entries)
        audit_record(
            actor=author,
            action=AuditAction.LEDGER_ADJUST,
            target=agreement,
            client=agreement.client,
            before={"balance_minutes": balance_before},
            after={"balance_minutes": agreement.balance_minutes, "minutes": minutes, "reason": reason.strip()},
            summary=format_lazy(
                gettext_lazy("Adjusted the balance of {client} ({agreement}) by {sign}{duration}: {reason}"),
                client=agreement.client.name,
                agreement=agreement.name,
                sign="+" if minutes > 0 else "−",
                duration=format_minutes(abs(minutes)),
                reason=reason.strip(),
            ),
        )
    return entries


def ticket_get_or_create(*, client: Client, number: str, subject: str = "") -> Ticket:
    number = (number or "").strip().lstrip("#")
    if not number:
        raise ValidationError({"ticket": gettext("Enter a ticket number.")})
    check_single_line(ticket=number, subject=subject.strip())
    ticket = Ticket.objects.filter(client=client, number=number).first()
    if ticket:
        return ticket
    if not subject.strip():
        raise ValidationError(
            {"subject": gettext("Ticket #%(number)s is new: give it a subject.") % {"number": number}}
        )
    ticket = Ticket(client=client, number=number, subject=subject.strip())
    # The fields are checked here, but not the unique number: two entries on a
    # new ticket at once would both pass that check and the loser would be
    # refused. The database settles the race instead, and the loser takes the
    # winner's ticket.
    ticket.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            ticket.save()
    except IntegrityError:
        winner = Ticket.objects.filter(client=client, number=number).first()
        if winner is None:
            raise
        return winner
    return ticket
