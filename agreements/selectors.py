"""Reads, scoped to what a user may see.

Every page, API view and download fetches objects through these helpers so
access control cannot be forgotten: a client contact only ever gets their own
client's rows, and an object of another client is simply "not found".
"""

import uuid

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When, Window
from django.db.models.functions import Coalesce

from accounts.models import User
from agreements.models import (
    Agreement,
    Block,
    ChargeQuestion,
    Client,
    Estimate,
    LedgerEntry,
    LedgerKind,
    OveragePolicy,
    Ticket,
    TimeEntry,
)


def _client_scope(user: User) -> dict[str, object] | None:
    """None for users who see every client; otherwise a filter to their client."""
    if not user.is_authenticated or not user.is_active:
        return {"pk__in": []}
    if user.works_for_msp:
        return None
    contact = getattr(user, "client_contact", None)
    return {"pk": contact.client_id} if contact else {"pk__in": []}


def clients_for_user(user: User) -> QuerySet[Client]:
    scope = _client_scope(user)
    return Client.objects.filter(**scope) if scope is not None else Client.objects.all()


def _of_clients_for_user(queryset: QuerySet, user: User) -> QuerySet:
    """`queryset` narrowed to the user's clients; untouched for those who see
    every client (a `client_id IN (SELECT id FROM client)` would filter nothing
    and cost a subquery in every statement)."""
    scope = _client_scope(user)
    return queryset if scope is None else queryset.filter(client__in=Client.objects.filter(**scope))


def agreements_for_user(user: User) -> QuerySet[Agreement]:
    return _of_clients_for_user(Agreement.objects.all(), user).select_related("client")


def agreement_get_for_user(user: User, public_id: uuid.UUID | str) -> Agreement:
    """The agreement, or Agreement.DoesNotExist if unknown or not the user's to see."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise Agreement.DoesNotExist(f"“{public_id}” is not an agreement id.") from None
    return agreements_for_user(user).get(public_id=public_id)


def tickets_for_user(user: User) -> QuerySet[Ticket]:
    return _of_clients_for_user(Ticket.objects.all(), user)


def time_entries_for_user(user: User) -> QuerySet[TimeEntry]:
    entries = TimeEntry.objects.select_related("agreement__client", "ticket", "technician", "work_type")
    return entries if _client_scope(user) is None else entries.filter(agreement__in=agreements_for_user(user))


def estimates_for_user(user: User) -> QuerySet[Estimate]:
    """Estimates on the agreements the user may see (a contact: their client's only)."""
    return Estimate.objects.filter(agreement__in=agreements_for_user(user)).select_related(
        "agreement__client", "ticket", "work_type", "created_by", "decided_by"
    )


def questions_for_user(user: User) -> QuerySet[ChargeQuestion]:
    """Charge questions on the agreements the user may see (a contact: their client's only)."""
    return ChargeQuestion.objects.filter(time_entry__agreement__in=agreements_for_user(user)).select_related(
        "time_entry__agreement__client",
        "time_entry__ticket",
        "time_entry__technician",
        "time_entry__work_type",
        "raised_by",
        "resolved_by",
        "correction",
    )


def ledger_balance(agreement: Agreement) -> int:
    """The balance as the sum of the ledger (the cache must always equal this)."""
    return LedgerEntry.objects.filter(agreement=agreement).aggregate(total=Coalesce(Sum("minutes"), 0))["total"]


def ledger_with_running_balance(agreement: Agreement) -> QuerySet[LedgerEntry]:
    """The agreement's ledger, oldest first, each row annotated with the balance after it."""
    return (
        LedgerEntry.objects.filter(agreement=agreement)
        .select_related("block", "time_entry__ticket", "author")
        .annotate(running_balance=Window(Sum("minutes"), order_by=["created_at", "id"]))
        .order_by("created_at", "id")
    )


def has_bought_hours() -> Q:
    """Agreements whose client has had hours to use: a block credited (paid, or
    usable at once under its policy) and not cancelled, or hours granted by
    an adjustment. An agreement that never had any has nothing to reload."""
    credited = Block.objects.filter(agreement=OuterRef("pk"), credited_at__isnull=False, cancelled_at__isnull=True)
    granted = LedgerEntry.objects.filter(agreement=OuterRef("pk"), kind=LedgerKind.ADJUSTMENT, minutes__gt=0)
    return Q(Exists(credited)) | Q(Exists(granted))


def has_hours_on_the_way() -> Q:
    """Agreements with a block sold and not yet credited (awaiting payment
    under the usable-when-paid policy): those hours are coming, so the
    balance is not low for want of a sale."""
    return Q(
        Exists(Block.objects.filter(agreement=OuterRef("pk"), credited_at__isnull=True, cancelled_at__isnull=True))
    )


def with_unbilled_overage(agreements: QuerySet[Agreement]) -> QuerySet[Agreement]:
    """Annotate `unbilled_overage_minutes`: under bill-overage, how far the
    balance is below what the blocks still hold (time charged beyond every
    block, not billed yet); 0 under the other policies. The same figure as
    agreements.services.overage_unbilled_minutes, for many rows in one query."""
    in_blocks = (
        Block.objects.filter(agreement=OuterRef("pk"))
        .order_by()
        .values("agreement")
        .annotate(total=Sum("minutes_left"))
        .values("total")
    )
    held = Coalesce(Subquery(in_blocks), 0)
    return agreements.annotate(
        unbilled_overage_minutes=Case(
            When(
                Q(overage_policy=OveragePolicy.BILL_OVERAGE) & Q(balance_minutes__lt=held),
                then=held - F("balance_minutes"),
            ),
            default=Value(0),
        )
    )


def unbilled_overage_of(agreement: Agreement, *, held_minutes: int) -> int:
    """`with_unbilled_overage`'s figure for an agreement whose blocks' minutes
    left (`held_minutes`) were read already, e.g. with its runway."""
    if agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        return 0
    return max(held_minutes - agreement.balance_minutes, 0)


def agreements_with_unbilled_overage() -> QuerySet[Agreement]:
    """Agreements with overage to bill; ended ones too: that time is owed."""
    return (
        with_unbilled_overage(Agreement.objects.filter(overage_policy=OveragePolicy.BILL_OVERAGE))
        .filter(unbilled_overage_minutes__gt=0)
        .select_related("client")
        .order_by("pk")
    )


def latest_block_usage(agreement: Agreement) -> tuple[Block, int] | None:
    """The agreement's most recently credited block and how many of its minutes are used."""
    block = (
        Block.objects.filter(agreement=agreement, credited_at__isnull=False, cancelled_at__isnull=True)
        .order_by("-starts_on", "-credited_at", "-id")
        .first()
    )
    if block is None:
        return None
    return block, block.minutes - block.minutes_left
