"""Staff cancel an agreement or a block's unused hours: a confirm page, then the refund or forfeit."""

from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.test_reauth import age_sign_in, reauth_redirect
from agreements.models import AgreementStatus, LedgerEntry, LedgerKind
from billing.models import CreditNote
from billing.tests.test_credit_notes import log, paid_block
from notifications.models import EmailKind, OutgoingEmail

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year


def test_staff_review_then_cancel_an_agreement_with_a_refund(client, staff, agreement, technician, seller):
    invoice = paid_block(agreement, staff, hours=10)
    log(agreement, technician, 135)
    client.force_login(staff)
    url = reverse("dashboard:agreement_cancel", args=[agreement.public_id])
    data = {"disposition": "refund", "reason": "Client moves to an MSA"}

    assert client.get(url).status_code == HTTPStatus.OK
    review = client.post(url, data)
    assert [str(line) for line in review.context["lines"]] == [
        "Client: Acme Dental — Prepaid support hours",
        f"7 h 45 min unused of the 10-hour support block of {invoice.block.starts_on:%b} "
        f"{invoice.block.starts_on.day}, {invoice.block.starts_on.year}: refunded, $775.00 before tax",
        "The agreement ends: no more time, block sales or reloads on it.",
        "Reason: Client moves to an MSA",
    ]
    assert not CreditNote.objects.exists()

    done = client.post(url, {**data, "confirm": "1"}, follow=True)

    note = CreditNote.objects.get()
    assert (note.number, note.minutes, str(note.total)) == (f"CN-{YEAR}-0001", 465, "775.00")
    assert [str(m) for m in done.context["messages"]] == [
        f"Agreement “Prepaid support hours” cancelled. Credit note(s) CN-{YEAR}-0001 issued and emailed "
        "(7 h 45 min refunded)."
    ]
    page = done.content.decode()
    assert reverse("billing:credit_note_pdf", args=[note.public_id]) in page
    assert "Client moves to an MSA" in page
    assert OutgoingEmail.objects.filter(kind=EmailKind.CREDIT_NOTE, credit_note=note).count() == 1
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ENDED
    assert reverse("dashboard:block_sell", args=[agreement.public_id]) not in page  # no more sales on it
    # A second click changes nothing.
    again = client.post(url, {**data, "confirm": "1"}, follow=True)
    assert [str(m) for m in again.context["messages"]] == ["This agreement is cancelled already; nothing changed."]
    assert CreditNote.objects.count() == 1


def test_an_unpaid_block_stops_the_cancellation_with_a_clear_message(client, staff, agreement, seller):
    from billing.services import invoice_sell_block

    unpaid = invoice_sell_block(agreement=agreement, hours=2, actor=staff)
    client.force_login(staff)
    url = reverse("dashboard:agreement_cancel", args=[agreement.public_id])

    response = client.post(url, {"disposition": "forfeit", "reason": "Leaving", "confirm": "1"})

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].non_field_errors() == [
        f"Invoice {unpaid.number} of this agreement is not paid: void it (which cancels that block's sale) "
        "or record its payment before cancelling the agreement."
    ]
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE


def test_staff_forfeit_part_of_a_block(client, staff, agreement, technician, seller):
    invoice = paid_block(agreement, staff, hours=10)
    client.force_login(staff)
    url = reverse("dashboard:block_cancel", args=[invoice.block.public_id])
    data = {"disposition": "forfeit", "reason": "Unused at year end", "duration": "2h"}

    review = client.post(url, data)
    assert [str(line) for line in review.context["lines"]][1:] == [
        f"2 h unused of the 10-hour support block of {invoice.block.starts_on:%b} {invoice.block.starts_on.day}, "
        f"{invoice.block.starts_on.year}: forfeited (breakage)",
        "Balance: 10 h → 8 h",
        "Reason: Unused at year end",
    ]
    done = client.post(url, {**data, "confirm": "1"}, follow=True)

    assert [str(m) for m in done.context["messages"]] == ["2 h forfeited. Acme Dental balance: 8 h."]
    entry = LedgerEntry.objects.get(kind=LedgerKind.FORFEIT)
    assert (entry.minutes, entry.reason) == (-120, "Unused at year end")


def test_more_than_the_unused_time_is_refused_on_the_form(client, staff, agreement, technician, seller):
    invoice = paid_block(agreement, staff, hours=1)
    log(agreement, technician, 45)
    client.force_login(staff)
    url = reverse("dashboard:block_cancel", args=[invoice.block.public_id])

    for extra in ({}, {"confirm": "1"}):
        response = client.post(url, {"disposition": "refund", "reason": "x", "duration": "30", **extra})
        assert response.status_code == HTTPStatus.OK
        assert response.context["form"].errors["duration"]
    assert not CreditNote.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists()


def test_a_stale_sign_in_cancels_nothing(client, staff, agreement, seller):
    invoice = paid_block(agreement, staff, hours=2)
    client.force_login(staff)
    age_sign_in(client, 13)
    for url in (
        reverse("dashboard:agreement_cancel", args=[agreement.public_id]),
        reverse("dashboard:block_cancel", args=[invoice.block.public_id]),
    ):
        response = client.post(url, {"disposition": "refund", "reason": "x", "confirm": "1"})
        assert response["Location"] == reauth_redirect(url)
    agreement.refresh_from_db()
    assert (agreement.status, agreement.balance_minutes, CreditNote.objects.count()) == ("active", 120, 0)


def test_the_client_page_offers_the_actions(client, staff, agreement, seller):
    invoice = paid_block(agreement, staff, hours=2)
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[agreement.client.public_id])).content.decode()
    assert reverse("dashboard:agreement_cancel", args=[agreement.public_id]) in page
    assert reverse("dashboard:block_cancel", args=[invoice.block.public_id]) in page
