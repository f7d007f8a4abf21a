"""Failed sign-ins lock an account (from any address) and an address (for any
account) at AXES_FAILURE_LIMIT; MSP staff see the lockouts and lift them;
password-reset requests are throttled per address and per email."""

import datetime
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # the factories' password
LOCKOUTS = reverse("dashboard:lockouts")
UNLOCK = reverse("dashboard:lockout_unlock")


def sign_in(client, username: str, password: str, address: str):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        response = sign_in(client, username, "wrong password", address)
        assert response.status_code in (HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS)


def assert_refused_as_locked(response) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert "Try again in 15 minutes" in page
    assert "MSP staff can unlock" in page


def test_it_defaults_to_ten_failures_counted_per_account_and_per_address(settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


# --- per account ----------------------------------------------------------------


def test_it_locks_an_account_after_ten_failures_from_ten_addresses(client, technician):
    for n in range(10):
        fail(client, "tess", f"10.0.0.{n + 1}")
    response = sign_in(client, "tess", PASSWORD, "192.0.2.50")  # the right password, a fresh address
    assert_refused_as_locked(response)
    assert not signed_in(client)


def test_it_does_not_lock_an_account_after_nine_failures(client, technician):
    for n in range(9):
        fail(client, "tess", f"10.0.0.{n + 1}")
    response = sign_in(client, "tess", PASSWORD, "192.0.2.50")
    assert response.status_code == HTTPStatus.FOUND
    assert signed_in(client)


def test_a_locked_account_does_not_lock_others_at_the_same_addresses(client, technician, staff):
    for n in range(10):
        fail(client, "tess", f"10.0.0.{n + 1}")
    sign_in(client, "sam", PASSWORD, "10.0.0.1")
    assert signed_in(client)


# --- per address ----------------------------------------------------------------


def test_it_locks_an_address_after_ten_failures_across_accounts(client, technician):
    for n in range(10):
        fail(client, f"guess{n}", "203.0.113.7")
    response = sign_in(client, "tess", PASSWORD, "203.0.113.7")  # an account never tried from there
    assert_refused_as_locked(response)
    assert not signed_in(client)
    sign_in(client, "tess", PASSWORD, "198.51.100.1")  # from elsewhere she signs in
    assert signed_in(client)


def test_it_does_not_lock_an_address_after_nine_failures(client, technician):
    for n in range(9):
        fail(client, f"guess{n}", "203.0.113.7")
    sign_in(client, "tess", PASSWORD, "203.0.113.7")
    assert signed_in(client)


def test_a_good_sign_in_does_not_wipe_the_count_of_other_accounts(client, technician, staff):
    """An attacker's own account must not reset the failures of the one being guessed."""
    fail(client, "tess", "203.0.113.7", times=9)
    sign_in(client, "sam", PASSWORD, "203.0.113.7")
    assert signed_in(client)
    client.logout()
    fail(client, "tess", "203.0.113.7")
    assert_refused_as_locked(sign_in(client, "tess", PASSWORD, "198.51.100.1"))


def test_the_lockout_page_says_how_long_from_the_setting(client, technician, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=45)
    fail(client, "tess", "10.0.0.1", times=10)
    page = sign_in(client, "tess", PASSWORD, "10.0.0.2").content.decode()
    assert "Try again in 45 minutes" in page
    assert "MSP staff can unlock" in page
    assert "tess" not in page  # the page names no account


# --- staff unlock ------------------------------------------------------------------


def test_it_lists_current_lockouts_for_staff(client, technician, staff):
    for n in range(10):
        fail(client, "tess", f"10.0.0.{n + 1}")
    fail(client, "nobody", "203.0.113.7", times=10)  # locks "nobody" and the address
    fail(client, "tom", "10.9.9.9", times=3)  # not locked: not listed
    client.force_login(staff)
    response = client.get(LOCKOUTS)
    assert response.status_code == HTTPStatus.OK
    rows = response.context["lockouts"]
    assert [(row.kind, row.value, row.failures) for row in rows] == [
        ("account", "nobody", 10),
        ("account", "tess", 10),
        ("address", "203.0.113.7", 10),
    ]
    # tess: ten rows of one failure each; the lock lifts when the oldest ages out (nine left).
    times = sorted(AccessAttempt.objects.filter(username="tess").values_list("attempt_time", flat=True))
    tess = rows[1]
    assert tess.last_failure == times[-1]
    assert tess.locked_until == times[0] + datetime.timedelta(minutes=15)
    page = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'value="203.0.113.7"' in page
    assert "10.9.9.9" not in page and 'value="tom"' not in page


def test_it_shows_staff_an_empty_list(client, staff):
    client.force_login(staff)
    response = client.get(LOCKOUTS)
    assert response.context["lockouts"] == []
    assert "Nobody is locked out." in response.content.decode()


def test_staff_unlock_an_account_and_it_signs_in(client, technician, staff):
    for n in range(10):
        fail(client, "tess", f"10.0.0.{n + 1}")
    staff_client = client.__class__()
    staff_client.force_login(staff)
    response = staff_client.post(UNLOCK, {"kind": "account", "value": "tess"}, follow=True)
    assert response.redirect_chain[-1][0] == LOCKOUTS
    assert "Unlocked account tess" in response.content.decode()
    assert response.context["lockouts"] == []
    assert not AccessAttempt.objects.filter(username="tess").exists()
    sign_in(client, "tess", PASSWORD, "10.0.0.1")
    assert signed_in(client)
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.target_type, event.target_id, event.before, event.after) == (
        staff,
        AuditAction.LOCKOUT_CLEAR,
        "account",
        "tess",
        {"failed_sign_in_records": 10},
        {"failed_sign_in_records": 0},
    )
    assert event.summary == "Lifted the sign-in lockout of account tess."


def test_staff_unlock_an_address_and_it_signs_in(client, technician, staff):
    for n in range(10):
        fail(client, f"guess{n}", "203.0.113.7")
    staff_client = client.__class__()
    staff_client.force_login(staff)
    response = staff_client.post(UNLOCK, {"kind": "address", "value": "203.0.113.7"}, follow=True)
    assert "Unlocked address 203.0.113.7" in response.content.decode()
    sign_in(client, "tess", PASSWORD, "203.0.113.7")
    assert signed_in(client)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "account", "value": "tess"}, "Nothing to unlock: no failed sign-ins for account tess."),
        ({"kind": "address", "value": "not-an-ip"}, "Enter a valid IPv4 or IPv6 address."),
        ({"kind": "everyone", "value": "tess"}, "Select a valid choice."),
        ({"kind": "account", "value": ""}, "This field is required."),
    ],
)
def test_a_bad_unlock_says_why_and_changes_nothing(client, staff, data, message):
    fail(client, "other", "10.0.0.1", times=10)
    before = list(AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start"))
    client.force_login(staff)
    response = client.post(UNLOCK, data, follow=True)
    assert message in response.content.decode()
    assert list(AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("who", ["charlie", "technician"])
def test_nobody_but_staff_sees_or_uses_the_lockouts(client, request, who):
    fail(client, "victim", "10.0.0.1", times=10)
    client.force_login(request.getfixturevalue(who))
    assert client.get(LOCKOUTS).status_code == HTTPStatus.NOT_FOUND
    assert client.post(UNLOCK, {"kind": "account", "value": "victim"}).status_code == HTTPStatus.NOT_FOUND
    assert client.post(UNLOCK, {"kind": "address", "value": "10.0.0.1"}).status_code == HTTPStatus.NOT_FOUND
    assert AccessAttempt.objects.get().failures_since_start == 10


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for response in (client.get(LOCKOUTS), client.post(UNLOCK, {"kind": "account", "value": "tess"})):
        assert response.status_code == HTTPStatus.FOUND
        assert response.url.startswith(reverse("login") + "?")


def test_unlock_is_a_post(client, staff):
    client.force_login(staff)
    assert client.get(UNLOCK).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_staff_find_the_lockouts_in_the_nav(client, staff, technician):
    client.force_login(staff)
    assert f'href="{LOCKOUTS}"' in client.get(reverse("dashboard:home")).content.decode()
    client.force_login(technician)
    assert f'href="{LOCKOUTS}"' not in client.get(reverse("timesheet:log")).content.decode()


# --- password reset -----------------------------------------------------------------


def ask_reset(client, email: str, address: str = "198.51.100.9"):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker's part: the recorded email is sent
        return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_it_throttles_password_reset_per_email(client, technician, settings):
    settings.PASSWORD_RESET_LIMIT = 3
    for n in range(3):
        assert ask_reset(client, "tess@example.com", f"10.1.0.{n}").status_code == HTTPStatus.FOUND
    assert len(mail.outbox) == 3
    response = ask_reset(client, "TESS@example.com", "10.1.0.99")  # a fresh address, same email in other case
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Too many password-reset requests" in response.content.decode()
    assert "Nothing was sent" in response.content.decode()
    assert len(mail.outbox) == 3


def test_it_throttles_password_reset_per_address(client, technician, settings):
    settings.PASSWORD_RESET_LIMIT = 3
    for n in range(3):
        assert ask_reset(client, f"nobody{n}@example.com", "203.0.113.7").status_code == HTTPStatus.FOUND
    response = ask_reset(client, "tess@example.com", "203.0.113.7")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert mail.outbox == []
    ask_reset(client, "tess@example.com", "198.51.100.1")  # another address, a fresh email: sent
    assert len(mail.outbox) == 1


def test_it_allows_five_password_resets_by_default(client, technician):
    for _ in range(5):
        assert ask_reset(client, "tess@example.com").status_code == HTTPStatus.FOUND
    assert ask_reset(client, "tess@example.com").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert len(mail.outbox) == 5


def test_the_reset_throttle_answers_alike_for_unknown_emails(client, technician, settings):
    """Counting unknown emails too, so the throttle does not reveal which addresses have accounts."""
    settings.PASSWORD_RESET_LIMIT = 1
    assert ask_reset(client, "ghost@example.com").status_code == HTTPStatus.FOUND
    assert ask_reset(client, "ghost@example.com", "10.2.0.1").status_code == HTTPStatus.TOO_MANY_REQUESTS
