"""Tenant isolation, proven for every door: a walker over the URL configuration.

Every named route must be listed in ROUTES below (a new route fails
`test_it_classifies_every_route` until it is). For each route that takes an
object, the test builds the URL of client A's object and requests it as
Charlie (a contact of client B), as a technician, and anonymously:

* Charlie: 404 on every object of client A and on every page or endpoint his
  role may not use — never a 403, which would confirm that the page exists.
  The answer is the very same (status and body) for an id that does not
  exist, and on role-restricted pages the same as for a URL that does not
  exist (checked), so it tells Charlie nothing about client A.
* Technician: 404 where technicians have no access; "allowed" routes are
  MSP pages technicians legitimately use (they see every client by design).
* Anonymous: a redirect to the login page, or 401/403 from the API.

Action routes are also POSTed, and nothing of client A may change.
List endpoints, CSV exports and portal pages fetched by Charlie must not
contain client A's name, ticket subject or invoice number.
"""

import uuid
from dataclasses import dataclass
from http import HTTPStatus

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Invitation
from agreements.models import (
    Agreement,
    BusinessHours,
    ChargeQuestion,
    Estimate,
    Holiday,
    LedgerEntry,
    TimeEntry,
    Timer,
)
from agreements.services import estimate_create, question_raise, time_entry_log, timer_start
from agreements.services.calendar import holiday_add
from agreements.tests.factories import TicketFactory, tier, work_type
from api.models import ApiToken
from api.services import token_create
from billing.credit_notes import block_unused_cancel
from billing.models import CreditNote, Invoice, Payment
from billing.services import invoice_sell_block, payment_record
from imports.services import import_upload
from notifications.models import EmailKind, EmailStatus, OutgoingEmail
from portal.models import HoursRequest
from portal.services import hours_request_create
from webhooks.models import Delivery, Endpoint, Event
from webhooks.services import endpoint_create as webhook_endpoint_create

CLIENT_A_NAME = "Acme Dental"
TICKET_A_SUBJECT = "Acme secret server room"

# Who may reach a route at all (the role check, before any object lookup).
STAFF = "staff"  # ui.access.staff_required or a staff-only API action: Charlie and technicians 404
MSP = "msp"  # staff and technicians: Charlie 404 (the role check on pages, the scoped lookup in the API)
CLIENT = "client"  # client contacts only (portal): Charlie 404 on client A's objects, technicians 404
ANY = "any"  # any signed-in user; the scoped selector decides: Charlie 404
BILLING = "billing"  # staff and the client's own contacts (invoices, PDFs, statements, purchases): technicians 404


@dataclass(frozen=True)
class Route:
    obj: str | None  # the kind of client A object in the URL; None: no object
    audience: str = ANY
    post: bool = False  # an action: POSTed too
    post_only: bool = False  # GET answers 405 before any lookup, so only POST is tried
    api: bool = False
    skip: str = ""  # why the walker does not request it


def _api(obj: str | None, audience: str = ANY, *, post_only: bool = False) -> Route:
    return Route(obj, audience, post=post_only, post_only=post_only, api=True)


ROUTES: dict[str, Route] = {
    # --- monitoring (monitoring/tests prove each)
    "healthz": Route(None, skip='public liveness probe: {"status": "ok"}, reads nothing'),
    "readyz": Route(None, skip="public readiness probe: which servers answer, no client data"),
    "metrics": Route(None, skip="404 for everyone without the METRICS_TOKEN bearer; counts, no client data"),
    # --- accounts
    "home": Route(None),
    "login": Route(None, skip="public sign-in form"),
    "logout": Route(None, skip="public; ends the caller's own session"),
    "password_change": Route(None),
    "password_change_done": Route(None),
    "password_reset": Route(None, skip="public form; answers the same for any address"),
    "password_reset_done": Route(None, skip="public confirmation page"),
    "password_reset_confirm": Route(None, skip="public; a signed uid+token, not an object id of a client"),
    "password_reset_complete": Route(None, skip="public confirmation page"),
    "invitation_accept": Route(None, skip="public; an unguessable signed invitation token is the credential"),
    # Any signed-in user may confirm their own password; it shows nothing of anyone else.
    "reauth": Route(None, post=True),
    "language_choose": Route(None, skip="public; sets the caller's own language, takes no object id"),
    # --- staff dashboard
    "dashboard:home": Route(None, STAFF),
    "dashboard:client_new": Route(None, STAFF, post=True),
    "dashboard:client": Route("client", STAFF),
    "dashboard:client_edit": Route("client", STAFF, post=True),
    "dashboard:agreement_new": Route("client", STAFF, post=True),
    "dashboard:agreement_edit": Route("agreement", STAFF, post=True),
    "dashboard:agreement_move": Route("agreement", STAFF, post=True),
    "dashboard:agreement_work_types": Route("agreement", STAFF, post=True),
    "dashboard:contact_invite": Route("client", STAFF, post=True),
    "dashboard:contact_reinvite": Route("contact", STAFF, post=True),
    "dashboard:block_sell": Route("agreement", STAFF, post=True),
    "dashboard:adjust": Route("agreement", STAFF, post=True),
    "dashboard:overage_bill": Route("agreement", STAFF, post=True),
    "dashboard:agreement_cancel": Route("agreement", STAFF, post=True),
    "dashboard:block_cancel": Route("block", STAFF, post=True),
    "dashboard:block_expiry": Route("block", STAFF, post=True),
    "dashboard:reload_draft": Route("invoice", STAFF, post=True),
    "dashboard:block_goodwill": Route("agreement", STAFF, post=True),
    "dashboard:block_move": Route("block", STAFF, post=True),
    "dashboard:technician_invite": Route(None, STAFF, post=True),
    "dashboard:team": Route(None, STAFF),
    "dashboard:member_reinvite": Route("member", STAFF, post=True, post_only=True),
    "dashboard:request_handled": Route("hours_request", STAFF, post=True),
    "dashboard:question_resolve": Route("question", STAFF, post=True),
    "dashboard:business_hours": Route(None, STAFF, post=True),
    "dashboard:holiday_add": Route(None, STAFF, post=True, post_only=True),
    "dashboard:holiday_remove": Route("holiday", STAFF, post=True, post_only=True),
    "dashboard:work_types": Route(None, STAFF),
    "dashboard:work_type_new": Route(None, STAFF, post=True),
    "dashboard:work_type_edit": Route("work_type", STAFF, post=True),
    "dashboard:lockouts": Route(None, STAFF),
    "dashboard:lockout_unlock": Route(None, STAFF, post=True),
    # --- client imports (staff): a run is the MSP's, not a client's, but its file names clients
    "imports:upload": Route(None, STAFF, post=True),
    "imports:template": Route(None, STAFF),
    "imports:run": Route("import_run", STAFF),
    "imports:confirm": Route("import_run", STAFF, post=True, post_only=True),
    "imports:status": Route("import_run", STAFF),
    # Webhooks are an MSP setting (their events name every client): staff only.
    "dashboard:webhooks": Route(None, STAFF, post=True),
    "dashboard:webhook": Route("webhook", STAFF, post=True),
    "dashboard:webhook_rotate": Route("webhook", STAFF, post=True, post_only=True),
    "dashboard:webhook_delete": Route("webhook", STAFF, post=True, post_only=True),
    "dashboard:webhook_resend": Route("webhook_delivery", STAFF, post=True, post_only=True),
    # --- timesheet
    "timesheet:log": Route(None, MSP),
    "timesheet:mine": Route(None, MSP),
    "timesheet:void": Route("time_entry", MSP, post=True),
    "timesheet:correct": Route("time_entry", MSP, post=True),
    # The caller's own timer only (no id in the URL): Charlie 404 by role.
    "timesheet:timer_start": Route(None, MSP, post=True),
    "timesheet:timer_discard": Route(None, MSP, post=True),
    "timesheet:estimate_new": Route(None, MSP, post=True),
    "timesheet:estimate_cancel": Route("estimate", MSP, post=True, post_only=True),
    # --- client portal
    "portal:home": Route(None, CLIENT),
    "portal:agreement": Route("agreement", CLIENT),
    "portal:usage_csv": Route("agreement", CLIENT),
    "portal:buy": Route("agreement", CLIENT, post=True),
    "portal:question": Route("time_entry", CLIENT, post=True),
    "portal:estimates": Route(None, CLIENT),
    "portal:estimate_approve": Route("estimate", CLIENT, post=True, post_only=True),
    "portal:estimate_decline": Route("estimate", CLIENT, post=True, post_only=True),
    "portal:estimate_link": Route(
        None, skip="public; the signed link names one estimate and one action (portal/tests/test_estimates.py)"
    ),
    # --- reports
    "reports:index": Route(None, STAFF),
    "reports:revenue": Route(None, STAFF),
    "reports:usage": Route(None, STAFF),
    "reports:runway": Route(None, STAFF),
    "reports:cash": Route(None, STAFF),
    "reports:msa": Route(None, STAFF),
    "reports:accounting": Route(None, STAFF),
    "reports:questions": Route(None, STAFF),
    "reports:statement": Route("statement", BILLING),
    # --- billing and notifications
    "billing:invoices": Route(None, STAFF),
    "billing:invoice": Route("invoice", STAFF),
    "billing:invoice_payment": Route("invoice", STAFF, post=True),
    "billing:invoice_void": Route("invoice", STAFF, post=True),
    "billing:invoice_pdf": Route("invoice", BILLING),
    "billing:credit_note_pdf": Route("credit_note", BILLING),
    "notifications:invoice_send": Route("invoice", STAFF, post=True),
    # --- online payments (payments/tests prove the links and the webhook)
    "payments:portal_pay": Route("invoice", CLIENT),
    "payments:payment_method": Route(
        None, skip="404 while Stripe is off, as here; with Stripe on, payments/tests/test_saved_method.py walks it"
    ),
    "payments:pay": Route(None, skip="public; the signed pay link of one invoice is the credential"),
    "payments:webhook": Route(None, skip="Stripe's webhook: 404 without keys, 400 without Stripe's signature"),
    "payments:refund_retry": Route("credit_note", STAFF, post=True),
    "notifications:undelivered": Route(None, STAFF),
    "notifications:email_resend": Route("email", STAFF, post=True),
    # --- audit log
    "audit:events": Route(None, STAFF),
    # --- REST API (each name covers the plain and the `.json` suffix pattern)
    "api:api-root": _api(None),
    "api:schema": _api(None),
    "api:docs": Route(None, skip="static Swagger UI page; the data comes from api:schema"),
    "api:client-list": _api(None),
    "api:client-detail": _api("client"),
    "api:client-contacts": _api("client"),
    "api:client-contact-invitation": _api("api_contact", STAFF, post_only=True),
    "api:tier-list": _api(None),
    "api:tier-detail": Route(None, skip="price-list catalogue shared by all clients, not client data"),
    "api:work-type-list": _api(None),
    "api:work-type-detail": Route(None, skip="price-list catalogue shared by all clients, not client data"),
    "api:ticket-list": _api(None),
    "api:ticket-detail": _api("ticket", MSP),
    "api:agreement-list": _api(None),
    "api:agreement-detail": _api("agreement", MSP),
    "api:agreement-ledger": _api("agreement", MSP),
    "api:agreement-purchases": _api("agreement", BILLING),
    # The object is looked up (404 for Charlie) before the staff check (404 for a technician too).
    "api:agreement-adjustments": _api("agreement", BILLING, post_only=True),
    "api:agreement-overage-invoice": _api("agreement", BILLING, post_only=True),
    "api:agreement-cancel": _api("agreement", BILLING, post_only=True),
    "api:agreement-purchase-cancel": _api("agreement_block", BILLING, post_only=True),
    "api:agreement-purchase-expiry": _api("agreement_block", BILLING, post_only=True),
    "api:agreement-goodwill": _api("agreement", BILLING, post_only=True),
    "api:agreement-purchase-move": _api("agreement_block", BILLING, post_only=True),
    "api:time-entry-list": _api(None),
    "api:time-entry-detail": _api("time_entry", MSP),
    "api:time-entry-void": _api("time_entry", MSP, post_only=True),
    # Timers: a technician's own (staff list all); Charlie's list is empty, any timer 404.
    "api:timer-list": _api(None),
    "api:timer-detail": _api("timer", MSP),
    "api:timer-stop": _api("timer", MSP, post_only=True),
    "api:invoice-list": _api(None),
    "api:invoice-detail": _api("invoice", BILLING),
    "api:invoice-payments": _api("invoice", BILLING),
    "api:invoice-pdf": _api("invoice", BILLING),
    "api:invoice-reload-block": _api("invoice", STAFF, post_only=True),
    "api:invoice-reload-issue": _api("invoice", STAFF, post_only=True),
    "api:invoice-reload-discard": _api("invoice", STAFF, post_only=True),
    "api:credit-note-list": _api(None),
    # Questions are between a client's contacts and staff: technicians 404.
    "api:question-list": _api(None, BILLING),
    "api:question-detail": _api("question", BILLING),
    "api:question-resolve": _api("question", BILLING, post_only=True),
    "api:estimate-list": _api(None, ANY),
    "api:estimate-detail": _api("estimate", ANY),
    "api:estimate-cancel": _api("estimate", MSP, post_only=True),
    "api:estimate-approve": _api("estimate", CLIENT, post_only=True),
    "api:estimate-decline": _api("estimate", CLIENT, post_only=True),
    "api:credit-note-detail": _api("credit_note", BILLING),
    "api:credit-note-pdf": _api("credit_note", BILLING),
    # Tokens belong to users, not clients; the whole viewset is staff-only.
    "api:token-list": _api(None, STAFF),
    "api:token-detail": _api("token", STAFF),
    "api:token-revoke": _api("token", STAFF, post_only=True),
    # The MSP's calendar is no client's data; staff-only, like tokens.
    "api:business-hours-list": _api(None, STAFF),
    "api:business-hours-detail": _api("weekday", STAFF),
    "api:holiday-list": _api(None, STAFF),
    "api:holiday-detail": _api("holiday", STAFF),
    # Webhooks: staff-only like tokens; a delivery's event body names client A.
    "api:webhook-endpoint-list": _api(None, STAFF),
    "api:webhook-endpoint-detail": _api("webhook", STAFF),
    "api:webhook-endpoint-rotate-secret": _api("webhook", STAFF, post_only=True),
    "api:webhook-endpoint-deliveries": _api("webhook", STAFF),
    "api:webhook-delivery-detail": _api("webhook_delivery", STAFF),
    "api:webhook-delivery-resend": _api("webhook_delivery", STAFF, post_only=True),
    "api:webhook-event-list": _api(None, STAFF),
    "api:webhook-event-detail": _api("webhook_event", STAFF),
}
ADMIN_REASON = "superuser only; Django admin's own permission checks"


# ---------------------------------------------------------------------------
# Walking the URL configuration


@dataclass(frozen=True)
class Pattern:
    name: str
    route: str
    args: frozenset[str]  # the URL's keyword arguments (converters or regex groups)


def _walk(resolver: URLResolver, prefix: str = "", namespaces: tuple[str, ...] = ()) -> list[Pattern]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _walk(entry, route, namespaces + ((entry.namespace,) if entry.namespace else ()))
        elif isinstance(entry, URLPattern):
            name = ":".join(namespaces + (entry.name or f"<unnamed {route}>",))
            args = set(getattr(entry.pattern, "converters", {})) | set(entry.pattern.regex.groupindex)
            found.append(Pattern(name, route, frozenset(args)))
    return found


PATTERNS = _walk(get_resolver())
WALKED = [p for p in PATTERNS if not p.name.startswith("admin:") and not ROUTES.get(p.name, Route(None)).skip]


def test_it_classifies_every_route():
    unlisted = sorted(
        {f"{p.name} ({p.route})" for p in PATTERNS if p.name not in ROUTES and not p.name.startswith("admin:")}
    )
    assert not unlisted, "Routes missing from tests/test_isolation.py ROUTES (classify them): " + ", ".join(unlisted)
    stale = sorted(set(ROUTES) - {p.name for p in PATTERNS})
    assert not stale, f"ROUTES lists routes that no longer exist: {stale}"


def test_it_takes_object_arguments_only_where_the_table_says_so():
    """A route the table calls object-free must not take an id (else it would escape the walker)."""
    for p in WALKED:
        object_args = p.args - {"format"}
        if ROUTES[p.name].obj is None:
            assert not object_args, f"{p.name} takes {sorted(object_args)} but ROUTES says it has no object"
        else:
            assert object_args, f"{p.name} takes no object id but ROUTES says {ROUTES[p.name].obj}"


# ---------------------------------------------------------------------------
# Client A's world


@pytest.fixture
def world(client_a, alice, charlie, staff, technician, agreement, seller):
    # Listens to payments: the payment below gives it an event (naming client A) and a delivery.
    hook = webhook_endpoint_create(url="http://127.0.0.1:9/acme-psa", events=["invoice.paid"], actor=staff)
    ticket = TicketFactory(client=client_a, subject=TICKET_A_SUBJECT)
    invoice = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))
    payment_record(
        invoice=invoice,
        amount=invoice.total,
        method="ach",
        reference="ACH-A-1",
        paid_on=timezone.localdate(),
        actor=staff,
    )
    invoice.refresh_from_db()
    unpaid = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(20))
    entry = time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=90,
        work_type=work_type(),
        notes="Replaced the Acme firewall",
    )
    credit_note = block_unused_cancel(
        block=invoice.block, disposition="refund", actor=staff, reason="Acme partial refund", minutes=60
    ).credit_notes[0]
    question = question_raise(time_entry=entry, raised_by=alice, reason="Acme question: the firewall was fine")
    hours_request = hours_request_create(agreement=agreement, tier=tier(10), requested_by=alice, note="More please")
    estimate = estimate_create(
        ticket=ticket, actor=technician, minutes=6000, work_type=work_type(), description="Acme estimate: rewire"
    )
    token = token_create(user=alice, name="Acme PSA sync", actor=staff).token
    undelivered = OutgoingEmail.objects.create(
        kind=EmailKind.INVOICE,
        recipient="billing@acme-dental.example",
        subject=f"{CLIENT_A_NAME}: invoice {unpaid.number}",
        body_text="Your invoice.",
        agreement=agreement,
        invoice=unpaid,
        status=EmailStatus.FAILED,
        attempts=1,
        last_error="SMTPRecipientsRefused: 550 No such user",
    )
    import_run = import_upload(
        filename="acme.csv",
        data=f"client_name,currency,hourly_rate,agreement_name\r\n{CLIENT_A_NAME},USD,100.00,Imported\r\n".encode(),
        actor=staff,
    )
    timer = timer_start(
        technician=technician, client=client_a, agreement=agreement, ticket=ticket, work_type=work_type()
    )
    month = timezone.localdate().replace(day=1)
    holiday = holiday_add(date=timezone.localdate(), name="Acme founders' day", actor=staff)
    objects = {
        "client": {"public_id": client_a.public_id},
        "contact": {"public_id": client_a.public_id, "contact_id": alice.client_contact.pk},
        "api_contact": {"id": client_a.public_id, "username": alice.username},
        "agreement": {"public_id": agreement.public_id},
        "ticket": {"id": ticket.public_id},
        "time_entry": {"public_id": entry.public_id},
        "invoice": {"public_id": unpaid.public_id},
        "hours_request": {"public_id": hours_request.public_id},
        "question": {"public_id": question.public_id},
        "estimate": {"public_id": estimate.public_id},
        "token": {"id": token.public_id},
        "statement": {"public_id": client_a.public_id},
        "email": {"public_id": undelivered.public_id},
        "member": {"username": technician.username},
        "block": {"public_id": invoice.block.public_id},
        "agreement_block": {"id": agreement.public_id, "block_id": invoice.block.public_id},
        "credit_note": {"public_id": credit_note.public_id},
        "holiday": {"public_id": holiday.public_id},
        "work_type": {"pk": work_type().pk},  # the shared catalogue: only the role check guards it
        "weekday": {"id": 0},
        "import_run": {"public_id": import_run.public_id},
        "timer": {"id": timer.public_id},
        "webhook": {"public_id": hook.endpoint.public_id},
        "webhook_delivery": {"public_id": Delivery.objects.get(endpoint=hook.endpoint).public_id},
        "webhook_event": {"public_id": Event.objects.get(kind="invoice.paid").public_id},
    }
    secrets = [
        CLIENT_A_NAME, TICKET_A_SUBJECT, invoice.number, unpaid.number, "Acme PSA sync", credit_note.number,
        hook.secret, "acme-psa", question.reason, estimate.description,
    ]  # fmt: skip
    return {"objects": objects, "secrets": secrets, "month": f"{month:%Y-%m}"}


def _kwargs(p: Pattern, route: Route, world: dict, *, missing: bool = False) -> dict:
    kwargs = dict(world["objects"][route.obj]) if route.obj else {}
    # The API names its lookup `id`, the pages `public_id`: use the pattern's own name.
    if route.obj and "id" in p.args and "id" not in kwargs:
        kwargs = {"id": kwargs.pop("public_id")}
    if route.obj and "public_id" in p.args and "public_id" not in kwargs:
        kwargs = {"public_id": kwargs.pop("id")}
    if missing and "username" in kwargs:  # a person, by username (of a client that exists)
        return {**kwargs, "username": "no-such-person"}
    if missing and "pk" in kwargs:  # a row of a shared table, by its key
        return {**kwargs, "pk": 2**31 - 1}
    if missing:  # the same URL for an object that does not exist
        key = "id" if "id" in kwargs else "public_id"
        kwargs[key] = uuid.uuid4()
    return kwargs


def _url(p: Pattern, world: dict, *, missing: bool = False) -> str:
    route = ROUTES[p.name]
    url = reverse(p.name, kwargs=_kwargs(p, route, world, missing=missing))
    if "format" in p.args:  # DRF's suffix twin of the route: /clients/<id>.json
        url = (url if p.route.endswith(">") else url.rstrip("/")) + ".json"
    if route.obj == "statement":
        url += f"?month={world['month']}"
    return url


def _fingerprint() -> tuple:
    """What a forbidden request must not change."""
    return (
        LedgerEntry.objects.count(),
        sorted(Agreement.objects.values_list("balance_minutes", flat=True)),
        sorted(Invoice.objects.values_list("status", flat=True)),
        Payment.objects.count(),
        sorted(HoursRequest.objects.values_list("status", flat=True)),
        TimeEntry.objects.count(),
        sorted(TimeEntry.objects.values_list("voided_at", flat=True), key=str),
        ApiToken.objects.filter(revoked_at__isnull=True).count(),
        sorted(OutgoingEmail.objects.values_list("status", flat=True)),
        Invitation.objects.filter(expires_at__gt=timezone.now()).count(),
        CreditNote.objects.count(),
        sorted(Agreement.objects.values_list("status", flat=True)),
        list(BusinessHours.objects.values_list("weekday", "opens", "closes")),
        list(Holiday.objects.values_list("date", "name")),
        list(Timer.objects.values_list("pk", "technician", "ticket", "started_at")),
        list(Endpoint.objects.values_list("url", "secret", "events", "is_active")),
        list(Delivery.objects.values_list("status", "next_attempt_at")),
        list(ChargeQuestion.objects.order_by("pk").values_list("status", "credited_minutes")),
        list(Estimate.objects.order_by("pk").values_list("status", "decided_at")),
        HoursRequest.objects.count(),
    )


def _requests(p: Pattern):
    if not ROUTES[p.name].post_only:
        yield "get"
    if ROUTES[p.name].post:
        yield "post"


def _send(http: HttpClient, p: Pattern, method: str, url: str):
    if method == "post" and ROUTES[p.name].api:
        return http.post(url, data={}, content_type="application/json")  # the API parses JSON only
    return getattr(http, method)(url)


def _leaks(response, secrets: list[str]) -> list[str]:
    body = b"".join(response) if response.streaming else response.content
    return [s for s in secrets if s and s.encode() in body]


# ---------------------------------------------------------------------------
# The three visitors


def _role_checked_first(route: Route) -> bool:
    """Pages for staff (or staff and technicians) answer a client contact 404 before any lookup;
    so does the staff-only token API. Everything else looks the object up in Charlie's scope."""
    return route.audience == STAFF or (route.audience == MSP and not route.api)


def _expected_for_charlie(route: Route) -> set[int]:
    if _role_checked_first(route) or route.obj is not None:
        return {HTTPStatus.NOT_FOUND}  # the same as for a missing id or page (checked)
    return {HTTPStatus.OK, HTTPStatus.FOUND}  # his own list, or "/" sending him home: checked for leaks


API_NOT_FOUND = {"status": 404, "code": "not_found", "message": "Not found.", "fields": {}}


def _body(response) -> bytes:
    return b"".join(response) if response.streaming else response.content


def _looks_absent(http: HttpClient, p: Pattern, method: str, response, world: dict) -> str:
    """Why this 404 would tell the visitor more than "there is nothing here", or ""."""
    route = ROUTES[p.name]
    if route.obj:
        other = _send(http, p, method, _url(p, world, missing=True))
        if (other.status_code, _body(other)) != (response.status_code, _body(response)):
            return f"{response.status_code} for A's object but {other.status_code} (or another body) for none"
    elif route.api:
        if response.json() != API_NOT_FOUND:
            return f"answers {response.json()} instead of the plain API 404"
    else:
        nowhere = getattr(http, method)("/no-such-page-at-all/")
        if (nowhere.status_code, _body(nowhere)) != (response.status_code, _body(response)):
            return "answers differently from a URL that does not exist"
    return ""


@pytest.mark.django_db
def test_it_shows_charlie_nothing_of_client_a(world, charlie):
    http = HttpClient()
    http.force_login(charlie)
    failures = []
    for p in WALKED:
        route = ROUTES[p.name]
        for method in _requests(p):
            before = _fingerprint()
            url = _url(p, world)
            response = _send(http, p, method, url)
            expected = _expected_for_charlie(route)
            if response.status_code not in expected:
                failures.append(f"{method.upper()} {url} ({p.name}): {response.status_code}, expected {expected}")
            if leaked := _leaks(response, world["secrets"]):
                failures.append(f"{method.upper()} {url} ({p.name}) shows Charlie {leaked}")
            if _fingerprint() != before:
                failures.append(f"{method.upper()} {url} ({p.name}) changed client A's data")
            if response.status_code == HTTPStatus.NOT_FOUND and (
                why := _looks_absent(http, p, method, response, world)
            ):
                failures.append(f"{method.upper()} {url} ({p.name}) {why}")
    assert not failures, "\n".join(failures)


TECHNICIAN_DENIED = {STAFF, CLIENT, BILLING}


@pytest.mark.django_db
def test_it_keeps_technicians_out_of_staff_and_client_pages(world, technician):
    http = HttpClient()
    http.force_login(technician)
    failures = []
    for p in WALKED:
        route = ROUTES[p.name]
        if route.audience not in TECHNICIAN_DENIED:
            continue
        for method in _requests(p):
            before = _fingerprint()
            url = _url(p, world)
            response = _send(http, p, method, url)
            if response.status_code != HTTPStatus.NOT_FOUND:
                failures.append(f"{method.upper()} {url} ({p.name}): {response.status_code}, expected 404")
            elif why := _looks_absent(http, p, method, response, world):
                failures.append(f"{method.upper()} {url} ({p.name}) {why}")
            if _fingerprint() != before:
                failures.append(f"{method.upper()} {url} ({p.name}) let a technician change data")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_sign_in(world):
    http = HttpClient()
    login = resolve_url(settings.LOGIN_URL)
    failures = []
    for p in WALKED:
        route = ROUTES[p.name]
        for method in _requests(p):
            before = _fingerprint()
            url = _url(p, world)
            response = _send(http, p, method, url)
            if p.name in {"api:schema", "api:api-root"} and response.status_code == HTTPStatus.OK:
                pass  # public API description: checked for leaks below
            elif route.api:
                if response.status_code not in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
                    failures.append(f"{method.upper()} {url} ({p.name}): {response.status_code}, expected 401/403")
            elif response.status_code != HTTPStatus.FOUND or not response["Location"].startswith(login + "?"):
                where = response.get("Location", "")
                failures.append(f"{method.upper()} {url} ({p.name}): {response.status_code} {where}, expected login")
            if leaked := _leaks(response, world["secrets"]):
                failures.append(f"{method.upper()} {url} ({p.name}) shows an anonymous visitor {leaked}")
            if _fingerprint() != before:
                failures.append(f"{method.upper()} {url} ({p.name}) let an anonymous visitor change data")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_it_lists_nothing_of_client_a_to_charlie(world, charlie, client_b):
    """Lists, exports and portal pages Charlie can open are his client's only."""
    http = HttpClient()
    http.force_login(charlie)
    lists = [p for p in WALKED if ROUTES[p.name].obj is None and not _role_checked_first(ROUTES[p.name])]
    assert {"api:invoice-list", "api:agreement-list", "portal:home"} <= {p.name for p in lists}
    failures = []
    for p in lists:
        url = _url(p, world)
        response = http.get(url)
        if leaked := _leaks(response, world["secrets"]):
            failures.append(f"GET {url} ({p.name}) shows Charlie {leaked}")
    # And his own export, statement and invoice list really are reachable (the test is not vacuous).
    from agreements.tests.factories import AgreementFactory

    agreement_b = AgreementFactory(client=client_b)
    for url in [
        reverse("portal:usage_csv", kwargs={"public_id": agreement_b.public_id}),
        reverse("portal:agreement", kwargs={"public_id": agreement_b.public_id}),
        reverse("reports:statement", kwargs={"public_id": client_b.public_id}) + f"?month={world['month']}",
        reverse("api:invoice-list"),
        reverse("api:time-entry-list"),
        reverse("api:agreement-ledger", kwargs={"id": agreement_b.public_id}),
    ]:
        response = http.get(url)
        assert response.status_code == HTTPStatus.OK, url
        if leaked := _leaks(response, world["secrets"]):
            failures.append(f"GET {url} shows Charlie {leaked}")
    assert not failures, "\n".join(failures)


def test_it_leaves_admin_to_django_admin():
    admin = [p for p in PATTERNS if p.name.startswith("admin:")]
    assert admin, ADMIN_REASON
