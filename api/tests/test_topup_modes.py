"""The top-up mode through the API, and staff reviewing a drafted reload."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Agreement, Block, LedgerEntry
from agreements.tests.factories import tier
from api.tests.helpers import api_as
from billing import services as billing_services
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from notifications import services as notification_services
from notifications.models import EmailKind, OutgoingEmail

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year


@pytest.fixture
def draft(agreement, staff, seller, alice):
    """A reload drafted by the sweep for the Acme agreement (draft mode, 10 h paid, threshold 10 h)."""
    Agreement.objects.filter(pk=agreement.pk).update(
        topup_mode="draft", reload_tier=tier(20), low_balance_threshold_minutes=600
    )
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    agreement_services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    episode = notification_services.episode_open(agreement=agreement)
    notification_services.episode_process(episode_id=episode.pk, send=lambda email_id: None)
    return Invoice.objects.get(kind=InvoiceKind.RELOAD)


def state(invoice: Invoice) -> tuple:
    invoice.refresh_from_db()
    return (
        invoice.status,
        invoice.number,
        invoice.total,
        invoice.block.minutes,
        invoice.block.cancelled_at,
        LedgerEntry.objects.count(),
        OutgoingEmail.objects.exclude(kind=EmailKind.RELOAD_DRAFT_STAFF).count(),
    )


def test_agreements_show_and_take_their_topup_mode(staff_api, client_a):
    created = staff_api.post(
        "/api/v1/agreements/", {"client": str(client_a.public_id), "topup_mode": "draft"}, format="json"
    )
    assert created.status_code == HTTPStatus.CREATED, created.json()
    assert created.json()["topup_mode"] == "draft"
    assert Agreement.objects.get().topup_mode == "draft"
    default = staff_api.post("/api/v1/agreements/", {"client": str(client_a.public_id)}, format="json")
    assert default.json()["topup_mode"] == "issue"
    listed = staff_api.get("/api/v1/agreements/?topup_mode=draft").json()["results"]
    assert [a["id"] for a in listed] == [created.json()["id"]]


def test_bad_topup_modes_are_400_and_create_nothing(staff_api, client_a):
    unknown = staff_api.post(
        "/api/v1/agreements/", {"client": str(client_a.public_id), "topup_mode": "auto"}, format="json"
    )
    assert unknown.status_code == HTTPStatus.BAD_REQUEST and "topup_mode" in unknown.json()["fields"]
    charge = staff_api.post(
        "/api/v1/agreements/", {"client": str(client_a.public_id), "topup_mode": "charge"}, format="json"
    )
    assert charge.status_code == HTTPStatus.BAD_REQUEST
    assert "Charging the payment method on file needs a reload tier." in str(charge.json())
    assert not Agreement.objects.exists()


def test_staff_change_the_drafted_block(staff_api, draft):
    response = staff_api.post(f"/api/v1/invoices/{draft.public_id}/reload-block/", {"tier": tier(30).pk}, format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    body = response.json()
    assert (body["status"], body["number"], body["total"], body["kind"]) == ("draft", None, "2700.00", "reload")
    assert [(line["minutes"], line["amount"]) for line in body["lines"]] == [(1800, "3000.00"), (1800, "-300.00")]
    hours = staff_api.post(f"/api/v1/invoices/{draft.public_id}/reload-block/", {"hours": 5}, format="json")
    assert hours.json()["total"] == "500.00"


def test_a_bad_block_change_is_400_and_changes_nothing(staff_api, draft):
    before = state(draft)
    for body in ({"tier": tier(30).pk, "hours": 5}, {"hours": "5"}, {"hours": 0}, {}):
        response = staff_api.post(f"/api/v1/invoices/{draft.public_id}/reload-block/", body, format="json")
        assert response.status_code == HTTPStatus.BAD_REQUEST, body
    assert state(draft) == before


def test_staff_issue_the_draft_numbered_and_emailed(staff_api, draft):
    response = staff_api.post(f"/api/v1/invoices/{draft.public_id}/reload-issue/", format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    body = response.json()
    assert (body["status"], body["number"], body["total"]) == ("issued", f"{YEAR}-0001", "1800.00")
    emails = OutgoingEmail.objects.filter(kind=EmailKind.RELOAD_INVOICE)
    assert sorted(emails.values_list("recipient", flat=True)) == ["alice@example.com", "billing@acme-dental.example"]
    assert {e.subject for e in emails} == {
        f"Acme Dental: your support hours are running low — reload invoice {YEAR}-0001"
    }
    again = staff_api.post(f"/api/v1/invoices/{draft.public_id}/reload-issue/", format="json")
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert emails.count() == 2


def test_staff_discard_the_draft(staff_api, draft):
    response = staff_api.post(
        f"/api/v1/invoices/{draft.public_id}/reload-discard/", {"reason": "Client pays by card"}, format="json"
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    assert (response.json()["status"], response.json()["number"], response.json()["void_reason"]) == (
        "void",
        None,
        "Client pays by card",
    )
    assert Block.objects.get(pk=draft.block_id).cancelled_at is not None
    assert not OutgoingEmail.objects.exclude(kind=EmailKind.RELOAD_DRAFT_STAFF).exists()


@pytest.mark.parametrize("who", ["alice", "charlie", "technician"])
@pytest.mark.parametrize("path", ["reload-block", "reload-issue", "reload-discard"])
def test_only_staff_review_drafts_everyone_else_gets_404(request, draft, who, path):
    before = state(draft)
    response = api_as(request.getfixturevalue(who)).post(
        f"/api/v1/invoices/{draft.public_id}/{path}/", {"tier": tier(30).pk}, format="json"
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert state(draft) == before


def test_an_invoice_that_is_not_a_drafted_reload_is_refused(staff_api, agreement, staff, seller):
    sold = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    plain = billing_services.invoice_create_for_block(block=sold, actor=staff)
    response = staff_api.post(f"/api/v1/invoices/{plain.public_id}/reload-issue/", format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "not a reload drafted for review" in str(response.json())
    plain.refresh_from_db()
    assert (plain.status, plain.total) == (InvoiceStatus.DRAFT, Decimal("1000.00"))
