"""Hostile and malformed input on every form and every API write (issue 7, invariant 6).

One table drives it all. WRITES lists every route that writes data: who sends
it, the objects in its URL, and a valid body that really writes (proved by
`test_it_writes_with_the_valid_body`, so a refusal below cannot be an accident
of a broken baseline). HOSTILE lists, per write and field, the values tried:
negative, zero, huge and non-numeric durations and amounts, impossible and
far-away dates, unknown and foreign ids, overlong text, HTML/JS payloads and
Unicode edge cases (NUL, a lone surrogate, RTL override, zero-width joiner,
emoji).

Every hostile value is refused with a clear message on the field — the form
page again with the error shown, or the API's JSON error shape naming the
field — never a 500, and every row of the project's tables (ledger, balances,
blocks, invoices, payments, time entries, tokens, requests, users...) is the
same afterwards. Text that is legitimately accepted (HTML or unusual Unicode
in a note or a reason) is stored exactly as typed and escaped on the page
that shows it.

`test_it_covers_every_write` fails when a route accepts POST (or a DRF write
method) and is neither in WRITES nor in NOT_DATA_WRITES with a reason.
"""

import datetime
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.tokens import default_token_generator
from django.contrib.messages import get_messages
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.db.models import Sum
from django.test import Client as HttpClient
from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.generators import SchemaGenerator

from accounts.services import invitation_send
from agreements.models import (
    Agreement,
    Block,
    ChargeQuestion,
    Client,
    LedgerEntry,
    OveragePolicy,
    Tier,
    TimeEntry,
    Timer,
)
from agreements.services import estimate_create, question_raise, time_entry_log, timer_start
from agreements.services.calendar import holiday_add
from agreements.tests.factories import AgreementFactory, TechnicianFactory, TicketFactory, tier, work_type
from api.models import ApiToken
from api.services import token_create
from audit.models import AuditEvent
from billing.models import CreditNote, Invoice, Payment
from billing.services import invoice_sell_block, payment_record
from notifications.models import EmailKind, EmailStatus, OutgoingEmail
from notifications.services import episode_open, episode_process
from portal.models import HoursRequest
from portal.services import hours_request_create
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_create as webhook_endpoint_create

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
PASSWORD = "correct horse battery staple"  # the factories' password
NEW_PASSWORD = "a fresh Passphrase 42"


# ---------------------------------------------------------------------------
# The writes


@dataclass(frozen=True)
class Write:
    role: str  # who sends it: "staff", "technician", "alice" (client A's contact), "anon"
    url: dict[str, str]  # URL keyword argument -> key of the world's ids
    valid: dict[str, object]  # a body that writes; str values "@key" are the world's ids
    api: bool = False
    form: str = "form"  # the form's name in the page's context
    success: int = HTTPStatus.FOUND  # the answer to the valid body
    quiet: str = ""  # why a refusal may be a plain redirect without a message
    # The write is done by a worker after the response (queued on commit): run it before comparing.
    after_commit: bool = False
    method: str = "post"  # the API's partial updates are PATCH


def _api(role: str, url: dict[str, str], valid: dict[str, object], success: int = HTTPStatus.CREATED, **kw) -> Write:
    return Write(role, url, valid, api=True, success=success, **kw)


BUSINESS_HOURS_FORM = {
    **{f"opens_{day}": "08:00" for day in range(5)},
    **{f"closes_{day}": "17:00" for day in range(5)},
    "opens_0": "07:30",
    **{f"{which}_{day}": "" for which in ("opens", "closes") for day in (5, 6)},
}

AGREEMENT_FORM = {
    "name": "Second agreement",
    "starts_on": "@today",
    "ends_on": "",
    "low_balance_threshold": "2:00",
    "billing_increment_minutes": "15",
    "rounding_mode": "up",
    "overage_policy": "reject",
    "overage_limit_minutes": "0",
    "credit_policy": "on_payment",
    "reload_tier": "",
    "work_types": ["@work_type"],
}
AGREEMENT_EDIT_FORM = {
    "name": "Renamed agreement",
    "low_balance_threshold": "3:00",
    "usage_alert_percent": "80",
    "billing_increment_minutes": "6",
    "rounding_mode": "nearest",
    "overage_policy": "reject",
    "overage_limit_minutes": "0",
    "overage_rate": "",
    "credit_policy": "on_payment",
    "reload_tier": "",
    "term_end_action": "end",
    "renewal_tier": "",
    "renewal_invoice_days": "",
    "rollover_policy": "none",
    "rollover_cap": "",
    "rollover_cap_percent": "",
    "rollover_grace_months": "0",
    "grace_days": "0",
    "work_types": ["@work_type"],
}

WRITES: dict[str, Write] = {
    # --- staff dashboard
    "dashboard:client_new": Write(
        "staff",
        {},
        {
            "name": "Hostile Test Co",
            "hourly_rate": "100.00",
            "currency": "USD",
            "billing_name": "",
            "billing_email": "ap@hostile.example",
            "billing_address": "1 Harbour Road",
            "language": "en",
        },
    ),
    "dashboard:client_edit": Write(
        "staff",
        {"public_id": "client"},
        {
            "name": "Acme Dental Group",
            "hourly_rate": "120.00",
            "currency": "USD",  # client A has blocks: its currency is fixed
            "billing_name": "",
            "billing_email": "ap@acme.example",
            "billing_address": "1 Harbour Road",
            "language": "it",
        },
    ),
    "dashboard:agreement_new": Write("staff", {"public_id": "client"}, AGREEMENT_FORM),
    "dashboard:agreement_edit": Write("staff", {"public_id": "agreement"}, AGREEMENT_EDIT_FORM),
    "dashboard:agreement_move": Write("staff", {"public_id": "agreement"}, {"position": "2"}),
    "dashboard:agreement_work_types": Write("staff", {"public_id": "agreement"}, {"work_types": ["@work_type"]}),
    "dashboard:contact_invite": Write(
        "staff",
        {"public_id": "client"},
        {"first_name": "Dana", "last_name": "Lee", "email": "dana@acme.example", "username": "dana"},
    ),
    "dashboard:contact_reinvite": Write("staff", {"public_id": "client", "contact_id": "contact"}, {}),
    "dashboard:block_sell": Write(
        "staff",
        {"public_id": "agreement"},
        {"tier": "", "hours": "5", "starts_on": "@today", "expires_on": "", "confirm": "1"},
    ),
    "dashboard:adjust": Write(
        "staff",
        {"public_id": "agreement"},
        {"direction": "add", "duration": "1:30", "reason": "Goodwill credit", "confirm": "1"},
    ),
    "dashboard:technician_invite": Write(
        "staff", {}, {"first_name": "Tim", "last_name": "Ng", "email": "tim@northwind.example", "username": "tim"}
    ),
    "dashboard:request_handled": Write("staff", {"public_id": "hours_request"}, {}),
    "dashboard:question_resolve": Write(
        "staff", {"public_id": "question"}, {"outcome": "explained", "reply": "The router was replaced on site."}
    ),
    "dashboard:lockout_unlock": Write("staff", {}, {"kind": "account", "value": "tess"}),
    "dashboard:business_hours": Write("staff", {}, BUSINESS_HOURS_FORM),
    "dashboard:work_type_new": Write("staff", {}, {"name": "Project work", "multiplier": "1.25", "is_active": "on"}),
    "dashboard:work_type_edit": Write(
        "staff", {"pk": "work_type"}, {"name": "Normal", "multiplier": "1.10", "is_active": "on"}
    ),
    "dashboard:holiday_add": Write(
        "staff", {}, {"date": "@holiday_date", "name": "Founders' day"}, form="holiday_form"
    ),
    "dashboard:holiday_remove": Write("staff", {"public_id": "holiday"}, {}),
    # Added: the page answers the POST itself with the signing secret (shown once), hence 200.
    "dashboard:webhooks": Write(
        "staff",
        {},
        {"url": "http://127.0.0.1:9/new-hook", "description": "PSA", "events": ["invoice.paid", "balance.low"]},
        success=HTTPStatus.OK,
    ),
    "dashboard:webhook": Write(
        "staff",
        {"public_id": "webhook"},
        {"url": "http://127.0.0.1:9/moved", "description": "", "events": ["balance.low"], "is_active": "on"},
    ),
    "dashboard:webhook_rotate": Write("staff", {"public_id": "webhook"}, {}, success=HTTPStatus.OK),
    "dashboard:webhook_delete": Write("staff", {"public_id": "webhook"}, {}),
    "dashboard:webhook_resend": Write("staff", {"public_id": "webhook_delivery"}, {}),
    "dashboard:member_reinvite": Write("staff", {"username": "technician_username"}, {}),
    "dashboard:overage_bill": Write("staff", {"public_id": "overage_agreement"}, {"confirm": "1"}),
    "dashboard:agreement_cancel": Write(
        "staff",
        {"public_id": "cancel_agreement"},
        {"disposition": "refund", "reason": "Client leaves", "confirm": "1"},
    ),
    "dashboard:block_cancel": Write(
        "staff",
        {"public_id": "paid_block"},
        {"disposition": "refund", "reason": "Partial refund", "duration": "1:00", "confirm": "1"},
    ),
    "dashboard:block_expiry": Write(
        "staff", {"public_id": "paid_block"}, {"expires_on": "@today", "no_expiry": "", "reason": "Client on holiday"}
    ),
    "dashboard:reload_draft": Write(
        "staff", {"public_id": "reload_draft"}, {"action": "change", "tier": "", "hours": "5"}, form="size_form"
    ),
    "dashboard:block_goodwill": Write(
        "staff",
        {"public_id": "agreement"},
        {"duration": "1:30", "expires_on": "", "reason": "Goodwill for the outage", "confirm": "1"},
    ),
    "dashboard:block_move": Write(
        "staff",
        {"public_id": "paid_block"},
        {"to_agreement": "@overage_agreement", "duration": "1:00", "reason": "Wrong agreement", "confirm": "1"},
    ),
    # --- timesheet
    "timesheet:log": Write(
        "technician",
        {},
        {
            "agreement": "@agreement",
            "ticket": "@ticket_number",
            "subject": "",
            "work_date": "@today",
            "duration": "30",
            "work_type": "@work_type",
            "notes": "Fixed the printer",
            "idempotency_key": "",
            "save": "1",
        },
    ),
    "timesheet:void": Write("technician", {"public_id": "entry"}, {"reason": "Logged on the wrong ticket"}),
    "timesheet:correct": Write(
        "technician",
        {"public_id": "entry"},
        {"work_date": "@today", "duration": "45", "work_type": "@work_type", "notes": "Fixed", "reason": "Typo"},
    ),
    "timesheet:timer_start": Write(
        "technician",
        {},
        {
            "timer-agreement": "@agreement",
            "timer-ticket": "@ticket_number",
            "timer-subject": "",
            "timer-work_type": "@work_type",
            "timer-notes": "Printer queue",
        },
        form="timer_form",
    ),
    "timesheet:estimate_new": Write(
        "technician",
        {},
        {
            "agreement": "@agreement",
            "ticket": "@ticket_number",
            "subject": "",
            "duration": "1:00",
            "work_type": "@work_type",
            "description": "Replace the switch",
        },
    ),
    "timesheet:estimate_cancel": Write("technician", {"public_id": "estimate"}, {}),
    # --- client portal
    "portal:buy": Write("alice", {"public_id": "agreement"}, {"tier": "@tier", "note": "PO 1234"}),
    "portal:estimate_approve": Write("alice", {"public_id": "estimate"}, {"tier": "@tier"}),
    "portal:estimate_decline": Write("alice", {"public_id": "estimate"}, {}),
    "portal:question": Write("alice", {"public_id": "entry"}, {"reason": "Nobody came that day."}),
    # --- reports
    "reports:msa": Write("staff", {}, {"client": "@client", "seats": "12"}),
    # --- billing and notifications
    "billing:invoice_payment": Write(
        "staff",
        {"public_id": "invoice"},
        {"amount": "100.00", "method": "ach", "reference": "ACH-HOSTILE-1", "paid_on": "@today"},
        form="payment_form",
    ),
    "billing:invoice_void": Write("staff", {"public_id": "invoice"}, {"reason": "Sold by mistake"}, form="void_form"),
    "notifications:invoice_send": Write("staff", {"public_id": "invoice"}, {}),
    "notifications:email_resend": Write("staff", {"public_id": "undelivered_email"}, {}),
    # --- accounts
    "password_change": Write(
        "alice",
        {},
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
    "password_reset": Write("anon", {}, {"email": "@alice_email"}, after_commit=True),
    "password_reset_confirm": Write(
        "anon",
        {"uidb64": "alice_uid", "token": "alice_reset_token"},
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
    "invitation_accept": Write(
        "anon", {"token": "invitation"}, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    ),
    "language_choose": Write(
        "alice",
        {},
        {"language": "it", "next": "/"},
        quiet="a menu choice: Django's set_language ignores a language it does not offer",
    ),
    # --- REST API
    "api:client-list": _api(
        "staff",
        {},
        {"name": "Hostile API Co", "hourly_rate": "90.00", "currency": "EUR", "billing_email": "ap@api.example"},
    ),
    "api:client-contacts": _api(
        "staff", {"id": "client"}, {"username": "erin", "email": "erin@acme.example", "first_name": "Erin"}
    ),
    "api:ticket-list": _api("technician", {}, {"client": "@client", "number": "T-NEW-1", "subject": "New laptop"}),
    "api:agreement-list": _api(
        "staff",
        {},
        {
            "client": "@client",
            "name": "API agreement",
            "starts_on": "@today",
            "low_balance_threshold_minutes": 120,
            "billing_increment_minutes": 15,
            "overage_limit_minutes": 0,
        },
    ),
    "api:agreement-detail": _api(
        "staff",
        {"id": "agreement"},
        {"position": 2, "work_types": ["@work_type"], "low_balance_threshold_minutes": 180, "usage_alert_percent": 80},
        HTTPStatus.OK,
        method="patch",
    ),
    "api:agreement-adjustments": _api("staff", {"id": "agreement"}, {"minutes": 30, "reason": "Goodwill credit"}),
    "api:question-list": _api("alice", {}, {"time_entry": "@entry", "reason": "Nobody came that day."}),
    "api:estimate-list": _api(
        "technician", {}, {"ticket": "@ticket", "minutes": 60, "work_type": "@work_type", "description": "New switch"}
    ),
    "api:estimate-cancel": _api("technician", {"id": "estimate"}, {}, HTTPStatus.OK),
    "api:estimate-approve": _api("alice", {"id": "estimate"}, {"tier": "@tier"}, HTTPStatus.OK),
    "api:estimate-decline": _api("alice", {"id": "estimate"}, {}, HTTPStatus.OK),
    "api:question-resolve": _api(
        "staff", {"id": "question"}, {"outcome": "explained", "reply": "The router was replaced."}, HTTPStatus.OK
    ),
    "api:agreement-purchases": _api("staff", {"id": "agreement"}, {"hours": 5}),
    "api:agreement-overage-invoice": _api("staff", {"id": "overage_agreement"}, {}),
    "api:invoice-reload-block": _api("staff", {"id": "reload_draft"}, {"hours": 5}, success=HTTPStatus.OK),
    "api:invoice-reload-issue": _api("staff", {"id": "reload_draft"}, {}, success=HTTPStatus.OK),
    "api:invoice-reload-discard": _api(
        "staff", {"id": "reload_draft"}, {"reason": "Client pays by card"}, success=HTTPStatus.OK
    ),
    "api:agreement-cancel": _api(
        "staff", {"id": "cancel_agreement"}, {"disposition": "refund", "reason": "Client leaves"}, success=HTTPStatus.OK
    ),
    "api:agreement-purchase-cancel": _api(
        "staff",
        {"id": "agreement", "block_id": "paid_block"},
        {"disposition": "refund", "reason": "Partial refund", "minutes": 60},
        success=HTTPStatus.OK,
    ),
    "api:agreement-purchase-expiry": _api(
        "staff",
        {"id": "agreement", "block_id": "paid_block"},
        {"expires_on": "@today", "reason": "Client on holiday"},
        success=HTTPStatus.OK,
    ),
    "api:client-contact-invitation": _api("staff", {"id": "client", "username": "alice_username"}, {}),
    "api:agreement-goodwill": _api("staff", {"id": "agreement"}, {"minutes": 90, "reason": "Goodwill for the outage"}),
    "api:agreement-purchase-move": _api(
        "staff",
        {"id": "agreement", "block_id": "paid_block"},
        {"to_agreement": "@overage_agreement", "minutes": 60, "reason": "Wrong agreement"},
    ),
    "api:time-entry-list": _api(
        "technician",
        {},
        {
            "agreement": "@agreement",
            "ticket": "@ticket",
            "work_date": "@today",
            "minutes": 30,
            "work_type": "@work_type",
            "notes": "Fixed the printer",
        },
    ),
    "api:time-entry-void": _api(
        "technician", {"id": "entry"}, {"reason": "Logged on the wrong ticket"}, success=HTTPStatus.OK
    ),
    "api:timer-list": _api(
        "technician", {}, {"agreement": "@agreement", "ticket": "@ticket", "work_type": "@work_type", "notes": "Queue"}
    ),
    "api:timer-stop": _api("staff", {"id": "staff_timer"}, {}, success=HTTPStatus.OK),
    "api:timer-detail": _api("staff", {"id": "staff_timer"}, {}, HTTPStatus.NO_CONTENT, method="delete"),
    "api:invoice-payments": _api(
        "staff", {"id": "invoice"}, {"amount": "100.00", "method": "ach", "reference": "API-1", "paid_on": "@today"}
    ),
    "api:token-list": _api("staff", {}, {"user": "alice", "name": "PSA sync 2"}),
    "api:token-revoke": _api("staff", {"id": "token"}, {}, success=HTTPStatus.OK),
    "api:business-hours-detail": _api(
        "staff", {"id": "weekday"}, {"opens": "07:30", "closes": "16:00"}, HTTPStatus.OK, method="patch"
    ),
    "api:holiday-list": _api("staff", {}, {"date": "@holiday_date", "name": "Founders' day"}),
    "api:holiday-detail": _api("staff", {"id": "holiday"}, {}, HTTPStatus.NO_CONTENT, method="delete"),
    "api:webhook-endpoint-list": _api(
        "staff", {}, {"url": "http://127.0.0.1:9/new-hook", "description": "PSA", "events": ["invoice.paid"]}
    ),
    # PATCH here; its DELETE (the same route) is in webhooks/tests.
    "api:webhook-endpoint-detail": _api(
        "staff",
        {"id": "webhook"},
        {"url": "http://127.0.0.1:9/moved", "events": ["balance.low"]},
        HTTPStatus.OK,
        method="patch",
    ),  # fmt: skip
    "api:webhook-endpoint-rotate-secret": _api("staff", {"id": "webhook"}, {}, HTTPStatus.OK),
    "api:webhook-delivery-resend": _api("staff", {"id": "webhook_delivery"}, {}, HTTPStatus.ACCEPTED),
}

NOT_DATA_WRITES = {
    "login": (
        "signs the caller in; changes no client data (django-axes counts failures and a signed-in browser is "
        "remembered as trusted: tested in accounts)"
    ),
    "logout": "ends the caller's own session; takes no input",
    "timesheet:timer_discard": (
        "discards the caller's own running timer: takes no input, charges nothing (timesheet/tests/test_timer.py)"
    ),
    "reauth": "confirms the caller's own password before a sensitive action; marks their session only",
    "imports:upload": (
        "a file upload, not form fields: hostile files (encodings, delimiters, formula cells, size, duplicate "
        "rows, bad cells) are tried in imports/tests/test_hostile_files.py; the dry run writes no client data"
    ),
    "imports:confirm": (
        "takes no input: imports the rows its dry run checked, checked again (imports/tests/test_views.py)"
    ),
    # Both need a Stripe server (localstripe): payments/tests try their hostile input there.
    "payments:pay": (
        "takes only a Stripe payment-method id, format-checked before Stripe is asked; hostile ids, tampered, "
        "expired and foreign links: payments/tests/test_pay.py"
    ),
    "payments:payment_method": (
        "saves only a SetupIntent id of the caller's own client (checked at Stripe); hostile ids: "
        "payments/tests/test_saved_method.py"
    ),
    "portal:estimate_link": (
        "takes no input but the signed token in its URL, which names one estimate and one action; tampered, "
        "expired, used and another estimate's links: portal/tests/test_estimates.py"
    ),
    "payments:webhook": "Stripe's signed events only; bad signatures and foreign events: payments/tests/test_webhooks.py",
    "payments:refund_retry": (
        "takes no input: sends a credit note's failed Stripe refund again (payments/tests/test_refunds.py)"
    ),
}
ADMIN_REASON = "Django admin: superusers only, with the admin's own form validation"


# ---------------------------------------------------------------------------
# The hostile values


SAME = object()  # H's value is its label


@dataclass(frozen=True)
class H:
    """A hostile value with a readable label for the test id."""

    label: str
    value: object = SAME
    error: str | None = None  # the field the refusal names, when not the one changed (PARSE, WHOLE_REQUEST)

    def __post_init__(self) -> None:
        if self.value is SAME:
            object.__setattr__(self, "value", self.label)


PARSE = "(not JSON)"  # the body is refused as a whole: a JSON parse error
WHOLE_REQUEST = "(whole request)"  # a message about the request, naming no single field


@dataclass(frozen=True)
class Raw:
    """JSON text sent as is (1e309, NaN): what json.dumps cannot write."""

    text: str


NUL = H("NUL-byte", "ab\x00cd")
LONG = H("10000-chars", "x" * 10_000)
BLANK = H("blank", "")
SPACES = H("spaces", "   ")
SURROGATE = H("lone-surrogate", "ab\ud800cd")  # reachable only through JSON escapes
FULLWIDTH = H("fullwidth-12", "１２")

SCRIPT = H("script-tag", "<script>alert(1)</script>")
IMG = H("img-onerror", '"><img src=x onerror=alert(1)>')
RTL = H("RTL-override", "refund \u202egnp.exe")
ZWJ = H("zero-width-joiner", "wo\u200drk \u200bdone")
EMOJI = H("emoji", "Printer fixed \U0001f5a8\ufe0f\u2705")
MARKUP_AND_UNICODE = [SCRIPT, IMG, RTL, ZWJ, EMOJI]  # accepted in free text: stored as typed, escaped when shown

DURATIONS = [
    H("-1:30"),
    H("99999h"),
    H("1:75"),
    H("0"),
    H("-1"),
    H("abc"),
    H("1,5"),
    FULLWIDTH,
    H("1e309"),
    H("NaN"),
    H("Infinity"),
    H("10**12", str(10**12)),
    H("10**30", str(10**30)),
    BLANK,
    NUL,
]
AMOUNTS = [
    H("-1"),
    H("0"),
    H("1e6"),
    H("12.345"),
    H("1_000"),
    H("1E+2"),
    BLANK,
    H("abc"),
    H("1,5"),
    FULLWIDTH,
    H("NaN"),
    H("Infinity"),
    H("1e309"),
    H("10**12", str(10**12)),
    H("10**30", str(10**30)),
    NUL,
]
WHOLE_NUMBERS = [
    H("-1"),
    H("10**12", str(10**12)),
    H("10**30", str(10**30)),
    H("1e309"),
    H("NaN"),
    H("abc"),
    H("1.5"),
    FULLWIDTH,
    NUL,
]
DATES = [H("0001-01-01"), H("9999-12-31"), H("2026-02-30"), H("yesterday"), NUL]
REQUIRED_DATES = [*DATES, BLANK]
CHOICES = [H("unknown-99999", "99999"), H("abc"), H("-1"), FULLWIDTH, NUL]
# Control characters in single-line text: a forged extra line in an email header, an export or a log.
CRLF = H("CR-LF", "Acme\r\nBcc: victim@example.com")
ESCAPE = H("ESC-sequence", "red \x1b[31mtext")
SINGLE_LINE = [CRLF, ESCAPE]
TEXT = [BLANK, SPACES, LONG, NUL, *SINGLE_LINE]  # required text, one line each
OPTIONAL_TEXT = [LONG, NUL]
PASSWORDS = [H("NUL-byte", "a fresh Pass\x00phrase 42"), H("mismatch", "another Passphrase 43")]

# JSON: wrong types, and numbers no JSON parser should turn into a balance.
API_MINUTES = [
    H("-1", -1),
    H("0", 0),
    H("10**12", 10**12),
    H("10**30", 10**30),
    H("1.5", 1.5),
    H("string-30", "30"),
    H("abc"),
    H("null", None),
    H("true", True),
    H("1e309", Raw("1e309")),
    H("NaN", Raw("NaN"), error=PARSE),
    H("Infinity", Raw("Infinity"), error=PARSE),
    FULLWIDTH,
]
API_AMOUNTS = [
    *[h for h in AMOUNTS if h is not BLANK],
    BLANK,
    H("number-100", 100),
    H("number-10**30", 10**30),
    H("float-1.5", 1.5),
    H("null", None),
    SURROGATE,
]
API_DATES = [*DATES, H("number-20260101", 20260101), SURROGATE]
API_TEXT = [*TEXT, SURROGATE, H("number-123", 123), H("list", ["a"])]
# Not an http(s) URL a webhook may go to (private addresses: webhooks/tests, with the SSRF guard on).
WEBHOOK_URLS = [
    H("ftp", "ftp://files.example.com/hook"),
    H("file", "file:///etc/passwd"),
    H("javascript", "javascript:alert(1)"),
    H("no-host", "https://"),
    H("bad-port", "http://127.0.0.1:99999/hook"),
]
API_OPTIONAL_TEXT = [*OPTIONAL_TEXT, SURROGATE, H("number-123", 123)]
API_IDS = [H("unknown-uuid", UNKNOWN_UUID), H("abc"), H("number-12", 12), BLANK, NUL, SURROGATE]
API_PKS = [H("unknown-99999", 99999), H("string-1", "1"), H("-1", -1), H("true", True), H("abc"), NUL, SURROGATE]


LOCAL_TIMES = [H("25:00"), H("16:60"), H("with-seconds", "16:30:15"), H("abc"), FULLWIDTH, NUL]
API_LOCAL_TIMES = [*LOCAL_TIMES, H("number-1630", 1630), H("true", True), H("short", "4:30"), SURROGATE]


@dataclass(frozen=True)
class Field:
    """Values tried on one field; `error` is the field the refusal must name (default: the field itself)."""

    values: list[H]
    error: str | None = None
    accepts: list[H] = field(default_factory=list)  # free text stored as typed


def F(values: list[H], *, error: str | None = None, accepts: list[H] | None = None) -> Field:  # noqa: N802
    return Field(values, error, accepts or [])


HOSTILE: dict[str, dict[str, Field]] = {
    "dashboard:client_new": {
        "name": F(TEXT, accepts=[SCRIPT, IMG]),
        "hourly_rate": F([h for h in AMOUNTS if h.label not in {"0", "1e6"}]),
        "currency": F([H("two-letters", "US"), H("digits", "123"), H("script", "<s>"), NUL]),
        "billing_email": F([H("not-an-email"), H("script", "<script>@x.example"), LONG, NUL]),
        "billing_name": F([*OPTIONAL_TEXT, *SINGLE_LINE]),
        "billing_address": F(OPTIONAL_TEXT),
        "language": F([H("unknown-xx", "xx"), NUL]),
    },
    "dashboard:client_edit": {
        "name": F([*TEXT, H("client-B-name-upper-case", "BIRCH LEGAL")], accepts=[SCRIPT, IMG]),
        "hourly_rate": F([h for h in AMOUNTS if h.label not in {"0", "1e6"}]),
        "currency": F([H("changed-with-blocks", "EUR"), H("two-letters", "US"), H("digits", "123"), BLANK, NUL]),
        "billing_email": F([H("not-an-email"), H("script", "<script>@x.example"), LONG, NUL]),
        "billing_name": F([*OPTIONAL_TEXT, *SINGLE_LINE]),
        "billing_address": F(OPTIONAL_TEXT),
        "language": F([H("unknown-xx", "xx"), BLANK, NUL]),
    },
    "dashboard:agreement_new": {
        "name": F(TEXT),
        "starts_on": F(REQUIRED_DATES),
        "ends_on": F(DATES),
        "low_balance_threshold": F([h for h in DURATIONS if h.label != "0"]),
        "billing_increment_minutes": F([H("0"), *WHOLE_NUMBERS]),
        "minimum_billable_minutes": F([H("1441"), *WHOLE_NUMBERS]),
        "overage_limit_minutes": F(WHOLE_NUMBERS),
        "rounding_mode": F([H("sideways"), NUL]),
        "reload_tier": F(CHOICES),
        "work_types": F(CHOICES),
    },
    "dashboard:agreement_edit": {
        "name": F(TEXT),
        "low_balance_threshold": F([h for h in DURATIONS if h.label != "0"]),
        "usage_alert_percent": F([H("0"), H("100"), *WHOLE_NUMBERS]),
        "billing_increment_minutes": F([H("0"), *WHOLE_NUMBERS]),
        "overage_limit_minutes": F(WHOLE_NUMBERS),
        "overage_rate": F([h for h in AMOUNTS if h is not BLANK]),
        "rounding_mode": F([H("sideways"), NUL]),
        "overage_policy": F([H("sideways"), NUL]),
        "credit_policy": F([H("sideways"), NUL]),
        "reload_tier": F(CHOICES),
        "renewal_tier": F(CHOICES),
        "rollover_cap": F([h for h in DURATIONS if h is not BLANK]),
        "grace_days": F(WHOLE_NUMBERS),
        "work_types": F(CHOICES),
    },
    "dashboard:agreement_move": {"position": F([H("0"), H("9"), *WHOLE_NUMBERS, BLANK])},
    "dashboard:agreement_work_types": {"work_types": F(CHOICES)},
    "dashboard:contact_invite": {
        "username": F([*TEXT, SCRIPT, RTL]),
        "email": F([H("not-an-email"), BLANK, LONG, NUL]),
        "first_name": F([*OPTIONAL_TEXT, *SINGLE_LINE]),
    },
    "dashboard:technician_invite": {
        "username": F([*TEXT, SCRIPT, RTL]),
        "email": F([H("not-an-email"), BLANK, LONG, NUL]),
        "last_name": F([*OPTIONAL_TEXT, *SINGLE_LINE]),
    },
    "dashboard:work_type_new": {
        "name": F(TEXT),
        "multiplier": F([amount for amount in AMOUNTS if amount.label != "0"]),  # 0× is non-billable: valid
    },
    "dashboard:work_type_edit": {"name": F(TEXT)},
    "dashboard:business_hours": {
        "opens_1": F(LOCAL_TIMES),
        "closes_1": F([*LOCAL_TIMES, H("before-opening", "07:00"), H("at-opening", "08:00"), BLANK]),
        "opens_6": F([H("without-closing", "09:00")], error="closes_6"),
    },
    "dashboard:holiday_add": {
        "date": F([*REQUIRED_DATES, H("already-a-holiday", "@today")]),
        "name": F(TEXT),
    },
    "dashboard:lockout_unlock": {
        "kind": F([H("sideways"), BLANK, NUL]),
        "value": F([H("not-locked", "nobody"), BLANK, LONG, NUL]),
    },
    "dashboard:block_sell": {
        "hours": F([H("0"), *WHOLE_NUMBERS]),
        "tier": F(CHOICES),
        "starts_on": F(REQUIRED_DATES),
        "expires_on": F(DATES),
    },
    "dashboard:reload_draft": {"hours": F([H("0"), *WHOLE_NUMBERS]), "tier": F(CHOICES)},
    "dashboard:adjust": {
        "duration": F(DURATIONS),
        "direction": F([H("sideways"), NUL]),
        "reason": F(TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "timesheet:log": {
        "agreement": F([H("unknown-uuid", UNKNOWN_UUID), H("ended-agreement", "@agreement_b_ended"), SCRIPT, *TEXT]),
        "ticket": F(TEXT),
        "subject": F([*OPTIONAL_TEXT, *SINGLE_LINE]),
        "work_date": F(REQUIRED_DATES),
        "started_at": F(LOCAL_TIMES),
        "duration": F(DURATIONS),
        "work_type": F(CHOICES),
        "notes": F(OPTIONAL_TEXT, accepts=MARKUP_AND_UNICODE),
        "idempotency_key": F([LONG, NUL]),
    },
    "timesheet:void": {"reason": F(TEXT, accepts=MARKUP_AND_UNICODE)},
    "timesheet:correct": {
        "work_date": F(REQUIRED_DATES),
        "started_at": F(LOCAL_TIMES),
        "duration": F(DURATIONS),
        "work_type": F(CHOICES),
        "notes": F(OPTIONAL_TEXT, accepts=MARKUP_AND_UNICODE),
        "reason": F(TEXT, accepts=[SCRIPT, IMG]),
    },
    "timesheet:estimate_new": {
        "agreement": F([H("unknown-uuid", UNKNOWN_UUID), H("ended-agreement", "@agreement_b_ended"), SCRIPT, *TEXT]),
        "ticket": F(TEXT),
        "subject": F([*OPTIONAL_TEXT, *SINGLE_LINE]),
        "duration": F(DURATIONS),
        "work_type": F(CHOICES),
        "description": F(TEXT),
    },
    "portal:estimate_approve": {"tier": F([*CHOICES, H("retired-tier", "@retired_tier")])},
    "portal:buy": {
        "tier": F([*CHOICES, H("retired-tier", "@retired_tier")]),
        "note": F(OPTIONAL_TEXT, accepts=MARKUP_AND_UNICODE),
    },
    # Multi-line free text: line breaks are allowed, NUL and overlong text are not.
    "portal:question": {"reason": F([BLANK, SPACES, LONG, NUL], accepts=MARKUP_AND_UNICODE)},
    "dashboard:question_resolve": {
        "outcome": F([H("sideways"), BLANK, NUL]),
        "reply": F([BLANK, SPACES, LONG, NUL], accepts=MARKUP_AND_UNICODE),
    },
    "reports:msa": {
        "client": F([H("unknown-uuid", UNKNOWN_UUID), H("abc"), BLANK, NUL]),
        "seats": F(WHOLE_NUMBERS),
    },
    "billing:invoice_payment": {
        "amount": F(AMOUNTS),
        "method": F([H("bitcoin"), BLANK, NUL]),
        "reference": F(TEXT, accepts=[SCRIPT, IMG]),
        "paid_on": F(REQUIRED_DATES),
    },
    "billing:invoice_void": {"reason": F(TEXT, accepts=MARKUP_AND_UNICODE)},
    "dashboard:agreement_cancel": {
        "disposition": F([H("sideways"), BLANK, NUL]),
        "reason": F(TEXT, accepts=[SCRIPT, IMG]),
    },
    "dashboard:block_cancel": {
        "disposition": F([H("sideways"), BLANK, NUL]),
        "reason": F(TEXT, accepts=[SCRIPT, IMG]),
        # Blank is every unused minute; 8 h are unused, so 99999h and 10**12 are refused too.
        "duration": F([h for h in DURATIONS if h is not BLANK]),
    },
    "dashboard:block_expiry": {
        "expires_on": F(REQUIRED_DATES),
        "reason": F(TEXT, accepts=[SCRIPT, IMG]),
    },
    "dashboard:block_goodwill": {
        "duration": F(DURATIONS),
        "expires_on": F([*DATES, H("before-today", "2020-01-01")]),
        "reason": F(TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "dashboard:block_move": {
        "to_agreement": F(
            [
                H("unknown-uuid", UNKNOWN_UUID),
                H("client-B-agreement", "@agreement_b"),
                H("same-agreement", "@agreement"),
                H("ended-agreement", "@agreement_b_ended"),
                H("abc"),
                SCRIPT,
                BLANK,
                NUL,
            ]
        ),
        # 8 h of the block are unused: 9 h is refused too.
        "duration": F([*DURATIONS, H("9h")]),
        "reason": F(TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "password_change": {
        "old_password": F([H("wrong", "not my password"), NUL, BLANK]),
        "new_password1": F([H("NUL-byte", "a fresh Pass\x00phrase 42")]),
        "new_password2": F(PASSWORDS),
    },
    "language_choose": {"language": F([H("unknown-xx", "xx"), NUL, LONG, SCRIPT])},
    "password_reset": {"email": F([H("not-an-email"), LONG, NUL, SCRIPT])},
    "password_reset_confirm": {"new_password2": F(PASSWORDS)},
    "invitation_accept": {"new_password2": F(PASSWORDS)},
    # --- REST API
    "api:client-list": {
        "name": F(API_TEXT),
        "hourly_rate": F([h for h in API_AMOUNTS if h.label not in {"0", "1e6"}]),
        "currency": F([H("two-letters", "US"), H("digits", "123"), NUL, SURROGATE, H("number-1", 1)]),
        "billing_email": F([H("not-an-email"), LONG, NUL, SURROGATE]),
        "billing_address": F(API_OPTIONAL_TEXT),
    },
    "api:client-contacts": {
        "username": F([*API_TEXT, SCRIPT, RTL]),
        "email": F([H("not-an-email"), BLANK, LONG, NUL, SURROGATE]),
        "first_name": F([*API_OPTIONAL_TEXT, *SINGLE_LINE]),
        "receives_invoices": F([H("string-yes", "yes"), H("number-1", 1), H("null", None), NUL, SURROGATE]),
    },
    "api:ticket-list": {
        "client": F(API_IDS),
        "number": F(API_TEXT),
        "subject": F([*API_OPTIONAL_TEXT, *SINGLE_LINE]),
    },
    "api:agreement-list": {
        "client": F(API_IDS),
        "name": F(API_TEXT),
        "starts_on": F(API_DATES),
        "ends_on": F(API_DATES),
        "low_balance_threshold_minutes": F(API_MINUTES[:1] + API_MINUTES[2:]),  # zero is allowed: no warning
        "billing_increment_minutes": F(API_MINUTES),
        "minimum_billable_minutes": F([h for h in API_MINUTES if h.label != "0"] + [H("1441", 1441)]),
        "weekends_holidays_after_hours": F([H("string-yes", "yes"), H("number-1", 1), H("null", None), NUL]),
        "rounding_mode": F([H("sideways"), NUL, SURROGATE, H("number-1", 1)]),
        "reload_tier": F(API_PKS),
        "work_types": F(
            [H("unknown-99999", [99999]), H("not-a-list", 1), H("strings", ["1"]), H("surrogate", [SURROGATE.value])]
        ),
    },
    "api:agreement-detail": {
        "name": F(API_TEXT),
        "low_balance_threshold_minutes": F(API_MINUTES[:1] + API_MINUTES[2:]),  # zero is allowed: no warning
        "usage_alert_percent": F([h for h in API_MINUTES if h.label != "null"] + [H("100", 100)]),
        "billing_increment_minutes": F(API_MINUTES),
        "rounding_mode": F([H("sideways"), NUL, SURROGATE, H("number-1", 1)]),
        "overage_policy": F([H("sideways"), NUL, SURROGATE, H("number-1", 1)]),
        "overage_rate": F([h for h in API_AMOUNTS if h.label != "null" and h is not BLANK]),  # both mean: none
        "credit_policy": F([H("sideways"), NUL, SURROGATE, H("number-1", 1)]),
        "topup_mode": F([H("sideways"), NUL, SURROGATE, H("number-1", 1), H("null", None)]),
        "burn_order": F([H("sideways"), NUL, SURROGATE, H("number-1", 1)]),
        "reload_tier": F(API_PKS),
        "grace_days": F([h for h in API_MINUTES if h.label != "0"]),
        "position": F([H("9", 9), *API_MINUTES]),
        "work_types": F(
            [H("unknown-99999", [99999]), H("not-a-list", 1), H("object", {}), H("strings", ["1"]), NUL, SURROGATE]
        ),
    },
    "api:agreement-adjustments": {
        "minutes": F([h for h in API_MINUTES if h.label != "-1"] + [H("10001-hours", 10_001 * 60)]),
        "reason": F(API_TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "api:agreement-cancel": {
        "disposition": F([H("sideways"), BLANK, NUL, SURROGATE, H("number-1", 1), H("null", None)]),
        "reason": F(API_TEXT, accepts=[SCRIPT, IMG]),
    },
    "api:agreement-purchase-expiry": {
        # null is no expiry: valid.
        "expires_on": F(API_DATES),
        "reason": F(API_TEXT, accepts=[SCRIPT, IMG]),
    },
    "api:agreement-purchase-cancel": {
        "disposition": F([H("sideways"), BLANK, NUL, SURROGATE, H("number-1", 1)]),
        "reason": F(API_TEXT, accepts=[SCRIPT, IMG]),
        # null is every unused minute; 8 h are unused, so 10**12 is refused too.
        "minutes": F([h for h in API_MINUTES if h.label != "null"] + [H("10-hours", 600)]),
    },
    "api:agreement-goodwill": {
        "minutes": F([*API_MINUTES, H("10001-hours", 10_001 * 60)]),
        "reason": F(API_TEXT, accepts=MARKUP_AND_UNICODE),
        "expires_on": F([*API_DATES, H("before-today", "2020-01-01")]),
    },
    "api:agreement-purchase-move": {
        "to_agreement": F(
            [
                *API_IDS,
                H("client-B-agreement", "@agreement_b"),
                H("same-agreement", "@agreement"),
                H("ended-agreement", "@agreement_b_ended"),
            ]
        ),
        # 8 h of the block are unused: 9 h is refused too.
        "minutes": F([*API_MINUTES, H("9-hours", 540)]),
        "reason": F(API_TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "api:agreement-purchases": {
        "hours": F([H("null", None, error=WHOLE_REQUEST) if h.label == "null" else h for h in API_MINUTES]),
        "tier": F(API_PKS),
    },
    "api:invoice-reload-block": {
        "hours": F([H("null", None, error=WHOLE_REQUEST) if h.label == "null" else h for h in API_MINUTES]),
        "tier": F(API_PKS),
    },
    "api:invoice-reload-discard": {"reason": F([*API_OPTIONAL_TEXT, *SINGLE_LINE])},
    "api:time-entry-list": {
        "agreement": F([*API_IDS, H("ended-agreement", "@agreement_b_ended")]),
        "client": F(API_IDS),
        "ticket": F([*API_IDS, H("client-B-ticket", "@ticket_b")]),
        "work_date": F(API_DATES),
        "started_at": F(API_LOCAL_TIMES),
        "minutes": F(API_MINUTES),
        "work_type": F(API_PKS),
        "notes": F(API_OPTIONAL_TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "timesheet:timer_start": {
        "timer-agreement": F(
            [H("unknown-name", "Nobody Ltd"), H("unknown-uuid", UNKNOWN_UUID), BLANK, NUL], error="agreement"
        ),
        "timer-ticket": F(TEXT, error="ticket"),
        "timer-subject": F([*OPTIONAL_TEXT, *SINGLE_LINE], error="subject"),
        "timer-work_type": F(CHOICES, error="work_type"),
        "timer-notes": F(OPTIONAL_TEXT, error="notes", accepts=MARKUP_AND_UNICODE),
    },
    "api:timer-list": {
        "agreement": F([*API_IDS, H("ended-agreement", "@agreement_b_ended")]),
        "client": F(API_IDS),
        "ticket": F([*API_IDS, H("client-B-ticket", "@ticket_b")]),
        "work_type": F(API_PKS),
        "notes": F(API_OPTIONAL_TEXT, accepts=MARKUP_AND_UNICODE),
    },
    "api:business-hours-detail": {
        "opens": F(API_LOCAL_TIMES),
        "closes": F([*API_LOCAL_TIMES, H("before-opening", "07:00"), H("null-with-opening", None)]),
    },
    "api:holiday-list": {
        "date": F([*API_DATES, H("already-a-holiday", "@today")]),
        "name": F(API_TEXT),
    },
    "api:time-entry-void": {"reason": F(API_TEXT, accepts=[SCRIPT, IMG])},
    "dashboard:webhooks": {
        "url": F([*WEBHOOK_URLS, *TEXT]),
        "description": F([*OPTIONAL_TEXT, *SINGLE_LINE], accepts=[SCRIPT, IMG]),
        "events": F([H("unknown", "invoice.deleted"), BLANK, NUL]),
    },
    "dashboard:webhook": {
        "url": F([*WEBHOOK_URLS, *TEXT]),
        "events": F([H("unknown", "invoice.deleted"), BLANK, NUL]),
    },
    "api:webhook-endpoint-list": {
        "url": F([*WEBHOOK_URLS, *API_TEXT]),
        "description": F([*API_OPTIONAL_TEXT, *SINGLE_LINE], accepts=[SCRIPT, IMG]),
        "events": F(
            [
                H("unknown", ["invoice.deleted"], error="events.0"),
                H("empty-list", []),
                H("string", "invoice.paid"),
                H("null", None),
            ]
        ),
    },
    "api:webhook-endpoint-detail": {
        "url": F([*WEBHOOK_URLS, *API_TEXT]),
        "events": F(
            [H("unknown", ["invoice.deleted"], error="events.0"), H("empty-list", []), H("string", "invoice.paid")]
        ),
        "is_active": F([H("string-yes", "yes"), H("number-1", 1), H("null", None)]),
    },
    "api:question-list": {
        "time_entry": F(API_IDS),
        "reason": F([h for h in API_TEXT if h not in SINGLE_LINE], accepts=MARKUP_AND_UNICODE),
    },
    "api:estimate-list": {
        "ticket": F(API_IDS),  # any client's ticket is valid: technicians work for every client
        "minutes": F(API_MINUTES),
        "work_type": F(API_PKS),
        "description": F(API_TEXT),
    },
    "api:estimate-approve": {"tier": F([*API_PKS, H("retired-tier", "@retired_tier")])},
    "api:question-resolve": {
        "outcome": F([H("sideways"), BLANK, NUL, H("number-1", 1)]),
        "reply": F([h for h in API_TEXT if h not in SINGLE_LINE], accepts=MARKUP_AND_UNICODE),
    },
    "api:invoice-payments": {
        "amount": F(API_AMOUNTS),
        "method": F([H("bitcoin"), BLANK, NUL, SURROGATE, H("number-1", 1)]),
        "reference": F(API_TEXT),
        "paid_on": F(API_DATES),
    },
    "api:token-list": {
        "user": F([H("unknown", "nobody"), H("deactivated", "@inactive_username"), *API_TEXT]),
        "name": F(API_TEXT, accepts=[SCRIPT, IMG]),
    },
}

# Objects in the URL: an unknown and a malformed id for the URL's first object,
# and (where one exists) another client's or another technician's object.
BAD_URL_IDS = [H("unknown-uuid", UNKNOWN_UUID), H("not-a-uuid", "not-a-uuid")]
FOREIGN_URL_IDS: dict[str, list[tuple[str, H]]] = {
    "portal:buy": [("public_id", H("client-B-agreement", "@agreement_b"))],
    "timesheet:void": [("public_id", H("another-technicians-entry", "@entry_tom"))],
    "timesheet:correct": [("public_id", H("another-technicians-entry", "@entry_tom"))],
    "dashboard:contact_reinvite": [
        ("contact_id", H("client-B-contact", "@contact_b")),
        ("contact_id", H("unknown-contact", "999999")),
    ],
    "api:time-entry-void": [("id", H("another-technicians-entry", "@entry_tom"))],
    # Staff see every timer but stop or discard only their own.
    "api:timer-stop": [("id", H("another-technicians-timer", "@timer_tom"))],
    "api:timer-detail": [("id", H("another-technicians-timer", "@timer_tom"))],
    "dashboard:member_reinvite": [("username", H("a-client-contact", "@alice_username"))],
    "api:client-contact-invitation": [
        ("username", H("client-B-contact", "@charlie_username")),
        ("username", H("unknown-contact", "nobody-here")),
    ],
}
NO_URL_CASES = {
    "password_reset_confirm": "Django's view: a bad uid or token shows its own 'invalid link' page",
    "dashboard:work_type_edit": "an integer key of the shared catalogue; an unknown one: dashboard/tests/test_work_types.py",
}


# ---------------------------------------------------------------------------
# Where accepted text is stored and shown


@dataclass(frozen=True)
class Shown:
    model: type
    attribute: str
    role: str  # who opens the page
    page: Callable[[dict, object], str] | None  # (world, the stored object) -> the page that shows it


def _client_page(world: dict, _obj: object) -> str:
    return reverse("dashboard:client", args=[world["ids"]["client"]]) + f"?agreement={world['ids']['agreement']}"


def _invoice_page(world: dict, _obj: object) -> str:
    return reverse("billing:invoice", args=[world["ids"]["invoice"]])


def _portal_page(world: dict, _obj: object) -> str:
    return reverse("portal:agreement", args=[world["ids"]["agreement"]])


def _portal_home(_world: dict, _obj: object) -> str:
    return reverse("portal:home")


def _mine(_world: dict, _obj: object) -> str:
    return reverse("timesheet:mine")


def _log(_world: dict, _obj: object) -> str:
    return reverse("timesheet:log")


def _webhooks_page(_world: dict, _obj: object) -> str:
    return reverse("dashboard:webhooks")


class MovedOut:
    """A move writes its reason on two ledger rows (out of one agreement, into the other): the first is shown here."""

    objects = LedgerEntry.objects.filter(kind="move_out")


SHOWN: dict[tuple[str, str], Shown] = {
    ("dashboard:client_new", "name"): Shown(
        Client, "name", "staff", lambda w, client: reverse("dashboard:client", args=[client.public_id])
    ),
    ("dashboard:client_edit", "name"): Shown(Client, "name", "staff", _client_page),
    ("dashboard:adjust", "reason"): Shown(LedgerEntry, "reason", "staff", _client_page),
    ("timesheet:log", "notes"): Shown(TimeEntry, "notes", "alice", _portal_page),
    ("timesheet:void", "reason"): Shown(TimeEntry, "void_reason", "technician", _mine),
    ("timesheet:correct", "notes"): Shown(TimeEntry, "notes", "technician", _mine),
    ("timesheet:correct", "reason"): Shown(TimeEntry, "void_reason", "staff", _client_page),
    ("portal:buy", "note"): Shown(HoursRequest, "note", "staff", lambda w, o: reverse("dashboard:home")),
    ("portal:question", "reason"): Shown(ChargeQuestion, "reason", "staff", lambda w, o: reverse("dashboard:home")),
    ("dashboard:question_resolve", "reply"): Shown(ChargeQuestion, "reply", "alice", _portal_page),
    ("billing:invoice_payment", "reference"): Shown(Payment, "reference", "staff", _invoice_page),
    ("billing:invoice_void", "reason"): Shown(Invoice, "void_reason", "staff", _invoice_page),
    ("dashboard:agreement_cancel", "reason"): Shown(CreditNote, "reason", "staff", _client_page),
    ("dashboard:block_cancel", "reason"): Shown(CreditNote, "reason", "staff", _client_page),
    # The ledger entry's reason names the two dates too; the audit event keeps the reason as typed.
    ("dashboard:block_expiry", "reason"): Shown(AuditEvent, "after__reason", "staff", _client_page),
    ("api:agreement-purchase-expiry", "reason"): Shown(AuditEvent, "after__reason", "staff", _client_page),
    ("api:agreement-cancel", "reason"): Shown(CreditNote, "reason", "alice", _portal_home),
    ("api:agreement-purchase-cancel", "reason"): Shown(CreditNote, "reason", "alice", _portal_home),
    ("api:agreement-adjustments", "reason"): Shown(LedgerEntry, "reason", "staff", _client_page),
    ("dashboard:block_goodwill", "reason"): Shown(LedgerEntry, "reason", "staff", _client_page),
    ("dashboard:block_move", "reason"): Shown(MovedOut, "reason", "staff", _client_page),
    ("api:agreement-goodwill", "reason"): Shown(LedgerEntry, "reason", "staff", _client_page),
    ("api:agreement-purchase-move", "reason"): Shown(MovedOut, "reason", "staff", _client_page),
    ("api:time-entry-list", "notes"): Shown(TimeEntry, "notes", "technician", _mine),
    ("api:time-entry-void", "reason"): Shown(TimeEntry, "void_reason", "technician", _mine),
    ("timesheet:timer_start", "timer-notes"): Shown(Timer, "notes", "technician", _log),
    ("api:timer-list", "notes"): Shown(Timer, "notes", "technician", _log),
    ("api:question-list", "reason"): Shown(ChargeQuestion, "reason", "staff", lambda w, o: reverse("dashboard:home")),
    ("api:question-resolve", "reply"): Shown(ChargeQuestion, "reply", "alice", _portal_page),
    ("api:token-list", "name"): Shown(ApiToken, "name", "staff", None),  # no page shows it but the admin
    ("dashboard:webhooks", "description"): Shown(Endpoint, "description", "staff", _webhooks_page),
    ("api:webhook-endpoint-list", "description"): Shown(Endpoint, "description", "staff", _webhooks_page),
}


# ---------------------------------------------------------------------------
# The world: client A's agreement with a paid and an unpaid block, entries,
# a request, tokens; client B with an agreement and a ticket.


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # API throttle counters


@pytest.fixture
def world(
    client_a, client_b, alice, charlie, staff, technician, agreement, ticket, seller, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    # Listens to payments: the first payment below gives it a delivery to resend.
    hook = webhook_endpoint_create(url="http://127.0.0.1:9/psa", events=["invoice.paid"], actor=staff).endpoint
    paid = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))
    payment_record(invoice=paid, amount=paid.total, method="ach", reference="ACH-1", paid_on=today, actor=staff)
    unpaid = invoice_sell_block(agreement=agreement, actor=staff, tier=tier(20))
    entry = time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=today,
        minutes=90,
        work_type=work_type(),
        notes="Replaced the firewall",
    )
    tom = TechnicianFactory(username="tom")
    entry_tom = time_entry_log(
        agreement=agreement, technician=tom, ticket=ticket, work_date=today, minutes=30, work_type=work_type()
    )
    question = question_raise(time_entry=entry_tom, raised_by=alice, reason="Why 30 minutes?")
    estimate = estimate_create(
        ticket=ticket, actor=technician, minutes=6000, work_type=work_type(), description="Rewire the office"
    )
    beyond_blocks = AgreementFactory(client=client_a, name="Projects", overage_policy=OveragePolicy.BILL_OVERAGE)
    time_entry_log(  # 45 min beyond every block: overage to bill
        agreement=beyond_blocks,
        technician=technician,
        ticket=ticket,
        work_date=today,
        minutes=45,
        work_type=work_type(),
    )
    leaving = AgreementFactory(client=client_a, name="Leaving")
    leaving_invoice = invoice_sell_block(agreement=leaving, actor=staff, hours=5)
    payment_record(
        invoice=leaving_invoice, amount=leaving_invoice.total, method="ach", reference="ACH-L", paid_on=today,
        actor=staff,
    )  # fmt: skip
    drafted = AgreementFactory(
        client=client_a, name="Drafted", topup_mode="draft", reload_tier=tier(20), low_balance_threshold_minutes=600
    )
    drafted_paid = invoice_sell_block(agreement=drafted, actor=staff, tier=tier(10))
    payment_record(
        invoice=drafted_paid, amount=drafted_paid.total, method="ach", reference="ACH-D", paid_on=today, actor=staff
    )
    episode = episode_open(agreement=Agreement.objects.get(pk=drafted.pk))
    episode_process(episode_id=episode.pk, send=lambda email_id: None)
    reload_draft = Invoice.objects.get(agreement=drafted, status="draft")
    agreement_b = AgreementFactory(client=client_b)
    ended_b = AgreementFactory(client=client_b, name="Old agreement", status="ended")
    ticket_b = TicketFactory(client=client_b)
    hours_request = hours_request_create(agreement=agreement, tier=tier(10), requested_by=alice, note="More please")
    alice_token = token_create(user=alice, name="Acme PSA sync", actor=staff).token
    retired = Tier.objects.create(name="Retired 5 h", hours=5, is_active=False)
    inactive = TechnicianFactory(username="gone", is_active=False)
    invited = TechnicianFactory(username="ivy")
    with django_capture_on_commit_callbacks(execute=True):
        invitation_send(user=invited, invited_by=staff)
    AccessAttempt.objects.create(  # tess is locked out after failed sign-ins
        username="tess", ip_address="10.0.0.7", user_agent="test", http_accept="*/*", path_info="/login/",
        get_data="", post_data="", failures_since_start=10,
    )  # fmt: skip
    undelivered = OutgoingEmail.objects.create(
        kind=EmailKind.INVOICE,
        recipient="billing@acme-dental.example",
        subject="Acme Dental: invoice",
        body_text="Your invoice.",
        agreement=agreement,
        invoice=unpaid,
        status=EmailStatus.FAILED,
        attempts=1,
        last_error="SMTPRecipientsRefused: 550 No such user",
    )
    holiday = holiday_add(date=today, name="Founders' day", actor=staff)
    staff_timer = timer_start(technician=staff, client=client_a, ticket=ticket, work_type=work_type())
    timer_tom = timer_start(technician=tom, client=client_a, ticket=ticket, work_type=work_type())
    invitation_token = re.search(r"/invitation/([^/\s]+)/", mail.outbox[-1].body).group(1)

    http = {"anon": HttpClient()}
    for role, user in [("staff", staff), ("technician", technician), ("alice", alice)]:
        http[role] = HttpClient()
        http[role].force_login(user)
    api = {
        role: HttpClient(headers={"Authorization": f"Token {token_create(user=user, name=role, actor=staff).key}"})
        for role, user in [("staff", staff), ("technician", technician), ("alice", alice)]
    }
    ids = {
        "today": today.isoformat(),
        "client": str(client_a.public_id),
        "contact": str(alice.client_contact.pk),
        "contact_b": str(charlie.client_contact.pk),
        "agreement": str(agreement.public_id),
        "overage_agreement": str(beyond_blocks.public_id),
        "cancel_agreement": str(leaving.public_id),
        "paid_block": str(paid.block.public_id),
        "agreement_b": str(agreement_b.public_id),
        "agreement_b_ended": str(ended_b.public_id),
        "invoice": str(unpaid.public_id),
        "reload_draft": str(reload_draft.public_id),
        "entry": str(entry.public_id),
        "entry_tom": str(entry_tom.public_id),
        "ticket": str(ticket.public_id),
        "ticket_number": ticket.number,
        "ticket_b": str(ticket_b.public_id),
        "hours_request": str(hours_request.public_id),
        "question": str(question.public_id),
        "estimate": str(estimate.public_id),
        "token": str(alice_token.public_id),
        "tier": tier(10).pk,
        "retired_tier": retired.pk,
        "work_type": work_type().pk,
        "inactive_username": inactive.username,
        "invitation": invitation_token,
        "alice_email": alice.email,
        "alice_username": alice.username,
        "charlie_username": charlie.username,
        "technician_username": technician.username,
        "undelivered_email": str(undelivered.public_id),
        "alice_uid": urlsafe_base64_encode(force_bytes(alice.pk)),
        "alice_reset_token": default_token_generator.make_token(alice),
        "holiday": str(holiday.public_id),
        "holiday_date": (today + datetime.timedelta(days=7)).isoformat(),
        "weekday": 1,
        "staff_timer": str(staff_timer.public_id),
        "timer_tom": str(timer_tom.public_id),
        "webhook": str(hook.public_id),
        "webhook_delivery": str(Delivery.objects.filter(endpoint=hook).earliest("pk").public_id),
    }
    return {"ids": ids, "http": http, "api": api}


# ---------------------------------------------------------------------------
# One helper to snapshot, one to perform


SNAPSHOT_APPS = {
    "axes", "audit", "accounts", "agreements", "billing", "portal", "api", "notifications", "reports", "webhooks",
}  # fmt: skip
# Columns a request may touch without changing any data: the token's "last used" stamp.
SNAPSHOT_SKIP = {"api.ApiToken": {"last_used_at"}, "accounts.User": {"last_login"}}


def _snapshot() -> dict[str, object]:
    """Every row of every project table (ledger, balances, blocks' minutes left,
    invoices, payments, entries, tokens, requests, users...) and the emails sent."""
    state: dict[str, object] = {"emails sent": len(mail.outbox)}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label not in SNAPSHOT_APPS:
            continue
        skip = SNAPSHOT_SKIP.get(model._meta.label, set())
        columns = [f.attname for f in model._meta.concrete_fields if f.name not in skip]
        state[model._meta.label] = list(model.objects.order_by("pk").values_list(*columns))
    return state


def _changes(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def _assert_balances_are_ledger_sums() -> None:
    for agreement in Agreement.objects.all():
        total = LedgerEntry.objects.filter(agreement=agreement).aggregate(s=Sum("minutes"))["s"] or 0
        assert agreement.balance_minutes == total, agreement
    for block in Block.objects.all():
        total = LedgerEntry.objects.filter(block=block).aggregate(s=Sum("minutes"))["s"] or 0
        assert block.minutes_left == total, block


def _resolve(value: object, world: dict) -> object:
    if isinstance(value, str) and value.startswith("@"):
        return world["ids"][value[1:]]
    if isinstance(value, list):
        return [_resolve(item, world) for item in value]
    return value


def _url(name: str, world: dict, override: tuple[str, object] | None = None) -> str:
    write = WRITES[name]
    kwargs = {key: world["ids"][ref] for key, ref in write.url.items()}
    if override:
        kwargs[override[0]] = _resolve(override[1], world)
    url = reverse(name, kwargs=kwargs)
    if name == "password_reset_confirm":
        # Django moves the token into the session and redirects to a fixed URL first.
        response = world["http"]["anon"].get(url)
        if response.status_code == HTTPStatus.FOUND:
            url = response["Location"]
    return url


def _json(body: dict) -> str:
    """JSON text, with Raw values written as they are (1e309, NaN)."""
    raws = {}
    for key, value in body.items():
        if isinstance(value, Raw):
            raws[key] = value.text
            body = {**body, key: f"__raw_{key}__"}
    text = json.dumps(body)  # escapes a lone surrogate as \\ud800: valid JSON text
    for key, raw in raws.items():
        text = text.replace(json.dumps(f"__raw_{key}__"), raw)
    return text


def _perform(name: str, world: dict, body: dict, *, override: tuple[str, object] | None = None):
    write = WRITES[name]
    url = _url(name, world, override)
    if write.after_commit:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return world["http"][write.role].post(url, data=body)
    if write.api:
        send = getattr(world["api"][write.role], write.method)
        return send(url, data=_json(body), content_type="application/json")
    return world["http"][write.role].post(url, data=body)


def _body(name: str, world: dict, changes: dict[str, object] | None = None) -> dict:
    body = {key: _resolve(value, world) for key, value in WRITES[name].valid.items()}
    for key, value in (changes or {}).items():
        body[key] = _resolve(value, world)
    return body


# ---------------------------------------------------------------------------
# What a refusal looks like


def _assert_api_refusal(response, field_name: str) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"status", "code", "message", "fields"}, body
    assert body["status"] == HTTPStatus.BAD_REQUEST, body
    assert body["code"] == ("parse_error" if field_name == PARSE else "invalid"), body
    assert body["message"].strip(), body
    if field_name not in {PARSE, WHOLE_REQUEST}:
        assert field_name in body["fields"], body
        assert all(message.strip() for message in body["fields"][field_name]), body


def _assert_form_refusal(response, write: Write, field_name: str) -> None:
    if write.quiet:
        assert response.status_code == HTTPStatus.FOUND, response.status_code
        return
    if response.status_code == HTTPStatus.FOUND:  # a row action: back to the list, with the error as a message
        errors = [str(m) for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]
        assert errors, f"redirected to {response['Location']} without an error message"
        return
    assert response.status_code in {HTTPStatus.OK, HTTPStatus.BAD_REQUEST}, response.status_code
    form = response.context[write.form]
    errors = form.errors.get(field_name)
    assert errors, f"no error on {field_name}: {form.errors.as_data()}"
    html = response.content.decode()
    for message in errors:
        assert escape(message) in html, f"the error “{message}” is not on the page"


def _assert_escaped(html: str, text: str) -> None:
    assert escape(text) in html, f"{text!r} is not shown (escaped) on the page"
    if "<" in text:
        assert text not in html, f"{text!r} is on the page unescaped"


# ---------------------------------------------------------------------------
# The tests


def _hostile_cases():
    for name, fields in HOSTILE.items():
        for field_name, spec in fields.items():
            for hostile in spec.values:
                error = hostile.error or spec.error or field_name
                yield pytest.param(name, field_name, hostile.value, error, id=f"{name}|{field_name}={hostile.label}")


def _accepted_cases():
    for name, fields in HOSTILE.items():
        for field_name, spec in fields.items():
            for hostile in spec.accepts:
                yield pytest.param(name, field_name, hostile.value, id=f"{name}|{field_name}={hostile.label}")


def _url_cases():
    for name, write in WRITES.items():
        if not write.url or name in NO_URL_CASES:
            continue
        first = next(iter(write.url))
        for key, hostile in [*((first, h) for h in BAD_URL_IDS), *FOREIGN_URL_IDS.get(name, [])]:
            yield pytest.param(name, key, hostile.value, id=f"{name}|url {key}={hostile.label}")


@pytest.mark.django_db
@pytest.mark.parametrize("name", WRITES)
def test_it_writes_with_the_valid_body(world, name):
    """The baseline of every row below really writes: a refusal is the hostile value's doing."""
    before = _snapshot()
    response = _perform(name, world, _body(name, world))
    assert response.status_code == WRITES[name].success, response.content[:1000]
    assert _changes(before, _snapshot()), f"{name}: the valid body changed nothing"
    _assert_balances_are_ledger_sums()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "field_name", "value", "error"), list(_hostile_cases()))
def test_it_refuses_hostile_input_and_changes_nothing(world, name, field_name, value, error):
    before = _snapshot()
    response = _perform(name, world, _body(name, world, {field_name: value}))
    if WRITES[name].api:
        _assert_api_refusal(response, error)
    else:
        _assert_form_refusal(response, WRITES[name], error)
    assert not _changes(before, _snapshot()), f"changed: {_changes(before, _snapshot())}"
    _assert_balances_are_ledger_sums()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "key", "value"), list(_url_cases()))
def test_it_answers_404_for_unknown_and_foreign_ids_in_the_url(world, name, key, value):
    before = _snapshot()
    response = _perform(name, world, _body(name, world), override=(key, value))
    expected = {HTTPStatus.NOT_FOUND}
    if name == "api:time-entry-void":  # the API shows technicians every entry; changing another's is forbidden
        expected.add(HTTPStatus.FORBIDDEN)
    assert response.status_code in expected, response.status_code
    if WRITES[name].api:
        assert set(response.json()) == {"status", "code", "message", "fields"}
    assert not _changes(before, _snapshot()), f"changed: {_changes(before, _snapshot())}"


IDEMPOTENT_WRITES = [
    "api:time-entry-list",
    "api:agreement-adjustments",
    "api:agreement-purchases",
    "api:agreement-overage-invoice",
    "api:invoice-reload-issue",
    "api:invoice-payments",
    "api:agreement-cancel",
    "api:agreement-purchase-cancel",
    "api:agreement-purchase-expiry",
    "api:agreement-goodwill",
    "api:agreement-purchase-move",
    "api:question-list",
    "api:question-resolve",
    "api:estimate-list",
]
BAD_KEYS = [H("201-chars", "k" * 201), H("with-space", "my key"), H("non-ascii", "clé-1"), BLANK, NUL]


@pytest.mark.django_db
@pytest.mark.parametrize("name", IDEMPOTENT_WRITES)
@pytest.mark.parametrize("key", [pytest.param(h.value, id=h.label) for h in BAD_KEYS])
def test_it_refuses_a_malformed_idempotency_key(world, name, key):
    before = _snapshot()
    url = _url(name, world)
    api = world["api"][WRITES[name].role]
    response = api.post(
        url, data=_json(_body(name, world)), content_type="application/json", headers={"Idempotency-Key": key}
    )
    _assert_api_refusal(response, "Idempotency-Key")
    assert not _changes(before, _snapshot()), f"changed: {_changes(before, _snapshot())}"


@pytest.mark.django_db
@pytest.mark.parametrize("key", [pytest.param("\ud800", id="lone-surrogate"), pytest.param("a\x00b", id="NUL-byte")])
def test_it_refuses_unstorable_text_in_a_json_key(world, key):
    """Not a field of any serializer, yet quoted back in an error it would crash the JSON renderer."""
    before = _snapshot()
    response = _perform("api:time-entry-list", world, {**_body("api:time-entry-list", world), key: {key: "x"}})
    _assert_api_refusal(response, key.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00"))
    assert not _changes(before, _snapshot())


API_WRITES_WITH_A_BODY = [name for name, write in WRITES.items() if write.api and write.valid]  # revoke reads none


@pytest.mark.django_db
@pytest.mark.parametrize("name", API_WRITES_WITH_A_BODY)
def test_it_refuses_deeply_nested_json_before_parsing_it(world, name):
    """2,000 nested lists would exhaust Python's recursion limit while parsing
    (a 500): the body is refused as a whole, with the API's error shape."""
    before = _snapshot()
    text = _json({**_body(name, world), "nested": "__deep__"}).replace('"__deep__"', "[" * 2000 + "]" * 2000)
    send = getattr(world["api"][WRITES[name].role], WRITES[name].method)
    response = send(_url(name, world), data=text, content_type="application/json")
    _assert_api_refusal(response, PARSE)
    assert response.json()["message"] == "The JSON body is nested too deeply: at most 32 levels."
    assert not _changes(before, _snapshot())


def test_json_nested_to_the_limit_is_parsed_and_deeper_is_not():
    from rest_framework.exceptions import ParseError

    from api.parsers import MAX_JSON_DEPTH, JSONParser

    def parse(text: str) -> object:
        return JSONParser().parse(io.BytesIO(text.encode()), "application/json", {})

    assert parse('{"a": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}")
    # Brackets inside strings, escaped quotes included, are text, not nesting.
    assert parse(json.dumps({"a": "[[[{{{" * 100 + '\\"[['})) == {"a": "[[[{{{" * 100 + '\\"[['}
    with pytest.raises(ParseError):
        parse('{"a": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}")


def _strings(data: object):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "field_name", "value"), list(_accepted_cases()))
def test_it_stores_free_text_as_typed_and_escapes_it_when_shown(world, name, field_name, value):
    # What the same write with the valid body changes, tried in a savepoint and rolled back.
    with transaction.atomic():
        before = _snapshot()
        _perform(name, world, _body(name, world))
        plain = _changes(before, _snapshot())
        transaction.set_rollback(True)
    before = _snapshot()
    response = _perform(name, world, _body(name, world, {field_name: value}))
    assert response.status_code == WRITES[name].success, response.content[:1000]
    assert _changes(before, _snapshot()) == plain, "the text changed more than the plain write does"
    shown = SHOWN[(name, field_name)]
    stored = shown.model.objects.filter(**{shown.attribute: value})
    assert stored.count() == 1, "not stored exactly as typed"
    if WRITES[name].api:
        assert value in set(_strings(response.json())), "not answered exactly as typed"
    if shown.page is not None:
        page = world["http"][shown.role].get(shown.page(world, stored.get()))
        assert page.status_code == HTTPStatus.OK
        _assert_escaped(page.content.decode(), value)
    _assert_balances_are_ledger_sums()


# ---------------------------------------------------------------------------
# The table covers every write


def _patterns(resolver: URLResolver | None = None, namespaces: tuple[str, ...] = ()):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, namespaces + ((entry.namespace,) if entry.namespace else ()))
        elif isinstance(entry, URLPattern):
            yield ":".join(namespaces + (entry.name or str(entry.pattern),)), entry.callback


def _accepts_writes(callback: Callable) -> bool:
    """Does this view take POST (or PUT/PATCH/DELETE)? Read from the view itself."""
    if (actions := getattr(callback, "actions", None)) is not None:  # a DRF viewset route
        return bool({"post", "put", "patch", "delete"} & set(actions))
    if (view_class := getattr(callback, "view_class", None)) is not None:  # a class-based view
        return any(hasattr(view_class, method) for method in ("post", "put", "patch", "delete"))
    function = callback
    while function is not None:
        for cell in function.__closure__ or ():  # require_POST / require_http_methods([...])
            contents = cell.cell_contents
            if isinstance(contents, (list, tuple, set, frozenset)) and "POST" in contents:
                return True
        code = function.__code__  # the compiled view, not its source file (which may be edited meanwhile)
        if "POST" in code.co_names or "POST" in code.co_consts:  # request.POST, request.method == "POST"
            return True
        function = getattr(function, "__wrapped__", None)
    return False


def test_it_covers_every_write():
    writes = {name for name, callback in _patterns() if not name.startswith("admin:") and _accepts_writes(callback)}
    assert any(name.startswith("admin:") for name, _ in _patterns()), ADMIN_REASON
    missing = sorted(writes - set(WRITES) - set(NOT_DATA_WRITES))
    assert not missing, f"Routes that write but are not in tests/test_hostile_input.py WRITES: {missing}"
    stale = sorted((set(WRITES) | set(NOT_DATA_WRITES)) - writes)
    assert not stale, f"WRITES/NOT_DATA_WRITES list routes that take no POST: {stale}"
    untried = sorted(name for name in WRITES if name not in HOSTILE and not WRITES[name].url)
    assert not untried, f"Writes with no hostile input tried: {untried}"
    assert set(HOSTILE) <= set(WRITES)
    assert {key for key in SHOWN} == {(n, f) for n, fields in HOSTILE.items() for f, s in fields.items() if s.accepts}


def test_it_covers_every_api_write_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented, idempotent = set(), set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in {"post", "put", "patch", "delete"}:
                name = resolve(path.replace("{id}", UNKNOWN_UUID)).view_name
                documented.add(name)
                if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
                    idempotent.add(name)
    assert documented, "the schema lists no writes"
    api_writes = {name for name in WRITES if WRITES[name].api}
    assert documented == api_writes, (sorted(documented - api_writes), sorted(api_writes - documented))
    assert idempotent == set(IDEMPOTENT_WRITES)


def test_it_tries_every_kind_of_hostile_value():
    """The table stays honest: the issue's categories are all in it."""
    tried = {h.label for fields in HOSTILE.values() for spec in fields.values() for h in [*spec.values, *spec.accepts]}
    tried |= {h.label for values in FOREIGN_URL_IDS.values() for _, h in values}
    expected = {"-1:30", "99999h", "1:75", "-1", "0", "10**12", "10**30", "1e309", "NaN", "Infinity", "abc", "1,5",
                "fullwidth-12", "12.345", "1e6", "blank", "0001-01-01", "9999-12-31", "2026-02-30", "yesterday",
                "unknown-uuid", "client-B-agreement", "client-B-ticket", "10000-chars", "script-tag", "img-onerror",
                "NUL-byte", "lone-surrogate", "RTL-override", "zero-width-joiner", "emoji", "CR-LF", "ESC-sequence",
                "1_000", "1E+2"}  # fmt: skip
    assert expected <= tried, sorted(expected - tried)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("admin_page", "fields", "field_name"),
    [
        ("admin:agreements_tier_add", {"name": "Ten\r\nhours", "hours": "10", "discount_per_hour": "0"}, "name"),
        (
            "admin:billing_sellerprofile_add",
            {"name": "Northwind\nIT", "address": "200 Harbor Way\nSpringfield", "payment_terms_days": "15"},
            "name",
        ),
    ],
)
def test_the_admin_refuses_control_characters_in_single_line_fields_too(admin_page, fields, field_name):
    """One validator on the model field: the admin's forms apply it as the
    services and the API do. A multi-line address keeps its line breaks."""
    from accounts.models import User

    http = HttpClient()
    http.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    before = _snapshot()
    response = http.post(reverse(admin_page), fields)
    assert response.status_code == HTTPStatus.OK
    errors = response.context["adminform"].form.errors
    assert errors == {field_name: ["Use one line of text, without line breaks, tabs or other control characters."]}
    assert not _changes(before, _snapshot())
