"""Device cookies (OWASP, "Slow down online guessing attacks with device
cookies"): a browser that signed in to an account before keeps a signed
cookie, and a lockout of that account caused elsewhere does not refuse it.
django-axes 8.3 has no such option; it asks AXES_WHITELIST_CALLABLE whether a
sign-in attempt is exempt, and `device_is_trusted` answers it."""

import datetime
import uuid

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.backends import lockout_username
from accounts.models import TrustedDevice, User

COOKIE_NAME = "blockhours_device"
SALT = "accounts.devices"


def _device_from(request: HttpRequest) -> TrustedDevice | None:
    value = request.COOKIES.get(COOKIE_NAME)
    if not value:
        return None
    try:
        key = signing.loads(value, salt=SALT, max_age=datetime.timedelta(days=settings.DEVICE_COOKIE_DAYS))
        return TrustedDevice.objects.select_related("user").get(key=uuid.UUID(str(key)))
    except (signing.BadSignature, ValueError, TrustedDevice.DoesNotExist):
        return None


def _failures_in_window(device: TrustedDevice) -> int:
    if device.last_failure_at is None:
        return 0
    if settings.AXES_COOLOFF_TIME and device.last_failure_at < timezone.now() - settings.AXES_COOLOFF_TIME:
        return 0
    return device.failures


def device_is_trusted(request: HttpRequest, credentials: dict | None) -> bool:
    """AXES_WHITELIST_CALLABLE: this browser signed in to this very account
    before and has not itself failed AXES_FAILURE_LIMIT times lately. Its
    failures are then not counted by axes but here (device_failure_record)."""
    if request is None:
        return False
    device = _device_from(request)
    if device is None or not device.user.is_active:
        return False
    if device.user.username != lockout_username(request, credentials):
        return False  # a cookie of another account (an attacker's own) helps nothing
    return _failures_in_window(device) < settings.AXES_FAILURE_LIMIT


def device_failure_record(*, request: HttpRequest) -> None:
    """A failed sign-in from a trusted browser counts against that browser."""
    device = _device_from(request)
    if device is None:
        return
    now = timezone.now()
    failures = _failures_in_window(device) + 1
    TrustedDevice.objects.filter(pk=device.pk).update(failures=failures, last_failure_at=now)


def device_trust(*, request: HttpRequest, response: HttpResponse, user: User) -> TrustedDevice:
    """After a successful sign-in: trust this browser for `user` (the same row
    again if it already was), clear its failures, and (re)set its cookie."""
    now = timezone.now()
    device = _device_from(request)
    if device is not None and device.user_id == user.pk:
        TrustedDevice.objects.filter(pk=device.pk).update(last_sign_in_at=now, failures=0, last_failure_at=None)
    else:
        device = TrustedDevice.objects.create(key=uuid.uuid4(), user=user, last_sign_in_at=now)
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps(str(device.key), salt=SALT),
        max_age=settings.DEVICE_COOKIE_DAYS * 24 * 60 * 60,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return device
