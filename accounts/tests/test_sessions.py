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
