"""Writing the audit log: one function, called by the services that change data."""

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import translation

from audit.models import AuditAction, AuditEvent


def _as_json(values: dict[str, object]) -> dict[str, object]:
    """The values as they will read back from the database: Decimal, date and
    UUID become strings now, so the returned event equals the stored one."""
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: models.Model | None,
    action: str,
    target: models.Model | tuple[str, str],
    client: models.Model | None,
    before: dict[str, object],
    after: dict[str, object],
    summary: object,
) -> AuditEvent:
    """Append one event to the audit log, inside the caller's transaction.

    Call it from the service that makes the change, in the same
    `transaction.atomic()` block: if the change rolls back, so does its
    event, and a committed change always has one. `target` is the object
    acted on (recorded by model name and public id), or a (type, id) pair for
    what is not a row, such as an address whose sign-ins were locked;
    `client` the client it concerns, if any; `actor` None for the system
    itself. `summary` may be a lazy translation: it is stored in the site's
    default language, so the log reads the same whichever language the actor
    was using.
    """
    if not transaction.get_connection().in_atomic_block:  # not an assert: `python -O` would drop it
        raise RuntimeError("Record an audit event inside the transaction of the change it describes.")
    if action not in AuditAction.values:
        raise ValueError(f"Unknown audit action {action!r}.")
    with translation.override(settings.LANGUAGE_CODE):
        text = str(summary)
    event = AuditEvent(
        actor=actor,
        action=action,
        summary=text[:500],
        target_type=target[0] if isinstance(target, tuple) else target._meta.model_name,
        target_id=target[1] if isinstance(target, tuple) else str(getattr(target, "public_id", None) or target.pk),
        client=client,
        before=_as_json(before),
        after=_as_json(after),
    )
    event.save()
    return event
