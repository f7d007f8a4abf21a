"""The product's central loop, end to end, with a real SMTP server: time is
logged → the balance reaches 2 h → the sweep raises the reload invoice and
emails its PDF → the client pays → the hours are usable → the episode closes."""

import subprocess

from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import TechnicianFactory, TicketFactory, work_type
from billing import services as billing_services
from billing.models import InvoiceStatus
from notifications.models import Episode
from notifications.tests.conftest import sweep_now
from notifications.tests.smtp import start_smtp


def test_the_whole_loop(make_low_agreement, smtp_port, msp_staff):
    agreement = make_low_agreement(left=150)  # 10-h block, 2 h 30 min left, threshold 2 h
    controller, inbox = start_smtp(smtp_port)
    try:
        sweep_now()
        assert inbox.messages == []  # still above the threshold

        agreement_services.time_entry_log(
            agreement=agreement,
            technician=TechnicianFactory(username="tina"),
            ticket=TicketFactory(client=agreement.client),
            work_date=timezone.localdate(),
            minutes=30,
            work_type=work_type("Normal"),
        )
        assert assert_balance_is_ledger_sum(agreement) == 120
        sweep_now()
        episode = Episode.objects.get()
        invoice = episode.reload_invoice
        to_alice = [msg for rcpt, msg in inbox.messages if rcpt == ["alice@example.com"]]
        assert len(to_alice) == 1 and len(inbox.messages) == 4
        (attachment,) = list(to_alice[0].iter_attachments())
        pdf_text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=attachment.get_content(), capture_output=True, check=True
        ).stdout.decode()
        assert invoice.number in pdf_text and "20-hour support block" in pdf_text and "1,800.00" in pdf_text

        billing_services.payment_record(
            invoice=invoice,
            amount=invoice.total,
            method="ach",
            reference="ACH-2211",
            paid_on=timezone.localdate(),
            actor=msp_staff,
        )
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        assert assert_balance_is_ledger_sum(agreement) == 120 + 1200

        sweep_now()
        episode.refresh_from_db()
        assert episode.closed_at is not None
        assert len(inbox.messages) == 4  # nothing more was sent
    finally:
        controller.stop()
