"""Getting paid online: pay links, one PaymentIntent per invoice, webhooks
handled once, and a reconciliation that applies what the webhooks missed.

Money reaches an invoice only through billing.services.payment_record, under
the invoice row lock, and only from `intent_apply` (below): the webhook, the
pay page and the reconciliation all go through it, and the intent row's
`applied_at`, read under that lock, makes a second arrival change nothing.
Lock order is the billing one: invoice row first, then our intent row.

Payments sits below notifications: staff alerts and client emails are asked
for with the signals in payments.signals, which notifications answers.
"""

import datetime
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from agreements import services as agreement_services
from agreements.domain import format_minutes
from agreements.models import Client
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus, PaymentMethod
from billing.selectors import invoice_amount_paid, seller_profile_get
from payments import provider, refunds, signals
from payments.models import ReloadChargeAttempt, SavedPaymentMethod, StripeEvent, StripePaymentIntent

log = logging.getLogger(__name__)

PAY_LINK_SALT = "payments.pay-link"
# Intent states in which the amount may still be changed and a method tried.
OPEN_STATES = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
PAYMENT_METHOD_ID = re.compile(r"^(pm|card|src)_[A-Za-z0-9]{1,200}$")
# Stripe's method types → ours.
METHODS = {"card": PaymentMethod.CARD, "sepa_debit": PaymentMethod.SEPA_DEBIT, "us_bank_account": PaymentMethod.ACH}


class PayLinkError(Exception):
    """A pay link that cannot be used; `message` says why, to the person holding it."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BadWebhook(Exception):
    """The request was not signed by Stripe with our secret."""


# ---------------------------------------------------------------------------
# Pay links: signed, scoped to one invoice, expiring


def pay_link_token(invoice: Invoice) -> str:
    return signing.dumps(str(invoice.public_id), salt=PAY_LINK_SALT)


def pay_link_url(invoice: Invoice) -> str:
    """The absolute pay link for emails ("" while online payment is off or nothing is due)."""
    if not provider.enabled() or invoice.status != InvoiceStatus.ISSUED:
        return ""
    return settings.SITE_URL.rstrip("/") + reverse("payments:pay", args=[pay_link_token(invoice)])


def invoice_for_pay_token(token: str) -> Invoice:
    """The invoice a pay link names, if it may still be paid; else PayLinkError."""
    try:
        public_id = signing.loads(
            token, salt=PAY_LINK_SALT, max_age=datetime.timedelta(days=settings.PAY_LINK_MAX_AGE_DAYS)
        )
    except signing.SignatureExpired:
        raise PayLinkError(
            _("This pay link has expired. Sign in to the portal to pay, or ask us for a new link."), status=410
        ) from None
    except signing.BadSignature:
        raise PayLinkError(_("This pay link is not valid. Check that it was copied whole."), status=404) from None
    invoice = Invoice.objects.select_related("client").filter(public_id=public_id).first()
    if invoice is None:
        raise PayLinkError(_("This pay link is not valid. Check that it was copied whole."), status=404)
    invoice_check_payable(invoice, status=410)
    return invoice


def invoice_check_payable(invoice: Invoice, *, status: int = 400) -> None:
    """PayLinkError unless the invoice is issued and unpaid."""
    if invoice.status == InvoiceStatus.PAID:
        raise PayLinkError(
            _("Invoice %(number)s is paid. Thank you — nothing more is due.") % {"number": invoice.number},
            status=status,
        )
    if invoice.status != InvoiceStatus.ISSUED:
        raise PayLinkError(_("This invoice cannot be paid: it was cancelled."), status=status)


# ---------------------------------------------------------------------------
# One PaymentIntent per invoice


def _lock_invoice(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update(of=("self",)).select_related("client").get(pk=invoice_id)


def _method_types(currency: str) -> list[str]:
    # SEPA Direct Debit collects euros only; card collects every currency.
    return ["card", "sepa_debit"] if currency.upper() == "EUR" else ["card"]


def intent_for_invoice(*, invoice: Invoice) -> StripePaymentIntent:
    """The invoice's PaymentIntent, created once and reused; its amount is
    what is still due on our invoice, in the invoice's currency."""
    with transaction.atomic():
        # The invoice row lock: two tabs opening the pay page create one intent.
        invoice = _lock_invoice(invoice.pk)
        invoice_check_payable(invoice)
        due = invoice.total - invoice_amount_paid(invoice)
        row = StripePaymentIntent.objects.select_for_update().filter(invoice=invoice).first()
        stripe = provider.client()
        if row is None:
            intent = stripe.v1.payment_intents.create(
                params={
                    "amount": provider.to_minor(due, invoice.currency),
                    "currency": invoice.currency.lower(),
                    "payment_method_types": _method_types(invoice.currency),
                    "metadata": {"invoice": str(invoice.public_id), "number": invoice.number or ""},
                },
                # Stripe answers a retried create with the same intent.
                options={"idempotency_key": f"invoice-{invoice.public_id}-intent"},
            )
            return StripePaymentIntent.objects.create(
                invoice=invoice,
                stripe_id=intent.id,
                client_secret=intent.client_secret,
                amount=due,
                currency=invoice.currency.upper(),
                status=intent.status,
            )
        if row.amount != due and row.status in OPEN_STATES and row.applied_at is None:
            # Part was paid by hand since: ask only for the rest.
            intent = stripe.v1.payment_intents.update(
                row.stripe_id, params={"amount": provider.to_minor(due, invoice.currency)}
            )
            row.amount, row.status, row.updated_at = due, intent.status, timezone.now()
            row.save(update_fields=["amount", "status", "updated_at"])
        return row


@dataclass(frozen=True)
class PayResult:
    status: str  # "paid", "processing", "requires_action", "declined", "error"
    message: str
    client_secret: str = ""


def invoice_pay(*, invoice: Invoice, payment_method: str, mandate: "MandateAcceptance | None" = None) -> PayResult:
    """Charge the method the browser created (Stripe.js) on the invoice's intent.

    The browser sends only the method's id: the amount and currency are the
    intent's, set from our invoice. A success is applied at once; the
    webhook arriving later finds it applied and changes nothing. A SEPA
    Direct Debit needs the mandate the payer accepted on the page
    (`mandate`): it is kept on the intent row and sent to Stripe.
    """
    if not isinstance(payment_method, str) or not PAYMENT_METHOD_ID.match(payment_method):
        return PayResult("error", _("The card details did not reach us. Please try again."))
    try:
        row = intent_for_invoice(invoice=invoice)
    except PayLinkError as error:
        return PayResult("error", error.message)
    stripe = provider.client()
    try:
        confirm = _sepa_mandate_confirm_params(row=row, payment_method=payment_method, mandate=mandate)
    except ValidationError as error:
        return PayResult("error", " ".join(error.messages))
    except provider.StripeError:
        return PayResult("error", _("The card details did not reach us. Please try again."))
    try:
        stripe.v1.payment_intents.update(row.stripe_id, params={"payment_method": payment_method})
        intent = stripe.v1.payment_intents.confirm(row.stripe_id, params=confirm)
    except provider.CardError as error:
        return PayResult("declined", _declined_message(error.user_message))
    except provider.StripeError:
        log.exception("Stripe refused or failed to confirm %s", row.stripe_id)
        return PayResult("error", _("The payment could not be completed just now. Nothing was charged; try again."))
    outcome = intent_apply(intent=intent)
    if intent.status == "succeeded":
        return PayResult("paid", _("Thank you: invoice %(number)s is paid.") % {"number": invoice.number})
    if intent.status == "processing":
        return PayResult("processing", _("Thank you: the payment is on its way. We will email you once it clears."))
    if intent.status == "requires_action":
        return PayResult("requires_action", _("Your bank asks you to confirm the payment."), row.client_secret)
    log.info("Payment on %s not completed: %s (%s)", row.stripe_id, intent.status, outcome)
    return PayResult("declined", _declined_message(""))


def _declined_message(detail: str | None) -> str:
    base = _("The payment was declined and nothing was charged. Try another card or contact your bank.")
    return f"{detail} {base}" if detail else base


# ---------------------------------------------------------------------------
# Applying what Stripe says about an intent (webhook, pay page, reconciliation)


def _value(obj: object, name: str, default: object = None) -> object:
    try:
        return obj[name]  # StripeObject and plain dicts alike
    except (KeyError, TypeError):
        return default


def _method_of(intent: object, known: str = "") -> str:
    """Our payment method for the intent: from its charge's details, else the
    type we know it was charged with (`known`), else its only method type."""
    charge = _value(intent, "latest_charge")
    details = _value(charge, "payment_method_details") if charge is not None and not isinstance(charge, str) else None
    kind = _value(details, "type") if details else (known or None)
    if kind is None:
        types = _value(intent, "payment_method_types") or ["card"]
        kind = types[0] if len(types) == 1 else "card"
    return METHODS.get(kind, PaymentMethod.CARD)


def intent_apply(*, intent: object, at: datetime.datetime | None = None) -> str:
    """Bring our intent row in line with Stripe's `intent` and, when it
    succeeded, record the payment once. Returns what happened, for logs.

    `at`: when Stripe made the event that reports it (None: Stripe's answer
    now). A status older than the one we hold is not written back; a
    success is recorded whenever it arrives. "processing" records nothing.
    """
    stripe_id = _value(intent, "id")
    status = _value(intent, "status") or ""
    found = StripePaymentIntent.objects.filter(stripe_id=stripe_id).values_list("pk", "invoice_id").first()
    if found is None:
        if status == "succeeded":
            signals.payment_alert.send(
                sender=StripePaymentIntent,
                invoice=None,
                topic=f"unknown:{stripe_id}",
                message=_("Stripe reports a payment (%(id)s) that matches none of our invoices; nothing was credited.")
                % {"id": stripe_id},
            )
        return "unknown payment intent"
    pk, invoice_id = found
    with transaction.atomic():
        invoice = _lock_invoice(invoice_id)  # the lock a manual payment of the same invoice takes too
        row = StripePaymentIntent.objects.select_for_update().get(pk=pk)
        if row.applied_at is not None:
            return "already applied"  # a late "processing" never un-pays
        if status != "succeeded" and _is_stale(row, at):
            log.info("Stale %s for %s ignored (we hold %s since %s)", status, stripe_id, row.status, row.status_at)
            return "stale status ignored"
        row.status, row.updated_at = status, timezone.now()
        row.status_at = at or row.updated_at
        row.method_type = _method_type_of(intent) or row.method_type
        if status != "succeeded":
            row.save(update_fields=["status", "updated_at", "status_at", "method_type"])
            return status
        received = _value(intent, "amount_received") or _value(intent, "amount") or 0
        currency = str(_value(intent, "currency") or "").upper()
        amount = provider.from_minor(int(received), currency or row.currency)
        if currency != row.currency or amount != row.amount:
            return _refuse(
                row,
                invoice,
                _(
                    "Stripe reports %(amount)s %(currency)s for invoice %(number)s, which asked for "
                    "%(expected)s %(expected_currency)s; nothing was credited. Check the payment in Stripe."
                )
                % {
                    "amount": amount,
                    "currency": currency,
                    "number": invoice.number,
                    "expected": row.amount,
                    "expected_currency": row.currency,
                },
            )
        try:
            billing_services.payment_record(
                invoice=invoice,
                amount=amount,
                method=_method_of(intent, row.method_type),
                reference=stripe_id,
                paid_on=timezone.localdate(),
                actor=None,
            )
        except ValidationError as error:
            # Paid by hand (or voided) meanwhile: Stripe holds money this
            # invoice no longer needs. Staff refund it; nothing is credited twice.
            return _refuse(
                row,
                invoice,
                _("Stripe collected %(amount)s %(currency)s for invoice %(number)s, but it was not recorded: %(why)s")
                % {
                    "amount": amount,
                    "currency": currency,
                    "number": invoice.number,
                    "why": " ".join(error.messages),
                },
            )
        row.applied_at, row.outcome = timezone.now(), "recorded"
        row.save(update_fields=["status", "updated_at", "status_at", "method_type", "applied_at", "outcome"])
        return "recorded"


def _refuse(row: StripePaymentIntent, invoice: Invoice, message: str) -> str:
    row.applied_at, row.outcome = timezone.now(), message[:300]
    row.save(update_fields=["status", "updated_at", "status_at", "method_type", "applied_at", "outcome"])
    signals.payment_alert.send(
        sender=StripePaymentIntent, invoice=invoice, topic=f"refused:{row.stripe_id}", message=message
    )
    log.warning("%s", message)
    return "refused"


def _intent_failed(intent: object, *, event_id: str, at: datetime.datetime | None = None) -> str:
    stripe_id = _value(intent, "id")
    row = StripePaymentIntent.objects.filter(stripe_id=stripe_id).select_related("invoice").first()
    if row is None:
        return "unknown payment intent"
    with transaction.atomic():
        invoice = _lock_invoice(row.invoice_id)
        row = StripePaymentIntent.objects.select_for_update().get(pk=row.pk)
        if row.applied_at is not None or invoice.status != InvoiceStatus.ISSUED:
            # A success (or a manual payment) came first: nothing to tell, nothing taken back.
            log.warning("Failure of %s after it was applied (invoice %s) ignored", stripe_id, invoice.number)
            return "late failure ignored"
        if _is_stale(row, at):
            log.info("Stale failure of %s ignored (we hold %s since %s)", stripe_id, row.status, row.status_at)
            return "stale status ignored"
        was_processing = row.status == "processing"
        row.status, row.updated_at = _value(intent, "status") or "requires_payment_method", timezone.now()
        row.status_at = at or row.updated_at
        row.method_type = _method_type_of(intent) or row.method_type
        row.save(update_fields=["status", "updated_at", "status_at", "method_type"])
        error = _value(intent, "last_payment_error") or {}
        reason = _value(error, "message") or ""
        if was_processing:
            # A bank debit (SEPA) failed days after it was accepted.
            _debit_failed_take_back(row=row, invoice=invoice, reason=reason)
        signals.payment_failed.send(
            sender=StripePaymentIntent,
            invoice=invoice,
            # One email per failed attempt (its charge), whichever event or reconciliation reports it.
            topic=f"failed:{stripe_id}:{_value(error, 'charge')}" if _value(error, "charge") else f"failed:{event_id}",
            reason=reason,
            pay_url=pay_link_url(invoice),
        )
        return "failed"


def _charge_refunded(charge: object) -> str:
    """A refund at Stripe. Ours (a credit note's, payments.refunds) is marked
    succeeded and needs nobody. One made in Stripe's dashboard is shown on the
    invoice and told to staff; the hours are not taken back here: staff
    decide, with the credit-note services, what the refund covers."""
    stripe_id = _value(charge, "payment_intent")
    row = StripePaymentIntent.objects.filter(stripe_id=stripe_id).select_related("invoice").first()
    if row is None:
        return "unknown payment intent"
    currency = str(_value(charge, "currency") or row.currency).upper()
    refunded = provider.from_minor(int(_value(charge, "amount_refunded") or 0), currency)
    with transaction.atomic():
        invoice = _lock_invoice(row.invoice_id)
        row = StripePaymentIntent.objects.select_for_update().get(pk=row.pk)
        row.status, row.updated_at = "refunded", timezone.now()
        row.outcome = _("%(amount)s %(currency)s refunded at Stripe") % {"amount": refunded, "currency": currency}
        row.save(update_fields=["status", "updated_at", "outcome"])
        unknown = refunds.refunds_from_charge(intent=row, charge=charge, refunded=refunded)
        if not unknown:
            return "refunded through a credit note"
        signals.payment_alert.send(
            sender=StripePaymentIntent,
            invoice=invoice,
            topic=f"refunded:{_value(charge, 'id')}:{refunded}",
            message=_(
                "%(amount)s %(currency)s of invoice %(number)s was refunded at Stripe. "
                "Issue a credit note for the hours it covers."
            )
            % {"amount": unknown, "currency": currency, "number": invoice.number},
        )
    return "refunded"


# ---------------------------------------------------------------------------
# Webhooks


def webhook_receive(*, payload: bytes, signature: str) -> str:
    """Verify, store and handle one Stripe event, once per event id.

    A bad signature raises BadWebhook before anything is read or written. An
    error while handling rolls the stored event back too, so Stripe's retry
    handles it again.
    """
    try:
        event = provider.webhook_event(payload, signature)
    except Exception as error:  # noqa: BLE001 - ValueError, SignatureVerificationError, bad JSON
        raise BadWebhook(str(error)) from None
    obj = event.data.object
    with transaction.atomic():
        # Two deliveries at once: the second insert waits for the first
        # transaction on the unique event id, then finds its row.
        stored, created = StripeEvent.objects.get_or_create(
            event_id=event.id, defaults={"type": event.type, "object_id": str(_value(obj, "id") or "")[:255]}
        )
        if not created:
            return "duplicate"
        at = _event_time(event)
        if event.type == "payment_intent.succeeded":
            outcome = intent_apply(intent=obj, at=at)
        elif event.type == "payment_intent.payment_failed":
            outcome = _intent_failed(obj, event_id=event.id, at=at)
        elif event.type == "charge.refunded":
            outcome = _charge_refunded(obj)
        elif event.type.startswith("payment_intent."):
            outcome = intent_apply(intent=obj, at=at)  # processing, canceled…: the status is kept
        else:
            outcome = "ignored"
        stored.outcome = outcome
        stored.save(update_fields=["outcome"])
    return outcome


# ---------------------------------------------------------------------------
# Reconciliation


@dataclass
class ReconcileReport:
    checked: int = 0
    recorded: int = 0
    errors: int = 0
    refunds: int = 0
    refund_errors: int = 0

    def lines(self) -> list[str]:
        lines = [
            f"{self.checked} open payment intents checked, {self.recorded} payments recorded, {self.errors} errors"
        ]
        if self.refunds or self.refund_errors:
            lines.append(f"{self.refunds} refunds sent or brought up to date, {self.refund_errors} refund errors")
        return lines


def reconcile() -> ReconcileReport:
    """Ask Stripe about every intent of ours not yet applied and apply it:
    a lost webhook still ends with the payment recorded, once. Then send the
    refunds a lost task left queued and update the pending ones."""
    report = ReconcileReport()
    if not provider.enabled():
        return report
    stripe = provider.client()
    for stripe_id in StripePaymentIntent.objects.filter(applied_at__isnull=True).values_list("stripe_id", flat=True):
        report.checked += 1
        try:
            intent = stripe.v1.payment_intents.retrieve(stripe_id)
        except provider.StripeError:
            log.exception("Could not ask Stripe about %s", stripe_id)
            report.errors += 1
            continue
        if _reconcile_one(intent) == "recorded":
            report.recorded += 1
    report.refunds, report.refund_errors = refunds.refunds_reconcile()
    return report


def _reconcile_one(intent: object) -> str:
    """A debit we hold as processing that Stripe now reports failed is a
    failure the webhook did not bring; anything else is applied as usual."""
    stripe_id = _value(intent, "id")
    held = StripePaymentIntent.objects.filter(stripe_id=stripe_id).values_list("status", flat=True).first()
    error = _value(intent, "last_payment_error")
    if held == "processing" and _value(intent, "status") == "requires_payment_method" and error:
        return _intent_failed(intent, event_id=f"reconcile:{stripe_id}:{_value(error, 'charge') or ''}")
    return intent_apply(intent=intent)


# ---------------------------------------------------------------------------
# A payment method on file, and charging it for an auto-reload


def saved_method_for(client: Client) -> SavedPaymentMethod | None:
    if not provider.enabled():
        return None
    return SavedPaymentMethod.objects.filter(client=client).first()


def setup_start(*, client: Client, method_type: str = "card", mandate: str = "") -> str:
    """A SetupIntent for the client's billing contact to save a card, or a
    bank account for SEPA Direct Debit, with (Stripe.js confirms it in the
    browser); returns its client secret. For SEPA, `mandate` is the digest
    of the mandate text the page showed: it must be today's text, and the
    SetupIntent carries it to payment_method_save."""
    metadata = {"client": str(client.public_id)}
    if method_type == "sepa_debit":
        text = client_mandate_text(client)
        if not text or not isinstance(mandate, str) or not secrets.compare_digest(mandate, mandate_digest(text)):
            raise _mandate_error()
        metadata["mandate"] = mandate
    elif method_type != "card":
        raise ValidationError(_("Choose a card or a bank account (SEPA Direct Debit)."))
    stripe = provider.client()
    saved = SavedPaymentMethod.objects.filter(client=client).first()
    customer_id = saved.customer_id if saved else ""
    if not customer_id:
        customer = stripe.v1.customers.create(
            params={"name": client.name, "metadata": {"client": str(client.public_id)}},
            options={"idempotency_key": f"client-{client.public_id}-customer-{timezone.now():%Y%m%d%H%M}"},
        )
        customer_id = customer.id
    setup = stripe.v1.setup_intents.create(
        params={
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": [method_type],
            "metadata": metadata,
        }
    )
    return setup.client_secret


def payment_method_save(*, client: Client, setup_intent_id: str, actor: User | None) -> SavedPaymentMethod:
    """Keep the method a confirmed SetupIntent of this client saved; it
    replaces the one on file (detached at Stripe)."""
    if not isinstance(setup_intent_id, str) or not re.match(r"^seti_[A-Za-z0-9]{1,200}$", setup_intent_id):
        raise ValidationError(_("The card details did not reach us. Please try again."))
    stripe = provider.client()
    try:
        setup = stripe.v1.setup_intents.retrieve(setup_intent_id)
    except provider.StripeError:
        raise ValidationError(_("The card details did not reach us. Please try again.")) from None
    if _value(setup.metadata, "client") != str(client.public_id):
        raise ValidationError(_("The card details did not reach us. Please try again."))
    if setup.status != "succeeded" or not setup.payment_method:
        raise ValidationError(_("The card was not confirmed, so it was not saved. Try again or use another card."))
    method_id = setup.payment_method if isinstance(setup.payment_method, str) else setup.payment_method.id
    method = stripe.v1.payment_methods.retrieve(method_id)
    kind = _value(method, "type") or "card"
    details = _value(method, "card") or {}
    mandate_text, mandate_accepted_at = "", None
    if kind == "sepa_debit":
        details = _value(method, "sepa_debit") or {}
        mandate_text = client_mandate_text(client)
        # The text whose digest the page sent when the SetupIntent was opened (setup_start).
        if not mandate_text or _value(setup.metadata, "mandate") != mandate_digest(mandate_text):
            raise _mandate_error()
        mandate_accepted_at = timezone.now()
    with transaction.atomic():
        old = SavedPaymentMethod.objects.select_for_update().filter(client=client).first()
        fields = {
            "customer_id": setup.customer if isinstance(setup.customer, str) else setup.customer.id,
            "payment_method_id": method_id,
            "method_type": kind,
            "brand": str(_value(details, "brand") or _value(details, "country") or "")[:32],
            "last4": str(_value(details, "last4") or "")[:4],
            "exp_month": _value(details, "exp_month"),
            "exp_year": _value(details, "exp_year"),
            "mandate_text": mandate_text,
            "mandate_accepted_at": mandate_accepted_at,
            "saved_by": actor,
            "saved_at": timezone.now(),
        }
        if old is None:
            return SavedPaymentMethod.objects.create(client=client, **fields)
        replaced = old.payment_method_id
        for name, value in fields.items():
            setattr(old, name, value)
        old.save()
    if replaced != method_id:
        _detach(replaced)
    return old


def payment_method_remove(*, client: Client) -> bool:
    with transaction.atomic():
        saved = SavedPaymentMethod.objects.select_for_update().filter(client=client).first()
        if saved is None:
            return False
        method_id = saved.payment_method_id
        saved.delete()
    _detach(method_id)
    return True


def _detach(method_id: str) -> None:
    try:
        provider.client().v1.payment_methods.detach(method_id)
    except provider.StripeError:
        log.warning("Could not detach %s at Stripe; it is no longer used here", method_id)


def reload_invoice_charge(*, invoice_id: int) -> str:
    """Charge an auto-reload invoice to the client's method on file, off-session, once.

    First a ReloadChargeAttempt is committed (the invoice, the customer, the
    idempotency key). Then, under the invoice row lock held across the call,
    the intent is created and its row written in the same transaction: a
    second run at the same time waits on the lock and finds the row.

    A worker that dies after Stripe charged but before the commit leaves the
    attempt and no intent row. The retry finds the attempt, so before
    creating anything it asks Stripe for the customer's PaymentIntents and
    adopts the one whose metadata names this invoice; failing that it creates
    one with the same idempotency key (derived from the invoice), which on
    Stripe answers with the first charge too.

    A decline, or a bank asking the client to authenticate, leaves the
    invoice issued: the client gets the pay link and staff are alerted.
    """
    invoice = Invoice.objects.select_related("client").get(pk=invoice_id)
    saved = saved_method_for(invoice.client)
    if saved is None:
        return "no payment method on file"
    with transaction.atomic():
        invoice = _lock_invoice(invoice_id)
        if invoice.status != InvoiceStatus.ISSUED:
            return f"invoice {invoice.status}"
        if StripePaymentIntent.objects.filter(invoice=invoice).exists():
            return "already charged or being paid"
        attempt, first_run = ReloadChargeAttempt.objects.get_or_create(
            invoice=invoice,
            defaults={
                "customer_id": saved.customer_id,
                "idempotency_key": f"invoice-{invoice.public_id}-reload-charge",
            },
        )
        if not first_run:
            ReloadChargeAttempt.objects.filter(pk=attempt.pk).update(runs=F("runs") + 1)
    # Committed: from here on, a run that dies leaves the attempt for the retry to see.
    with transaction.atomic():
        invoice = _lock_invoice(invoice_id)  # a run at the same moment waits here for this one's outcome
        if invoice.status != InvoiceStatus.ISSUED:
            return f"invoice {invoice.status}"
        if StripePaymentIntent.objects.filter(invoice=invoice).exists():
            return "already charged or being paid"
        due = invoice.total - invoice_amount_paid(invoice)
        reason = ""
        try:
            intent = None if first_run else _reload_intent_at_stripe(attempt)
            if intent is not None and intent.status in ("requires_payment_method", "canceled"):
                # The earlier run was declined: say so again (the same topic: nobody is told twice).
                reason = str(_value(_value(intent, "last_payment_error") or {}, "message") or "")
                raise _Declined
            if intent is None:
                intent = provider.client().v1.payment_intents.create(
                    params={
                        "amount": provider.to_minor(due, invoice.currency),
                        "currency": invoice.currency.lower(),
                        "customer": saved.customer_id,
                        "payment_method": saved.payment_method_id,
                        "payment_method_types": [saved.method_type],
                        "confirm": True,
                        "off_session": True,
                        "metadata": {"invoice": str(invoice.public_id), "number": invoice.number or ""},
                    },
                    options={"idempotency_key": attempt.idempotency_key},
                )
        except provider.CardError as error:
            reason = error.user_message or ""
        except _Declined:
            pass
        else:
            amount = provider.from_minor(int(intent.amount), invoice.currency)
            StripePaymentIntent.objects.create(
                invoice=invoice,
                stripe_id=intent.id,
                client_secret=intent.client_secret,
                amount=amount,
                currency=invoice.currency.upper(),
                status=intent.status,
                method_type=saved.method_type,
            )
            if intent.status in ("succeeded", "processing"):
                return intent_apply(intent=intent)
            reason = _("Your bank asks you to confirm this payment yourself.")
        signals.payment_failed.send(
            sender=StripePaymentIntent,
            invoice=invoice,
            topic=f"reload-charge:{invoice.public_id}",
            reason=reason,
            pay_url=pay_link_url(invoice),
        )
        return "declined"


# ---------------------------------------------------------------------------
# SEPA Direct Debit: the mandate, a debit that is processing for days, and
# one that fails after it was accepted


@dataclass(frozen=True)
class MandateAcceptance:
    """What the payer's browser sent with a SEPA payment: the digest of the
    mandate text the page showed, and who accepted it (for Stripe's mandate_data)."""

    digest: str
    ip_address: str
    user_agent: str


def sepa_mandate_text(seller_name: str) -> str:
    """Stripe's standard SEPA Direct Debit mandate wording, naming the seller."""
    return _(
        "By providing your payment information and confirming this payment, you authorise (A) %(name)s and "
        "Stripe, our payment service provider, to send instructions to your bank to debit your account and "
        "(B) your bank to debit your account in accordance with those instructions. As part of your rights, "
        "you are entitled to a refund from your bank under the terms and conditions of your agreement with "
        "your bank. A refund must be claimed within 8 weeks starting from the date on which your account was "
        "debited. Your rights are explained in a statement that you can obtain from your bank. You agree to "
        "receive notifications for future debits up to 2 days before they occur."
    ) % {"name": seller_name}


def mandate_digest(text: str) -> str:
    """Sent back by the page with the IBAN: the server keeps the text only if it is the one shown."""
    return hashlib.sha256(text.encode()).hexdigest()


def invoice_mandate_text(invoice: Invoice) -> str:
    """The mandate for a one-off debit of this invoice: the seller named on the invoice."""
    if invoice.currency.upper() != "EUR":
        return ""
    return sepa_mandate_text(invoice.seller_name)


def client_mandate_text(client: Client) -> str:
    """The mandate for debits of future reloads (a method on file); EUR clients only."""
    seller = seller_profile_get()
    if client.currency.upper() != "EUR" or seller is None or not seller.name.strip():
        return ""
    return sepa_mandate_text(seller.name)


def _mandate_error() -> ValidationError:
    return ValidationError(
        _("Read and accept the SEPA Direct Debit mandate before paying from your bank account; reload the page.")
    )


def _sepa_mandate_confirm_params(
    *, row: StripePaymentIntent, payment_method: str, mandate: MandateAcceptance | None
) -> dict:
    """The confirm parameters for the method the browser created: for a SEPA
    debit, the mandate accepted on the page (kept on our intent row, sent to
    Stripe as mandate_data, where a server-side confirm must carry it);
    nothing for a card."""
    method = provider.client().v1.payment_methods.retrieve(payment_method)
    kind = _value(method, "type") or "card"
    if kind != "sepa_debit":
        return {}
    invoice = Invoice.objects.get(pk=row.invoice_id)
    text = invoice_mandate_text(invoice)
    if not text or mandate is None or not secrets.compare_digest(mandate.digest, mandate_digest(text)):
        raise _mandate_error()
    if not mandate.ip_address or not mandate.user_agent:
        # Stripe needs both to prove an online acceptance: refused here rather than at Stripe.
        raise _mandate_error()
    accepted_at = timezone.now()
    ip_address = mandate.ip_address or None
    StripePaymentIntent.objects.filter(pk=row.pk).update(
        method_type=kind,
        mandate_text=text,
        mandate_accepted_at=accepted_at,
        mandate_ip=ip_address,
        mandate_user_agent=mandate.user_agent[:500],
    )
    return {
        "mandate_data": {
            "customer_acceptance": {
                "type": "online",
                "accepted_at": int(accepted_at.timestamp()),
                "online": {"ip_address": ip_address or "", "user_agent": mandate.user_agent[:500]},
            }
        }
    }


def _method_type_of(intent: object) -> str:
    method = _value(intent, "payment_method")
    if method is not None and not isinstance(method, str) and _value(method, "type"):
        return str(_value(method, "type"))
    types = _value(intent, "payment_method_types") or []
    return str(types[0]) if len(types) == 1 else ""


def _is_stale(row: StripePaymentIntent, at: datetime.datetime | None) -> bool:
    return at is not None and row.status_at is not None and at < row.status_at


def _event_time(event: object) -> datetime.datetime | None:
    created = _value(event, "created")
    return datetime.datetime.fromtimestamp(int(created), tz=datetime.UTC) if created else None


def _debit_failed_take_back(*, row: StripePaymentIntent, invoice: Invoice, reason: str) -> None:
    """A debit that was processing failed: the invoice stays due (the client
    gets the pay link with the failure email). If its block's hours were
    credited before payment, the unused ones are taken back as voiding the
    invoice would; the used ones stay used, and staff are told they are owed."""
    block = invoice.block
    if block is None or block.credited_at is None or block.paid_at is not None:
        message = _(
            "The SEPA Direct Debit of invoice %(number)s failed after it was processing: %(reason)s. "
            "The invoice is unpaid; no hours had been credited for it."
        ) % {"number": invoice.number, "reason": reason or "-"}
    else:
        taken = agreement_services.block_credit_take_back(
            block=block,
            actor=None,
            reason=_("SEPA Direct Debit of invoice %(number)s failed") % {"number": invoice.number},
        )
        message = _(
            "The SEPA Direct Debit of invoice %(number)s failed after it was processing: %(reason)s. "
            "The invoice is unpaid. %(taken)s unused of its hours were taken back (they come back when it is "
            "paid); %(used)s already used are owed."
        ) % {
            "number": invoice.number,
            "reason": reason or "-",
            "taken": format_minutes(taken.taken),
            "used": format_minutes(taken.used),
        }
    row.outcome = message[:300]
    row.save(update_fields=["outcome"])
    signals.payment_alert.send(
        sender=StripePaymentIntent,
        invoice=invoice,
        topic=f"debit-failed:{row.stripe_id}:{row.status_at}",
        message=message,
    )
    log.warning("%s", message)


def invoice_payment_processing(invoice_ids: list[int]) -> dict[int, str]:
    """Of these invoices, those whose online payment is processing (a bank
    debit on its way): invoice id → our payment method's label."""
    rows = StripePaymentIntent.objects.filter(
        invoice_id__in=invoice_ids, status="processing", applied_at__isnull=True
    ).values_list("invoice_id", "method_type")
    return {invoice_id: StripePaymentIntent(method_type=kind).method_label for invoice_id, kind in rows}


class _Declined(Exception):
    """An earlier run's intent, found at Stripe, was declined."""


def _reload_intent_at_stripe(attempt: ReloadChargeAttempt) -> object | None:
    """The PaymentIntent an earlier run of this charge created, if Stripe has one:
    the attempt's customer's intents, matched by the invoice in their metadata."""
    wanted = str(attempt.invoice.public_id)
    listed = provider.client().v1.payment_intents.list(params={"customer": attempt.customer_id, "limit": 100})
    for intent in listed.auto_paging_iter():
        if _value(_value(intent, "metadata") or {}, "invoice") == wanted:
            return intent
    return None
