"""Sign-in by username or email address; a lockout caused from elsewhere does
not keep out a browser that signed in before (device cookie); and
`manage.py unlock` for when nobody can sign in to unlock."""

import io
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.core import signing
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.devices import COOKIE_NAME
from accounts.models import TrustedDevice
from agreements.tests.factories import StaffFactory, TechnicianFactory
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # the factories' password
GENERIC = "Please enter a correct username and password."


def sign_in(client, name: str, password: str = PASSWORD, address: str = "198.51.100.1"):
    return client.post(reverse("login"), {"username": name, "password": password}, REMOTE_ADDR=address)


def signed_in_as(client) -> str | None:
    from accounts.models import User

    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk).username if pk else None


def sign_out(client) -> None:
    """Sign out as a person does; the test client's logout() would also drop every cookie."""
    client.post(reverse("logout"))
    assert signed_in_as(client) is None


def lock_from_elsewhere(client_class, name: str) -> None:
    """An attacker tries ten passwords from ten addresses: the account is locked."""
    attacker = client_class()
    for n in range(10):
        sign_in(attacker, name, "wrong password", f"203.0.113.{n + 1}")


# --- username or email ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["tess", "TESS", "tess@example.com", "Tess@Example.COM", " tess@example.com "])
def test_it_signs_in_with_the_username_or_the_email_in_any_case(client, technician, typed):
    response = sign_in(client, typed)
    assert response.status_code == HTTPStatus.FOUND
    assert signed_in_as(client) == "tess"


def test_the_sign_in_page_asks_for_username_or_email(client):
    assert "Username or email" in client.get(reverse("login")).content.decode()


@pytest.mark.parametrize("typed", ["nobody", "nobody@example.com", "shared@example.com"])
def test_unknown_and_ambiguous_names_get_the_same_generic_error(client, technician, typed):
    TechnicianFactory(username="one", email="shared@example.com")
    TechnicianFactory(username="two", email="SHARED@example.com")
    response = sign_in(client, typed)
    assert response.status_code == HTTPStatus.OK
    assert GENERIC in response.content.decode()
    assert signed_in_as(client) is None
    wrong = sign_in(client, "tess", "wrong password")
    assert [str(e) for e in response.context["form"].non_field_errors()] == [
        str(e) for e in wrong.context["form"].non_field_errors()
    ]


def test_an_exact_username_wins_over_another_accounts_case(client):
    TechnicianFactory(username="Tess", email="big@example.com")
    TechnicianFactory(username="tess", email="small@example.com")
    sign_in(client, "tess")
    assert signed_in_as(client) == "tess"


def test_failures_count_against_the_account_however_it_is_spelt(client, technician):
    for n, typed in enumerate(["tess", "TESS", "tess@example.com", "Tess@example.com", "tESS"] * 2):
        sign_in(client, typed, "wrong password", f"10.0.0.{n + 1}")
    assert list(AccessAttempt.objects.values_list("username", flat=True).distinct()) == ["tess"]
    response = sign_in(client, "tess@example.com", PASSWORD, "192.0.2.50")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert signed_in_as(client) is None


# --- device cookie -------------------------------------------------------------------


def test_a_browser_that_signed_in_before_is_not_locked_out_by_an_attack_from_elsewhere(client, staff):
    sign_in(client, "sam")
    cookie = client.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert str(TrustedDevice.objects.get(user=staff).key) == signing.loads(cookie.value, salt="accounts.devices")
    sign_out(client)
    lock_from_elsewhere(client.__class__, "sam")
    stranger = client.__class__()  # no cookie: locked like everyone else
    assert sign_in(stranger, "sam", PASSWORD, "192.0.2.9").status_code == HTTPStatus.TOO_MANY_REQUESTS
    response = sign_in(client, "sam", PASSWORD, "192.0.2.9")  # her own browser, even from a new address
    assert response.status_code == HTTPStatus.FOUND
    assert signed_in_as(client) == "sam"


def test_a_forged_or_foreign_device_cookie_does_not_help(client, staff, technician):
    sign_in(client, "tess")  # the attacker's own account gives them a device cookie
    sign_out(client)
    lock_from_elsewhere(client.__class__, "sam")
    assert sign_in(client, "sam", PASSWORD, "192.0.2.9").status_code == HTTPStatus.TOO_MANY_REQUESTS
    forged = client.__class__()
    device = TrustedDevice.objects.create(
        key="00000000-0000-0000-0000-000000000001", user=staff, last_sign_in_at="2026-01-01T00:00Z"
    )
    forged.cookies[COOKIE_NAME] = signing.dumps(str(device.key), salt="not-our-salt")
    assert sign_in(forged, "sam", PASSWORD, "192.0.2.9").status_code == HTTPStatus.TOO_MANY_REQUESTS
    forged.cookies[COOKIE_NAME] = str(device.key)  # unsigned
    assert sign_in(forged, "sam", PASSWORD, "192.0.2.9").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_trusted_browser_is_locked_after_its_own_ten_failures(client, staff):
    sign_in(client, "sam")
    sign_out(client)
    for _ in range(9):
        assert sign_in(client, "sam", "wrong password").status_code == HTTPStatus.OK
    assert AccessAttempt.objects.count() == 0  # its failures are its own, not the account's
    assert TrustedDevice.objects.get().failures == 9
    sign_in(client, "sam", "wrong password")
    assert TrustedDevice.objects.get().failures == 10
    # Past its limit the browser counts like any other: the account's own count starts...
    sign_in(client, "sam", "wrong password")
    assert AccessAttempt.objects.get().failures_since_start == 1
    # ...and nine more lock the account, for this browser too.
    for _ in range(9):
        sign_in(client, "sam", "wrong password")
    assert sign_in(client, "sam").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_good_sign_in_clears_the_browsers_own_failures(client, staff):
    sign_in(client, "sam")
    sign_out(client)
    for _ in range(5):
        sign_in(client, "sam", "wrong password")
    sign_in(client, "sam")
    device = TrustedDevice.objects.get()
    assert (device.failures, device.last_failure_at) == (0, None)
    assert TrustedDevice.objects.count() == 1  # the same browser, the same row


# --- manage.py unlock ----------------------------------------------------------------


def test_unlock_lifts_one_accounts_lockout_by_username_or_email(client, staff, technician):
    lock_from_elsewhere(client.__class__, "sam")
    lock_from_elsewhere(client.__class__, "tess")
    out = io.StringIO()
    call_command("unlock", "SAM@example.com", stdout=out)
    assert out.getvalue() == "Unlocked account sam (10 failed sign-in records removed).\n"
    assert sign_in(client, "sam", PASSWORD, "192.0.2.9").status_code == HTTPStatus.FOUND
    assert sign_in(client.__class__(), "tess", PASSWORD, "192.0.2.9").status_code == HTTPStatus.TOO_MANY_REQUESTS
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.target_type, event.target_id) == (
        None,
        AuditAction.LOCKOUT_CLEAR,
        "account",
        "sam",
    )


def test_unlock_all_lifts_every_lockout(client, staff):
    other = StaffFactory(username="stella")
    lock_from_elsewhere(client.__class__, "sam")
    lock_from_elsewhere(client.__class__, other.username)
    out = io.StringIO()
    call_command("unlock", "--all", stdout=out)
    assert out.getvalue() == "Every lockout lifted (20 failed sign-in records removed).\n"
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, "stella", PASSWORD, "203.0.113.1").status_code == HTTPStatus.FOUND
    event = AuditEvent.objects.get()
    assert (event.actor, event.target_type, event.summary) == (None, "everyone", "Lifted every sign-in lockout.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name one account, or give --all."),
        (("sam", "--all"), "Name one account, or give --all."),
        (("sam",), "Nothing to unlock: no failed sign-ins for account sam."),
    ],
)
def test_unlock_says_what_is_wrong(staff, args, message):
    with pytest.raises(CommandError, match=message.replace(".", r"\.")):
        call_command("unlock", *args)
    assert not AuditEvent.objects.exists()
