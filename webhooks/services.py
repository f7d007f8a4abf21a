"""Webhook endpoints (staff writes), emitting events, and delivering them.

`event_emit` is called by the service that makes the change, inside its
transaction: the event and its deliveries are rows of that transaction (an
outbox), and the deliveries are queued only after it commits, so a
rolled-back change sends nothing and a worker always finds the rows it is
told to send. When no endpoint subscribes to the kind, it does nothing but
read one cached set: the time-entry POST is a hot path.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.validators import check_single_line
from audit.models import AuditAction
from audit.services import audit_record
from webhooks import net
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event, EventKind

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # nosec B105: the public prefix of every secret
SIGNATURE_HEADER = "Blockhours-Signature"
KINDS_CACHE_KEY = "webhooks:subscribed-kinds"
# Short: a process that read the set just before an endpoint was saved keeps
# a stale copy at most this long (the save also clears it at once).
KINDS_CACHE_SECONDS = 60


# ---------------------------------------------------------------------------
# Which kinds anyone listens to (the cheap check)


def subscribed_kinds() -> frozenset[str]:
    try:
        kinds = cache.get(KINDS_CACHE_KEY)
    except Exception:  # a cache that is down must not stop time being logged
        kinds = None
    if kinds is None:
        kinds = sorted(
            {
                kind
                for events in Endpoint.objects.filter(is_active=True).values_list("events", flat=True)
                for kind in events
            }
        )
        try:
            cache.set(KINDS_CACHE_KEY, kinds, KINDS_CACHE_SECONDS)
        except Exception:  # noqa: S110 - read from the database next time too
            pass
    return frozenset(kinds)


def _forget_kinds() -> None:
    def forget() -> None:
        try:
            cache.delete(KINDS_CACHE_KEY)
        except Exception:  # noqa: S110 - expires by itself within KINDS_CACHE_SECONDS
            pass

    forget()
    # Again after commit: another process may have cached the old set in between.
    transaction.on_commit(forget, robust=True)


# ---------------------------------------------------------------------------
# Emitting


def _as_json(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def event_emit(kind: str, *, data: dict[str, Any] | Callable[[], dict[str, Any]]) -> Event | None:
    """Record an event and a delivery to each endpoint subscribed to it.

    `data` may be a function that builds the body, called only when someone
    listens. Call it inside the transaction of the change (like audit_record).
    """
    if kind not in EventKind.values:
        raise ValueError(f"Unknown webhook event {kind!r}.")
    if kind not in subscribed_kinds():
        return None
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Emit a webhook event inside the transaction of the change it describes.")
    endpoints = [endpoint for endpoint in Endpoint.objects.filter(is_active=True) if kind in endpoint.events]
    if not endpoints:
        return None
    event = Event.objects.create(kind=kind, data=_as_json(data() if callable(data) else data))
    deliveries = Delivery.objects.bulk_create([Delivery(endpoint=endpoint, event=event) for endpoint in endpoints])
    for delivery in deliveries:
        _queue_after_commit(delivery.pk)
    return event


def _queue_after_commit(delivery_id: int) -> None:
    from webhooks.tasks import queue_delivery  # tasks import this module

    # After commit: a worker must find the rows. robust: a broker outage does
    # not fail the change; the catch-up task sends every due delivery.
    transaction.on_commit(lambda: queue_delivery(delivery_id), robust=True)


def event_body(event: Event) -> dict[str, Any]:
    """The JSON body every delivery of the event carries (WebhookEvent in the OpenAPI document)."""
    return {
        "id": str(event.public_id),
        "type": event.kind,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# ---------------------------------------------------------------------------
# Endpoints (staff)


@dataclass(frozen=True)
class NewSecret:
    endpoint: Endpoint
    secret: str  # shown once


def _check_staff(actor: Any, message: str) -> None:
    if actor is None or not actor.is_msp_staff:
        raise PermissionDenied(message)


def _clean(
    url: object, description: object, events: object, *, unchanged_url: str | None = None
) -> tuple[str, str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = url.strip() if isinstance(url, str) else ""
    if not url:
        errors["url"] = [gettext("Enter the URL that receives the webhooks.")]
    elif len(url) > 500:
        errors["url"] = [gettext("A URL has at most 500 characters.")]
    else:
        try:
            check_single_line(url=url)
            if url != unchanged_url:  # pausing an endpoint whose host is gone must stay possible
                net.url_check(url)
        except ValidationError as error:
            errors.update(error.message_dict)
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > 100:
        errors["description"] = [gettext("A description has at most 100 characters.")]
    else:
        try:
            check_single_line(description=description)
        except ValidationError as error:
            errors.update(error.message_dict)
    chosen = list(events) if isinstance(events, list | tuple) else []
    if not chosen:
        errors["events"] = [gettext("Choose at least one event.")]
    elif unknown := [kind for kind in chosen if kind not in EventKind.values]:
        errors["events"] = [gettext("Unknown event: %(kinds)s.") % {"kinds": ", ".join(map(str, unknown))[:200]}]
    if errors:
        raise ValidationError(errors)
    return url, description, [kind for kind in EventKind.values if kind in chosen]


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _snapshot(endpoint: Endpoint) -> dict[str, object]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.is_active,
    }


def endpoint_create(*, url: str, events: list[str], actor: Any, description: str = "") -> NewSecret:
    """Register an endpoint; its signing secret is returned here and never shown again."""
    _check_staff(actor, gettext("Only MSP staff can register webhook endpoints."))
    url, description, events = _clean(url, description, events)
    secret = _new_secret()
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            url=url, description=description, events=events, secret=secret, created_by=actor
        )
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_CREATE,
            target=endpoint,
            client=None,
            before={},
            after=_snapshot(endpoint),
            summary=format_lazy(gettext_lazy("Registered webhook endpoint {url}."), url=url),
        )
        _forget_kinds()
    return NewSecret(endpoint=endpoint, secret=secret)


def endpoint_update(*, endpoint: Endpoint, actor: Any, **changes: Any) -> Endpoint:
    """Change an endpoint's URL, description, events or active flag."""
    _check_staff(actor, gettext("Only MSP staff can change webhook endpoints."))
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = _snapshot(endpoint)
        url, description, events = _clean(
            changes.get("url", endpoint.url),
            changes.get("description", endpoint.description),
            changes.get("events", endpoint.events),
            unchanged_url=endpoint.url,
        )
        is_active = changes.get("is_active", endpoint.is_active)
        if not isinstance(is_active, bool):
            raise ValidationError({"is_active": gettext("Say whether the endpoint is active: true or false.")})
        endpoint.url, endpoint.description, endpoint.events, endpoint.is_active = url, description, events, is_active
        after = _snapshot(endpoint)
        if after == before:
            return endpoint
        endpoint.save(update_fields=["url", "description", "events", "is_active"])
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_UPDATE,
            target=endpoint,
            client=None,
            before={key: value for key, value in before.items() if after[key] != value},
            after={key: value for key, value in after.items() if before[key] != value},
            summary=format_lazy(gettext_lazy("Changed webhook endpoint {url}."), url=url),
        )
        _forget_kinds()
    return endpoint


def endpoint_delete(*, endpoint: Endpoint, actor: Any) -> None:
    """Remove an endpoint with its delivery log; nothing more is sent to it."""
    _check_staff(actor, gettext("Only MSP staff can remove webhook endpoints."))
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_DELETE,
            target=endpoint,
            client=None,
            before=_snapshot(endpoint),
            after={},
            summary=format_lazy(gettext_lazy("Removed webhook endpoint {url}."), url=endpoint.url),
        )
        Endpoint.objects.filter(pk=endpoint.pk).delete()
        _forget_kinds()


def endpoint_rotate_secret(*, endpoint: Endpoint, actor: Any) -> NewSecret:
    """A new signing secret, at once: the old one signs nothing from now on."""
    _check_staff(actor, gettext("Only MSP staff can rotate webhook secrets."))
    secret = _new_secret()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.secret = secret
        endpoint.secret_rotated_at = timezone.now()
        endpoint.save(update_fields=["secret", "secret_rotated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ROTATE,
            target=endpoint,
            client=None,
            before={},
            after={"secret_rotated_at": endpoint.secret_rotated_at},
            summary=format_lazy(
                gettext_lazy("Rotated the signing secret of webhook endpoint {url}."), url=endpoint.url
            ),
        )
    return NewSecret(endpoint=endpoint, secret=secret)


def delivery_resend(*, delivery: Delivery, actor: Any) -> Delivery:
    """Send a delivery again (the same event id), with a fresh day of retries."""
    _check_staff(actor, gettext("Only MSP staff can resend webhooks."))
    with transaction.atomic():
        now = timezone.now()
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, first_attempt_at=now, delivered_at=None
        )
        delivery.refresh_from_db()
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_RESEND,
            target=delivery.endpoint,
            client=None,
            before={},
            after={"event": str(delivery.event.public_id), "type": delivery.event.kind},
            summary=format_lazy(
                gettext_lazy("Resent webhook event {event} to {url}."),
                event=str(delivery.event.public_id),
                url=delivery.endpoint.url,
            ),
        )
        _queue_after_commit(delivery.pk)
    return delivery


# ---------------------------------------------------------------------------
# Delivering


@dataclass(frozen=True)
class Attempt:
    outcome: str  # delivered, retry, failed, skipped
    retry_in: int = 0


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: doubling from a minute, capped (below the broker's visibility timeout)."""
    return min(60 * 2 ** max(attempts - 1, 0), settings.WEBHOOKS_RETRY_MAX_DELAY)


def delivery_attempt(*, delivery_id: int) -> Attempt:
    """One attempt, if the delivery is pending and due; safe to run twice.

    The claim is a conditional UPDATE that moves the due time past the
    attempt's timeout: a second task running at the same moment changes no
    row and leaves, so a receiver that acknowledges gets each event once.
    """
    now = timezone.now()
    lease = datetime.timedelta(seconds=settings.WEBHOOKS_TIMEOUT + 30)
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + lease, attempts=F("attempts") + 1, last_attempt_at=now
    )
    if not claimed:
        return Attempt("skipped")  # delivered, failed, not due, or another worker has it
    delivery = Delivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    body = json.dumps(event_body(delivery.event), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Blockhours-Webhooks/1",
        "Blockhours-Event": delivery.event.kind,
        "Blockhours-Event-Id": str(delivery.event.public_id),
        "Blockhours-Delivery": str(delivery.public_id),
        SIGNATURE_HEADER: sign(delivery.endpoint.secret, int(time.time()), body),
    }
    status_code, error = None, ""
    try:
        status_code = net.post(delivery.endpoint.url, body, headers, timeout=settings.WEBHOOKS_TIMEOUT)
    except net.UnsafeAddress as refused:
        error = str(refused)
    except TimeoutError:
        error = gettext("No answer within %(seconds)s seconds.") % {"seconds": settings.WEBHOOKS_TIMEOUT}
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"
    done = timezone.now()
    if status_code is not None and 200 <= status_code < 300:
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.DELIVERED, delivered_at=done, last_status_code=status_code, last_error=""
        )
        return Attempt("delivered")
    if status_code is not None:
        error = gettext("The receiver answered %(status)s.") % {"status": status_code}
    give_up_at = delivery.first_attempt_at + datetime.timedelta(hours=settings.WEBHOOKS_RETRY_HOURS)
    delay = retry_delay(delivery.attempts)
    if done + datetime.timedelta(seconds=delay) > give_up_at:
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED, last_status_code=status_code, last_error=error[:500]
        )
        log.warning("Webhook delivery %s failed for good after %s attempts: %s", delivery_id, delivery.attempts, error)
        return Attempt("failed")
    Delivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=done + datetime.timedelta(seconds=delay), last_status_code=status_code, last_error=error[:500]
    )
    log.info("Webhook delivery %s not acknowledged (%s); retrying in %ss", delivery_id, error, delay)
    return Attempt("retry", delay)


def deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come: the catch-up for lost queue messages and retries."""
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
