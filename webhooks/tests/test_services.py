"""Emitting events from the services where things happen, endpoint rules, SSRF, audit."""

import copy

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator

from agreements.models import Agreement
from agreements.services import time_entry_log, time_entry_void
from agreements.tests.factories import tier, work_type
from audit.models import AuditEvent
from billing.services import invoice_sell_block, payment_record
from notifications.models import EpisodeKind
from notifications.services import episode_open
from webhooks import services
from webhooks.models import Delivery, Endpoint, Event, EventKind

pytestmark = pytest.mark.django_db
ALL = EventKind.values


@pytest.fixture
def queued(monkeypatch):
    """Delivery ids handed to Celery (after commit)."""
    ids: list[int] = []
    monkeypatch.setattr("webhooks.tasks.queue_delivery", ids.append)
    return ids


@pytest.fixture
def endpoint(staff):
    return services.endpoint_create(url="http://127.0.0.1:9/hook", events=ALL, actor=staff).endpoint


def _paid_block(agreement, staff, hours=10):
    invoice = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(hours))
    payment_record(
        invoice=invoice,
        amount=invoice.total,
        method="ach",
        reference=f"ACH-{hours}",
        paid_on=timezone.localdate(),
        actor=staff,
    )
    invoice.refresh_from_db()
    return invoice


def _log(agreement, technician, ticket, minutes=90):
    return time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=minutes,
        work_type=work_type(),
        notes="Replaced the firewall",
    )


# ---------------------------------------------------------------------------
# Nobody listening: no work


def test_it_does_no_query_when_nobody_subscribes(django_assert_num_queries):
    services.subscribed_kinds()  # the cached set, read once per KINDS_CACHE_SECONDS
    with transaction.atomic(), django_assert_num_queries(0):
        assert services.event_emit(EventKind.TIME_ENTRY_CREATED, data=lambda: pytest.fail("built the body")) is None


def test_logging_time_writes_no_event_when_nobody_subscribes(agreement, staff, technician, ticket, seller):
    services.endpoint_create(url="http://127.0.0.1:9/hook", events=["invoice.paid"], actor=staff)
    _paid_block(agreement, staff)
    Event.objects.all().delete()

    _log(agreement, technician, ticket)

    assert not Event.objects.exists()


def test_a_new_endpoint_is_heard_at_once(staff, queued, django_capture_on_commit_callbacks):
    assert services.subscribed_kinds() == frozenset()  # cached empty
    services.endpoint_create(url="http://127.0.0.1:9/hook", events=["balance.low"], actor=staff)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = services.event_emit("balance.low", data={})

    assert event is not None
    assert queued == [Delivery.objects.get(event=event).pk]


def test_a_rolled_back_change_sends_nothing(endpoint, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.event_emit("invoice.paid", data={"n": 1})
            raise RuntimeError("the change failed")

    assert not Event.objects.exists() and not Delivery.objects.exists()
    assert callbacks == [] and queued == []


def test_deliveries_are_queued_only_after_commit(endpoint, staff, queued, django_capture_on_commit_callbacks):
    other = services.endpoint_create(url="http://127.0.0.1:9/other", events=["invoice.paid"], actor=staff).endpoint
    services.endpoint_create(url="http://127.0.0.1:9/not-this", events=["balance.low"], actor=staff)
    paused = services.endpoint_create(url="http://127.0.0.1:9/paused", events=["invoice.paid"], actor=staff).endpoint
    services.endpoint_update(endpoint=paused, actor=staff, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            event = services.event_emit("invoice.paid", data={"n": 1})
            assert queued == []  # not before the commit: a worker would not find the rows

    deliveries = Delivery.objects.filter(event=event).order_by("pk")
    assert [d.endpoint for d in deliveries] == [endpoint, other]
    assert queued == [d.pk for d in deliveries]


# ---------------------------------------------------------------------------
# Each event, from the service where it happens


def test_selling_and_paying_a_block_emits_issued_credited_and_paid(agreement, staff, endpoint, seller):
    invoice = _paid_block(agreement, staff)

    events = list(Event.objects.order_by("pk"))
    assert [e.kind for e in events] == ["invoice.issued", "block.credited", "invoice.paid"]
    about = {
        "client": {"id": str(agreement.client.public_id), "name": "Acme Dental"},
        "agreement": {"id": str(agreement.public_id), "name": agreement.name},
    }
    issued, credited, paid = (e.data for e in events)
    assert issued == {
        **about,
        "invoice": {
            "id": str(invoice.public_id),
            "number": invoice.number,
            "kind": invoice.kind,
            "status": "issued",
            "currency": "USD",
            "total": f"{invoice.total:.2f}",
            "issued_on": timezone.localdate().isoformat(),
            "due_on": invoice.due_on.isoformat(),
            "paid_at": None,
        },
    }
    assert credited == {
        **about,
        "block": {"id": str(invoice.block.public_id), "minutes": 600, "credit": "purchase"},
        "balance_minutes": 600,
    }
    assert paid["invoice"]["status"] == "paid"
    assert paid["invoice"]["paid_at"] == invoice.paid_at.isoformat().replace("+00:00", "Z")


def test_logging_and_voiding_time_emit_created_and_voided(agreement, staff, technician, ticket, endpoint, seller):
    _paid_block(agreement, staff)
    entry = _log(agreement, technician, ticket, minutes=90)
    time_entry_void(time_entry=entry, actor=staff, reason="Wrong ticket")

    created, voided = Event.objects.filter(kind__startswith="time_entry").order_by("pk")
    assert created.kind == "time_entry.created"
    assert created.data["time_entry"] == {
        "id": str(entry.public_id),
        "ticket": ticket.number,
        "technician": "tess",
        "work_date": timezone.localdate().isoformat(),
        "minutes": 90,
        "charged_minutes": 90,
        "work_type": "Normal",
        "voided": False,
        "void_reason": "",
    }
    assert created.data["balance_minutes"] == 510
    assert voided.kind == "time_entry.voided"
    assert (voided.data["time_entry"]["voided"], voided.data["time_entry"]["void_reason"]) == (True, "Wrong ticket")
    assert voided.data["balance_minutes"] == 600


def test_a_replayed_time_entry_emits_nothing_more(agreement, staff, technician, ticket, endpoint, seller):
    _paid_block(agreement, staff)
    kwargs = dict(
        agreement=agreement, technician=technician, ticket=ticket, work_date=timezone.localdate(),
        minutes=30, work_type=work_type(), idempotency_key="retry-1",
    )  # fmt: skip
    time_entry_log(**kwargs)
    time_entry_log(**kwargs)

    assert Event.objects.filter(kind="time_entry.created").count() == 1


def test_a_low_and_an_exhausted_episode_emit_once_each(agreement, staff, endpoint, seller):
    agreement.balance_minutes = 60
    assert episode_open(agreement=agreement, kind=EpisodeKind.LOW_BALANCE) is not None
    assert episode_open(agreement=agreement, kind=EpisodeKind.LOW_BALANCE) is None  # another sweep got there first
    agreement.balance_minutes = 0
    episode_open(agreement=agreement, kind=EpisodeKind.EXHAUSTED)
    episode_open(agreement=agreement, kind=EpisodeKind.USAGE)

    low, exhausted = Event.objects.order_by("pk")
    assert (low.kind, exhausted.kind) == ("balance.low", "balance.exhausted")
    assert low.data["balance_minutes"] == 60
    assert low.data["threshold_minutes"] == Agreement.objects.get(pk=agreement.pk).low_balance_threshold_minutes
    assert exhausted.data["balance_minutes"] == 0


def _nullable_as_json_schema(node):
    """OpenAPI 3.0's `nullable` in JSON Schema terms, so jsonschema can check a body."""
    if isinstance(node, dict):
        node = {key: _nullable_as_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_nullable_as_json_schema(item) for item in node]
    return node


def test_every_body_matches_the_openapi_document(agreement, staff, technician, ticket, endpoint, seller):
    _paid_block(agreement, staff)
    time_entry_void(time_entry=_log(agreement, technician, ticket), actor=staff, reason="Wrong ticket")
    agreement.refresh_from_db()
    episode_open(agreement=agreement, kind=EpisodeKind.LOW_BALANCE)
    agreement.balance_minutes = 0
    episode_open(agreement=agreement, kind=EpisodeKind.EXHAUSTED)
    components = _nullable_as_json_schema(copy.deepcopy(SchemaGenerator().get_schema(public=True)["components"]))
    validator = Draft202012Validator({"$ref": "#/components/schemas/WebhookEvent", "components": components})

    events = list(Event.objects.all())
    assert {e.kind for e in events} == set(ALL)
    for event in events:
        body = services.event_body(event)
        errors = [error.message for error in validator.iter_errors(body)]
        assert not errors, (event.kind, errors)
        kind_schema = components["schemas"][
            components["schemas"]["WebhookEvent"]["discriminator"]["mapping"][event.kind].rsplit("/", 1)[1]
        ]
        assert Draft202012Validator({**kind_schema, "components": components}).is_valid(body), event.kind


# ---------------------------------------------------------------------------
# Endpoints: who, what, where


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_it_refuses_private_addresses_in_production(staff, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as refused:
        services.endpoint_create(url=url, events=["invoice.paid"], actor=staff)
    assert "webhooks go to public hosts only" in refused.value.message_dict["url"][0]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://x/",
        "https://",
        "http://x:99999/",
    ],
)
def test_it_accepts_only_http_urls(staff, url):
    with pytest.raises(ValidationError) as refused:
        services.endpoint_create(url=url, events=["invoice.paid"], actor=staff)
    assert "url" in refused.value.message_dict


def test_it_accepts_a_public_address_in_production(staff, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    new = services.endpoint_create(url="https://93.184.216.34/hooks", events=["invoice.paid"], actor=staff)
    assert new.endpoint.url == "https://93.184.216.34/hooks"


def test_it_refuses_unknown_or_no_events(staff):
    with pytest.raises(ValidationError) as none:
        services.endpoint_create(url="http://127.0.0.1/x", events=[], actor=staff)
    with pytest.raises(ValidationError) as unknown:
        services.endpoint_create(url="http://127.0.0.1/x", events=["invoice.deleted"], actor=staff)
    assert none.value.message_dict == {"events": ["Choose at least one event."]}
    assert unknown.value.message_dict == {"events": ["Unknown event: invoice.deleted."]}


def test_only_staff_manage_endpoints(technician, alice, endpoint):
    for someone in (technician, alice):
        with pytest.raises(PermissionDenied):
            services.endpoint_create(url="http://127.0.0.1/x", events=["invoice.paid"], actor=someone)
        with pytest.raises(PermissionDenied):
            services.endpoint_rotate_secret(endpoint=endpoint, actor=someone)
        with pytest.raises(PermissionDenied):
            services.endpoint_delete(endpoint=endpoint, actor=someone)


def test_the_secret_is_stored_to_sign_and_each_endpoint_has_its_own(staff):
    first = services.endpoint_create(url="http://127.0.0.1/a", events=["invoice.paid"], actor=staff)
    second = services.endpoint_create(url="http://127.0.0.1/b", events=["invoice.paid"], actor=staff)
    assert first.secret.startswith("whsec_") and len(first.secret) == 6 + 43
    assert first.secret != second.secret
    assert Endpoint.objects.get(pk=first.endpoint.pk).secret == first.secret


def test_every_endpoint_change_is_audited(staff):
    new = services.endpoint_create(url="http://127.0.0.1/a", events=["invoice.paid"], description="PSA", actor=staff)
    services.endpoint_update(endpoint=new.endpoint, actor=staff, events=["invoice.paid", "balance.low"])
    services.endpoint_update(endpoint=new.endpoint, actor=staff, events=["balance.low", "invoice.paid"])  # no change
    services.endpoint_rotate_secret(endpoint=new.endpoint, actor=staff)
    services.endpoint_delete(endpoint=new.endpoint, actor=staff)

    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == ["webhook.create", "webhook.update", "webhook.rotate", "webhook.delete"]
    assert events[0].after == {
        "url": "http://127.0.0.1/a",
        "description": "PSA",
        "events": ["invoice.paid"],
        "active": True,
    }
    assert (events[1].before, events[1].after) == (
        {"events": ["invoice.paid"]},
        {"events": ["balance.low", "invoice.paid"]},
    )
    assert all(new.secret not in str(e.after) + str(e.before) + e.summary for e in events)
    assert events[3].summary == "Removed webhook endpoint http://127.0.0.1/a."
    assert {e.actor for e in events} == {staff}


def test_an_endpoint_whose_host_is_gone_can_still_be_paused(staff, settings):
    new = services.endpoint_create(url="https://93.184.216.34/hook", events=["invoice.paid"], actor=staff)
    Endpoint.objects.update(url="http://no-such-host.invalid/hook")  # its name stopped resolving since
    new.endpoint.refresh_from_db()
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    services.endpoint_update(endpoint=new.endpoint, actor=staff, is_active=False)
    with pytest.raises(ValidationError) as refused:
        services.endpoint_update(endpoint=new.endpoint, actor=staff, url="http://also-gone.invalid/hook")

    assert Endpoint.objects.get().is_active is False
    assert refused.value.message_dict == {"url": ["The host also-gone.invalid cannot be resolved."]}
