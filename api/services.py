"""Writes of the API's own data: tokens and idempotency keys.

Everything that changes balances, invoices or payments goes through
agreements.services and billing.services; this module only manages who may
call the API and what a retried request gets back.
"""

import datetime
import hashlib
import json
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.models import Client
from api.models import ApiToken, IdempotencyKey, token_hash
from audit.models import AuditAction
from audit.services import audit_record
from blockhours.db import insert_unless_conflict

# The public prefix of every key, not a secret.
TOKEN_PREFIX = "bh_"  # nosec B105


# ---------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    key: str  # shown once; only its hash is stored


def token_create(*, user: User, name: str, actor: User) -> NewToken:
    """A new token for `user`; the key is returned here and never again."""
    if not actor.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff can create API tokens."))
    if not user.is_active:
        raise ValidationError({"user": gettext("%(username)s is not an active user.") % {"username": user.username}})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": gettext("Name the token after what uses it, e.g. “PSA sync”.")})
    check_single_line(name=name)
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=key[:10], key_hash=token_hash(key), created_by=actor
        )
        audit_record(
            actor=actor,
            action=AuditAction.API_TOKEN_CREATE,
            target=token,
            client=_client_of(user),
            before={},
            after={"user": user.username, "name": token.name, "prefix": token.prefix},
            summary=format_lazy(
                gettext_lazy("Created API token “{name}” ({prefix}…) for {user}."),
                name=token.name,
                prefix=token.prefix,
                user=user.username,
            ),
        )
    return NewToken(token=token, key=key)


def token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke a token at once; revoking twice changes nothing."""
    if not actor.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff can revoke API tokens."))
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        token.refresh_from_db()
        if revoked:  # the second revocation changed nothing: nothing to log
            audit_record(
                actor=actor,
                action=AuditAction.API_TOKEN_REVOKE,
                target=token,
                client=_client_of(token.user),
                before={"revoked": False},
                after={"revoked": True},
                summary=format_lazy(
                    gettext_lazy("Revoked API token “{name}” ({prefix}…) of {user}."),
                    name=token.name,
                    prefix=token.prefix,
                    user=token.user.username,
                ),
            )
    return token


def _client_of(user: User) -> Client | None:
    """The client a client contact belongs to; None for MSP people."""
    contact = getattr(user, "client_contact", None)  # the reverse one-to-one raises AttributeError when absent
    return contact.client if contact is not None else None


def token_authenticate(key: str) -> ApiToken | None:
    """The active token with this key (its user loaded), or None."""
    try:  # key_hash is unique: get(), not first(), which would add an ORDER BY
        token = ApiToken.objects.select_related("user", "user__client_contact").get(
            key_hash=token_hash(key), revoked_at__isnull=True
        )
    except ApiToken.DoesNotExist:
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    # At most one write a minute per token: a busy integration must not turn
    # every read into a write on the token row.
    if token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# ---------------------------------------------------------------------------
# Idempotency keys


class IdempotencyKeyReused(ValidationError):
    """The key was already used by this user for a different request."""


def idempotency_fingerprint(*, method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def idempotency_ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.API_IDEMPOTENCY_KEY_HOURS)


def idempotency_claim(*, user: User, key: str, method: str, path: str, fingerprint: str) -> IdempotencyKey:
    """Claim `key` for this request inside the caller's transaction.

    Returns the key row, locked: new (no response yet) when this request is
    the first with the key, or the earlier request's row with its stored
    response. The insert comes first, under the (user, key) unique
    constraint: on PostgreSQL a concurrent request with the same key blocks
    on that insert until the first transaction ends, then finds its committed
    row and replays it, so the write behind the key happens once. An
    expired row is replaced, as if the key were new.
    """
    if not transaction.get_connection().in_atomic_block:  # not an assert: `python -O` would drop it
        raise RuntimeError("claim a key inside the transaction it guards")
    now = timezone.now()
    fields = {
        "method": method,
        "path": path,
        "fingerprint": fingerprint,
        "created_at": now,
        "expires_at": now + idempotency_ttl(),
    }
    record = IdempotencyKey(user=user, key=key, **fields)
    if insert_unless_conflict(record):  # no savepoint: a taken key is no error
        return record
    record = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
    if record.expires_at <= now:
        record.delete()
        return IdempotencyKey.objects.create(user=user, key=key, **fields)
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            gettext(
                "The Idempotency-Key “%(key)s” was already used for a different request "
                "(%(method)s %(path)s with another body) in the last %(hours)s h. "
                "Send a new key for a new request, or the same body to get the first response again."
            )
            % {"key": key, "method": record.method, "path": record.path, "hours": settings.API_IDEMPOTENCY_KEY_HOURS}
        )
    return record


def idempotency_complete(*, record: IdempotencyKey, status: int, body: object) -> None:
    record.response_status = status
    record.response_body = body
    IdempotencyKey.objects.filter(pk=record.pk).update(response_status=status, response_body=body)


def idempotency_keys_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete expired keys; returns how many. Safe to run twice or concurrently."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
