"""Reading the audit log: staff only, newest first, filtered."""

import datetime

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.utils import timezone

from audit.models import AuditEvent


def audit_events_for_user(user: Model) -> QuerySet[AuditEvent]:
    """The whole log for MSP staff, newest first; nothing for anyone else."""
    if not getattr(user, "is_msp_staff", False):
        return AuditEvent.objects.none()
    return AuditEvent.objects.select_related("actor", "client").order_by("-created_at", "-id")


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def audit_events_filter(
    events: QuerySet[AuditEvent],
    *,
    client: Model | None = None,
    action: str = "",
    actor: Model | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet[AuditEvent]:
    """Events of one client, action and actor, from `since` to `until` (whole days, both included)."""
    if client is not None:
        events = events.filter(client=client)
    if action:
        events = events.filter(action=action)
    if actor is not None:
        events = events.filter(actor=actor)
    # A range on the timestamp itself (not its date), so the newest-first index serves it.
    if since is not None:
        events = events.filter(created_at__gte=_start_of(since))
    if until is not None:
        events = events.filter(created_at__lt=_start_of(until + datetime.timedelta(days=1)))
    return events


def audit_clients() -> QuerySet:
    """Every client, for the log's client filter.

    Looked up by name, not imported: agreements sits above this app.
    """
    return apps.get_model("agreements", "Client").objects.order_by("name")


def audit_actors() -> QuerySet:
    """The people who appear in the log, for its actor filter."""
    actor_ids = AuditEvent.objects.filter(actor__isnull=False).values("actor_id")
    return get_user_model().objects.filter(pk__in=actor_ids).order_by("username")
