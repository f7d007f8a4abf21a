"""Staff enter their password again before sensitive actions once their
sign-in is older than REAUTH_AFTER_HOURS (accounts.reauth)."""

from http import HTTPStatus
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.reauth import SESSION_KEY
from agreements.models import Block, LedgerEntry
from agreements.tests.factories import tier
from api.models import ApiToken
from api.services import token_create
from audit.models import AuditEvent
from billing.models import InvoiceStatus, Payment
from billing.services import invoice_sell_block

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # the factories' password
TODAY = timezone.localdate()
REAUTH = reverse("reauth")


def age_sign_in(client, hours: float) -> None:
    """Move the session's sign-in time `hours` back."""
    session = client.session
    session[SESSION_KEY] -= hours * 3600
    session.save()


def reauth_redirect(next_url: str) -> str:
    return f"{REAUTH}?next={quote(next_url, safe='')}"


def snapshot(agreement) -> tuple:
    agreement.refresh_from_db()
    return (
        agreement.balance_minutes,
        LedgerEntry.objects.count(),
        Block.objects.count(),
        Payment.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def invoice(agreement, staff, seller):
    return invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))


# --- when the sign-in time is recorded -----------------------------------------------


def test_signing_in_records_the_time(client, staff):
    client.post(reverse("login"), {"username": "sam", "password": PASSWORD})
    assert abs(client.session[SESSION_KEY] - timezone.now().timestamp()) < 60


def test_the_test_clients_force_login_counts_as_a_fresh_sign_in(client, staff, funded):
    client.force_login(staff)
    assert abs(client.session[SESSION_KEY] - timezone.now().timestamp()) < 60
    assert client.get(reverse("dashboard:adjust", args=[funded.public_id])).status_code == HTTPStatus.OK


# --- a fresh sign-in works; a stale one is sent to /reauth/ and changes nothing ------------------


def test_a_fresh_sign_in_may_adjust(client, staff, funded):
    client.force_login(staff)
    age_sign_in(client, 11.9)
    url = reverse("dashboard:adjust", args=[funded.public_id])
    client.post(url, {"direction": "add", "duration": "1:00", "reason": "Goodwill", "confirm": "1"})
    funded.refresh_from_db()
    assert funded.balance_minutes == 660


def test_a_stale_sign_in_is_sent_to_reauthenticate_and_the_adjustment_waits(client, staff, funded):
    client.force_login(staff)
    age_sign_in(client, 13)
    url = reverse("dashboard:adjust", args=[funded.public_id])
    response = client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reauth_redirect(url)
    before = snapshot(funded)
    response = client.post(url, {"direction": "add", "duration": "9:00", "reason": "Goodwill", "confirm": "1"})
    assert response["Location"] == reauth_redirect(url)
    assert snapshot(funded) == before


def test_a_session_from_before_the_rule_counts_as_stale(client, staff, funded):
    client.force_login(staff)
    session = client.session
    del session[SESSION_KEY]
    session.save()
    url = reverse("dashboard:adjust", args=[funded.public_id])
    assert client.get(url)["Location"] == reauth_redirect(url)


def test_the_limit_is_a_setting(client, staff, funded, settings):
    settings.REAUTH_AFTER_HOURS = 1
    client.force_login(staff)
    age_sign_in(client, 1.5)
    url = reverse("dashboard:adjust", args=[funded.public_id])
    assert client.get(url)["Location"] == reauth_redirect(url)


def test_a_stale_sign_in_sells_no_block(client, staff, agreement, seller):
    client.force_login(staff)
    age_sign_in(client, 13)
    url = reverse("dashboard:block_sell", args=[agreement.public_id])
    before = snapshot(agreement)
    data = {"tier": tier(10).pk, "starts_on": TODAY.isoformat(), "confirm": "1"}
    assert client.post(url, data)["Location"] == reauth_redirect(url)
    assert snapshot(agreement) == before
    assert client.get(url + "?tier=1")["Location"] == reauth_redirect(url + "?tier=1")


def test_a_stale_sign_in_records_no_payment_and_voids_nothing(client, staff, invoice, agreement):
    client.force_login(staff)
    age_sign_in(client, 13)
    invoice_page = reverse("billing:invoice", args=[invoice.public_id])
    before = snapshot(agreement)
    payment = {"amount": "1000.00", "method": "ach", "reference": "ACH-1", "paid_on": TODAY.isoformat()}
    response = client.post(reverse("billing:invoice_payment", args=[invoice.public_id]), payment)
    # Back to the invoice's page afterwards: the payment URL itself only takes a POST.
    assert response["Location"] == reauth_redirect(invoice_page)
    response = client.post(reverse("billing:invoice_void", args=[invoice.public_id]), {"reason": "Twice"})
    assert response["Location"] == reauth_redirect(invoice_page)
    assert snapshot(agreement) == before
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED
    assert client.get(invoice_page).status_code == HTTPStatus.OK  # reading needs no password


def test_other_roles_still_get_404_before_any_password_prompt(client, technician, funded):
    client.force_login(technician)
    age_sign_in(client, 13)
    assert client.get(reverse("dashboard:adjust", args=[funded.public_id])).status_code == HTTPStatus.NOT_FOUND


# --- the /reauth/ page ------------------------------------------------------------------------------


def test_the_right_password_returns_to_the_action_which_then_works(client, staff, funded):
    client.force_login(staff)
    age_sign_in(client, 13)
    url = reverse("dashboard:adjust", args=[funded.public_id])
    page = client.get(client.get(url)["Location"])
    assert page.status_code == HTTPStatus.OK
    assert "Confirm your password" in page.content.decode()
    assert f'name="next" value="{url}"' in page.content.decode()
    response = client.post(REAUTH, {"password": PASSWORD, "next": url})
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == url
    assert abs(client.session[SESSION_KEY] - timezone.now().timestamp()) < 60
    client.post(url, {"direction": "add", "duration": "1:00", "reason": "Goodwill", "confirm": "1"})
    funded.refresh_from_db()
    assert funded.balance_minutes == 660


def test_a_wrong_password_shows_an_error_and_the_action_stays_blocked(client, staff, funded):
    client.force_login(staff)
    age_sign_in(client, 13)
    url = reverse("dashboard:adjust", args=[funded.public_id])
    response = client.post(REAUTH, {"password": "not my password", "next": url})
    assert response.status_code == HTTPStatus.OK
    assert "That is not your password. Try again." in response.content.decode()
    assert client.get(url)["Location"] == reauth_redirect(url)
    response = client.post(REAUTH, {"password": "", "next": url})
    assert "This field is required." in response.content.decode()
    assert client.get(url)["Location"] == reauth_redirect(url)


def test_wrong_passwords_count_as_failed_sign_ins(client, staff, settings):
    client.force_login(staff)
    age_sign_in(client, 13)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(REAUTH, {"password": "guess", "next": "/"})
    response = client.post(REAUTH, {"password": PASSWORD, "next": "/"})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS  # django-axes' lockout page
    assert client.session[SESSION_KEY] < timezone.now().timestamp() - 12 * 3600


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/path", "http://testserver.evil.example/", "javascript:alert(1)"],
)
def test_it_never_sends_anyone_to_another_site(client, staff, next_url):
    client.force_login(staff)
    age_sign_in(client, 13)
    page = client.get(REAUTH, {"next": next_url}).content.decode()
    assert f'name="next" value="{reverse("home")}"' in page  # where the form will return
    assert f'<a href="{reverse("home")}">Cancel</a>' in page
    response = client.post(REAUTH, {"password": PASSWORD, "next": next_url})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("home")


def test_anonymous_visitors_sign_in_instead(client):
    response = client.get(REAUTH)
    assert response.status_code == HTTPStatus.FOUND and response["Location"].startswith(reverse("login"))


# --- the API -------------------------------------------------------------------------------------------


@pytest.fixture
def browser_api(staff):
    """The API used from a signed-in browser session (no token)."""
    api = APIClient()
    api.force_login(staff)
    return api


def test_a_stale_browser_session_may_not_adjust_or_create_tokens_through_the_api(browser_api, funded, alice):
    age_sign_in(browser_api, 13)
    before = snapshot(funded)
    response = browser_api.post(
        f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 60, "reason": "Goodwill"}, format="json"
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    body = response.json()
    assert (body["status"], body["code"], body["fields"]) == (403, "reauthentication_required", {})
    assert body["message"] == ("Your sign-in is more than 12 hours old: confirm your password at /reauth/, then retry.")
    response = browser_api.post("/api/v1/tokens/", {"user": "alice", "name": "PSA"}, format="json")
    assert response.json()["code"] == "reauthentication_required"
    assert snapshot(funded) == before
    assert not ApiToken.objects.exists()


def test_a_fresh_browser_session_may_adjust_and_create_tokens_through_the_api(browser_api, funded, alice):
    response = browser_api.post(
        f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 60, "reason": "Goodwill"}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    response = browser_api.post("/api/v1/tokens/", {"user": "alice", "name": "PSA"}, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()


def test_a_token_is_its_own_credential_whatever_the_session(browser_api, staff, funded):
    age_sign_in(browser_api, 13)
    browser_api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=staff, name='PSA', actor=staff).key}")
    response = browser_api.post(
        f"/api/v1/agreements/{funded.public_id}/adjustments/", {"minutes": 60, "reason": "Goodwill"}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
