"""The pages that grant goodwill hours and move unused hours, and where those blocks show."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, Block, LedgerEntry, LedgerKind
from agreements.selectors import ledger_balance
from agreements.tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def sister(client_a):
    return AgreementFactory(client=client_a, name="Projects")


def test_staff_grant_goodwill_hours_after_a_confirmation(client, staff, funded):
    client.force_login(staff)
    url = reverse("dashboard:block_goodwill", args=[funded.public_id])
    assert client.get(url).status_code == HTTPStatus.OK
    response = client.post(url, {"duration": "1:30", "reason": ""})
    assert "This field is required" in response.content.decode()
    expires = TODAY + datetime.timedelta(days=30)
    form = {"duration": "1:30", "reason": "Sorry for the outage", "expires_on": expires.isoformat()}
    response = client.post(url, form)
    page = response.content.decode()
    assert "Goodwill hours: 1 h 30 min, free of charge (no invoice), usable at once" in page
    assert "Balance: 10 h → 11 h 30 min" in page
    assert not Block.objects.filter(is_goodwill=True).exists()

    response = client.post(url, {**form, "confirm": "1"})

    assert response.status_code == HTTPStatus.FOUND
    block = Block.objects.get(is_goodwill=True)
    assert (block.minutes, block.expires_on, str(block.amount)) == (90, expires, "0.00")
    funded.refresh_from_db()
    assert funded.balance_minutes == 690 == ledger_balance(funded)
    assert LedgerEntry.objects.get(kind=LedgerKind.GOODWILL).reason == "Sorry for the outage"


def test_a_goodwill_expiry_before_today_is_refused_on_the_page(client, staff, funded):
    client.force_login(staff)
    url = reverse("dashboard:block_goodwill", args=[funded.public_id])
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    response = client.post(url, {"duration": "60", "reason": "x", "expires_on": yesterday, "confirm": "1"})
    assert "Goodwill hours cannot expire before today." in response.content.decode()
    assert not Block.objects.filter(is_goodwill=True).exists()


def test_staff_move_hours_to_another_agreement_of_the_client(client, staff, funded, sister):
    client.force_login(staff)
    block = funded.blocks.get()
    url = reverse("dashboard:block_move", args=[block.public_id])
    page = client.get(url).content.decode()
    assert "Projects" in page
    form = {"to_agreement": str(sister.public_id), "duration": "45", "reason": "Logged on the wrong agreement"}
    page = client.post(url, form).content.decode()
    assert "45 min unused of the 10-hour support block" in page
    assert "at $100.00/h ($75.00)" in page
    assert "From Prepaid support hours: 10 h → 9 h 15 min" in page
    assert "To Projects: 0 min → 45 min" in page
    assert not Block.objects.filter(moved_from__isnull=False).exists()

    too_much = client.post(url, {**form, "duration": "10h 1m"}).content.decode()
    assert "Only 10 h of this block are unused." in too_much

    response = client.post(url, {**form, "confirm": "1"})

    assert response.status_code == HTTPStatus.FOUND
    moved = Block.objects.get(moved_from=block)
    assert (moved.agreement, moved.minutes, str(moved.amount)) == (sister, 45, "75.00")
    assert [ledger_balance(a) for a in Agreement.objects.order_by("pk")] == [555, 45]


def test_the_move_page_offers_only_other_active_agreements_of_the_client(client, staff, funded, sister, client_b):
    AgreementFactory(client=client_b, name="Charlie's own")
    AgreementFactory(client=funded.client, name="Old one", status="ended")
    client.force_login(staff)
    block = funded.blocks.get()
    page = client.get(reverse("dashboard:block_move", args=[block.public_id])).content.decode()
    assert "Projects" in page
    assert "Charlie&#x27;s own" not in page and "Charlie's own" not in page
    assert "Old one" not in page


def test_without_another_agreement_the_move_page_says_so(client, staff, funded):
    client.force_login(staff)
    block = funded.blocks.get()
    response = client.get(reverse("dashboard:block_move", args=[block.public_id]), follow=True)
    assert "has no other active agreement to move hours to" in response.content.decode()


def test_the_client_page_names_goodwill_and_moved_blocks(client, staff, funded, sister):
    services.block_grant_goodwill(agreement=funded, minutes=60, reason="Goodwill", actor=staff)
    services.block_hours_move(
        block=funded.blocks.get(is_goodwill=False), to_agreement=sister, minutes=30, reason="Move", actor=staff
    )
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[funded.client.public_id]) + f"?agreement={funded.public_id}")
    html = page.content.decode()
    assert "goodwill, free of charge" in html
    assert reverse("dashboard:block_goodwill", args=[funded.public_id]) in html
    assert reverse("dashboard:block_move", args=[funded.blocks.get(is_goodwill=False).public_id]) in html
    target = client.get(reverse("dashboard:client", args=[funded.client.public_id]) + f"?agreement={sister.public_id}")
    assert "moved from Prepaid support hours" in target.content.decode()


@pytest.mark.parametrize("user", ["technician", "alice", "charlie"])
def test_only_staff_grant_or_move(client, request, user, funded, sister):
    client.force_login(request.getfixturevalue(user))
    block = funded.blocks.get()
    for url, form in (
        (
            reverse("dashboard:block_goodwill", args=[funded.public_id]),
            {"duration": "60", "reason": "x", "confirm": "1"},
        ),
        (
            reverse("dashboard:block_move", args=[block.public_id]),
            {"to_agreement": str(sister.public_id), "duration": "60", "reason": "x", "confirm": "1"},
        ),
    ):
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND
        assert client.post(url, form).status_code == HTTPStatus.NOT_FOUND
    assert Block.objects.count() == 1
    assert ledger_balance(funded) == 600


def test_unknown_blocks_and_agreements_are_404(client, staff):
    import uuid

    client.force_login(staff)
    for name in ("dashboard:block_goodwill", "dashboard:block_move"):
        assert client.get(reverse(name, args=[uuid.uuid4()])).status_code == HTTPStatus.NOT_FOUND
        assert client.get(reverse(name, args=["12"])).status_code == HTTPStatus.NOT_FOUND
