"""The renewal beat: the renewal invoice goes with the renewal notice, once;
the term renews with its rollover, or ends; a dry run changes nothing; two
runs at once renew once (PostgreSQL, threads)."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test import TestCase
from django.utils import timezone

from agreements import services as agreement_services
from agreements.domain import next_term_ends_on
from agreements.models import AgreementStatus, Block, LedgerEntry, Renewal, RolloverPolicy, TermEndAction
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import TicketFactory, tier, work_type
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus
from notifications import services
from notifications.models import EmailKind, EmailStatus, OutgoingEmail
from notifications.tasks import renew_agreements

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)
START = TODAY - 60 * DAY
END = TODAY - DAY
NEW_END = next_term_ends_on(START, END)  # 60 days on (or 2 months, when those are 60 days)
INVOICE_DAY = END - 30 * DAY


def run(today=TODAY, **options) -> list[str]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.renewals_run(today=today, send=lambda pk: services.email_send(email_id=pk), **options).lines()


@pytest.fixture
def renewing(client_a, alice, seller, msp_staff, technician):
    """Acme Dental's 60-day term, ended yesterday, renewing with a 10 h block
    invoiced 30 days before the end; up to 5 h roll over. A paid 20 h block
    ($90/h) of which 11 h 45 min were used: 8 h 15 min unused."""
    agreement = agreement_services.agreement_create(
        client=client_a,
        starts_on=START,
        ends_on=END,
        billing_increment_minutes=1,
        term_end_action=TermEndAction.RENEW,
        renewal_tier=tier(10),
        renewal_invoice_days=30,
        rollover_policy=RolloverPolicy.CAPPED_HOURS,
        rollover_cap_minutes=300,
    )
    invoice = billing_services.invoice_sell_block(agreement=agreement, actor=msp_staff, tier=tier(20), starts_on=START)
    billing_services.payment_record(
        invoice=invoice, amount=invoice.total, method="ach", reference="ACH-1", paid_on=TODAY, actor=msp_staff
    )
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=client_a),
        work_date=START + DAY,
        minutes=705,
        work_type=work_type("Normal"),
    )
    return agreement


def test_the_renewal_invoice_goes_with_the_renewal_notice_once(renewing, msp_staff):
    assert run(INVOICE_DAY - DAY) == ["No renewal or term end due."]

    lines = run(INVOICE_DAY)

    renewal_invoice = Invoice.objects.get(block__renewal__agreement=renewing)
    assert lines == [f"Renewal invoiced: {renewal_invoice.number} for Acme Dental (1000.00 USD)"]
    assert (renewal_invoice.status, renewal_invoice.total) == (InvoiceStatus.ISSUED, Decimal("1000.00"))
    block = renewal_invoice.block
    assert (block.minutes, block.starts_on, block.expires_on, block.credited_at) == (600, TODAY, NEW_END, None)
    notices = OutgoingEmail.objects.filter(kind=EmailKind.RENEWAL_NOTICE)
    assert sorted(notices.values_list("recipient", flat=True)) == [
        "alice@example.com",
        "billing@acme-dental.example",
        "owner@northwind.example",
    ]
    assert set(notices.values_list("invoice", "status")) == {(renewal_invoice.pk, EmailStatus.SENT)}
    message = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert message.subject == f"Acme Dental: your support agreement renews on {TODAY:%-d %B %Y}"
    body = " ".join(message.body.split())
    assert (
        f"ends on {END:%-d %B %Y} and renews on {TODAY:%-d %B %Y} for a new term until {NEW_END:%-d %B %Y}. "
        f"The renewal invoice {renewal_invoice.number} is attached." in body
    )
    assert "At today's balance of 8 h 15 min, 5 h would roll over into the new term and 3 h 15 min would expire" in body
    assert [(name, kind) for name, _, kind in message.attachments] == [
        (f"Invoice-{renewal_invoice.number}.pdf", "application/pdf")
    ]
    assert message.attachments[0][1].startswith(b"%PDF")
    sent = len(mail.outbox)

    # The next days, and the plain term-end notice: nothing more for this term.
    assert run(INVOICE_DAY + DAY) == ["No renewal or term end due."]
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.expiry_notices_record(today=INVOICE_DAY + 20 * DAY, send=lambda pk: services.email_send(email_id=pk))
    assert len(mail.outbox) == sent == 3
    assert Invoice.objects.filter(block__isnull=False).count() == 2


def test_the_term_renews_with_its_capped_rollover(renewing, msp_staff):
    run(INVOICE_DAY)
    renewal_invoice = Invoice.objects.get(block__renewal__agreement=renewing)
    billing_services.payment_record(
        invoice=renewal_invoice,
        amount=renewal_invoice.total,
        method="ach",
        reference="ACH-2",
        paid_on=TODAY,
        actor=msp_staff,
    )
    assert run(END) == ["No renewal or term end due."]

    lines = run(TODAY)

    assert lines == [
        f"Renewed: Acme Dental — Prepaid support hours until {NEW_END:%Y-%m-%d} (5 h rolled over, 3 h 15 min expired)"
    ]
    renewing.refresh_from_db()
    assert (renewing.ends_on, renewing.status, assert_balance_is_ledger_sum(renewing)) == (
        NEW_END,
        AgreementStatus.ACTIVE,
        300 + 600,
    )
    carried = Block.objects.get(rolled_over_from__isnull=False)
    assert (carried.minutes_left, carried.rate, carried.expires_on) == (300, Decimal("90.00"), NEW_END)
    assert run(TODAY) == ["No renewal or term end due."]
    assert Renewal.objects.get().renewed_at is not None


def test_an_ending_agreement_ends_by_the_beat(client_a, seller, msp_staff):
    agreement = agreement_services.agreement_create(client=client_a, starts_on=START, ends_on=END)
    invoice = billing_services.invoice_sell_block(agreement=agreement, actor=msp_staff, tier=tier(10), starts_on=START)
    billing_services.payment_record(
        invoice=invoice, amount=invoice.total, method="ach", reference="ACH-1", paid_on=TODAY, actor=msp_staff
    )
    assert run() == [f"Ended: Acme Dental — Prepaid support hours on {END:%Y-%m-%d} (10 h expired)"]
    agreement.refresh_from_db()
    assert (agreement.status, assert_balance_is_ledger_sum(agreement)) == (AgreementStatus.ENDED, 0)
    assert run() == ["No renewal or term end due."]


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(renewing):
    ledger = LedgerEntry.objects.count()
    out = io.StringIO()
    call_command("renew_agreements", "--dry-run", f"--today={TODAY}", stdout=out)
    assert out.getvalue().splitlines() == [
        f"Would invoice the renewal: Acme Dental — Prepaid support hours (10-hour block, term ending {END:%Y-%m-%d})",
        f"Would renew: Acme Dental — Prepaid support hours until {NEW_END:%Y-%m-%d} "
        "(5 h would roll over, 3 h 15 min would expire)",
    ]
    assert (LedgerEntry.objects.count(), Renewal.objects.count(), OutgoingEmail.objects.count()) == (ledger, 0, 0)

    out = io.StringIO()
    call_command("renew_agreements", f"--today={TODAY}", stdout=out)
    renewal_invoice = Invoice.objects.get(block__renewal__agreement=renewing)
    assert out.getvalue().splitlines() == [
        f"Renewal invoiced: {renewal_invoice.number} for Acme Dental (1000.00 USD)",
        f"Renewed: Acme Dental — Prepaid support hours until {NEW_END:%Y-%m-%d} (5 h rolled over, 3 h 15 min expired)",
    ]


def test_the_beat_task_runs_it(renewing, settings):
    assert "notifications.tasks.renew_agreements" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        lines = renew_agreements()
    assert len(lines) == 2 and lines[1].startswith("Renewed: Acme Dental")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_renew_once(renewing):
    def twice(today) -> list[BaseException]:
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def target() -> None:
            try:
                barrier.wait()
                run(today)
            except BaseException as error:  # noqa: BLE001 - reported to the test
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=target) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        close_old_connections()
        return errors

    assert twice(INVOICE_DAY) == []
    assert Renewal.objects.count() == 1 and Invoice.objects.filter(block__renewal__isnull=False).count() == 1
    recipients = list(OutgoingEmail.objects.filter(kind=EmailKind.RENEWAL_NOTICE).values_list("recipient", flat=True))
    assert sorted(recipients) == sorted(set(recipients)) and len(recipients) == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(recipients)

    assert twice(TODAY) == []
    assert Block.objects.filter(rolled_over_from__isnull=False).count() == 1
    renewing.refresh_from_db()
    assert (renewing.ends_on, assert_balance_is_ledger_sum(renewing)) == (NEW_END, 300)  # the renewal block is unpaid
    assert sorted(LedgerEntry.objects.filter(kind="rollover").values_list("minutes", flat=True)) == [-300, 300]
    assert list(LedgerEntry.objects.filter(kind="expiry").values_list("minutes", flat=True)) == [-195]


def test_a_declined_renewal_ends_the_agreement(renewing, msp_staff):
    run(INVOICE_DAY)
    renewal_invoice = Invoice.objects.get(block__renewal__agreement=renewing)
    billing_services.invoice_void(invoice=renewal_invoice, actor=msp_staff, reason="The client does not renew")
    preview = agreement_services.term_end_preview(renewing)
    assert (preview.renews, preview.rolled_minutes, preview.expiring_minutes) == (False, 0, 495)

    assert run(TODAY) == [f"Ended: Acme Dental — Prepaid support hours on {END:%Y-%m-%d} (8 h 15 min expired)"]
    renewing.refresh_from_db()
    assert (renewing.status, renewing.ends_on, assert_balance_is_ledger_sum(renewing)) == (
        AgreementStatus.ENDED,
        END,
        0,
    )
    assert not Block.objects.filter(rolled_over_from__isnull=False).exists()
