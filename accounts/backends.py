"""Signing in with the username or the email address, and the name
django-axes counts failures under."""

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.http import HttpRequest

from accounts.models import User


def account_for_identifier(identifier: str | None) -> User | None:
    """The one account a sign-in name means: its exact username, else the one
    account whose username or email address matches in any case. None when
    unknown or ambiguous (two accounts share the address): the sign-in page
    then answers with the same generic error either way."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    exact = User.objects.filter(username=identifier).first()
    if exact is not None:
        return exact
    matches = list(User.objects.filter(Q(username__iexact=identifier) | Q(email__iexact=identifier))[:2])
    return matches[0] if len(matches) == 1 else None


class UsernameOrEmailBackend(ModelBackend):
    """Django's ModelBackend, accepting the email address as well as the username."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ):  # noqa: ANN201, E501
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = account_for_identifier(username)
        if user is None:
            # Hash anyway, so an unknown name takes as long as a wrong password (as ModelBackend does).
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def lockout_username(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: failures count against the account whichever
    name was typed ("tess", "TESS", "tess@example.com"), so spelling it
    differently gives no extra guesses; an unknown name counts as typed,
    in lower case."""
    if credentials:
        typed = credentials.get("username")
    else:
        typed = request.POST.get("username") if request is not None else None
    if not typed:
        return None
    user = account_for_identifier(typed)
    return user.username if user is not None else typed.strip().lower()
