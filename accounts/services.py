"""Invitations: staff invite people, who then choose their own password."""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Role, User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def technician_create(*, username: str, email: str, first_name: str = "", last_name: str = "") -> User:
    """A technician account with no usable password until the invitation is accepted."""
    user = User(username=username, email=email, first_name=first_name, last_name=last_name, role=Role.TECHNICIAN)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def invitation_send(*, user: User, invited_by: User | None) -> Invitation:
    """Create an invitation and email its link after the transaction commits.

    Earlier unused invitations of the same user stop working: only the newest
    link is valid.
    """
    if not user.email:
        raise ValidationError({"email": "An invitation needs an email address."})
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
        subject = render_to_string("emails/invitation-subject.txt", context).strip()
        body = render_to_string("emails/invitation-body.txt", context)
        # Sent after commit: a rolled-back invitation never reaches an inbox.
        transaction.on_commit(lambda: send_mail(subject, body, None, [user.email]))
    return invitation


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
        raise ValidationError("This invitation link has expired or was already used. Ask for a new one.")
    validate_password(password, invitation.user)
    with transaction.atomic():
        # Claim the invitation with a conditional update: of two submissions at
        # once, exactly one changes the row; the other finds it used.
        claimed = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(used_at=timezone.now())
        if claimed != 1:
            raise ValidationError("This invitation link was already used.")
        user = invitation.user
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
