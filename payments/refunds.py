"""Money going back through Stripe when a credit note credits an invoice that
Stripe collected.

The credit note is billing's (billing.credit_notes, which also takes the
hours back); it tells us with billing.signals.credit_note_issued inside its
transaction, and `refund_for_credit_note` writes the StripeRefund row there,
so a rolled-back credit note leaves no refund and a committed one always has
its row. The call to Stripe happens after commit (`refund_send`, queued as a
task; the reconciliation sends whatever the broker lost).

How much: at most what Stripe collected for the invoice, less the refunds
through Stripe before it. When an invoice was paid partly by hand, Stripe's
part is returned first and the rest of the credit note is for staff to pay
back by hand (the pages say how much).

Once only: the row is locked while Stripe is called, so two senders (the task
and the reconciliation) make one call; Stripe's idempotency key comes from
the credit note; and before creating, the sender looks for a refund carrying
this credit note in its metadata, so a worker that died after Stripe answered
(the row still queued) adopts that refund instead of making a second one.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from agreements.domain import money
from audit.models import AuditAction
from audit.services import audit_record
from billing.models import CreditNote, Payment
from monitoring.queueing import task_publish
from payments import provider, signals
from payments.models import RefundStatus, StripePaymentIntent, StripeRefund

log = logging.getLogger(__name__)

# Stripe's refund states → ours ("requires_action" waits at Stripe like "pending").
STATUSES = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def _value(obj: object, name: str, default: object = None) -> object:
    try:
        return obj[name]
    except (KeyError, TypeError):
        return default


def _stripe_payment(invoice_id: int) -> tuple[StripePaymentIntent, Decimal] | None:
    """The invoice's intent and what Stripe collected on it (a payment recorded from it)."""
    intent = StripePaymentIntent.objects.filter(invoice_id=invoice_id).first()
    if intent is None:
        return None
    paid = Payment.objects.filter(invoice_id=invoice_id, reference=intent.stripe_id).aggregate(s=Sum("amount"))["s"]
    if not paid:
        return None
    return intent, money(paid)


def _split(intent: StripePaymentIntent, collected: Decimal, total: Decimal) -> tuple[Decimal, Decimal]:
    """How a credit note of `total` goes back: (through Stripe now, already
    refunded in Stripe's dashboard). A dashboard refund not yet matched by a
    credit note covers the next ones first; Stripe then returns at most what
    it collected less every refund so far; the rest is staff's, by hand."""
    sums = StripeRefund.objects.filter(intent=intent).aggregate(sent=Sum("amount"), covered=Sum("covered"))
    sent, matched = money(sums["sent"] or Decimal("0")), money(sums["covered"] or Decimal("0"))
    covered = max(min(total, intent.refunded_elsewhere - matched), Decimal("0.00"))
    through = max(min(total - covered, collected - sent - intent.refunded_elsewhere), Decimal("0.00"))
    return through, covered


def refund_preview(*, invoice_id: int, total: Decimal) -> tuple[Decimal, Decimal] | None:
    """How a credit note of `total` on this invoice would go back: (through
    Stripe, refunded in Stripe's dashboard already); None when Stripe did not
    collect it (all goes back by hand)."""
    found = _stripe_payment(invoice_id)
    if found is None:
        return None
    return _split(*found, total)


def refund_for_credit_note(*, credit_note: CreditNote) -> StripeRefund | None:
    """Inside the credit note's transaction (the invoice row is locked by it):
    the refund row, and its sending queued after commit."""
    found = _stripe_payment(credit_note.invoice_id)
    if found is None:
        return None  # paid by hand: the money goes back by hand
    intent, collected = found
    through, covered = _split(intent, collected, credit_note.total)
    if not through and not covered:
        return None
    refund = StripeRefund.objects.create(
        credit_note=credit_note,
        intent=intent,
        amount=through,
        covered=covered,
        currency=credit_note.currency,
        # Nothing to send when Stripe's dashboard returned it all already.
        status=RefundStatus.QUEUED if through else RefundStatus.SUCCEEDED,
    )
    if through:
        _queue_send(refund.pk)
    return refund


def _queue_send(refund_id: int) -> None:
    from payments.tasks import send_refund

    # After commit: the worker must find the committed row (and a rolled-back
    # credit note must send nothing).
    transaction.on_commit(
        lambda: task_publish(send_refund, refund_id, catch_up="the Stripe reconciliation"), robust=True
    )


def _idempotency_key(refund: StripeRefund) -> str:
    """From the credit note; a retry after a failure gets a key of its own,
    since Stripe would answer the first key with the first (failed) result."""
    key = f"credit-note-{refund.credit_note.public_id}-refund"
    return f"{key}-retry-{refund.failures}" if refund.failures else key


def _found_at_stripe(stripe: object, refund: StripeRefund) -> object | None:
    """A refund of this credit note that Stripe already made and that did not
    fail (an earlier attempt whose answer never reached our database)."""
    wanted = str(refund.credit_note.public_id)
    for found in stripe.v1.refunds.list(params={"payment_intent": refund.intent.stripe_id, "limit": 100}).data:
        metadata = _value(found, "metadata") or {}
        if _value(metadata, "credit_note") == wanted and _value(found, "status") not in ("failed", "canceled"):
            return found
    return None


def refund_send(*, refund_id: int) -> str:
    """Ask Stripe for a queued refund once; record its id and status, or the
    error (staff are alerted and may retry). Safe to run twice."""
    if not provider.enabled():
        return "online payments are off"
    with transaction.atomic():
        # Held across the call: a second sender waits, then finds it sent.
        refund = (
            StripeRefund.objects.select_for_update(of=("self",))
            .select_related("credit_note", "intent")
            .get(pk=refund_id)
        )
        if refund.status != RefundStatus.QUEUED:
            return refund.status
        stripe = provider.client()
        try:
            made = _found_at_stripe(stripe, refund) or stripe.v1.refunds.create(
                params={
                    "payment_intent": refund.intent.stripe_id,
                    "amount": provider.to_minor(refund.amount, refund.currency),
                    "metadata": {
                        "credit_note": str(refund.credit_note.public_id),
                        "number": refund.credit_note.number,
                    },
                },
                # Stripe answers a retried create with the first refund.
                options={"idempotency_key": _idempotency_key(refund)},
            )
        except provider.stripe.APIConnectionError:
            log.exception("Stripe could not be reached for the refund of %s", refund.credit_note.number)
            return _failed(refund, _("Stripe could not be reached, so nothing was refunded yet."))
        except provider.StripeError as error:
            return _failed(refund, getattr(error, "user_message", None) or str(error))
        refund.stripe_id = made.id
        refund.status = STATUSES.get(_value(made, "status") or "", RefundStatus.PENDING)
        refund.error, refund.updated_at = "", timezone.now()
        refund.save(update_fields=["stripe_id", "status", "error", "updated_at"])
        if refund.status == RefundStatus.FAILED:
            return _failed(refund, _value(made, "failure_reason") or _("Stripe could not return the money."))
        return refund.status


def _failed(refund: StripeRefund, reason: str) -> str:
    """Record the failure on the row and alert staff (once per failure)."""
    refund.status, refund.error = RefundStatus.FAILED, str(reason)[:500]
    refund.failures += 1
    refund.updated_at = timezone.now()
    refund.save(update_fields=["status", "error", "failures", "updated_at"])
    note = refund.credit_note
    signals.payment_alert.send(
        sender=StripeRefund,
        invoice=note.invoice,
        topic=f"refund-failed:{note.public_id}:{refund.failures}",
        message=_(
            "The refund of %(amount)s %(currency)s through Stripe for credit note %(number)s failed: %(reason)s "
            "Retry it from the invoice's page once the cause is fixed."
        )
        % {"amount": refund.amount, "currency": refund.currency, "number": note.number, "reason": refund.error},
    )
    log.warning("Refund of credit note %s failed: %s", note.number, refund.error)
    return "failed"


def refund_retry(*, credit_note: CreditNote, actor: User | None) -> bool:
    """Send a failed refund again (staff's button); False when it is not failed
    (a double click finds it queued or sent)."""
    with transaction.atomic():
        refund = StripeRefund.objects.select_for_update().filter(credit_note=credit_note).first()
        if refund is None or refund.status != RefundStatus.FAILED:
            return False
        error = refund.error
        refund.status, refund.updated_at = RefundStatus.QUEUED, timezone.now()
        refund.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.REFUND_RETRY,
            target=credit_note,
            client=credit_note.client,
            before={"status": RefundStatus.FAILED, "error": error},
            after={"status": RefundStatus.QUEUED, "amount": refund.amount, "currency": refund.currency},
            summary=format_lazy(
                gettext_lazy("Sent the Stripe refund of credit note {number} ({amount} {currency}) again."),
                number=credit_note.number,
                amount=refund.amount,
                currency=refund.currency,
            ),
        )
        _queue_send(refund.pk)
    return True


def refunds_reconcile() -> tuple[int, int]:
    """Send the refunds still queued (a lost task) and ask Stripe about the
    pending ones. Returns (sent or updated, errors)."""
    done = errors = 0
    for refund_id in StripeRefund.objects.filter(status=RefundStatus.QUEUED).values_list("pk", flat=True):
        outcome = refund_send(refund_id=refund_id)
        done += outcome != "failed"
        errors += outcome == "failed"
    stripe = provider.client()
    pending = StripeRefund.objects.filter(status=RefundStatus.PENDING).values_list("pk", "stripe_id")
    for refund_id, stripe_id in pending:
        try:
            found = stripe.v1.refunds.retrieve(stripe_id)
        except provider.StripeError:
            log.exception("Could not ask Stripe about refund %s", stripe_id)
            errors += 1
            continue
        refund_status_apply(refund_id=refund_id, stripe_status=_value(found, "status") or "")
        done += 1
    return done, errors


def refund_status_apply(*, refund_id: int, stripe_status: str) -> str:
    """Bring a sent refund in line with Stripe's word about it."""
    status = STATUSES.get(stripe_status)
    with transaction.atomic():
        refund = StripeRefund.objects.select_for_update(of=("self",)).select_related("credit_note").get(pk=refund_id)
        if status is None or refund.status != RefundStatus.PENDING or status == refund.status:
            return refund.status
        if status == RefundStatus.FAILED:
            return _failed(refund, _("Stripe reports the refund as %(status)s.") % {"status": stripe_status})
        refund.status, refund.updated_at = status, timezone.now()
        refund.save(update_fields=["status", "updated_at"])
        return refund.status


def refunds_from_charge(*, intent: StripePaymentIntent, charge: object, refunded: Decimal) -> Decimal:
    """A `charge.refunded` event, in the webhook's transaction (invoice and
    intent rows locked): mark our refunds it names as succeeded, keep on the
    intent what none of ours accounts for (made in Stripe's dashboard), and
    return the part of that not reported before (staff must be told)."""
    refunds = list(StripeRefund.objects.select_for_update().filter(intent=intent))
    listed = _value(charge, "refunds")
    stated = {_value(r, "id"): _value(r, "status") for r in (_value(listed, "data") or [])} if listed else None
    for refund in refunds:
        if refund.status != RefundStatus.PENDING or not refund.stripe_id:
            continue
        if stated is None:
            # The event does not list the refunds (Stripe's newer API versions):
            # the amount refunded covers ours, so they went through.
            stripe_status = "succeeded" if refunded >= _ours(refunds) else ""
        else:
            stripe_status = stated.get(refund.stripe_id) or ""
        if STATUSES.get(stripe_status) == RefundStatus.SUCCEEDED:
            refund.status, refund.updated_at = RefundStatus.SUCCEEDED, timezone.now()
            refund.save(update_fields=["status", "updated_at"])
    elsewhere = max(refunded - _ours(refunds), Decimal("0.00"))
    new = elsewhere - intent.refunded_elsewhere
    if new > 0:
        intent.refunded_elsewhere = elsewhere
        intent.save(update_fields=["refunded_elsewhere"])
    return max(new, Decimal("0.00"))


def _ours(refunds: list[StripeRefund]) -> Decimal:
    # Failed refunds returned nothing; queued ones are being sent right now.
    return sum((r.amount for r in refunds if r.status != RefundStatus.FAILED), Decimal("0.00"))
