"""Staff review a reload the sweep drafted (draft top-up mode); the mode shows on the pages."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Agreement, Block, LedgerEntry
from agreements.tests.factories import tier
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


def url(invoice: Invoice) -> str:
    return reverse("dashboard:reload_draft", args=[invoice.public_id])


def state(invoice: Invoice) -> tuple:
    invoice.refresh_from_db()
    return (
        invoice.status,
        invoice.number,
        invoice.total,
        Block.objects.get(pk=invoice.block_id).minutes,
        LedgerEntry.objects.count(),
        OutgoingEmail.objects.count(),
    )


def test_the_dashboard_home_lists_drafts_to_review(client, staff, draft):
    client.force_login(staff)
    page = client.get(reverse("dashboard:home")).content.decode()
    assert "Reload invoices to review" in page
    assert "Acme Dental (Prepaid support hours): a 20-hour support block, $1,800.00" in page
    assert url(draft) in page


def test_nothing_to_review_shows_no_panel(client, staff, agreement):
    client.force_login(staff)
    assert "Reload invoices to review" not in client.get(reverse("dashboard:home")).content.decode()


def test_the_review_page_shows_the_draft(client, staff, draft):
    client.force_login(staff)
    response = client.get(url(draft))
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "Reload to review: Acme Dental" in page
    assert "Prepaid support hours: 10 h left, threshold 10 h. Nothing has been sent to the client." in page
    assert "$1,800.00" in page and "20-hour support block" in page


def test_staff_change_the_block_then_issue(client, staff, draft):
    client.force_login(staff)
    changed = client.post(url(draft), {"action": "change", "tier": tier(30).pk})
    assert changed.status_code == HTTPStatus.FOUND
    draft.refresh_from_db()
    assert (draft.total, draft.block.minutes, draft.status) == (Decimal("2700.00"), 1800, InvoiceStatus.DRAFT)

    issued = client.post(url(draft), {"action": "issue"})
    draft.refresh_from_db()
    assert issued.status_code == HTTPStatus.FOUND
    assert issued["Location"] == reverse("billing:invoice", args=[draft.public_id])
    assert (draft.status, draft.number, draft.total) == (InvoiceStatus.ISSUED, f"{YEAR}-0001", Decimal("2700.00"))
    assert sorted(OutgoingEmail.objects.filter(kind=EmailKind.RELOAD_INVOICE).values_list("recipient", flat=True)) == [
        "alice@example.com",
        "billing@acme-dental.example",
    ]
    # No longer a draft: the review page is gone.
    assert client.get(url(draft)).status_code == HTTPStatus.NOT_FOUND


def test_staff_discard_the_draft(client, staff, draft, agreement):
    client.force_login(staff)
    response = client.post(url(draft), {"action": "discard", "reason": "Client moves to an MSA"})
    assert response.status_code == HTTPStatus.FOUND
    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.void_reason) == (InvoiceStatus.VOID, None, "Client moves to an MSA")
    assert Block.objects.get(pk=draft.block_id).cancelled_at is not None
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 600


def test_bad_block_sizes_are_shown_and_change_nothing(client, staff, draft):
    client.force_login(staff)
    before = state(draft)
    both = client.post(url(draft), {"action": "change", "tier": tier(30).pk, "hours": "5"})
    assert both.status_code == HTTPStatus.OK
    assert "Choose a tier or enter custom hours, not both." in both.content.decode()
    neither = client.post(url(draft), {"action": "change", "tier": "", "hours": ""})
    assert "Choose a tier, or enter the number of hours." in neither.content.decode()
    absurd = client.post(url(draft), {"action": "change", "tier": "", "hours": "99999999"})
    assert absurd.status_code == HTTPStatus.OK
    assert state(draft) == before


@pytest.mark.parametrize("who", ["alice", "charlie", "technician"])
def test_only_staff_open_the_review_everyone_else_gets_404(request, client, draft, who):
    client.force_login(request.getfixturevalue(who))
    before = state(draft)
    assert client.get(url(draft)).status_code == HTTPStatus.NOT_FOUND
    assert client.post(url(draft), {"action": "issue"}).status_code == HTTPStatus.NOT_FOUND
    assert client.post(url(draft), {"action": "discard"}).status_code == HTTPStatus.NOT_FOUND
    assert state(draft) == before


def test_an_issued_invoice_is_not_a_draft_to_review(client, staff, agreement, seller):
    client.force_login(staff)
    sold = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    plain = billing_services.invoice_create_for_block(block=sold, actor=staff)
    assert client.get(url(plain)).status_code == HTTPStatus.NOT_FOUND
    assert client.get(reverse("dashboard:reload_draft", args=["not-a-uuid"])).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("mode", "sentence"),
    [
        ("charge", "When low: we add a reload block at once and invoice it"),
        ("issue", "When low: we send a reload invoice"),
        ("draft", "When low: we review a reload invoice, then send it"),
        ("notify", "When low: we let you know; nothing is sold"),
    ],
)
def test_the_mode_shows_on_the_staff_client_page_and_the_portal(client, staff, alice, agreement, mode, sentence):
    Agreement.objects.filter(pk=agreement.pk).update(topup_mode=mode, reload_tier=tier(20))
    client.force_login(staff)
    staff_page = client.get(reverse("dashboard:client", args=[agreement.client.public_id])).content.decode()
    assert f"{sentence} (20-hour block)" in staff_page
    client.force_login(alice)
    assert sentence in client.get(reverse("portal:home")).content.decode()


def _agreement_form(**extra: str) -> dict[str, str]:
    return {
        "name": "Support",
        "starts_on": timezone.localdate().isoformat(),
        "low_balance_threshold": "2:00",
        "billing_increment_minutes": "15",
        "rounding_mode": "up",
        "overage_policy": "reject",
        "overage_limit_minutes": "0",
        "credit_policy": "on_payment",
        **extra,
    }


def test_staff_choose_the_topup_mode_when_creating_an_agreement(client, staff, client_a):
    client.force_login(staff)
    url = reverse("dashboard:agreement_new", args=[client_a.public_id])
    assert 'name="topup_mode"' in client.get(url).content.decode()
    response = client.post(url, _agreement_form(topup_mode="notify"))
    assert response.status_code == HTTPStatus.FOUND
    assert Agreement.objects.get().topup_mode == "notify"
    client.post(url, _agreement_form(name="Second"))  # left out: the default
    assert Agreement.objects.get(name="Second").topup_mode == "issue"


def test_charge_without_a_reload_tier_is_refused(client, staff, client_a):
    client.force_login(staff)
    url = reverse("dashboard:agreement_new", args=[client_a.public_id])
    response = client.post(url, _agreement_form(topup_mode="charge"))
    assert response.status_code == HTTPStatus.OK
    assert "Charging the payment method on file needs a reload tier." in response.content.decode()
    unknown = client.post(url, _agreement_form(topup_mode="sometimes"))
    assert unknown.status_code == HTTPStatus.OK
    assert not Agreement.objects.exists()
    client.post(url, _agreement_form(topup_mode="charge", reload_tier=str(tier(20).pk)))
    assert Agreement.objects.get().topup_mode == "charge"
