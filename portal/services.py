from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from agreements.models import Agreement, AgreementStatus, Estimate, Tier
from agreements.selectors import agreements_for_user
from notifications import estimates as estimate_notify
from notifications.services import Enqueue
from portal.models import HoursRequest, HoursRequestStatus


def hours_request_create(*, agreement: Agreement, tier: Tier, requested_by: User, note: str = "") -> HoursRequest:
    """A contact of the agreement's client asks for another block."""
    contact = getattr(requested_by, "client_contact", None)
    if not requested_by.is_client_contact or contact is None or contact.client_id != agreement.client_id:
        raise PermissionDenied(_("Only the client's own contacts can ask for more hours."))
    if agreement.status != AgreementStatus.ACTIVE:
        raise ValidationError(_("This agreement has ended; contact us to renew it."))
    if not tier.is_active:
        raise ValidationError({"tier": _("That block size is no longer on sale.")})
    request = HoursRequest(agreement=agreement, tier=tier, requested_by=requested_by, note=note.strip())
    request.full_clean()
    request.save()
    return request


def hours_request_mark_handled(*, hours_request: HoursRequest, actor: User) -> HoursRequest:
    if not actor.is_msp_staff:
        raise PermissionDenied(_("Only staff handle requests."))
    HoursRequest.objects.filter(pk=hours_request.pk, status=HoursRequestStatus.OPEN).update(
        status=HoursRequestStatus.HANDLED, handled_at=timezone.now(), handled_by=actor
    )
    hours_request.refresh_from_db()
    return hours_request


def hours_requests_open() -> QuerySet[HoursRequest]:
    """Open requests, newest first, for the staff dashboard (one query)."""
    return HoursRequest.objects.filter(status=HoursRequestStatus.OPEN).select_related(
        "agreement__client", "tier", "requested_by"
    )


def hours_requests_for_user(user: User) -> QuerySet[HoursRequest]:
    return HoursRequest.objects.filter(agreement__in=agreements_for_user(user)).select_related("tier", "agreement")


def estimate_approve(*, estimate: Estimate, actor: User, tier: Tier | None, send: Enqueue) -> Estimate:
    """A client contact approves a waiting estimate and, with `tier`, asks
    for that block in the same transaction (the portal's and the API's approve)."""
    with transaction.atomic():
        estimate = estimate_notify.estimate_approve_and_notify(estimate=estimate, actor=actor, send=send)
        if tier is not None:
            hours_request_create(
                agreement=estimate.agreement,
                tier=tier,
                requested_by=actor,
                note=_("For the estimate on ticket #%(ticket)s") % {"ticket": estimate.ticket.number},
            )
    return estimate
