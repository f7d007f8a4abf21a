from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from agreements.tests.factories import TechnicianFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # the factories' password


@pytest.mark.parametrize(
    ("user", "home"),
    [("staff", "dashboard:home"), ("technician", "timesheet:log"), ("alice", "portal:home")],
)
def test_each_role_lands_on_its_own_home_page(client, request, user, home):
    user = request.getfixturevalue(user)
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse(home)
    assert response.status_code == HTTPStatus.OK


def test_the_login_page_renders_with_labels(client):
    page = client.get(reverse("login")).content.decode()
    assert '<label class="form-label" for="id_username">' in page
    assert "bootstrap/css/bootstrap.min.css" in page
    assert "<script>" not in page  # no inline scripts (a later CSP forbids them)


def test_a_wrong_password_shows_an_error(client, technician):
    response = client.post(reverse("login"), {"username": "tess", "password": "nope"})
    assert response.status_code == HTTPStatus.OK
    assert "Please enter a correct username and password" in response.content.decode()


def test_repeated_failed_logins_are_throttled(client, technician, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "tess", "password": "nope"})
    response = client.post(reverse("login"), {"username": "tess", "password": PASSWORD})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post(client, technician):
    client.force_login(technician)
    response = client.post(reverse("logout"))
    assert response.url == reverse("login")
    assert "_auth_user_id" not in client.session


def test_change_password(client, technician):
    client.force_login(technician)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "An-0ther-long-pass",
            "new_password2": "An-0ther-long-pass",
        },
    )
    assert response.url == reverse("password_change_done")
    technician.refresh_from_db()
    assert technician.check_password("An-0ther-long-pass")


def test_change_password_inline_errors(client, technician):
    client.force_login(technician)
    response = client.post(
        reverse("password_change"), {"old_password": "wrong", "new_password1": "x", "new_password2": "y"}
    )
    page = response.content.decode()
    assert "Your old password was entered incorrectly" in page and "is-invalid" in page
    technician.refresh_from_db()
    assert technician.check_password(PASSWORD)


def test_password_reset_sends_a_link_not_a_password(client, technician, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": technician.email})
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "/password/reset/" in body and PASSWORD not in body
    link = next(line for line in body.splitlines() if "/password/reset/" in line)
    path = link[link.index("/password/reset/") :]
    response = client.get(path, follow=True)
    assert "Choose a new password" in response.content.decode()
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-77", "new_password2": "Brand-new-pass-77"}
    )
    assert response.url == reverse("password_reset_complete")
    technician.refresh_from_db()
    assert technician.check_password("Brand-new-pass-77")


def test_an_invited_user_whose_invitation_was_lost_gets_a_reset_link(client, django_capture_on_commit_callbacks):
    user = TechnicianFactory(username="newbie", is_active=True)
    user.set_unusable_password()
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": user.email.upper()})
    (message,) = mail.outbox
    assert message.to == [user.email]
    body = message.body
    path = body[body.index("/password/reset/") :].split()[0]
    response = client.get(path, follow=True)
    client.post(
        response.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-77", "new_password2": "Brand-new-pass-77"}
    )
    user.refresh_from_db()
    assert user.check_password("Brand-new-pass-77")


def test_an_inactive_user_gets_no_reset_link(client, django_capture_on_commit_callbacks):
    user = TechnicianFactory(username="gone", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": user.email})
    assert mail.outbox == []


def test_anonymous_home_goes_to_login(client):
    response = client.get("/")
    assert response.url.startswith(reverse("login"))


def test_unknown_invitation_token_is_404(client):
    assert client.get(reverse("invitation_accept", args=["nope"])).status_code == HTTPStatus.NOT_FOUND
