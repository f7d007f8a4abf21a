"""Time entries and tickets: logged, voided and corrected under the agreement's lock."""

import datetime
from dataclasses import dataclass, replace
from types import EllipsisType

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import (
    MAX_ENTRY_MINUTES,
    Charge,
    billable_minutes,
    charge_split,
    charged_minutes,
    format_minutes,
    split_by_calendar,
)
from agreements.events import time_entry_data
from agreements.models import (
    Agreement,
    AgreementStatus,
    Client,
    LedgerEntry,
    LedgerKind,
    Ticket,
    TimeEntry,
    WorkType,
)
from agreements.runway import burn_moved, burn_refresh
from agreements.services.calendar import after_hours_work_type, holidays_between, opening_hours
from agreements.services.ledger import (
    _allocate_debit,
    _chargeable_minutes,
    _check_overage,
    _expire_blocks_of,
    _funds,
    _lock,
    _term_grace_ends_on,
    _write,
)
from audit.models import AuditAction
from audit.services import audit_record
from blockhours.db import insert_unless_conflict
from webhooks.models import EventKind
from webhooks.services import event_emit


class IdempotencyConflict(ValidationError):
    """An idempotency key was reused for a different request."""


@dataclass(frozen=True)
class _EntryRequest:
    client_pk: int
    agreement_pk: int | None  # None: logged for the client, charged to the agreement chosen then
    ticket_pk: int
    work_date: datetime.date
    minutes: int
    work_type_pk: int
    notes: str
    started_at: datetime.time | None = None

    @classmethod
    def of(cls, entry: TimeEntry) -> "_EntryRequest":
        return cls(
            entry.agreement.client_id,
            entry.agreement_id,
            entry.ticket_id,
            entry.work_date,
            entry.minutes,
            entry.work_type_id,
            entry.notes,
            entry.started_at,
        )


class NoAgreementCanTake(ValidationError):
    """A time entry logged for a client that none of its agreements can take."""


def _entry_errors(
    *,
    technician: User,
    client_id: int,
    ticket: Ticket,
    work_date: datetime.date,
    minutes: object,
    work_type: WorkType,
    started_at: object = None,
) -> dict[str, str]:
    """What is wrong with the entry whichever agreement takes it."""
    if not technician.works_for_msp:
        raise PermissionDenied(gettext("Only technicians and staff can log time."))
    errors: dict[str, str] = {}
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        errors["minutes"] = gettext("Enter the duration as a whole number of minutes.")
    elif minutes <= 0:
        errors["minutes"] = gettext("The duration must be more than zero minutes.")
    elif minutes > MAX_ENTRY_MINUTES:
        errors["minutes"] = gettext("One entry cannot be longer than 24 hours; split it by day.")
    if ticket.client_id != client_id:
        errors["ticket"] = gettext("Ticket #%(number)s belongs to another client.") % {"number": ticket.number}
    if not work_type.is_active:
        errors["work_type"] = gettext("The work type “%(name)s” is no longer in use.") % {"name": work_type.name}
    if work_date > timezone.localdate():
        errors["work_date"] = gettext("Time cannot be logged for a future date.")
    if started_at is not None and (
        not isinstance(started_at, datetime.time) or started_at.second or started_at.microsecond or started_at.tzinfo
    ):
        errors["started_at"] = gettext("Give the start time in hours and minutes, e.g. 16:30.")
    return errors


def _covers(agreement: Agreement, work_type: WorkType) -> bool:
    """An agreement with no work types chosen covers them all."""
    covered = agreement.work_types.all()  # prefetched by the callers that loop
    return not covered or any(w.pk == work_type.pk for w in covered)


def _covers_sql(work_type: WorkType) -> RawSQL:
    """_covers as SQL, for the statement that locks the agreement: its work
    types are read under the lock without a statement of their own.

    Written as SQL (table and column names from the models) rather than as
    two ORM `Exists`: on every time entry logged, building those cost more
    CPU than the rest of the locking statement."""
    quote = connection.ops.quote_name
    through = Agreement.work_types.through._meta
    agreement_id = quote(through.get_field("agreement").column)
    worktype_id = quote(through.get_field("worktype").column)
    table = quote(through.db_table)
    outer = f"{quote(Agreement._meta.db_table)}.{quote(Agreement._meta.pk.column)}"
    # Only quoted names from the models go into the text; the work type is a parameter.
    sql = (
        f"(NOT EXISTS (SELECT 1 FROM {table} WHERE {agreement_id} = {outer}) "  # nosec B608
        f"OR EXISTS (SELECT 1 FROM {table} WHERE {agreement_id} = {outer} AND {worktype_id} = %s))"
    )
    return RawSQL(sql, (work_type.pk,), output_field=BooleanField())  # nosec B611


def _in_term(agreement: Agreement, work_date: datetime.date) -> bool:
    # Time worked in the grace days after the end still draws on the term's hours.
    return agreement.starts_on <= work_date and not (agreement.ends_on and work_date > _term_grace_ends_on(agreement))


def _validate_entry(
    *,
    agreement: Agreement,
    technician: User,
    ticket: Ticket,
    work_date: datetime.date,
    minutes: object,
    work_type: WorkType,
    covers: bool,
    started_at: object = None,
) -> None:
    errors = _entry_errors(
        technician=technician,
        client_id=agreement.client_id,
        ticket=ticket,
        work_date=work_date,
        minutes=minutes,
        work_type=work_type,
        started_at=started_at,
    )
    if "work_type" not in errors and not covers:
        errors["work_type"] = gettext("This agreement does not cover “%(name)s” work.") % {"name": work_type.name}
    if "work_date" not in errors and not _in_term(agreement, work_date):
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
    started_at: datetime.time | None = None,
) -> TimeEntry:
    """Log time on a ticket and charge it to the agreement.

    With a start time (the MSP's local time), the part worked outside
    business hours is charged at the after-hours rate. With an idempotency
    key, a retry of the same request returns the entry the first one created
    and charges nothing more.
    """
    request = _EntryRequest(
        agreement.client_id, agreement.pk, ticket.pk, work_date, minutes, work_type.pk, notes, started_at
    )
    refusal: ValidationError | PermissionDenied | None = None
    # No savepoint: every refusal below is raised before the first write and
    # re-raised after the block, so the caller's transaction stays usable
    # without one. Any other error inside marks the whole transaction for
    # rollback, as it should: a half-charged entry must never commit.
    with transaction.atomic(savepoint=False):
        # Checked against the locked row: an agreement ended or changed a
        # moment ago must not take time on the strength of a stale copy.
        agreement = _lock(agreement, covers_work_type=_covers_sql(work_type))
        try:
            _validate_entry(
                agreement=agreement,
                technician=technician,
                ticket=ticket,
                work_date=work_date,
                minutes=minutes,
                work_type=work_type,
                covers=agreement.covers_work_type,
                started_at=started_at,
            )
            entry = _charge(
                agreement=agreement,
                request=request,
                technician=technician,
                ticket=ticket,
                work_type=work_type,
                idempotency_key=idempotency_key,
                corrects=corrects,
            )
        except (ValidationError, PermissionDenied) as refused:
            refusal, entry = refused, None
    if entry is not None:
        return entry
    # Refused, or the key was taken: a retry of an entry logged earlier
    # replays it, even if the entry could not be logged now.
    earlier = _earlier_entry(technician, idempotency_key)
    if earlier is not None:
        return _replay(earlier, request)
    if refusal is None:  # the key's entry was there a moment ago: a concurrent void cannot delete it
        raise RuntimeError("The entry holding the idempotency key disappeared.")
    raise refusal


def _earlier_entry(technician: User, idempotency_key: str | None) -> TimeEntry | None:
    """The entry this technician logged with this key, if any (one at most: a unique constraint)."""
    if not idempotency_key:
        return None
    try:
        return TimeEntry.objects.get(technician=technician, idempotency_key=idempotency_key)
    except TimeEntry.DoesNotExist:
        return None


def time_entry_log_for_client(
    *,
    client: Client,
    technician: User,
    ticket: Ticket,
    work_date: datetime.date,
    minutes: int,
    work_type: WorkType,
    notes: str = "",
    idempotency_key: str | None = None,
    started_at: datetime.time | None = None,
) -> TimeEntry:
    """Log time for a client and charge it to the first of its agreements, in
    the client's order, that is active on the date, covers the work type and
    can take the charge under its overage policy. The entry names the agreement
    chosen. When none can, NoAgreementCanTake says why for each, and nothing
    changes.

    The choice and the debit happen under the same locks: every active
    agreement of the client is locked first (in primary-key order, the order
    every caller locks several agreements in, so two callers never wait on each
    other in a circle), so no concurrent entry can fill an agreement between
    the choice and the charge.
    """
    request = _EntryRequest(client.pk, None, ticket.pk, work_date, minutes, work_type.pk, notes, started_at)
    with transaction.atomic():
        candidates = list(
            Agreement.objects.select_for_update(no_key=True, of=("self",))
            .filter(client=client, status=AgreementStatus.ACTIVE)
            .select_related("client")
            .prefetch_related("work_types")
            .order_by("pk")
        )
        earlier = _earlier_entry(technician, idempotency_key)
        if earlier is not None:
            return _replay(earlier, request)
        errors = _entry_errors(
            technician=technician,
            client_id=client.pk,
            ticket=ticket,
            work_date=work_date,
            minutes=minutes,
            work_type=work_type,
            started_at=started_at,
        )
        if errors:
            raise ValidationError(errors)
        agreement = _choose(client, sorted(candidates, key=lambda a: (a.position, a.pk)), request, work_type)
        entry = _charge(
            agreement=agreement,
            request=request,
            technician=technician,
            ticket=ticket,
            work_type=work_type,
            idempotency_key=idempotency_key,
            corrects=None,
        )
    if entry is None:  # the same key at the same moment on another of the client's agreements
        return _replay(_earlier_entry(technician, idempotency_key), request)
    return entry


def _choose(client: Client, ordered: list[Agreement], request: _EntryRequest, work_type: WorkType) -> Agreement:
    """The first agreement in order that can take the entry, or why none can."""
    work_date = request.work_date
    if not ordered:
        raise NoAgreementCanTake(
            gettext("%(client)s has no active agreement to charge this time to.") % {"client": client.name}
        )
    refusals = []
    for agreement in ordered:
        if not _in_term(agreement, work_date):
            refusals.append(
                gettext("“%(agreement)s”: %(date)s is outside its term")
                % {"agreement": agreement.name, "date": f"{work_date:%Y-%m-%d}"}
            )
            continue
        if not _covers(agreement, work_type):
            refusals.append(
                gettext("“%(agreement)s”: does not cover “%(work_type)s” work")
                % {"agreement": agreement.name, "work_type": work_type.name}
            )
            continue
        charged = _charged(agreement, request, work_type).charged
        allowed = _chargeable_minutes(agreement, work_date) if charged else None
        if allowed is not None and charged > allowed:
            refusals.append(
                gettext(
                    "“%(agreement)s”: %(charged)s min to charge, only %(allowed)s min allowed (overage policy: %(policy)s)"
                )
                % {
                    "agreement": agreement.name,
                    "charged": charged,
                    "allowed": allowed,
                    "policy": agreement.get_overage_policy_display().lower(),
                }
            )
            continue
        return agreement
    raise NoAgreementCanTake(
        gettext("No agreement of %(client)s can take this entry: %(reasons)s. Sell a block or ask staff first.")
        % {"client": client.name, "reasons": "; ".join(refusals)}
    )


def _charged(agreement: Agreement, request: _EntryRequest, work_type: WorkType) -> Charge:
    """What the entry charges under the agreement's rounding and minimum; with
    a start time, split by the business-hours calendar (agreements.domain)."""
    rules = {
        "increment": agreement.billing_increment_minutes,
        "rounding_mode": agreement.rounding_mode,
        "minimum": agreement.minimum_billable_minutes,
    }
    if request.started_at is None:
        return Charge(
            billable=billable_minutes(minutes=request.minutes, **rules),
            charged=charged_minutes(minutes=request.minutes, multiplier=work_type.multiplier, **rules),
        )
    split = split_by_calendar(
        work_date=request.work_date,
        started_at=request.started_at,
        minutes=request.minutes,
        opening_hours=opening_hours(),
        holidays=holidays_between(request.work_date, request.work_date + datetime.timedelta(days=1)),
        closed_days_after_hours=agreement.weekends_holidays_after_hours,
    )
    after_hours = after_hours_work_type()
    # No after-hours rate flagged: the whole entry at the work type's rate, split shown all the same.
    rate = after_hours.multiplier if after_hours is not None else work_type.multiplier
    return charge_split(split=split, multiplier=work_type.multiplier, after_hours_multiplier=rate, **rules)


def _charge(
    *,
    agreement: Agreement,
    request: _EntryRequest,
    technician: User,
    ticket: Ticket,
    work_type: WorkType,
    idempotency_key: str | None,
    corrects: TimeEntry | None,
) -> TimeEntry | None:
    """Save the entry and debit the agreement, whose row the caller has locked
    and checked the entry against; None when an entry with the same key is
    already there (the caller replays it).

    Refusals (ValidationError) are raised before the first write: the callers
    rely on it to do without a savepoint."""
    charge = _charged(agreement, request, work_type)
    charged = charge.charged
    # Read once under the lock for both the overage check and the allocation.
    funds = _funds(agreement, request.work_date) if charged else None
    _check_overage(agreement, charged, request.work_date, funds)
    entry = TimeEntry(
        agreement=agreement,
        ticket=ticket,
        technician=technician,
        work_date=request.work_date,
        started_at=request.started_at,
        minutes=request.minutes,
        work_type=work_type,
        charged_minutes=charged,
        after_hours_minutes=charge.after_hours_billable,
        after_hours_charged_minutes=charge.after_hours_charged,
        notes=request.notes,
        idempotency_key=idempotency_key or None,
        corrects=corrects,
    )
    if not idempotency_key:
        entry.save()
    elif not insert_unless_conflict(entry):
        # The same key was used at the same moment on another agreement
        # (whose lock we do not hold): the database kept the first one.
        return None
    if charge.after_hours_charged:
        # Two debits, one per part, each taken from the blocks as any debit; they say which part they are.
        parts = [
            (charge.business_charged, False, gettext("Business-hours part")),
            (charge.after_hours_charged, True, gettext("After-hours part")),
        ]
    else:
        parts = [(charged, False, "")]
    debits = [
        debit
        for minutes, after_hours, reason in parts
        if minutes
        for debit in _allocate_debit(
            agreement,
            minutes,
            request.work_date,
            LedgerKind.DEBIT,
            usable=funds.usable,
            time_entry=entry,
            author=technician,
            after_hours=after_hours,
            reason=reason,
        )
    ]
    # The cached burn moves by the entry's minutes in the balance's UPDATE,
    # or is recounted when it was counted on another day.
    today = timezone.localdate()
    burn = burn_moved(agreement, work_date=request.work_date, minutes=charged, today=today)
    if debits:
        _write(agreement, debits, burn_minutes=burn)
    event_emit(EventKind.TIME_ENTRY_CREATED, data=lambda: time_entry_data(agreement, entry))
    if burn is None or (not debits and burn != agreement.burn_minutes):
        burn_refresh(agreement, today=today)
    return entry


def _replay(earlier: TimeEntry, request: _EntryRequest) -> TimeEntry:
    seen = _EntryRequest.of(earlier)
    if request.agreement_pk is None:  # logged for the client: whichever agreement was chosen then
        seen = replace(seen, agreement_pk=None)
    if seen != request:
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
        today = timezone.localdate()
        burn = burn_moved(agreement, work_date=time_entry.work_date, minutes=-time_entry.charged_minutes, today=today)
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
                after_hours=debit.after_hours,
            )
            for debit in time_entry.ledger.filter(kind=LedgerKind.DEBIT)
        ]
        if reversals:
            _write(agreement, reversals, burn_minutes=burn)
            # Minutes given back to a block that has since expired expire again.
            _expire_blocks_of(agreement, today)
        time_entry.voided_at = timezone.now()
        time_entry.voided_by = actor
        time_entry.void_reason = reason.strip()
        TimeEntry.objects.filter(pk=time_entry.pk).update(
            voided_at=time_entry.voided_at, voided_by=actor, void_reason=time_entry.void_reason
        )
        event_emit(EventKind.TIME_ENTRY_VOIDED, data=lambda: time_entry_data(agreement, time_entry))
        if burn is None or (not reversals and burn != agreement.burn_minutes):
            burn_refresh(agreement, today=today)
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
        "started_at": entry.started_at.strftime("%H:%M") if entry.started_at else None,
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
    started_at: datetime.time | None | EllipsisType = ...,
) -> TimeEntry:
    """Correct an entry: void it and log its replacement, in one transaction.
    `started_at` left out keeps the entry's start time; None removes it."""
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
            started_at=voided.started_at if started_at is ... else started_at,
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
