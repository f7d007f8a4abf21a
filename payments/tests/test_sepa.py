"""SEPA Direct Debit: the mandate shown and stored (a method on file, a
one-off payment), a debit that is processing for days, and one that fails
after it was accepted, under both credit policies. Against localstripe;
the webhook events are signed with our secret, as Stripe signs them."""

import time
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import CreditPolicy, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, ClientContactFactory, ClientFactory, TicketFactory, work_type
from billing.models import InvoiceStatus, Payment, PaymentMethod
from billing.tests.factories import issued_block_invoice
from notifications.models import EmailKind, OutgoingEmail
from payments import provider, services
from payments.models import SavedPaymentMethod, StripeEvent, StripePaymentIntent
from payments.tests.conftest import event, post_webhook

pytestmark = pytest.mark.django_db

IBAN = "DE89370400440532013000"
IBAN_DECLINED = "DE62370400440532013001"
PAGE = "/portal/payment-method/"
MANDATE = (
    "By providing your payment information and confirming this payment, you authorise (A) Northwind IT "
    "Services and Stripe, our payment service provider, to send instructions to your bank to debit your "
    "account and (B) your bank to debit your account in accordance with those instructions."
)


@pytest.fixture
def rossi(db):
    return ClientFactory(name="Rossi Srl", currency="EUR", billing_email="amministrazione@rossi.example")


@pytest.fixture
def giulia(rossi):
    user = ClientContactFactory(client=rossi, user__username="giulia").user
    user.client_contact.receives_invoices = True
    user.client_contact.save()
    return user


def euro_invoice(client, staff, policy: str, hours: int = 10):
    agreement = AgreementFactory(client=client, credit_policy=policy)
    return issued_block_invoice(agreement, staff, hours=hours), agreement


def balance(agreement) -> int:
    agreement.refresh_from_db()
    return agreement.balance_minutes


def sepa_method(iban: str = IBAN) -> str:
    """A SEPA debit payment method at localstripe, as Stripe.js creates it from the IBAN."""
    method = provider.client().v1.payment_methods.create(
        params={
            "type": "sepa_debit",
            "sepa_debit": {"iban": iban},
            "billing_details": {"name": "Giulia Rossi", "email": "giulia@rossi.example"},
        }
    )
    return method.id


def wait_until_settled(stripe_id: str) -> dict:
    """localstripe settles a SEPA debit half a second after it starts processing."""
    for _ in range(60):
        intent = provider.client().v1.payment_intents.retrieve(stripe_id).to_dict()
        if intent["status"] != "processing":
            return intent
        time.sleep(0.1)
    raise AssertionError(f"{stripe_id} still processing")


def sepa_intent(invoice, status: str, **extra) -> dict:
    """Stripe's view of the invoice's SEPA intent in `status` (for a signed event)."""
    row = StripePaymentIntent.objects.filter(invoice=invoice).first() or services.intent_for_invoice(invoice=invoice)
    return {
        "id": row.stripe_id,
        "object": "payment_intent",
        "amount": provider.to_minor(row.amount, row.currency),
        "amount_received": provider.to_minor(row.amount, row.currency) if status == "succeeded" else 0,
        "currency": row.currency.lower(),
        "status": status,
        "payment_method_types": ["sepa_debit"],
        **extra,
    }


FAILED = {"last_payment_error": {"charge": "ch_sepa1", "code": "insufficient_funds", "message": "Insufficient funds"}}


def at(seconds_ago: int) -> int:
    return int(time.time()) - seconds_ago


def send(kind: str, intent: dict, created: int, event_id: str | None = None) -> bytes:
    return post_webhook(HttpClient(), {**event(kind, intent, event_id), "created": created}).content


def row_of(invoice) -> StripePaymentIntent:
    return StripePaymentIntent.objects.get(invoice=invoice)


def state(invoice, agreement) -> tuple:
    invoice.refresh_from_db()
    return invoice.status, balance(agreement), Payment.objects.filter(invoice=invoice).count()


# --- a method on file ----------------------------------------------------------


def confirm_sepa_setup(secret: str, iban: str = IBAN) -> str:
    """What Stripe.js's confirmSepaDebitSetup does in the browser."""
    setup_id = secret.split("_secret_")[0]
    provider.client().v1.setup_intents.confirm(
        setup_id,
        params={
            "payment_method_data": {
                "type": "sepa_debit",
                "sepa_debit": {"iban": iban},
                "billing_details": {"name": "Giulia Rossi", "email": "giulia@rossi.example"},
            }
        },
    )
    return setup_id


def test_a_billing_contact_saves_a_sepa_method_and_the_mandate_shown_is_stored(giulia, rossi, seller, stripe_on):
    http = HttpClient()
    http.force_login(giulia)
    page = http.get(PAGE).content.decode()
    assert MANDATE in page
    digest = services.mandate_digest(services.client_mandate_text(rossi))
    assert f'name="mandate_digest" value="{digest}"' in page

    started = http.post(
        PAGE, {"action": "start", "method_type": "sepa_debit", "mandate_accepted": "1", "mandate_digest": digest}
    )
    assert started.status_code == HTTPStatus.OK
    setup_id = confirm_sepa_setup(started.json()["client_secret"])
    assert provider.client().v1.setup_intents.retrieve(setup_id).payment_method_types == ["sepa_debit"]

    assert http.post(PAGE, {"action": "save", "setup_intent": setup_id}).json() == {"saved": True}
    saved = SavedPaymentMethod.objects.get(client=rossi)
    assert (saved.method_type, saved.brand, saved.last4, saved.saved_by) == ("sepa_debit", "DE", "3000", giulia)
    assert saved.mandate_text == services.client_mandate_text(rossi)
    assert saved.mandate_text.startswith(MANDATE)
    assert saved.mandate_accepted_at is not None
    page = http.get(PAGE).content.decode()
    assert "SEPA Direct Debit •••• 3000" in page
    assert 'id="saved-mandate"' in page


def test_a_sepa_method_is_not_opened_without_the_mandate_accepted(giulia, rossi, seller, stripe_on):
    http = HttpClient()
    http.force_login(giulia)
    digest = services.mandate_digest(services.client_mandate_text(rossi))
    for fields in (
        {"mandate_digest": digest},  # box not ticked
        {"mandate_accepted": "1", "mandate_digest": "0" * 64},  # another text than the one shown
        {"mandate_accepted": "1"},
    ):
        response = http.post(PAGE, {"action": "start", "method_type": "sepa_debit", **fields})
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert "mandate" in response.json()["message"]
    assert SavedPaymentMethod.objects.count() == 0


def test_a_card_setup_cannot_be_saved_as_a_sepa_mandate_it_never_showed(giulia, rossi, seller, stripe_on):
    """A SetupIntent opened without the mandate, confirmed with an IBAN, is not kept."""
    secret = services.setup_start(client=rossi)
    setup_id = secret.split("_secret_")[0]
    # localstripe lets a card SetupIntent take an IBAN; Stripe would not: either way nothing is saved.
    provider.client().v1.setup_intents.confirm(
        setup_id, params={"payment_method_data": {"type": "sepa_debit", "sepa_debit": {"iban": IBAN}}}
    )
    with pytest.raises(Exception, match="mandate"):
        services.payment_method_save(client=rossi, setup_intent_id=setup_id, actor=giulia)
    assert SavedPaymentMethod.objects.count() == 0


def test_dollar_clients_are_offered_no_sepa(alice, client_a, seller, stripe_on):
    alice.client_contact.receives_invoices = True
    alice.client_contact.save()
    http = HttpClient()
    http.force_login(alice)
    page = http.get(PAGE).content.decode()
    assert "SEPA" not in page and "mandate" not in page
    response = http.post(PAGE, {"action": "start", "method_type": "sepa_debit", "mandate_accepted": "1"})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_another_client_sees_nothing_of_the_mandate(giulia, rossi, charlie, seller, stripe_on):
    http = HttpClient()
    http.force_login(giulia)
    digest = services.mandate_digest(services.client_mandate_text(rossi))
    started = http.post(
        PAGE, {"action": "start", "method_type": "sepa_debit", "mandate_accepted": "1", "mandate_digest": digest}
    )
    http.post(PAGE, {"action": "save", "setup_intent": confirm_sepa_setup(started.json()["client_secret"])})
    charlie.client_contact.receives_invoices = True
    charlie.client_contact.save()
    other = HttpClient()
    other.force_login(charlie)
    page = other.get(PAGE).content.decode()
    assert "3000" not in page and "No payment method is on file" in page
    # Giulia's SetupIntent saved for Charlie's client: refused, nothing kept for it.
    setup_id = started.json()["client_secret"].split("_secret_")[0]
    assert other.post(PAGE, {"action": "save", "setup_intent": setup_id}).status_code == HTTPStatus.BAD_REQUEST
    assert list(SavedPaymentMethod.objects.values_list("client__name", flat=True)) == ["Rossi Srl"]


def test_an_auto_reload_is_debited_off_session_and_credited_only_once_it_succeeds(
    giulia, rossi, staff, seller, stripe_on
):
    """The saved SEPA method charged off-session. localstripe settles a good
    IBAN at once (Stripe takes days: that sequence is tested with events below)."""
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    secret = services.setup_start(
        client=rossi, method_type="sepa_debit", mandate=services.mandate_digest(services.client_mandate_text(rossi))
    )
    services.payment_method_save(client=rossi, setup_intent_id=confirm_sepa_setup(secret), actor=giulia)
    before = balance(agreement)

    assert services.reload_invoice_charge(invoice_id=invoice.pk) == "recorded"
    assert services.reload_invoice_charge(invoice_id=invoice.pk) == "invoice paid"
    row = row_of(invoice)
    assert (row.status, row.method_type) == ("succeeded", "sepa_debit")
    assert services.reconcile().recorded == 0
    assert state(invoice, agreement) == (InvoiceStatus.PAID, before + 600, 1)
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.method, payment.amount, payment.reference) == (
        PaymentMethod.SEPA_DEBIT,
        Decimal("1000.00"),
        row.stripe_id,
    )
    assert payment.get_method_display() == "SEPA Direct Debit"


# --- a one-off payment on the pay page -------------------------------------------


def test_the_pay_page_of_a_euro_invoice_shows_the_mandate_naming_the_seller(rossi, staff, seller, stripe_on):
    invoice, _ = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    page = HttpClient().get(f"/pay/{services.pay_link_token(invoice)}/").content.decode()
    assert MANDATE in page
    assert 'value="sepa_debit"' in page and 'id="sepa-iban"' in page
    dollar = issued_block_invoice(AgreementFactory(), staff, hours=10)
    page = HttpClient().get(f"/pay/{services.pay_link_token(dollar)}/").content.decode()
    assert "SEPA" not in page and MANDATE not in page


def test_a_one_off_sepa_payment_from_a_good_account_is_recorded_as_sepa(rossi, staff, seller, stripe_on):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    before = balance(agreement)
    digest = services.mandate_digest(services.invoice_mandate_text(invoice))
    response = HttpClient(HTTP_USER_AGENT="Firefox/140").post(
        f"/pay/{services.pay_link_token(invoice)}/",
        {"payment_method": sepa_method(), "mandate_accepted": "1", "mandate_digest": digest},
    )
    assert response.json()["status"] == "paid"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, before + 600, 1)
    assert Payment.objects.get().method == PaymentMethod.SEPA_DEBIT


def test_a_one_off_sepa_payment_keeps_the_mandate_and_sends_it_to_stripe(rossi, staff, seller, stripe_on):
    """localstripe keeps a debit from IBAN_DECLINED processing for half a second (then fails it)."""
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    before = balance(agreement)
    digest = services.mandate_digest(services.invoice_mandate_text(invoice))
    response = HttpClient(HTTP_USER_AGENT="Firefox/140 (test)").post(
        f"/pay/{services.pay_link_token(invoice)}/",
        {"payment_method": sepa_method(IBAN_DECLINED), "mandate_accepted": "1", "mandate_digest": digest},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "processing"
    row = row_of(invoice)
    assert (row.status, row.method_type, row.applied_at) == ("processing", "sepa_debit", None)
    assert row.mandate_text == services.invoice_mandate_text(invoice) and row.mandate_text.startswith(MANDATE)
    assert (row.mandate_ip, row.mandate_user_agent) == ("127.0.0.1", "Firefox/140 (test)")
    sent = provider.client().v1.payment_intents.retrieve(row.stripe_id).to_dict()["mandate_data"]
    assert sent["customer_acceptance"]["type"] == "online"
    assert sent["customer_acceptance"]["online"] == {"ip_address": "127.0.0.1", "user_agent": "Firefox/140 (test)"}
    assert int(sent["customer_acceptance"]["accepted_at"]) == int(row.mandate_accepted_at.timestamp())
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, before, 0)

    # The invoice says so, to the client in the portal and to staff.
    contact = ClientContactFactory(client=rossi, user__username="marco").user
    portal = HttpClient()
    portal.force_login(contact)
    assert "payment processing (SEPA Direct Debit)" in portal.get("/portal/").content.decode()
    desk = HttpClient()
    desk.force_login(staff)
    assert "payment processing (SEPA Direct Debit)" in desk.get(f"/invoices/{invoice.public_id}/").content.decode()


@pytest.mark.parametrize(
    "fields",
    [{}, {"mandate_accepted": "1"}, {"mandate_accepted": "1", "mandate_digest": "0" * 64}, "no user agent"],
    ids=["not accepted", "no text", "another text", "no user agent"],
)
def test_a_sepa_payment_without_the_mandate_accepted_is_refused_before_stripe_confirms(
    rossi, staff, seller, stripe_on, fields
):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    http = HttpClient(HTTP_USER_AGENT="Firefox/140")
    if fields == "no user agent":
        digest = services.mandate_digest(services.invoice_mandate_text(invoice))
        http, fields = HttpClient(), {"mandate_accepted": "1", "mandate_digest": digest}
    response = http.post(f"/pay/{services.pay_link_token(invoice)}/", {"payment_method": sepa_method(), **fields})
    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert "mandate" in response.json()["message"]
    row = row_of(invoice)
    assert provider.client().v1.payment_intents.retrieve(row.stripe_id).status == "requires_payment_method"
    assert (row.mandate_text, row.mandate_accepted_at) == ("", None)


# --- processing, then succeeded or failed: both credit policies ------------------


def test_on_payment_hours_come_only_at_succeeded(rossi, staff, seller, stripe_on):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    before = balance(agreement)
    assert send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60)) == b"processing"
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, before, 0)
    assert row_of(invoice).status == "processing"
    assert send("payment_intent.succeeded", sepa_intent(invoice, "succeeded"), at(0)) == b"recorded"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, before + 600, 1)
    assert Payment.objects.get().method == PaymentMethod.SEPA_DEBIT
    assert services.invoice_payment_processing([invoice.pk]) == {}


def test_before_payment_hours_were_credited_at_issue_and_stay(rossi, staff, seller, stripe_on):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.IMMEDIATE)
    credited = balance(agreement)
    assert LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.PURCHASE).get().minutes == 600
    send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60))
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, credited, 0)
    send("payment_intent.succeeded", sepa_intent(invoice, "succeeded"), at(0))
    assert state(invoice, agreement) == (InvoiceStatus.PAID, credited, 1)


def test_on_payment_a_failed_debit_credits_nothing_and_tells_client_and_staff(rossi, staff, seller, stripe_on):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    before = balance(agreement)
    send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60))
    assert send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(0)) == (
        b"failed"
    )
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, before, 0)
    client_email = OutgoingEmail.objects.get(kind=EmailKind.PAYMENT_FAILED)
    assert client_email.recipient == "amministrazione@rossi.example"
    assert f"/pay/{services.pay_link_token(invoice)}/"[:20] in client_email.body_text
    alerts = OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_ALERT_STAFF)
    assert any("no hours had been credited" in alert.body_text for alert in alerts)
    assert not LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.CANCELLATION).exists()


def test_before_payment_a_failed_debit_takes_back_the_unused_hours_and_the_used_are_owed(
    rossi, staff, seller, stripe_on
):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.IMMEDIATE)
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=staff,
        ticket=TicketFactory(client=rossi),
        work_date=timezone.localdate(),
        minutes=90,
        work_type=work_type(),
    )
    assert balance(agreement) == 510
    send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60))
    assert balance(agreement) == 510
    send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(0))

    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, 0, 0)
    taken = LedgerEntry.objects.get(agreement=agreement, kind=LedgerKind.CANCELLATION)
    assert (taken.minutes, taken.block_id) == (-510, invoice.block_id)
    invoice.block.refresh_from_db()
    assert (invoice.block.minutes_left, invoice.block.cancelled_at, invoice.block.paid_at) == (0, None, None)
    row = row_of(invoice)
    assert (
        "8 h 30 min unused of its hours were taken back (they come back when it is paid); "
        "1 h 30 min already used are owed" in row.outcome
    )
    alert = OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_ALERT_STAFF, body_text__contains="are owed").get()
    assert "invoice " + invoice.number in alert.body_text
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED).count() == 1

    # The same failure again, under another event id, and by the reconciliation: nothing more.
    send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(0))
    assert balance(agreement) == 0
    assert LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.CANCELLATION).count() == 1
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED).count() == 1


def test_paid_after_the_failed_debit_the_hours_taken_back_come_back_once(rossi, staff, seller, stripe_on):
    """The client pays from the pay link after the failure (a card, here): the invoice is paid
    and the hours taken back are given back, once."""
    from billing import services as billing_services

    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.IMMEDIATE)
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=staff,
        ticket=TicketFactory(client=rossi),
        work_date=timezone.localdate(),
        minutes=90,
        work_type=work_type(),
    )
    send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60))
    send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(30))
    assert balance(agreement) == 0
    assert send("payment_intent.succeeded", sepa_intent(invoice, "succeeded"), at(0)) == b"recorded"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, 510, 1)
    back = LedgerEntry.objects.get(agreement=agreement, kind=LedgerKind.REINSTATED)
    assert (back.minutes, back.block_id) == (510, invoice.block_id)
    # Recording the payment again (a retried webhook, a manual double entry) gives nothing more.
    payment = Payment.objects.get()
    billing_services.payment_record(
        invoice=invoice,
        amount=payment.amount,
        method=payment.method,
        reference=payment.reference,
        paid_on=payment.paid_on,
        actor=staff,
    )
    assert balance(agreement) == 510
    assert LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.REINSTATED).count() == 1


def test_a_failed_debit_whose_hours_are_all_unused_can_then_be_voided(rossi, staff, seller, stripe_on):
    from billing import services as billing_services

    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.IMMEDIATE)
    send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60))
    send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(0))
    assert balance(agreement) == 0
    billing_services.invoice_void(invoice=invoice, actor=staff, reason="Debit failed; client left")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID and balance(agreement) == 0
    assert LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.CANCELLATION).count() == 1


# --- duplicate and reordered events ----------------------------------------------


@pytest.mark.parametrize("policy", [CreditPolicy.ON_PAYMENT, CreditPolicy.IMMEDIATE])
def test_processing_after_succeeded_never_unpays_and_failed_after_succeeded_is_ignored(
    rossi, staff, seller, stripe_on, policy
):
    invoice, agreement = euro_invoice(rossi, staff, policy)
    before = balance(agreement)
    paid = before if policy == CreditPolicy.IMMEDIATE else before + 600
    assert send("payment_intent.succeeded", sepa_intent(invoice, "succeeded"), at(0)) == b"recorded"
    assert send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60)) == b"already applied"
    failed = sepa_intent(invoice, "requires_payment_method", **FAILED)
    assert send("payment_intent.payment_failed", failed, at(30)) == b"late failure ignored"
    assert state(invoice, agreement) == (InvoiceStatus.PAID, paid, 1)
    assert row_of(invoice).status == "succeeded"
    assert not LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.CANCELLATION).exists()
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED).count() == 0


def test_a_processing_event_arriving_after_the_failure_changes_nothing(rossi, staff, seller, stripe_on):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.IMMEDIATE)
    processing = event("payment_intent.processing", sepa_intent(invoice, "processing"))
    send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60), processing["id"])
    send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(0))
    # Stripe resends the old processing event, and another made before the failure arrives late.
    assert send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60), processing["id"]) == (
        b"duplicate"
    )
    assert send("payment_intent.processing", sepa_intent(invoice, "processing"), at(50)) == b"stale status ignored"
    assert row_of(invoice).status == "requires_payment_method"
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, 0, 0)
    assert services.invoice_payment_processing([invoice.pk]) == {}


def test_a_failure_arriving_before_its_processing_event_still_takes_back_once(rossi, staff, seller, stripe_on):
    """Reordered: the failure first (no processing known yet), then the older processing."""
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.ON_PAYMENT)
    before = balance(agreement)
    send("payment_intent.payment_failed", sepa_intent(invoice, "requires_payment_method", **FAILED), at(0))
    assert send("payment_intent.processing", sepa_intent(invoice, "processing"), at(60)) == b"stale status ignored"
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, before, 0)
    assert StripeEvent.objects.count() == 2
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED).count() == 1


def test_the_reconciliation_finds_a_failed_debit_the_webhook_never_brought(rossi, staff, seller, stripe_on):
    invoice, agreement = euro_invoice(rossi, staff, CreditPolicy.IMMEDIATE)
    digest = services.mandate_digest(services.invoice_mandate_text(invoice))
    result = services.invoice_pay(
        invoice=invoice,
        payment_method=sepa_method(IBAN_DECLINED),
        mandate=services.MandateAcceptance(digest=digest, ip_address="192.0.2.7", user_agent="Safari"),
    )
    assert result.status == "processing"
    assert wait_until_settled(row_of(invoice).stripe_id)["status"] == "requires_payment_method"
    services.reconcile()
    services.reconcile()
    assert state(invoice, agreement) == (InvoiceStatus.ISSUED, 0, 0)
    assert LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.CANCELLATION).get().minutes == -600
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED).count() == 1
