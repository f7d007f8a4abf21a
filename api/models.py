"""API tokens and idempotency keys.

Only a SHA-256 hash of each token is stored: a database leak gives no working
token, and the key itself is shown once, when staff create it. Idempotency
keys remember, per user, the fingerprint of the first request made with them
and the response it got, so a retry replays that response instead of
charging again.
"""

import hashlib
import uuid

from django.conf import settings
from django.db import models

from accounts.validators import validate_single_line


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=100, validators=[validate_single_line], help_text="What uses this token, e.g. “PSA sync”."
    )
    # The first characters of the key, so a person can tell tokens apart.
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """A key sent as `Idempotency-Key` on a POST, with what it did the first time.

    The row is inserted before the write it guards, in the same transaction,
    under a unique (user, key) constraint: a concurrent request with the same
    key waits on that insert and then replays the committed response.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and the canonical body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotencykey_unique_per_user")]
        indexes = [models.Index(fields=["expires_at"], name="idempotencykey_expires_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"

    @property
    def is_complete(self) -> bool:
        return self.response_status is not None
