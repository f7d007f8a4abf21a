"""Auto-reload that really charges: the sweep raises the reload invoice and
charges the card on file off-session, once; a decline leaves the invoice
issued with the pay link emailed and staff alerted. Against localstripe."""

import pytest
import stripe

from agreements.models import TopupMode
from billing.models import Invoice, InvoiceKind, InvoiceStatus, Payment
from notifications.models import EmailKind, OutgoingEmail
from notifications.tests.conftest import sweep_now
from payments import provider, services
from payments.models import ReloadChargeAttempt, StripePaymentIntent
from payments.tests.conftest import stripe_on  # noqa: F401 - the fixture
from payments.tests.test_saved_method import confirmed_setup
from tests.localstripe_server import localstripe_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_on_file(client_a, alice, stripe_on):  # noqa: F811
    def save(number: str = "4242424242424242"):
        return services.payment_method_save(
            client=client_a, setup_intent_id=confirmed_setup(client_a, number), actor=alice
        )

    return save


def client_mail(kind: str) -> OutgoingEmail:
    return OutgoingEmail.objects.get(kind=kind, recipient="alice@example.com")


def test_an_auto_reload_is_charged_to_the_card_on_file_once(make_low_agreement, card_on_file):
    card_on_file()
    agreement = make_low_agreement(left=60, topup_mode=TopupMode.CHARGE)

    sweep_now()

    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    agreement.refresh_from_db()
    assert reload.status == InvoiceStatus.PAID
    assert agreement.balance_minutes == 60 + 1200
    intent = StripePaymentIntent.objects.get()
    payment = Payment.objects.get(invoice=reload)
    assert payment.reference == intent.stripe_id and payment.amount == reload.total
    remote = provider.client().v1.payment_intents.retrieve(intent.stripe_id)
    assert (remote.status, int(remote.amount), remote.currency) == ("succeeded", int(reload.total * 100), "usd")
    email = client_mail(EmailKind.AUTO_RELOADED)
    assert "The invoice is charged to the payment method on file (Visa ending in 4242)" in email.body_text
    assert "/pay/" not in email.body_text

    # The task again (a retry, a redelivery): nothing more is charged or credited.
    assert services.reload_invoice_charge(invoice_id=reload.pk) == "invoice paid"
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 60 + 1200
    assert StripePaymentIntent.objects.count() == 1 and Payment.objects.filter(invoice=reload).count() == 1


def test_a_declined_charge_leaves_the_invoice_issued_emails_the_pay_link_and_alerts_staff(
    make_low_agreement, card_on_file
):
    card_on_file("4000000000000341")  # attaches, then declined when charged
    agreement = make_low_agreement(left=60, topup_mode=TopupMode.CHARGE)

    sweep_now()

    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    agreement.refresh_from_db()
    assert reload.status == InvoiceStatus.ISSUED
    assert Payment.objects.filter(invoice=reload).count() == 0
    assert agreement.balance_minutes == 60 + 1200  # credited at once, as the top-up mode always did
    failed = client_mail(EmailKind.PAYMENT_FAILED)
    assert "Your bank said: Your card was declined." in failed.body_text
    assert "/pay/" in failed.body_text
    alert = OutgoingEmail.objects.get(kind=EmailKind.PAYMENT_ALERT_STAFF)
    assert f"An online payment of invoice {reload.number} failed" in alert.body_text
    assert StripePaymentIntent.objects.count() == 0  # the pay link starts a fresh intent
    # A retried task declines again but tells no one twice.
    services.reload_invoice_charge(invoice_id=reload.pk)
    assert OutgoingEmail.objects.filter(kind=EmailKind.PAYMENT_FAILED, recipient="alice@example.com").count() == 1


def test_a_card_that_needs_authentication_falls_back_to_the_pay_link(make_low_agreement, card_on_file):
    card_on_file("4000002500003155")
    make_low_agreement(left=60, topup_mode=TopupMode.CHARGE)

    sweep_now()

    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    assert reload.status == InvoiceStatus.ISSUED
    failed = client_mail(EmailKind.PAYMENT_FAILED)
    assert "Your bank asks you to confirm this payment yourself." in failed.body_text
    assert StripePaymentIntent.objects.get().status == "requires_action"


def test_without_a_card_on_file_the_email_promises_no_charge_and_carries_the_pay_link(
    make_low_agreement,
    stripe_on,  # noqa: F811
):
    make_low_agreement(left=60, topup_mode=TopupMode.CHARGE)

    sweep_now()

    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    assert reload.status == InvoiceStatus.ISSUED
    email = client_mail(EmailKind.AUTO_RELOADED)
    assert "payment method on file" not in email.body_text
    assert "Pay online by card:" in email.body_text
    assert StripePaymentIntent.objects.count() == 0


def intents_at_stripe(client) -> list:
    """Every PaymentIntent localstripe holds for the client's customer."""
    customer = client.saved_payment_method.customer_id
    return list(provider.client().v1.payment_intents.list(params={"customer": customer, "limit": 100}).data)


def test_a_retry_after_the_worker_died_mid_charge_adopts_the_first_charge(
    make_low_agreement, card_on_file, monkeypatch
):
    """The charge went through at Stripe but our transaction never committed
    (here the run is cut short in this process; test_reload_charge_crash.py
    kills a real one). The retry finds the committed attempt, looks the
    intent up at Stripe and adopts it: no second charge, even on a server
    that ignores idempotency keys, as localstripe does."""
    card_on_file()
    agreement = make_low_agreement(left=60)  # issue mode: the invoice exists, nothing charged
    sweep_now()
    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    keys = []
    real_create = stripe.PaymentIntentService.create

    def create_then_die(self, params, options):
        keys.append(options["idempotency_key"])
        real_create(self, params=params, options=options)
        raise SystemExit("worker died")  # before our transaction commits

    monkeypatch.setattr(stripe.PaymentIntentService, "create", create_then_die)
    with pytest.raises(SystemExit):
        services.reload_invoice_charge(invoice_id=reload.pk)
    monkeypatch.undo()
    assert StripePaymentIntent.objects.count() == 0 and ReloadChargeAttempt.objects.get(invoice=reload).runs == 1
    [charged] = intents_at_stripe(agreement.client)
    assert charged.status == "succeeded"

    assert services.reload_invoice_charge(invoice_id=reload.pk) == "recorded"

    assert keys == [f"invoice-{reload.public_id}-reload-charge"]  # the retry created nothing
    assert [i.id for i in intents_at_stripe(agreement.client)] == [charged.id]
    assert StripePaymentIntent.objects.get().stripe_id == charged.id
    reload.refresh_from_db()
    agreement.refresh_from_db()
    assert reload.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=reload).count() == 1
    assert agreement.balance_minutes == 60 + 1200
    assert ReloadChargeAttempt.objects.get(invoice=reload).runs == 2
