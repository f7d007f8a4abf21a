"""Estimates the client approves before the work.

A technician or staff member estimates a ticket's work. The agreement is the
one the client's order would charge for the work type, the charge that of
the estimated minutes under its rounding, minimum and multiplier (as a time
entry without a start time). The estimate is approved at once when the
usable balance, less what the other open estimates reserve, covers that
charge; otherwise it waits for the client, who approves or declines it once:
every decision re-reads the estimate under its row lock and finds it no
longer waiting after a double click or a concurrent decision.

Open estimates reserve minutes: a waiting one its whole charge, an approved
one what time logged on its ticket since has not used yet. Emails are
recorded by notifications.estimates, which wraps these functions.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import MAX_ENTRY_MINUTES, format_minutes
from agreements.models import (
    Agreement,
    AgreementStatus,
    Estimate,
    EstimateStatus,
    Ticket,
    TimeEntry,
    WorkType,
)
from agreements.services.ledger import _funds
from agreements.services.time_entries import _charged, _covers, _EntryRequest, _in_term
from audit.models import AuditAction
from audit.services import audit_record

OPEN = (EstimateStatus.WAITING, EstimateStatus.APPROVED)
LINK_SALT = "agreements.estimate-link"
APPROVE, DECLINE = "approve", "decline"


class EstimateLinkError(Exception):
    """An approve/decline link that is expired, tampered with, or already used."""

    def __init__(self, message: str, *, estimate: Estimate | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.estimate = estimate


# ---------------------------------------------------------------------------
# Reading: what open estimates reserve


def _since() -> QuerySet[TimeEntry]:
    """Time logged on the estimate's ticket and agreement since it was made (not voided)."""
    return TimeEntry.objects.filter(
        ticket_id=OuterRef("ticket_id"),
        agreement_id=OuterRef("agreement_id"),
        voided_at__isnull=True,
        created_at__gte=OuterRef("created_at"),
    )


def _with_use(estimates: QuerySet[Estimate]) -> QuerySet[Estimate]:
    """Each estimate with `used_minutes` (worked) and `used_charged` (charged) since it was made: one statement."""

    def total(field: str) -> Coalesce:
        summed = _since().order_by().values("ticket_id").annotate(total=Sum(field)).values("total")
        return Coalesce(Subquery(summed, output_field=IntegerField()), Value(0))

    return estimates.annotate(used_minutes=total("minutes"), used_charged=total("charged_minutes"))


def _used_since(estimate: Estimate) -> tuple[int, int]:
    """(minutes, charged minutes) logged on the estimate's ticket and agreement since it was made."""
    used = _with_use(Estimate.objects.filter(pk=estimate.pk)).values_list("used_minutes", "used_charged").get()
    return used[0], used[1]


def _reserved(estimate: Estimate, used_charged: int) -> int:
    if estimate.status == EstimateStatus.WAITING:
        return estimate.charged_minutes
    if estimate.status == EstimateStatus.APPROVED:
        return max(estimate.charged_minutes - used_charged, 0)
    return 0


def estimate_reserved_minutes(estimate: Estimate) -> int:
    """What the estimate still holds of the balance: nothing once decided otherwise or used up."""
    if estimate.status != EstimateStatus.APPROVED:
        return _reserved(estimate, 0)
    return _reserved(estimate, _used_since(estimate)[1])


def _reserved_of(estimates: QuerySet[Estimate]) -> dict[int, int]:
    reserved: dict[int, int] = {}
    # Most agreements have no open estimate: a plain query answers for them,
    # and only approved estimates need the time logged since (a second one).
    open_estimates = list(
        estimates.filter(status__in=OPEN).order_by().only("agreement_id", "status", "charged_minutes")
    )
    approved = [estimate.pk for estimate in open_estimates if estimate.status == EstimateStatus.APPROVED]
    used = (
        dict(_with_use(Estimate.objects.filter(pk__in=approved)).values_list("pk", "used_charged")) if approved else {}
    )
    for estimate in open_estimates:
        minutes = _reserved(estimate, used.get(estimate.pk, 0))
        if minutes:
            reserved[estimate.agreement_id] = reserved.get(estimate.agreement_id, 0) + minutes
    return reserved


def estimates_reserved_by_agreement(agreement_ids: list[int] | None = None) -> dict[int, int]:
    """Minutes reserved by open estimates, per agreement (only those with any); one statement."""
    estimates = Estimate.objects.all()
    if agreement_ids is not None:
        estimates = estimates.filter(agreement_id__in=agreement_ids)
    return _reserved_of(estimates)


def agreement_reserved_minutes(agreement: Agreement, *, excluding: Estimate | None = None) -> int:
    estimates = Estimate.objects.filter(agreement=agreement)
    if excluding is not None:
        estimates = estimates.exclude(pk=excluding.pk)
    return _reserved_of(estimates).get(agreement.pk, 0)


def estimates_waiting_on_ticket(ticket: Ticket) -> list[Estimate]:
    return list(
        Estimate.objects.filter(ticket=ticket, status=EstimateStatus.WAITING)
        .select_related("work_type")
        .order_by("created_at", "id")
    )


def estimates_for_ticket(ticket: Ticket) -> QuerySet[Estimate]:
    return Estimate.objects.filter(ticket=ticket).select_related("work_type", "created_by").order_by("-created_at")


# ---------------------------------------------------------------------------
# Creating


@dataclass(frozen=True)
class EstimateCharge:
    agreement: Agreement
    charged: int
    covered: bool
    available: int  # usable minutes less the other open estimates


def _candidates_locked(client_id: int) -> list[Agreement]:
    """The client's active agreements, locked in primary-key order (as every
    caller locks several), returned in the client's order."""
    locked = list(
        Agreement.objects.select_for_update(no_key=True, of=("self",))
        .filter(client_id=client_id, status=AgreementStatus.ACTIVE)
        .select_related("client")
        .prefetch_related("work_types")
        .order_by("pk")
    )
    return sorted(locked, key=lambda a: (a.position, a.pk))


def _charge_for(client_id: int, ticket: Ticket, work_type: WorkType, minutes: int, on: datetime.date) -> EstimateCharge:
    """The first agreement in the client's order, in term and covering the
    work type, whose available minutes cover the charge; else the first in
    term and covering, where the estimate waits for approval."""
    fallback: EstimateCharge | None = None
    for agreement in _candidates_locked(client_id):
        if not _in_term(agreement, on) or not _covers(agreement, work_type):
            continue
        request = _EntryRequest(client_id, agreement.pk, ticket.pk, on, minutes, work_type.pk, "")
        charged = _charged(agreement, request, work_type).charged
        available = _funds(agreement, on).minutes - agreement_reserved_minutes(agreement)
        charge = EstimateCharge(agreement, charged, charged <= available, available)
        if charge.covered:
            return charge
        fallback = fallback or charge
    if fallback is None:
        raise ValidationError(
            {
                "work_type": gettext("No active agreement of %(client)s covers “%(work_type)s” work today.")
                % {"client": ticket.client.name, "work_type": work_type.name}
            }
        )
    return fallback


def _check_estimator(actor: User) -> None:
    if not actor.works_for_msp:
        raise PermissionDenied(gettext("Only technicians and staff can estimate work."))


def estimate_create(
    *, ticket: Ticket, actor: User, minutes: object, work_type: WorkType, description: object
) -> Estimate:
    """Attach an estimate to the ticket: approved at once when the balance covers it, else waiting."""
    _check_estimator(actor)
    errors: dict[str, str] = {}
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        errors["minutes"] = gettext("Enter the estimate as a whole number of minutes.")
    elif minutes <= 0:
        errors["minutes"] = gettext("The estimate must be more than zero minutes.")
    elif minutes > MAX_ENTRY_MINUTES * 30:
        errors["minutes"] = gettext("An estimate cannot be longer than 720 hours; split the work.")
    text = description.strip() if isinstance(description, str) else ""
    if not text:
        errors["description"] = gettext("Say in a few words what the work is.")
    elif len(text) > 300:
        errors["description"] = gettext("Keep it under %(max)s characters.") % {"max": 300}
    else:
        try:
            check_single_line(description=text)
        except ValidationError as error:
            errors["description"] = error.message_dict["description"][0]
    if not work_type.is_active:
        errors["work_type"] = gettext("The work type “%(name)s” is no longer in use.") % {"name": work_type.name}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The client's agreements stay locked until the estimate is saved: two
        # estimates at once cannot both count on the same free minutes.
        charge = _charge_for(ticket.client_id, ticket, work_type, minutes, timezone.localdate())
        now = timezone.now()
        estimate = Estimate.objects.create(
            ticket=ticket,
            agreement=charge.agreement,
            work_type=work_type,
            minutes=minutes,
            charged_minutes=charge.charged,
            description=text,
            created_by=actor,
            status=EstimateStatus.APPROVED if charge.covered else EstimateStatus.WAITING,
            auto_approved=charge.covered,
            decided_at=now if charge.covered else None,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action=AuditAction.ESTIMATE_CREATE,
            target=estimate,
            client=ticket.client,
            before={},
            after={
                "ticket": ticket.number,
                "agreement": str(charge.agreement.public_id),
                "minutes": minutes,
                "charged_minutes": charge.charged,
                "available_minutes": charge.available,
                "status": estimate.status,
                "auto_approved": estimate.auto_approved,
            },
            summary=format_lazy(
                gettext_lazy("{user} estimated {duration} on ticket #{ticket} for {client}: {outcome}"),
                user=actor.username,
                duration=format_minutes(minutes),
                ticket=ticket.number,
                client=ticket.client.name,
                outcome=gettext_lazy("approved automatically")
                if charge.covered
                else gettext_lazy("waiting for the client's approval"),
            ),
        )
    return estimate


# ---------------------------------------------------------------------------
# Deciding


def _waiting_locked(estimate: Estimate) -> Estimate:
    estimate = (
        Estimate.objects.select_for_update(of=("self",))
        .select_related("ticket__client", "agreement__client", "work_type", "created_by")
        .get(pk=estimate.pk)
    )
    if estimate.status != EstimateStatus.WAITING:
        raise ValidationError(
            gettext("This estimate was already decided (%(status)s).")
            % {"status": estimate.get_status_display().lower()}
        )
    return estimate


def _check_client_side(estimate: Estimate, actor: User | None) -> None:
    """A contact of the estimate's client, or None: the emailed link, whose signature names the estimate."""
    if actor is None:
        return
    contact = getattr(actor, "client_contact", None)
    if not actor.is_client_contact or contact is None or contact.client_id != estimate.ticket.client_id:
        raise PermissionDenied(gettext("Only the client's own contacts can approve or decline its estimates."))


def _decide(estimate: Estimate, *, status: str, action: str, actor: User | None, via_link: bool) -> Estimate:
    with transaction.atomic():
        _check_client_side(estimate, actor)
        estimate = _waiting_locked(estimate)
        estimate.status = status
        estimate.decided_by = actor
        estimate.decided_at = timezone.now()
        estimate.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            actor=actor,
            action=action,
            target=estimate,
            client=estimate.ticket.client,
            before={"status": EstimateStatus.WAITING},
            after={"status": status, "via_link": via_link, "charged_minutes": estimate.charged_minutes},
            summary=format_lazy(
                gettext_lazy("{who} {outcome} the estimate of {duration} on ticket #{ticket} for {client}"),
                who=actor.username if actor else gettext_lazy("The client, by the emailed link,"),
                outcome=estimate.get_status_display().lower(),
                duration=format_minutes(estimate.minutes),
                ticket=estimate.ticket.number,
                client=estimate.ticket.client.name,
            ),
        )
    return estimate


def estimate_approve(*, estimate: Estimate, actor: User | None, via_link: bool = False) -> Estimate:
    return _decide(
        estimate, status=EstimateStatus.APPROVED, action=AuditAction.ESTIMATE_APPROVE, actor=actor, via_link=via_link
    )


def estimate_decline(*, estimate: Estimate, actor: User | None, via_link: bool = False) -> Estimate:
    return _decide(
        estimate, status=EstimateStatus.DECLINED, action=AuditAction.ESTIMATE_DECLINE, actor=actor, via_link=via_link
    )


def estimate_cancel(*, estimate: Estimate, actor: User) -> Estimate:
    """Staff or a technician withdraw an open estimate: it reserves nothing more."""
    _check_estimator(actor)
    with transaction.atomic():
        estimate = Estimate.objects.select_for_update(of=("self",)).select_related("ticket__client").get(pk=estimate.pk)
        if estimate.status not in OPEN:
            raise ValidationError(
                gettext("This estimate was already decided (%(status)s).")
                % {"status": estimate.get_status_display().lower()}
            )
        before = estimate.status
        estimate.status = EstimateStatus.CANCELLED
        estimate.decided_at = estimate.decided_at or timezone.now()
        estimate.save(update_fields=["status", "decided_at"])
        audit_record(
            actor=actor,
            action=AuditAction.ESTIMATE_CANCEL,
            target=estimate,
            client=estimate.ticket.client,
            before={"status": before},
            after={"status": estimate.status},
            summary=format_lazy(
                gettext_lazy("{user} cancelled the estimate of {duration} on ticket #{ticket} for {client}"),
                user=actor.username,
                duration=format_minutes(estimate.minutes),
                ticket=estimate.ticket.number,
                client=estimate.ticket.client.name,
            ),
        )
    return estimate


# ---------------------------------------------------------------------------
# Signed links: one per action, naming one estimate; single use because a
# decided estimate is no longer waiting.


def estimate_link_token(estimate: Estimate, action: str) -> str:
    return signing.dumps({"e": str(estimate.public_id), "a": action}, salt=LINK_SALT)


def estimate_for_link(token: str) -> tuple[Estimate, str]:
    """The waiting estimate and action a link names; EstimateLinkError if it cannot act."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=datetime.timedelta(days=settings.ESTIMATE_LINK_DAYS))
    except signing.SignatureExpired:
        raise EstimateLinkError(
            gettext("This link has expired. Sign in to the portal to approve or decline the estimate.")
        ) from None
    except signing.BadSignature:
        raise EstimateLinkError(gettext("This link is not valid. Check that it was copied whole.")) from None
    action = data.get("a") if isinstance(data, dict) else None
    estimate = (
        Estimate.objects.select_related("ticket__client", "work_type", "agreement")
        .filter(public_id=data.get("e") if isinstance(data, dict) else None)
        .first()
    )
    if estimate is None or action not in (APPROVE, DECLINE):
        raise EstimateLinkError(gettext("This link is not valid. Check that it was copied whole."))
    if estimate.status != EstimateStatus.WAITING:
        raise EstimateLinkError(
            gettext("This estimate was already decided (%(status)s); the link cannot change it.")
            % {"status": estimate.get_status_display().lower()},
            estimate=estimate,
        )
    return estimate, action


# ---------------------------------------------------------------------------
# Overruns: time beyond an approved estimate, flagged once


def estimate_overrun_limit(estimate: Estimate) -> int:
    """The minutes of work past which the estimate is overrun (its minutes plus the setting's share)."""
    return estimate.minutes + estimate.minutes * settings.ESTIMATE_OVERRUN_PERCENT // 100


def estimates_overrun_flag(*, agreement_id: int | None = None) -> list[Estimate]:
    """Flag the approved estimates whose ticket took more than the limit; each once.

    The conditional UPDATE claims the flag: a second check at the same
    moment changes no row and reports nothing."""
    candidates = Estimate.objects.filter(status=EstimateStatus.APPROVED, overrun_flagged_at__isnull=True)
    if agreement_id is not None:
        candidates = candidates.filter(agreement_id=agreement_id)
    flagged = []
    for estimate in _with_use(candidates.select_related("ticket__client")).order_by("pk"):
        worked = estimate.used_minutes
        if worked <= estimate_overrun_limit(estimate):
            continue
        with transaction.atomic():
            claimed = Estimate.objects.filter(pk=estimate.pk, overrun_flagged_at__isnull=True).update(
                overrun_flagged_at=timezone.now()
            )
            if claimed != 1:
                continue  # another check got there first
            estimate.refresh_from_db(fields=["overrun_flagged_at"])
            audit_record(
                actor=None,
                action=AuditAction.ESTIMATE_OVERRUN,
                target=estimate,
                client=estimate.ticket.client,
                before={"worked_minutes": 0},
                after={"worked_minutes": worked, "estimated_minutes": estimate.minutes},
                summary=format_lazy(
                    gettext_lazy("Ticket #{ticket} for {client} took {worked}, estimated {estimated}"),
                    ticket=estimate.ticket.number,
                    client=estimate.ticket.client.name,
                    worked=format_minutes(worked),
                    estimated=format_minutes(estimate.minutes),
                ),
            )
        estimate.worked_minutes = worked
        flagged.append(estimate)
    return flagged


def estimates_overrun() -> list[Estimate]:
    """Flagged overruns for the staff dashboard, newest first, with the minutes worked."""
    estimates = list(
        _with_use(
            Estimate.objects.filter(overrun_flagged_at__isnull=False)
            .exclude(status=EstimateStatus.CANCELLED)
            .select_related("ticket__client", "work_type", "created_by")
        ).order_by("-overrun_flagged_at", "-id")[:50]
    )
    for estimate in estimates:
        estimate.worked_minutes = estimate.used_minutes
    return estimates


def estimates_waiting() -> QuerySet[Estimate]:
    return (
        Estimate.objects.filter(status=EstimateStatus.WAITING)
        .select_related("ticket__client", "work_type", "created_by", "agreement")
        .order_by("created_at", "id")
    )


def estimates_for_client(client_id: int) -> QuerySet[Estimate]:
    return (
        Estimate.objects.filter(ticket__client_id=client_id)
        .select_related("ticket", "work_type", "created_by", "agreement")
        .order_by("-created_at", "-id")
    )
