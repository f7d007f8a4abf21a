"""Bringing existing clients over in bulk: clients, contacts and agreements
created many at once, and the hours they had left credited as opening balances.

The imports app checks a whole file against what exists (one query per kind
of row) and calls these with rows it has already validated; each function
still checks every field without touching the database (no per-row
`full_clean()` uniqueness or constraint queries: the database's constraints
back those up) and inserts with one statement per batch.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Role, User
from agreements.domain import MAX_BLOCK_MINUTES, check_date_in_range, money
from agreements.models import Agreement, Block, Client, ClientContact, LedgerEntry, LedgerKind
from agreements.services.clients import _check_agreement_terms
from agreements.services.ledger import _credit_block, _lock

BATCH = 1000
# Foreign keys are checked by the database, not by a query per row.
_NO_QUERY = {"validate_unique": False, "validate_constraints": False}


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:  # not an assert: `python -O` would drop it
        raise RuntimeError("Import inside one transaction: all of it is written, or none.")


def clients_create_many(*, clients: list[Client]) -> list[Client]:
    """Insert new clients (names already checked free, ignoring case)."""
    _require_transaction()
    for client in clients:
        client.name = client.name.strip()
        client.currency = client.currency.upper()
        client.full_clean(**_NO_QUERY)
    return Client.objects.bulk_create(clients, batch_size=BATCH)


@dataclass(frozen=True)
class NewContact:
    client: Client
    email: str
    first_name: str = ""
    last_name: str = ""


def client_contacts_create_many(*, contacts: list[NewContact]) -> list[ClientContact]:
    """Contacts with the client role, signed in by their email address as
    username, with no usable password until staff invite them."""
    _require_transaction()
    users = []
    for contact in contacts:
        user = User(
            username=contact.email.lower(),
            email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            role=Role.CLIENT,
        )
        user.set_unusable_password()
        user.full_clean(exclude=["password"], **_NO_QUERY)
        users.append(user)
    users = User.objects.bulk_create(users, batch_size=BATCH)
    links = [ClientContact(user=user, client=c.client) for user, c in zip(users, contacts, strict=True)]
    return ClientContact.objects.bulk_create(links, batch_size=BATCH)


def agreements_create_many(*, agreements: list[Agreement]) -> list[Agreement]:
    """Insert new agreements, each last in its client's order (as agreement_create places them)."""
    _require_transaction()
    client_ids = {agreement.client_id for agreement in agreements}
    # The client rows locked, as agreement_create does: two imports (or an
    # import and a new agreement by hand) never take the same position.
    list(Client.objects.select_for_update(no_key=True).filter(pk__in=client_ids).values_list("pk", flat=True))
    last = dict(
        Agreement.objects.filter(client_id__in=client_ids)
        .order_by()
        .values("client_id")
        .annotate(last=Max("position"))
        .values_list("client_id", "last")
    )
    positions: dict[int, int] = defaultdict(int, last)
    for agreement in agreements:
        agreement.name = agreement.name.strip()
        _check_agreement_terms(agreement)
        positions[agreement.client_id] += 1
        agreement.position = positions[agreement.client_id]
        agreement.full_clean(exclude=["client", "reload_tier", "renewal_tier"], **_NO_QUERY)
    return Agreement.objects.bulk_create(agreements, batch_size=BATCH)


@dataclass(frozen=True)
class OpeningBalance:
    agreement: Agreement
    minutes: int
    rate: Decimal  # per hour, what the client paid for these hours
    expires_on: datetime.date | None = None


def _opening_block(item: OpeningBalance, actor: User | None, now: datetime.datetime) -> Block:
    agreement = item.agreement
    if not 0 < item.minutes <= MAX_BLOCK_MINUTES:
        raise ValidationError({"minutes": gettext("An opening balance is between 1 minute and the largest block.")})
    if item.rate < 0:
        raise ValidationError({"rate": gettext("A rate cannot be negative.")})
    check_date_in_range(item.expires_on, field="expires_on", today=timezone.localdate())
    block = Block(
        agreement=agreement,
        tier=None,
        minutes=item.minutes,
        rate=money(item.rate),
        amount=money(item.rate * Decimal(item.minutes) / 60),
        currency=agreement.client.currency,
        starts_on=agreement.starts_on,
        expires_on=item.expires_on,
        # Paid before Blockhours: nothing here invoices it or waits for a payment.
        paid_at=now,
        created_by=actor,
    )
    if block.expires_on is not None and block.expires_on < block.starts_on:
        raise ValidationError({"expires_on": gettext("The hours cannot expire before the agreement starts.")})
    block.full_clean(exclude=["agreement", "tier", "created_by", "rolled_over_from", "moved_from"], **_NO_QUERY)
    return block


def opening_balances_credit(
    *, items: list[OpeningBalance], actor: User | None, reason: str = "", new_agreements: bool = False
) -> list[Block]:
    """Credit each agreement's opening balance to a paid block of its own,
    by a ledger entry of the OPENING_BALANCE kind (at most one per agreement,
    which the database enforces).

    `new_agreements`: the agreements were created in this transaction and
    have no ledger yet, so blocks, entries and balances are written in bulk.
    Otherwise each goes through the usual credit under the agreement's row
    lock, which also repays any overage the agreement ran into.
    """
    _require_transaction()
    now = timezone.now()
    if not new_agreements:
        blocks = []
        for item in items:
            agreement = _lock(item.agreement)
            block = _opening_block(OpeningBalance(agreement, item.minutes, item.rate, item.expires_on), actor, now)
            block.save()
            _credit_block(agreement, block, actor, kind=LedgerKind.OPENING_BALANCE, reason=reason)
            blocks.append(block)
        return blocks
    blocks = [_opening_block(item, actor, now) for item in items]
    for block in blocks:
        block.minutes_left = block.minutes
        block.credited_at = now
    blocks = Block.objects.bulk_create(blocks, batch_size=BATCH)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                agreement=block.agreement,
                block=block,
                kind=LedgerKind.OPENING_BALANCE,
                minutes=block.minutes,
                reason=reason,
                author=actor,
                created_at=now,
            )
            for block in blocks
        ],
        batch_size=BATCH,
    )
    # Each new agreement's cached balance is the sum of its ledger (this one
    # entry): set from the ledger itself, one statement per batch; the
    # credited block means it has had hours (agreements.services.ledger._write).
    ids = [block.agreement_id for block in blocks]
    ledger_sum = (
        LedgerEntry.objects.filter(agreement=OuterRef("pk"))
        .order_by()
        .values("agreement")
        .annotate(total=Sum("minutes"))
    )
    for start in range(0, len(ids), BATCH):
        Agreement.objects.filter(pk__in=ids[start : start + BATCH]).update(
            balance_minutes=Subquery(ledger_sum.values("total")), has_had_hours=True
        )
    for block in blocks:
        block.agreement.balance_minutes += block.minutes
        block.agreement.has_had_hours = True
    return blocks
