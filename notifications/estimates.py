"""Estimates with their emails: each step of agreements.services.estimates and
the email to the other side, recorded in the same transaction (all or
nothing) and queued after commit.

An estimate that waits goes to the client's billing contacts in their
language, with signed approve and decline links. The decision goes to the
technician who estimated and to staff in theirs; an overrun to staff. One
email per step and recipient: the topic names the step, so a second
decision (refused anyway) or a second overrun check records nothing more.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from agreements import services as agreement_services
from agreements.domain import format_minutes
from agreements.models import Estimate, EstimateStatus
from agreements.services import estimates
from notifications.models import EmailKind, OutgoingEmail
from notifications.services import (
    Enqueue,
    _email_context,
    _unique,
    client_billing_recipients,
    emails_record,
    staff_recipients,
)


def estimate_link_url(estimate: Estimate, action: str) -> str:
    token = agreement_services.estimate_link_token(estimate, action)
    return settings.SITE_URL.rstrip("/") + reverse("portal:estimate_link", args=[token])


def _record(
    estimate: Estimate, *, kind: str, step: str, recipients: list[str], default: str, send: Enqueue, **extra: object
) -> list[OutgoingEmail]:
    context = _email_context(
        estimate.agreement_id,
        estimate=estimate,
        estimated=format_minutes(estimate.minutes),
        charged=format_minutes(estimate.charged_minutes),
        reserved=format_minutes(estimates.agreement_reserved_minutes(estimate.agreement)),
        **extra,
    )
    return emails_record(
        kind,
        topic=f"estimate:{estimate.public_id}:{step}",
        agreement_id=estimate.agreement_id,
        context=context,
        recipients=recipients,
        default=default,
        send=send,
    )


def estimate_create_and_notify(*, send: Enqueue, **create: object) -> Estimate:
    """Create the estimate; one that waits is emailed to the client's billing contacts."""
    with transaction.atomic():
        estimate = estimates.estimate_create(**create)
        if estimate.status == EstimateStatus.WAITING:
            client = estimate.ticket.client
            _record(
                estimate,
                kind=EmailKind.ESTIMATE_APPROVAL,
                step="approval",
                recipients=client_billing_recipients(estimate.agreement),
                default=client.language,
                send=send,
                approve_url=estimate_link_url(estimate, estimates.APPROVE),
                decline_url=estimate_link_url(estimate, estimates.DECLINE),
                portal_url=settings.SITE_URL.rstrip("/") + reverse("portal:estimates"),
                settings_link_days=settings.ESTIMATE_LINK_DAYS,
            )
    return estimate


def _decided(estimate: Estimate, send: Enqueue) -> Estimate:
    _record(
        estimate,
        kind=EmailKind.ESTIMATE_DECIDED,
        step="decided",
        recipients=_unique([estimate.created_by.email, *staff_recipients()]),
        default=settings.LANGUAGE_CODE,
        send=send,
        ticket_path=reverse("dashboard:client", args=[estimate.ticket.client.public_id]),
    )
    return estimate


def estimate_approve_and_notify(*, send: Enqueue, **decide: object) -> Estimate:
    with transaction.atomic():
        return _decided(estimates.estimate_approve(**decide), send)


def estimate_decline_and_notify(*, send: Enqueue, **decide: object) -> Estimate:
    with transaction.atomic():
        return _decided(estimates.estimate_decline(**decide), send)


def estimate_decide_by_link(*, token: str, send: Enqueue) -> tuple[Estimate, str]:
    """Act on a signed link: EstimateLinkError when it cannot (expired, tampered, used)."""
    estimate, action = estimates.estimate_for_link(token)
    decide = estimate_approve_and_notify if action == estimates.APPROVE else estimate_decline_and_notify
    try:
        return decide(estimate=estimate, actor=None, via_link=True, send=send), action
    except ValidationError as refused:  # decided a moment ago by someone else
        raise estimates.EstimateLinkError(refused.messages[0], estimate=estimate) from None


def estimate_overruns_notify(*, send: Enqueue, agreement_id: int | None = None) -> list[Estimate]:
    """Flag overruns (each once) and email staff about each."""
    flagged = []
    for estimate in estimates.estimates_overrun_flag(agreement_id=agreement_id):
        with transaction.atomic():
            _record(
                estimate,
                kind=EmailKind.ESTIMATE_OVERRUN_STAFF,
                step="overrun",
                recipients=staff_recipients(),
                default=settings.LANGUAGE_CODE,
                send=send,
                worked=format_minutes(estimate.worked_minutes),
                limit=format_minutes(estimates.estimate_overrun_limit(estimate)),
                ticket_path=reverse("dashboard:client", args=[estimate.ticket.client.public_id]),
            )
        flagged.append(estimate)
    return flagged
