"""Staff change a block's expiry from the client page, and see the agreement's burn order."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.tests.test_reauth import age_sign_in, reauth_redirect
from agreements import services
from agreements.models import Agreement, Block, BurnOrder, LedgerEntry, LedgerKind
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def day(n):
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def block(agreement):
    sold = services.block_sell(agreement=agreement, actor=None, hours=10, starts_on=day(-5), expires_on=day(20))
    return services.block_credit(block=sold)


def url(block):
    return reverse("dashboard:block_expiry", args=[block.public_id])


def client_page(agreement):
    return reverse("dashboard:client", args=[agreement.client.public_id]) + f"?agreement={agreement.public_id}"


def test_the_client_page_links_each_block_to_its_expiry_page_and_shows_the_burn_order(client, staff, agreement, block):
    expired = services.block_sell(agreement=agreement, actor=None, hours=1, starts_on=day(-30), expires_on=day(-1))
    client.force_login(staff)
    page = client.get(client_page(agreement)).content.decode()
    assert url(block) in page
    assert url(expired) not in page  # an expired block keeps its date
    assert "time taken from: oldest block first" in page
    Agreement.objects.filter(pk=agreement.pk).update(burn_order=BurnOrder.SOONEST_EXPIRING_FIRST)
    page = client.get(client_page(agreement)).content.decode()
    assert "time taken from: soonest-expiring block first" in page


def test_staff_extend_a_block(client, staff, agreement, block):
    client.force_login(staff)
    form = client.get(url(block))
    assert form.status_code == HTTPStatus.OK
    assert form.context["form"].initial["expires_on"] == day(20)
    done = client.post(url(block), {"expires_on": day(40).isoformat(), "reason": "Client on holiday"}, follow=True)
    assert done.redirect_chain[-1][0] == client_page(agreement)
    date = date_format(day(40), "DATE_FORMAT")  # "Jan 12, 2027"
    starts = date_format(day(-5), "DATE_FORMAT")
    assert [str(m) for m in done.context["messages"]] == [
        f"The 10-hour support block of {starts} now expires on {date}."
    ]
    block.refresh_from_db()
    assert block.expires_on == day(40)
    entry = LedgerEntry.objects.get(kind=LedgerKind.EXPIRY_CHANGE)
    assert (entry.minutes, entry.author, entry.block_id) == (0, staff, block.pk)
    assert "Client on holiday" in done.content.decode()  # the ledger on the client page shows the reason
    assert AuditEvent.objects.filter(action=AuditAction.BLOCK_EXPIRY_CHANGE).count() == 1


def test_staff_remove_the_expiry(client, staff, agreement, block):
    client.force_login(staff)
    done = client.post(url(block), {"no_expiry": "on", "reason": "Goodwill"}, follow=True)
    starts = date_format(day(-5), "DATE_FORMAT")
    assert [str(m) for m in done.context["messages"]] == [f"The 10-hour support block of {starts} no longer expires."]
    block.refresh_from_db()
    assert block.expires_on is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "Neither"}, "expires_on"),
        ({"expires_on": "2030-01-01", "no_expiry": "on", "reason": "Both"}, "expires_on"),
        ({"expires_on": "2001-01-01", "reason": "Past"}, "expires_on"),
        ({"expires_on": "2030-01-01", "reason": ""}, "reason"),
        ({"expires_on": "not a date", "reason": "x"}, "expires_on"),
    ],
)
def test_bad_input_shows_the_error_and_changes_nothing(client, staff, agreement, block, data, field):
    client.force_login(staff)
    response = client.post(url(block), data)
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors[field]
    block.refresh_from_db()
    assert block.expires_on == day(20)
    assert not LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY_CHANGE).exists()


def test_the_service_refusal_is_shown_on_the_date(client, staff, agreement, block):
    client.force_login(staff)
    response = client.post(url(block), {"expires_on": day(-1).isoformat(), "reason": "Yesterday"})
    assert response.context["form"].errors["expires_on"] == ["A block's expiry date cannot be before today."]


def test_nobody_but_msp_staff_reaches_the_page(client, technician, alice, charlie, agreement, block):
    for user in (technician, alice, charlie):
        client.force_login(user)
        for response in (client.get(url(block)), client.post(url(block), {"no_expiry": "on", "reason": "x"})):
            assert response.status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
    assert Block.objects.get(pk=block.pk).expires_on == day(20)


def test_a_stale_sign_in_changes_nothing(client, staff, agreement, block):
    client.force_login(staff)
    age_sign_in(client, 13)
    response = client.post(url(block), {"no_expiry": "on", "reason": "x"})
    assert response["Location"] == reauth_redirect(url(block))
    assert Block.objects.get(pk=block.pk).expires_on == day(20)


def test_a_new_agreement_can_burn_the_soonest_expiring_block_first(client, staff, client_a):
    client.force_login(staff)
    response = client.post(
        reverse("dashboard:agreement_new", args=[client_a.public_id]),
        {
            "name": "Support 2027",
            "starts_on": timezone.localdate().isoformat(),
            "low_balance_threshold": "3:00",
            "billing_increment_minutes": "15",
            "rounding_mode": "up",
            "overage_policy": "reject",
            "overage_limit_minutes": "0",
            "credit_policy": "on_payment",
            "burn_order": "soonest_expiring_first",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    assert Agreement.objects.get(client=client_a).burn_order == BurnOrder.SOONEST_EXPIRING_FIRST
