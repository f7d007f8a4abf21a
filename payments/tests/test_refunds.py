"""Refunds of a block paid through Stripe: the credit note (billing) and the
money going back through Stripe (payments.refunds), with exact figures,
against localstripe."""

import socket
from decimal import Decimal
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from agreements.models import LedgerEntry, LedgerKind
from audit.models import AuditAction, AuditEvent
from billing import services as billing_services
from billing.credit_notes import block_unused_cancel
from billing.models import CreditNote, Invoice, InvoiceStatus
from billing.tests.factories import issued_block_invoice
from billing.tests.test_credit_notes import log
from notifications.models import EmailKind, OutgoingEmail
from payments import provider, refunds, services
from payments.models import RefundStatus, StripeRefund
from payments.tests.conftest import card, event, post_webhook

pytestmark = pytest.mark.django_db


def stripe_paid_block(agreement, staff, *, hours: int = 20) -> Invoice:
    """A block of a default tier sold, invoiced and paid by card on the pay page."""
    invoice = issued_block_invoice(agreement, staff, hours=hours)
    assert services.invoice_pay(invoice=invoice, payment_method=card()).status == "paid"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    return invoice


def refund(invoice, capture, *, minutes: int | None = None, reason: str = "Client leaves") -> CreditNote:
    with capture(execute=True):
        result = block_unused_cancel(
            block=invoice.block, disposition="refund", actor=None, reason=reason, minutes=minutes
        )
    return result.credit_notes[0]


def at_stripe(invoice) -> list[tuple[int, str]]:
    """The refunds localstripe holds for the invoice's PaymentIntent: (amount in cents, credit note)."""
    found = provider.client().v1.refunds.list(params={"payment_intent": invoice.stripe_intent.stripe_id}).data
    return sorted((r.amount, r.metadata.to_dict().get("credit_note", "")) for r in found)


def charge_of(invoice) -> dict:
    """Stripe's charge of the invoice's PaymentIntent, as a charge.refunded event carries it."""
    intent = provider.client().v1.payment_intents.retrieve(invoice.stripe_intent.stripe_id)
    latest = intent.latest_charge if isinstance(intent.latest_charge, str) else intent.latest_charge.id
    return provider.client().v1.charges.retrieve(latest).to_dict()


def staff_alerts() -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_ALERT_STAFF))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once the socket is closed


@pytest.fixture
def staff_http(staff) -> HttpClient:
    http = HttpClient()
    http.force_login(staff)
    return http


def test_the_unused_hours_are_refunded_through_stripe(
    agreement, staff, technician, seller, stripe_on, django_capture_on_commit_callbacks, staff_http
):
    invoice = stripe_paid_block(agreement, staff)  # 20 h at $90.00 = $1,800.00
    log(agreement, technician, 435)  # 7 h 15 min used

    note = refund(invoice, django_capture_on_commit_callbacks)

    assert (note.minutes, note.total) == (765, Decimal("1147.50"))
    row = StripeRefund.objects.get()
    assert (row.credit_note, row.intent, row.amount, row.currency) == (
        note,
        invoice.stripe_intent,
        Decimal("1147.50"),
        "USD",
    )
    assert row.status == RefundStatus.SUCCEEDED and row.stripe_id.startswith("re_") and row.error == ""
    assert at_stripe(invoice) == [(114750, str(note.public_id))]
    assert LedgerEntry.objects.get(kind=LedgerKind.REFUND).minutes == -765
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 0
    page = staff_http.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert "Refunded through Stripe: $1,147.50 (succeeded)" in page
    # Stripe's charge.refunded for our own refund: marked, and no "issue a credit note" alert.
    response = post_webhook(HttpClient(), event("charge.refunded", charge_of(invoice)))
    assert response.content == b"refunded through a credit note"
    assert staff_alerts() == []


def test_tax_goes_back_as_the_invoice_charged_it(
    agreement, staff, technician, seller, stripe_on, settings, django_capture_on_commit_callbacks
):
    settings.INVOICE_TAX_RATE = Decimal("8.25")
    invoice = stripe_paid_block(agreement, staff)  # $1,800.00 + $148.50
    assert invoice.total == Decimal("1948.50")
    log(agreement, technician, 435)

    note = refund(invoice, django_capture_on_commit_callbacks)

    # 765 min × $90/h = $1,147.50, + 8.25 % = $94.67
    assert (note.subtotal, note.tax_amount, note.total) == (Decimal("1147.50"), Decimal("94.67"), Decimal("1242.17"))
    assert at_stripe(invoice) == [(124217, str(note.public_id))]


def test_a_full_refund_returns_the_whole_payment(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks
):
    invoice = stripe_paid_block(agreement, staff, hours=10)  # 10 h at $100.00

    note = refund(invoice, django_capture_on_commit_callbacks)

    assert (note.minutes, note.total) == (600, Decimal("1000.00"))
    assert at_stripe(invoice) == [(100000, str(note.public_id))]
    assert StripeRefund.objects.get().status == RefundStatus.SUCCEEDED


def test_two_partial_refunds_add_up_to_the_payment(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks
):
    invoice = stripe_paid_block(agreement, staff)  # 20 h, $1,800.00

    first = refund(invoice, django_capture_on_commit_callbacks, minutes=125)  # 2 h 5 min × $90 = $187.50
    rest = refund(invoice, django_capture_on_commit_callbacks)  # 17 h 55 min = $1,612.50

    assert (first.total, rest.total) == (Decimal("187.50"), Decimal("1612.50"))
    assert at_stripe(invoice) == sorted([(18750, str(first.public_id)), (161250, str(rest.public_id))])
    assert sum(StripeRefund.objects.values_list("amount", flat=True)) == invoice.total


def test_a_refund_beyond_the_unused_hours_sends_nothing_to_stripe(
    agreement, staff, technician, seller, stripe_on, django_capture_on_commit_callbacks
):
    invoice = stripe_paid_block(agreement, staff)
    log(agreement, technician, 435)

    with pytest.raises(ValidationError), django_capture_on_commit_callbacks(execute=True) as callbacks:
        block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x", minutes=766)

    assert callbacks == []
    assert not CreditNote.objects.exists() and not StripeRefund.objects.exists()
    assert at_stripe(invoice) == []


def test_part_paid_by_hand_refunds_only_stripes_part_through_stripe(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks, staff_http
):
    invoice = issued_block_invoice(agreement, staff, hours=20)  # $1,800.00
    billing_services.payment_record(
        invoice=invoice, amount=Decimal("800.00"), method="ach", reference="ACH-9", paid_on=timezone.localdate(),
        actor=staff,
    )  # fmt: skip
    assert services.invoice_pay(invoice=invoice, payment_method=card()).status == "paid"  # the $1,000.00 left
    block_url = reverse("dashboard:block_cancel", args=[invoice.block.public_id])

    review = staff_http.post(block_url, {"disposition": "refund", "reason": "Leaving"})

    assert (
        "$1,000.00 will be refunded to the client's card or bank account through Stripe. "
        "The rest, $800.00, was paid by hand: return it to the client by hand."
    ) in [str(line) for line in review.context["lines"]]
    with django_capture_on_commit_callbacks(execute=True):
        staff_http.post(block_url, {"disposition": "refund", "reason": "Leaving", "confirm": "1"})
    note = CreditNote.objects.get()
    assert note.total == Decimal("1800.00")
    assert at_stripe(invoice) == [(100000, str(note.public_id))]
    page = staff_http.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert "Refunded through Stripe: $1,000.00 (succeeded)" in page
    assert "The rest, $800.00, was paid by hand: return it to the client by hand." in page


def test_an_invoice_paid_by_hand_gets_a_credit_note_only(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks, staff_http
):
    invoice = issued_block_invoice(agreement, staff, hours=10)
    billing_services.payment_record(
        invoice=invoice, amount=invoice.total, method="ach", reference="ACH-1", paid_on=timezone.localdate(),
        actor=staff,
    )  # fmt: skip
    block_url = reverse("dashboard:block_cancel", args=[invoice.block.public_id])

    review = staff_http.post(block_url, {"disposition": "refund", "reason": "Leaving"})

    assert f"Invoice {invoice.number} was not paid through Stripe: return $1,000.00 to the client by hand." in [
        str(line) for line in review.context["lines"]
    ]
    with django_capture_on_commit_callbacks(execute=True):
        staff_http.post(block_url, {"disposition": "refund", "reason": "Leaving", "confirm": "1"})
    assert CreditNote.objects.get().total == Decimal("1000.00")
    assert not StripeRefund.objects.exists()
    page = staff_http.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert "Not paid through Stripe: return the money to the client by hand." in page
    assert "Refunded through Stripe" not in page


def test_the_confirm_page_says_the_money_goes_back_through_stripe(
    agreement, staff, technician, seller, stripe_on, staff_http
):
    invoice = stripe_paid_block(agreement, staff)
    log(agreement, technician, 435)

    review = staff_http.post(
        reverse("dashboard:block_cancel", args=[invoice.block.public_id]), {"disposition": "refund", "reason": "x"}
    )

    assert [str(line) for line in review.context["lines"]][1:3] == [
        f"12 h 45 min unused of the 20-hour support block of {invoice.block.starts_on:%b} "
        f"{invoice.block.starts_on.day}, {invoice.block.starts_on.year}: refunded, $1,147.50 before tax",
        "$1,147.50 will be refunded to the client's card or bank account through Stripe.",
    ]
    assert not CreditNote.objects.exists()


def test_stripe_down_fails_the_refund_alerts_staff_and_a_retry_sends_it(
    agreement, staff, seller, stripe_on, settings, django_capture_on_commit_callbacks, staff_http
):
    invoice = stripe_paid_block(agreement, staff, hours=10)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"

    note = refund(invoice, django_capture_on_commit_callbacks)

    row = StripeRefund.objects.get()
    assert (row.status, row.stripe_id, row.failures) == (RefundStatus.FAILED, "", 1)
    assert row.error == "Stripe could not be reached, so nothing was refunded yet."
    (alert,) = staff_alerts()
    assert (
        f"The refund of 1000.00 USD through Stripe for credit note {note.number} failed: {row.error} "
        "Retry it from the invoice's page once the cause is fixed."
    ) in alert.body_text
    page = staff_http.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert "Refunded through Stripe: $1,000.00 (failed)" in page
    assert reverse("payments:refund_retry", args=[note.public_id]) in page
    settings.STRIPE_API_BASE = stripe_on
    assert at_stripe(invoice) == []  # nothing reached Stripe

    with django_capture_on_commit_callbacks(execute=True):
        done = staff_http.post(reverse("payments:refund_retry", args=[note.public_id]), follow=True)

    assert [str(m) for m in done.context["messages"]] == [
        f"The refund of credit note {note.number} is being sent to Stripe again."
    ]
    row.refresh_from_db()
    assert (row.status, row.error) == (RefundStatus.SUCCEEDED, "")
    assert at_stripe(invoice) == [(100000, str(note.public_id))]
    (retried,) = AuditEvent.objects.filter(action=AuditAction.REFUND_RETRY)
    assert (retried.actor, retried.client_id, retried.target_id) == (staff, invoice.client_id, str(note.public_id))
    assert retried.before == {"status": "failed", "error": "Stripe could not be reached, so nothing was refunded yet."}
    assert retried.after == {"status": "queued", "amount": "1000.00", "currency": "USD"}
    assert retried.summary == f"Sent the Stripe refund of credit note {note.number} (1000.00 USD) again."
    page = staff_http.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert "Refunded through Stripe: $1,000.00 (succeeded)" in page
    assert reverse("payments:refund_retry", args=[note.public_id]) not in page
    # A second click finds nothing failed.
    again = staff_http.post(reverse("payments:refund_retry", args=[note.public_id]), follow=True)
    assert [str(m) for m in again.context["messages"]] == ["This refund is not failed; nothing changed."]
    assert at_stripe(invoice) == [(100000, str(note.public_id))]
    assert len(staff_alerts()) == 1


def test_the_reconciliation_sends_a_refund_whose_task_was_lost(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks
):
    invoice = stripe_paid_block(agreement, staff, hours=10)
    note = refund(invoice, lambda execute: django_capture_on_commit_callbacks(execute=False))  # the broker lost it
    assert StripeRefund.objects.get().status == RefundStatus.QUEUED
    assert at_stripe(invoice) == []

    out = StringIO()
    call_command("stripe_reconcile", stdout=out)

    assert out.getvalue() == (
        "0 open payment intents checked, 0 payments recorded, 0 errors\n"
        "1 refunds sent or brought up to date, 0 refund errors\n"
    )
    assert at_stripe(invoice) == [(100000, str(note.public_id))]
    assert refunds.refund_send(refund_id=StripeRefund.objects.get().pk) == RefundStatus.SUCCEEDED  # twice: once


def test_a_sender_that_died_after_stripe_refunded_adopts_that_refund(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks
):
    invoice = stripe_paid_block(agreement, staff, hours=10)
    note = refund(invoice, lambda execute: django_capture_on_commit_callbacks(execute=False))
    row = StripeRefund.objects.get()
    # Stripe made the refund, and its answer never reached our database.
    made = provider.client().v1.refunds.create(
        params={
            "payment_intent": invoice.stripe_intent.stripe_id,
            "amount": 100000,
            "metadata": {"credit_note": str(note.public_id)},
        }
    )

    assert refunds.refund_send(refund_id=row.pk) == RefundStatus.SUCCEEDED

    row.refresh_from_db()
    assert row.stripe_id == made.id
    assert at_stripe(invoice) == [(100000, str(note.public_id))]


def test_a_refund_made_in_stripes_dashboard_beside_ours_alerts_for_its_part_only(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks
):
    invoice = stripe_paid_block(agreement, staff)
    refund(invoice, django_capture_on_commit_callbacks, minutes=60)  # $90.00 through Blockhours
    provider.client().v1.refunds.create(params={"payment_intent": invoice.stripe_intent.stripe_id, "amount": 5000})

    assert post_webhook(HttpClient(), event("charge.refunded", charge_of(invoice))).content == b"refunded"

    (alert,) = staff_alerts()
    assert f"50.00 USD of invoice {invoice.number} was refunded at Stripe" in alert.body_text
    invoice.stripe_intent.refresh_from_db()
    assert invoice.stripe_intent.refunded_elsewhere == Decimal("50.00")


def test_a_credit_note_after_a_dashboard_refund_sends_only_the_rest(
    agreement, staff, seller, stripe_on, django_capture_on_commit_callbacks, staff_http
):
    invoice = stripe_paid_block(agreement, staff)  # $1,800.00
    provider.client().v1.refunds.create(params={"payment_intent": invoice.stripe_intent.stripe_id, "amount": 18000})
    post_webhook(HttpClient(), event("charge.refunded", charge_of(invoice)))
    assert len(staff_alerts()) == 1  # "$180.00 was refunded at Stripe: issue a credit note"
    block_url = reverse("dashboard:block_cancel", args=[invoice.block.public_id])

    review = staff_http.post(block_url, {"disposition": "refund", "reason": "Goodwill", "duration": "3h"})

    assert (
        "$90.00 will be refunded to the client's card or bank account through Stripe. "
        "$180.00 was refunded in Stripe's dashboard already and is not sent again."
    ) in [str(line) for line in review.context["lines"]]
    with django_capture_on_commit_callbacks(execute=True):
        staff_http.post(block_url, {"disposition": "refund", "reason": "Goodwill", "duration": "3h", "confirm": "1"})
    note = CreditNote.objects.get()
    assert note.total == Decimal("270.00")  # 3 h × $90
    row = StripeRefund.objects.get()
    assert (row.amount, row.covered, row.status) == (Decimal("90.00"), Decimal("180.00"), RefundStatus.SUCCEEDED)
    assert at_stripe(invoice) == [(9000, str(note.public_id)), (18000, "")]
    page = staff_http.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert "Refunded through Stripe: $90.00 (succeeded) Refunded in Stripe's dashboard already: $180.00." in page
    # Stripe's event for our refund tells nobody anything new.
    assert post_webhook(HttpClient(), event("charge.refunded", charge_of(invoice))).content == (
        b"refunded through a credit note"
    )
    assert len(staff_alerts()) == 1


def test_other_people_cannot_retry_a_refund(
    agreement, staff, seller, stripe_on, settings, django_capture_on_commit_callbacks, alice, charlie
):
    invoice = stripe_paid_block(agreement, staff, hours=10)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    note = refund(invoice, django_capture_on_commit_callbacks)
    settings.STRIPE_API_BASE = stripe_on
    url = reverse("payments:refund_retry", args=[note.public_id])

    for user in (alice, charlie):
        http = HttpClient()
        http.force_login(user)
        assert http.post(url).status_code == HTTPStatus.NOT_FOUND
    assert StripeRefund.objects.get().status == RefundStatus.FAILED
    assert at_stripe(invoice) == []


def test_the_client_sees_the_refund_on_the_portal_and_charlie_sees_nothing(
    agreement, staff, technician, seller, stripe_on, settings, django_capture_on_commit_callbacks, alice, charlie
):
    invoice = stripe_paid_block(agreement, staff)
    log(agreement, technician, 435)
    refund(invoice, django_capture_on_commit_callbacks)
    alice_http, charlie_http = HttpClient(), HttpClient()
    alice_http.force_login(alice)
    charlie_http.force_login(charlie)

    page = alice_http.get(reverse("portal:home")).content.decode()

    assert "Refunded through Stripe: $1,147.50 (succeeded)" in page
    assert "Retry refund" not in page and "by hand" not in page  # staff's business
    assert "Refunded through Stripe" not in charlie_http.get(reverse("portal:home")).content.decode()
    # A failed refund is staff's to fix: the client sees no error.
    StripeRefund.objects.update(status=RefundStatus.FAILED, error="Stripe could not be reached")
    page = alice_http.get(reverse("portal:home")).content.decode()
    assert "Refunded through Stripe" not in page and "could not be reached" not in page
