"""Reads for the pages and /metrics: undelivered emails, and is the low-balance sweep keeping up?"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.selectors import invoices_for_user
from notifications.models import EmailStatus, OutgoingEmail, SweepRun

UNDELIVERED = (EmailStatus.FAILED, EmailStatus.STUCK)
LOW_BALANCE_SWEEP = "low_balance"
BEAT_ENTRY = "sweep-low-balances"


def emails_undelivered(*, client: object | None = None) -> QuerySet[OutgoingEmail]:
    """Emails that failed for good or were interrupted while sending, newest
    first; with `client`, those about its agreements or to its contacts
    (invitations). Staff only: the callers are staff pages."""
    emails = OutgoingEmail.objects.filter(status__in=UNDELIVERED)
    if client is not None:
        emails = emails.filter(Q(agreement__client=client) | Q(user__client_contact__client=client))
    return emails.select_related("agreement__client", "invoice", "user").order_by("-created_at", "-pk")


def reload_drafts_for_user(user: User) -> QuerySet[Invoice]:
    """Reload invoices the sweep drafted (draft top-up mode) that wait for
    staff to issue or discard them, oldest first; none for anyone else."""
    if not user.is_authenticated or not user.is_msp_staff:
        return Invoice.objects.none()
    return (
        invoices_for_user(user)
        .filter(kind=InvoiceKind.RELOAD, status=InvoiceStatus.DRAFT, episode__isnull=False)
        .select_related("episode")
        .order_by("created_at", "pk")
    )


def sweep_interval() -> datetime.timedelta:
    """How often beat runs the sweep, read from the beat schedule itself."""
    schedule = settings.CELERY_BEAT_SCHEDULE[BEAT_ENTRY]["schedule"]
    if isinstance(schedule, datetime.timedelta):
        return schedule
    if isinstance(schedule, int | float):
        return datetime.timedelta(seconds=schedule)
    return schedule.run_every  # a celery.schedules.schedule


@dataclass(frozen=True)
class SweepStatus:
    last: SweepRun | None
    interval: datetime.timedelta
    overdue: bool  # no full sweep finished within two intervals (or ever)


def sweep_status(*, now: datetime.datetime | None = None) -> SweepStatus:
    now = now or timezone.now()
    interval = sweep_interval()
    last = SweepRun.objects.filter(job=LOW_BALANCE_SWEEP).first()
    overdue = last is None or now - last.finished_at > 2 * interval
    return SweepStatus(last=last, interval=interval, overdue=overdue)
