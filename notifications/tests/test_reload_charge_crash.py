"""A worker process that dies between Stripe's charge and our commit: the
retried auto-reload task charges once and credits once. The first run is a
real child process, killed with os._exit right after Stripe answered;
localstripe ignores idempotency keys, so only the committed attempt and the
lookup at Stripe keep the retry from charging again. PostgreSQL: the child
must see the test database."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from agreements.models import LedgerEntry, LedgerKind
from billing.models import Invoice, InvoiceKind, InvoiceStatus, Payment
from notifications.tests.conftest import sweep_now
from notifications.tests.test_reload_charge import card_on_file, intents_at_stripe  # noqa: F401 - the fixture
from payments import services
from payments.models import ReloadChargeAttempt, StripePaymentIntent
from payments.tests.conftest import stripe_on  # noqa: F401 - the fixture
from tests.celery_processes import PROJECT_DIR
from tests.celery_processes import test_database_url as database_url
from tests.localstripe_server import localstripe_url  # noqa: F401 - the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The worker: charges the invoice and dies the moment Stripe has answered.
CHILD = (
    "import os, sys\n"
    "import django\n"
    "django.setup()\n"
    "import stripe\n"
    "from payments import services\n"
    "real_create = stripe.PaymentIntentService.create\n"
    "def create_then_die(self, *args, **kwargs):\n"
    "    real_create(self, *args, **kwargs)\n"
    "    os._exit(1)\n"
    "stripe.PaymentIntentService.create = create_then_die\n"
    "services.reload_invoice_charge(invoice_id=int(sys.argv[1]))\n"
    "sys.exit(0)\n"
)


def run_dying_worker(invoice_id: int) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "blockhours.settings",
        "DATABASE_URL": database_url(),
        "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
        "STRIPE_API_BASE": settings.STRIPE_API_BASE,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", CHILD, str(invoice_id)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        timeout=120,
    )


def test_a_worker_killed_after_the_charge_is_retried_charged_once_and_credited_once(
    make_low_agreement,
    card_on_file,  # noqa: F811
):
    card_on_file()
    agreement = make_low_agreement(left=60)  # issue mode: the reload invoice waits for its money
    sweep_now()
    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    agreement.refresh_from_db()
    before = agreement.balance_minutes
    connection.close()  # the child takes its own connection to the same database

    died = run_dying_worker(reload.pk)

    assert died.returncode == 1, died.stderr.decode()[-2000:]
    [charged] = intents_at_stripe(agreement.client)  # Stripe charged...
    assert (charged.status, charged.amount, charged.metadata["invoice"]) == (
        "succeeded",
        int(reload.total * 100),
        str(reload.public_id),
    )
    reload.refresh_from_db()
    assert reload.status == InvoiceStatus.ISSUED  # ...and our transaction never committed
    assert not StripePaymentIntent.objects.exists() and not Payment.objects.exists()
    assert ReloadChargeAttempt.objects.get(invoice=reload).runs == 1

    # The broker redelivers the task (acks_late, reject_on_worker_lost): it runs here.
    assert services.reload_invoice_charge(invoice_id=reload.pk) == "recorded"

    assert [i.id for i in intents_at_stripe(agreement.client)] == [charged.id]  # charged once
    reload.refresh_from_db()
    agreement.refresh_from_db()
    assert reload.status == InvoiceStatus.PAID
    payment = Payment.objects.get()
    assert (payment.invoice, payment.reference, payment.amount) == (reload, charged.id, reload.total)
    assert StripePaymentIntent.objects.get().stripe_id == charged.id
    assert agreement.balance_minutes == before + 1200  # credited once
    assert LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE, block=reload.block).count() == 1
    # Yet another run changes nothing.
    assert services.reload_invoice_charge(invoice_id=reload.pk) == "invoice paid"
    assert len(intents_at_stripe(agreement.client)) == 1 and Payment.objects.count() == 1
