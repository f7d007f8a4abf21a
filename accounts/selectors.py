"""Reads about accounts: the MSP's people, and who is locked out of signing in right now."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Role, User


def msp_people() -> QuerySet[User]:
    """Active staff and technicians (not client contacts), staff first, by name."""
    return User.objects.filter(is_active=True, role__in=[Role.STAFF, Role.TECHNICIAN]).order_by(
        "-role", "last_name", "first_name", "username"
    )


@dataclass(frozen=True)
class Lockout:
    kind: str  # "account" (a username) or "address" (an IP address)
    value: str
    failures: int  # failed sign-ins still counted
    last_failure: datetime.datetime
    locked_until: datetime.datetime | None  # None: until staff unlock it (no cool-off configured)


def lockouts_current(*, now: datetime.datetime | None = None) -> list[Lockout]:
    """Accounts and addresses django-axes refuses right now, accounts first.

    Mirrors axes' own count (AXES_LOCKOUT_PARAMETERS = ["username",
    "ip_address"]): failures of the rows younger than the cool-off, summed per
    username and per address, locked at AXES_FAILURE_LIMIT. Each row's time is
    its latest failure.
    """
    now = now or timezone.now()
    cool_off = get_cool_off()
    limit = settings.AXES_FAILURE_LIMIT
    attempts = AccessAttempt.objects.all()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=now - cool_off)
    rows = list(attempts.values_list("username", "ip_address", "failures_since_start", "attempt_time"))
    lockouts = []
    for kind, index in (("account", 0), ("address", 1)):
        groups: dict[str, list[tuple[int, datetime.datetime]]] = defaultdict(list)
        for row in rows:
            if row[index]:
                groups[row[index]].append((row[2], row[3]))
        for value, counted in sorted(groups.items()):
            failures = sum(n for n, _ in counted)
            if failures >= limit:
                lockouts.append(
                    Lockout(kind, value, failures, max(t for _, t in counted), _lifts_at(counted, limit, cool_off))
                )
    return lockouts


def _lifts_at(
    counted: list[tuple[int, datetime.datetime]], limit: int, cool_off: datetime.timedelta | None
) -> datetime.datetime | None:
    """When enough of the oldest rows have aged out that fewer than `limit` failures remain."""
    if cool_off is None:
        return None
    remaining = sum(n for n, _ in counted)
    for failures, at in sorted(counted, key=lambda item: item[1]):
        remaining -= failures
        if remaining < limit:
            return at + cool_off
    return None  # not reached: removing every row leaves 0 < limit
