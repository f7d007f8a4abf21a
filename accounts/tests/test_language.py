"""Which language a person sees: their own choice, else their browser's."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User


def _language_of(response) -> str:
    return response.headers["Content-Language"]


@pytest.mark.django_db
def test_it_follows_the_browser_for_a_visitor(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="it-IT,it;q=0.9,en;q=0.5")
    assert _language_of(response) == "it"
    assert '<html lang="it">' in response.content.decode()


@pytest.mark.django_db
def test_it_falls_back_to_the_default_language_for_other_browsers(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert _language_of(response) == settings.LANGUAGE_CODE == "en"


def test_it_prefers_the_users_own_language_to_the_browsers(client, alice):
    alice.language = "it"
    alice.save()
    client.force_login(alice)
    response = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en-US,en")
    assert _language_of(response) == "it"


def test_it_uses_the_browsers_language_when_the_user_chose_none(client, alice):
    assert alice.language == ""
    client.force_login(alice)
    response = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="it")
    assert _language_of(response) == "it"


def test_it_keeps_a_signed_in_users_choice_in_their_profile(client, alice):
    client.force_login(alice)
    response = client.post(reverse("language_choose"), {"language": "it", "next": "/portal/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/"
    alice.refresh_from_db()
    assert alice.language == "it"
    # Another browser without the cookie still gets Italian.
    other = client.__class__()
    other.force_login(alice)
    assert _language_of(other.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en")) == "it"


def test_it_goes_back_to_the_browsers_language(client, alice):
    alice.language = "it"
    alice.save()
    client.force_login(alice)
    client.post(reverse("language_choose"), {"language": "", "next": "/portal/"})
    alice.refresh_from_db()
    assert alice.language == ""
    assert _language_of(client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en")) == "en"


@pytest.mark.django_db
def test_it_sets_a_cookie_for_a_visitor(client):
    response = client.post(reverse("language_choose"), {"language": "it", "next": "/login/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "it"
    assert _language_of(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")) == "it"


def test_it_ignores_an_unknown_language(client, alice):
    client.force_login(alice)
    client.post(reverse("language_choose"), {"language": "xx", "next": "/portal/"})
    alice.refresh_from_db()
    assert alice.language == ""
    assert User.objects.filter(language="xx").count() == 0


@pytest.mark.django_db
def test_it_refuses_to_redirect_to_another_site(client):
    response = client.post(reverse("language_choose"), {"language": "it", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


@pytest.mark.django_db
def test_it_only_accepts_posts(client):
    assert client.get(reverse("language_choose")).status_code == 405
