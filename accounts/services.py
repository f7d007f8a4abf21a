"""Invitations: staff invite people, who then choose their own password."""

import datetime
import hashlib
import logging
import secrets

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Invitation, Role, User
from audit.models import AuditAction
from audit.services import audit_record
from monitoring.failopen import CACHE_ERRORS, rate_limit_checked, rate_limit_fail_open


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def technician_create(*, username: str, email: str, first_name: str = "", last_name: str = "") -> User:
    """A technician account with no usable password until the invitation is accepted."""
    user = User(username=username, email=email, first_name=first_name, last_name=last_name, role=Role.TECHNICIAN)
    user.set_unusable_password()
    user_save_new(user)
    return user


def user_save_new(user: User) -> None:
    """Validate and insert a new account.

    The username is checked first for a clear message, but two requests with
    the same username at once both pass that check: the database's unique
    constraint settles it, and the loser gets the same message rather than a
    server error."""
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        if not User.objects.filter(username=user.username).exists():
            raise
        raise ValidationError({"username": User._meta.get_field("username").error_messages["unique"]}) from None


def invitation_send(*, user: User, invited_by: User | None, language: str = "") -> Invitation:
    """Create an invitation and email its link after the transaction commits.

    Earlier unused invitations of the same user stop working: only the newest
    link is valid.
    """
    if not user.email:
        raise ValidationError({"email": _("An invitation needs an email address.")})
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(user=user, used_at__isnull=True).update(expires_at=now)
        invitation = Invitation.objects.create(
            user=user,
            token_hash=_hash(token),
            invited_by=invited_by,
            expires_at=now + datetime.timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        link = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[token])
        context = {"user": user, "link": link, "invited_by": invited_by, "invitation": invitation}
        # In the invitee's own language if chosen, else `language` (a client
        # contact's: the client's), else the inviter's.
        with translation.override(user.language or language or translation.get_language()):
            subject = render_to_string("emails/invitation-subject.txt", context).strip()
            body = render_to_string("emails/invitation-body.txt", context)
        # Recorded with the invitation and sent after commit by a worker: a
        # rolled-back invitation never reaches an inbox, and a mail server
        # that is down delays the email without failing the invitation.
        account_email_send(user=user, kind="invitation", subject=subject, body_text=body)
        # The reverse one-to-one raises AttributeError when absent (MSP people);
        # read as an attribute, since agreements sits above this app.
        contact = getattr(user, "client_contact", None)
        audit_record(
            actor=invited_by,
            action=AuditAction.INVITATION_SEND,
            target=user,
            client=contact.client if contact is not None else None,
            before={},
            after={"user": user.username, "email": user.email, "role": user.role, "expires_at": invitation.expires_at},
            summary=format_lazy(
                gettext_lazy("Invited {user} <{email}> to set a password."),
                user=user.username,
                email=user.email,
            ),
        )
    return invitation


def account_email_send(*, user: User, kind: str, subject: str, body_text: str) -> None:
    """Hand an email about `user`'s account ("invitation" or "password_reset")
    to the outbox named by ACCOUNT_EMAIL_OUTBOX: recorded, sent after commit
    by a worker, retried, and shown to staff if it fails."""
    import_string(settings.ACCOUNT_EMAIL_OUTBOX)(user=user, kind=kind, subject=subject, body_text=body_text)


def invitation_get_valid(token: str) -> Invitation | None:
    """The pending invitation for this token, or None if unknown, used or expired."""
    return (
        Invitation.objects.select_related("user")
        .filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )


def invitation_accept(*, token: str, password: str) -> User:
    """Set the invited user's password; the link works once."""
    invitation = invitation_get_valid(token)
    if invitation is None:
        raise ValidationError(_("This invitation link has expired or was already used. Ask for a new one."))
    validate_password(password, invitation.user)
    with transaction.atomic():
        # Claim the invitation with a conditional update: of two submissions at
        # once, exactly one changes the row; the other finds it used.
        claimed = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(used_at=timezone.now())
        if claimed != 1:
            raise ValidationError(_("This invitation link was already used."))
        user = invitation.user
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def user_language_set(*, user: User, language: str) -> User:
    """Store the language a user chose for their pages; "" means "my browser's"."""
    if language not in {"", *(code for code, _name in settings.LANGUAGES)}:
        raise ValidationError({"language": translation.gettext("Choose one of the languages offered.")})
    user.language = language
    user.save(update_fields=["language"])
    return user


# ---------------------------------------------------------------------------
# Sign-in lockouts and the password-reset throttle

logger = logging.getLogger(__name__)


def lockout_clear(*, kind: str, value: str, actor: User | None) -> int:
    """Forget the failed sign-ins behind an account's or an address's lockout,
    so it can sign in again at once; returns how many records were removed.
    `actor` None: an operator at the command line (manage.py unlock)."""
    _ = translation.gettext
    # Checked here, not only in the form: axes' reset() with no name and no
    # address would forget every failure of everyone.
    if kind == "address":
        validate_ipv46_address(value)  # raises ValidationError: the column is an IP address
        reset = {"ip": value}
        nothing = _("Nothing to unlock: no failed sign-ins from address %(value)s.")
    elif kind == "account":
        if not value:
            raise ValidationError(_("Name the account to unlock."))
        reset = {"username": value}
        nothing = _("Nothing to unlock: no failed sign-ins for account %(value)s.")
    else:
        raise ValidationError(_("Choose an account or an address to unlock."))
    with transaction.atomic():
        removed = axes_reset(**reset)
        if not removed:
            raise ValidationError(nothing % {"value": value})
        audit_record(
            actor=actor,
            action=AuditAction.LOCKOUT_CLEAR,
            target=(kind, value),
            client=None,
            before={"failed_sign_in_records": removed},
            after={"failed_sign_in_records": 0},
            summary=format_lazy(
                gettext_lazy("Lifted the sign-in lockout of account {value}.")
                if kind == "account"
                else gettext_lazy("Lifted the sign-in lockout of address {value}."),
                value=value,
            ),
        )
    who = actor.username if actor is not None else "manage.py unlock"
    logger.warning("Sign-in lockout of %s %s lifted by %s (%d records).", kind, value, who, removed)
    return removed


def lockouts_clear_all(*, actor: User | None) -> int:
    """The last resort (manage.py unlock --all), e.g. when every staff account
    is locked: forget every failed sign-in of every account and address."""
    with transaction.atomic():
        removed = axes_reset()
        audit_record(
            actor=actor,
            action=AuditAction.LOCKOUT_CLEAR,
            target=("everyone", "*"),
            client=None,
            before={"failed_sign_in_records": removed},
            after={"failed_sign_in_records": 0},
            summary=gettext_lazy("Lifted every sign-in lockout."),
        )
    logger.warning("Every sign-in lockout lifted (%d records).", removed)
    return removed


def password_reset_allowed(*, address: str | None, email: str) -> bool:
    """Count one password-reset request for this address and this email; False
    once either has made PASSWORD_RESET_LIMIT within PASSWORD_RESET_WINDOW_MINUTES.

    Every request counts, for known and unknown emails alike, so the throttle
    says nothing about which emails have accounts. The counters live in the
    default cache (a window that starts at the first request); when the cache
    is down the limit fails open (monitoring.failopen) and the reset goes ahead.
    """
    try:
        allowed = _password_reset_count(address=address, email=email)
    except CACHE_ERRORS as error:
        rate_limit_fail_open(limiter="password_reset", error=error)
        return True
    rate_limit_checked()
    return allowed


def _password_reset_count(*, address: str | None, email: str) -> bool:
    window = settings.PASSWORD_RESET_WINDOW_MINUTES * 60
    email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    keys = [f"password-reset:email:{email_key}"]
    if address:
        keys.append(f"password-reset:address:{address}")
    allowed = True
    for key in keys:
        cache.add(key, 0, timeout=window)  # no-op when the window is already open
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: a new window
            cache.set(key, 1, timeout=window)
            count = 1
        allowed = allowed and count <= settings.PASSWORD_RESET_LIMIT
    return allowed
