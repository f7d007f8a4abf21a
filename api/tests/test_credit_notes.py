"""The API: credit notes read like invoices; cancelling an agreement or a block's unused hours."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements.models import AgreementStatus, LedgerEntry, LedgerKind
from billing.credit_notes import block_unused_cancel
from billing.models import CreditNote
from billing.tests.test_credit_notes import paid_block
from notifications.models import EmailKind, OutgoingEmail

YEAR = timezone.localdate().year


@pytest.fixture
def note(agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=10)
    return block_unused_cancel(
        block=invoice.block, disposition="refund", actor=staff, reason="Client leaves", minutes=90
    ).credit_notes[0]


def test_staff_and_the_clients_contacts_read_credit_notes(staff_api, alice_api, note):
    for api in (staff_api, alice_api):
        listed = api.get("/api/v1/credit-notes/").json()
        assert [n["number"] for n in listed["results"]] == [f"CN-{YEAR}-0001"]
        detail = api.get(f"/api/v1/credit-notes/{note.public_id}/").json()
        assert (detail["minutes"], detail["subtotal"], detail["total"], detail["invoice_number"]) == (
            90,
            "150.00",
            "150.00",
            note.invoice.number,
        )
        assert detail["lines"][0]["invoice_issued_on"] == note.invoice.issued_on.isoformat()
        pdf = api.get(f"/api/v1/credit-notes/{note.public_id}/pdf/")
        assert pdf.status_code == HTTPStatus.OK and pdf["Content-Type"] == "application/pdf"
        assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_another_client_and_technicians_see_nothing(charlie_api, tech_api, note):
    assert charlie_api.get("/api/v1/credit-notes/").json()["results"] == []
    for api in (charlie_api, tech_api):
        for path in ("", "pdf/"):
            response = api.get(f"/api/v1/credit-notes/{note.public_id}/{path}")
            assert response.status_code == HTTPStatus.NOT_FOUND
            assert response.json()["code"] == "not_found"


def test_staff_cancel_an_agreement_once_however_often_they_retry(staff_api, agreement, staff, technician, seller):
    paid_block(agreement, staff, hours=10)
    url = f"/api/v1/agreements/{agreement.public_id}/cancel/"
    body = {"disposition": "refund", "reason": "Client leaves"}

    first = staff_api.post(url, body, format="json", headers={"Idempotency-Key": "cancel-1"})
    replay = staff_api.post(url, body, format="json", headers={"Idempotency-Key": "cancel-1"})
    again = staff_api.post(url, body, format="json")

    assert first.status_code == HTTPStatus.OK, first.json()
    result = first.json()
    assert (result["agreement_status"], result["changed"], result["refunded_minutes"], result["balance_minutes"]) == (
        "ended",
        True,
        600,
        0,
    )
    assert [(n["number"], n["total"]) for n in result["credit_notes"]] == [(f"CN-{YEAR}-0001", "1000.00")]
    assert replay.json() == result
    assert (again.json()["changed"], again.json()["credit_notes"]) == (False, [])
    assert CreditNote.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerKind.REFUND).count() == 1
    assert OutgoingEmail.objects.filter(kind=EmailKind.CREDIT_NOTE).count() == 1
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ENDED


def test_staff_refund_part_of_a_block_and_a_refund_too_large_changes_nothing(staff_api, agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)
    url = f"/api/v1/agreements/{agreement.public_id}/purchases/{invoice.block.public_id}/cancel/"

    too_much = staff_api.post(url, {"disposition": "refund", "reason": "x", "minutes": 121}, format="json")
    assert too_much.status_code == HTTPStatus.BAD_REQUEST
    assert too_much.json()["fields"]["minutes"] == [
        "Only 120 min of this block are unused (0 min are used, expired or taken back already): "
        "refund between 1 and 120 min."
    ]
    assert CreditNote.objects.count() == 0

    ok = staff_api.post(url, {"disposition": "refund", "reason": "Part", "minutes": 45}, format="json")
    assert ok.status_code == HTTPStatus.OK
    assert (ok.json()["refunded_minutes"], ok.json()["balance_minutes"]) == (45, 75)
    assert ok.json()["credit_notes"][0]["total"] == "75.00"

    forfeit = staff_api.post(url, {"disposition": "forfeit", "reason": "Rest given up"}, format="json")
    assert (forfeit.json()["forfeited_minutes"], forfeit.json()["balance_minutes"]) == (75, 0)
    assert CreditNote.objects.get().total == Decimal("75.00")


def test_only_staff_cancel(alice_api, tech_api, charlie_api, agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)
    for api in (alice_api, tech_api, charlie_api):
        for url in (
            f"/api/v1/agreements/{agreement.public_id}/cancel/",
            f"/api/v1/agreements/{agreement.public_id}/purchases/{invoice.block.public_id}/cancel/",
        ):
            response = api.post(url, {"disposition": "refund", "reason": "x"}, format="json")
            assert response.status_code == HTTPStatus.NOT_FOUND
    agreement.refresh_from_db()
    assert (agreement.status, agreement.balance_minutes, CreditNote.objects.count()) == ("active", 120, 0)


def test_a_block_of_another_agreement_is_not_found(staff_api, agreement, client_b, staff, seller):
    from agreements.tests.factories import AgreementFactory

    other = paid_block(AgreementFactory(client=client_b), staff, hours=2, ref="ACH-B")
    url = f"/api/v1/agreements/{agreement.public_id}/purchases/{other.block.public_id}/cancel/"
    response = staff_api.post(url, {"disposition": "refund", "reason": "x"}, format="json")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert CreditNote.objects.count() == 0
