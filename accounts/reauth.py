"""Asking staff for their password again before sensitive actions.

A session remembers when its user last proved who they are: at sign-in (the
`user_logged_in` signal, which `login()` and the test client's `force_login`
both send) and at each re-authentication on /reauth/. Once that is older than
REAUTH_AFTER_HOURS, the views decorated with `recent_login_required` (selling
a block, adjusting a balance, voiding an invoice, recording a payment) send
the user to /reauth/ first; a stolen or forgotten-open session is then not
enough to move money or hours. A session from before this rule has no time
recorded and counts as stale.

API requests authenticated by token are exempt (the token is the
credential); the API's session-authenticated writes answer 403
`reauthentication_required` instead of a redirect (api.views).
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

SESSION_KEY = "bh_authenticated_at"  # seconds since the epoch, as a float

View = Callable[..., HttpResponse]


def login_mark_recent(request: HttpRequest) -> None:
    """Record that the user proved who they are just now."""
    request.session[SESSION_KEY] = timezone.now().timestamp()


def login_is_recent(request: HttpRequest) -> bool:
    """The user signed in or re-authenticated within REAUTH_AFTER_HOURS."""
    proved_at = request.session.get(SESSION_KEY)
    if isinstance(proved_at, bool) or not isinstance(proved_at, int | float):
        return False  # a session from before this rule, or no sign-in at all
    return timezone.now().timestamp() - proved_at < settings.REAUTH_AFTER_HOURS * 3600


def reauth_url(next_url: str) -> str:
    return f"{reverse('reauth')}?{urlencode({'next': next_url})}"


def _on_login(sender: object, request: HttpRequest | None, user: object, **kwargs: object) -> None:
    if request is not None and hasattr(request, "session"):
        login_mark_recent(request)


def connect_signals() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="accounts.reauth.on_login")


def recent_login_required(view: View | None = None, *, return_to: str | None = None) -> View | Callable[[View], View]:
    """Send a user whose sign-in is older than REAUTH_AFTER_HOURS to /reauth/ first.

    Nothing of the view runs until they have: a POST with a stale sign-in
    changes nothing. They come back to the page they asked for (on a GET) or
    to `return_to`, a URL name reversed with the view's own arguments (for
    views that only take a POST, whose form lives on another page). Place it
    under the role check, so other roles still get their 404 first.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if login_is_recent(request):
                return view(request, *args, **kwargs)
            if request.method == "GET" or return_to is None:
                back = request.get_full_path()
            else:
                back = reverse(return_to, args=args, kwargs=kwargs)
            return HttpResponseRedirect(reauth_url(back))

        return wrapped

    return decorator(view) if view is not None else decorator
