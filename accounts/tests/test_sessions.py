import datetime
from http import HTTPStatus

from django.urls import reverse
from django.utils import timezone


def test_a_staff_session_ends_after_30_idle_minutes(client, staff, settings):
    settings.STAFF_SESSION_IDLE_MINUTES = 30
    client.force_login(staff)
    assert client.get(reverse("dashboard:home")).status_code == HTTPStatus.OK
    assert client.session.get_expiry_age() == 30 * 60
    session_expires = client.session.get_expiry_date()
    assert (
        timezone.now() + datetime.timedelta(minutes=29)
        < session_expires
        <= timezone.now() + datetime.timedelta(minutes=30)
    )


def test_a_client_contact_keeps_the_site_wide_session_age(client, alice, settings):
    client.force_login(alice)
    client.get(reverse("portal:home"))
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_an_expired_staff_session_is_sent_to_sign_in(client, staff):
    client.force_login(staff)
    client.get(reverse("dashboard:home"))
    session = client.session
    session.set_expiry(-1)  # as if 30 minutes passed without a request
    session.save()
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == HTTPStatus.FOUND and reverse("login") in response["Location"]


def _expire_date(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_staff_requests_within_a_minute_do_not_write_the_session(client, staff, settings, monkeypatch):
    settings.STAFF_SESSION_IDLE_MINUTES = 30
    settings.STAFF_SESSION_REFRESH_SECONDS = 60
    clock = [1_000_000]
    monkeypatch.setattr("accounts.middleware.time.time", lambda: clock[0])
    client.force_login(staff)
    client.get(reverse("dashboard:home"))
    first = _expire_date(client)
    clock[0] += 59
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("dashboard:home")).status_code == HTTPStatus.OK
    assert not [q for q in captured.captured_queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
    assert _expire_date(client) == first
    clock[0] += 1  # a minute after the last save: the idle clock restarts
    client.get(reverse("dashboard:home"))
    assert _expire_date(client) > first
    assert client.session["_staff_idle_saved_at"] == 1_000_060


def test_a_staff_session_idle_past_the_timeout_ends_even_between_saves(client, staff, settings, monkeypatch):
    settings.STAFF_SESSION_REFRESH_SECONDS = 60
    client.force_login(staff)
    client.get(reverse("dashboard:home"))
    # The saved clock says "just now", but the stored session has expired: no request revives it.
    session = client.session
    session.set_expiry(-1)
    session.save()
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == HTTPStatus.FOUND and reverse("login") in response["Location"]


def test_a_clock_from_the_future_restarts_the_idle_clock(client, staff, settings, monkeypatch):
    monkeypatch.setattr("accounts.middleware.time.time", lambda: 2_000_000)
    client.force_login(staff)
    session = client.session
    session["_staff_idle_saved_at"] = 9_000_000  # a clock set back must not stop the refresh for good
    session.save()
    client.get(reverse("dashboard:home"))
    assert client.session["_staff_idle_saved_at"] == 2_000_000
