"""The balance on every credit note: per agreement of the client, before the
refund and after it (a refund takes the hours back when it is issued),
snapshotted under the agreement's lock and printed on the PDF and the lists."""

import datetime
import shutil
import subprocess
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory
from billing import pdf
from billing.credit_notes import agreement_cancel, block_unused_cancel
from billing.models import CreditNote
from billing.tests.test_credit_notes import log, paid_block

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")


def rows(note: CreditNote) -> list[tuple[str, int, int]]:
    return [(row.agreement_name, row.minutes_before, row.minutes_after) for row in note.balances.all()]


def squash(text: str) -> str:
    """pdftotext spaces figures as the layout falls ("5h" or "5 h"): compare without spaces."""
    return "".join(text.split())


def pdf_text(note: CreditNote) -> str:
    data = pdf.credit_note_pdf_bytes(CreditNote.objects.get(pk=note.pk))
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    return " ".join(text.decode().split())


@pytest.fixture
def project(agreement, staff):
    """A second agreement of the same client, started later, holding 5 h."""
    second = AgreementFactory(
        client=agreement.client, name="Office move project", starts_on=agreement.starts_on + datetime.timedelta(days=1)
    )
    agreement_services.ledger_adjust(agreement=second, minutes=300, reason="Project hours", author=staff)
    return second


@pytest.fixture
def used_block(agreement, staff, technician, seller):
    """A paid 20 h block with 7 h 15 min used: 12 h 45 min (765 min) left."""
    invoice = paid_block(agreement, staff, hours=20)
    log(agreement, technician, 435)
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 765
    return invoice.block


def refund(block, staff, minutes: int | None = None) -> CreditNote:
    return block_unused_cancel(
        block=block, disposition="refund", actor=staff, reason="Client moves to a flat-rate MSA", minutes=minutes
    ).credit_notes[0]


def test_a_refund_snapshots_the_balance_before_and_after_for_every_agreement(used_block, project, staff):
    note = refund(used_block, staff)

    assert note.minutes == 765
    assert rows(note) == [("Prepaid support hours", 765, 0), ("Office move project", 300, 300)]
    assert note.own_balance.minutes_after == 0


def test_a_partial_refund_leaves_the_rest(used_block, staff):
    note = refund(used_block, staff, minutes=450)

    assert rows(note) == [("Prepaid support hours", 765, 315)]


def test_the_snapshot_keeps_what_was_true_at_issue(used_block, project, staff, technician):
    note = refund(used_block, staff, minutes=450)
    log(project, technician, 60)
    log(used_block.agreement, technician, 15)

    assert rows(CreditNote.objects.get(pk=note.pk)) == [
        ("Prepaid support hours", 765, 315),
        ("Office move project", 300, 300),
    ]


def test_cancelling_an_agreement_prints_each_credit_note_after_the_one_before(used_block, staff):
    agreement = used_block.agreement
    paid_block(agreement, staff, hours=10, ref="ACH-2")
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 1365

    result = agreement_cancel(agreement=agreement, disposition="refund", actor=staff, reason="Client leaves")

    first, second = result.credit_notes
    assert (first.minutes, second.minutes) == (765, 600)
    # The agreement ends after its refunds, but stays listed on its own notes.
    assert rows(first) == [("Prepaid support hours", 1365, 600)]
    assert rows(second) == [("Prepaid support hours", 600, 0)]


@needs_pdftotext
def test_the_pdf_prints_the_balance_before_and_after_the_refund(used_block, project, staff):
    note = refund(used_block, staff)

    text = pdf_text(note)

    with translation.override("en"):
        caption = f"Your prepaid balance on {date_format(note.issued_on, 'DATE_FORMAT')}"
    assert caption.upper() in text  # captions and headers print in capitals
    assert "Agreement Before After" in text
    assert squash("Prepaid support hours 12 h 45 min 0 min") in squash(text)
    assert squash("Office move project 5 h 5 h") in squash(text)
    assert "Issuing this credit note took the refunded hours off your balance." in text
    assert "Once paid" not in text


@needs_pdftotext
def test_the_pdf_renders_the_balance_in_the_credited_invoices_language(agreement, staff, technician, seller):
    client = agreement.client
    client.language = "it"
    client.save(update_fields=["language"])
    block = paid_block(agreement, staff, hours=20).block
    log(agreement, technician, 435)

    text = pdf_text(refund(block, staff))

    assert squash("Prepaid support hours 12 h 45 min 0 min") in squash(text)


@needs_pdftotext
def test_a_credit_note_issued_before_balances_were_kept_prints_none(used_block, staff):
    note = refund(used_block, staff)
    note.balances.all().delete()

    text = pdf_text(note)

    assert "YOUR PREPAID BALANCE" not in text and "Agreement Before After" not in text


def test_the_staff_client_page_lists_the_balance_each_credit_note_left(client, used_block, staff):
    refund(used_block, staff, minutes=450)
    client.force_login(staff)

    page = client.get(reverse("dashboard:client", args=[used_block.agreement.client.public_id])).content.decode()

    assert "balance 12 h 45 min → 5 h 15 min" in page


def test_the_portal_lists_the_balance_each_credit_note_left(client, used_block, staff, alice, charlie):
    note = refund(used_block, staff)
    client.force_login(alice)

    home = client.get(reverse("portal:home")).content.decode()
    agreement_page = client.get(reverse("portal:agreement", args=[used_block.agreement.public_id])).content.decode()

    assert "balance 12 h 45 min → 0 min" in home
    assert "balance 12 h 45 min → 0 min" in agreement_page
    client.force_login(charlie)
    assert "12 h 45 min" not in client.get(reverse("portal:home")).content.decode()
    assert client.get(reverse("billing:credit_note_pdf", args=[note.public_id])).status_code == HTTPStatus.NOT_FOUND
