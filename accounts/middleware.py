from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class StaffIdleTimeoutMiddleware:
    """MSP staff sessions end after STAFF_SESSION_IDLE_MINUTES without a request.

    Staff can sell, adjust and void: a forgotten open session is worth more to
    an attacker than a client's. Each staff request restarts the idle clock
    (the session is saved with a new expiry); other roles keep the site-wide
    session age.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_msp_staff:
            request.session.set_expiry(settings.STAFF_SESSION_IDLE_MINUTES * 60)
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in user's chosen language wins over the browser's.

    LocaleMiddleware (earlier in the chain) has already picked a language from
    the language cookie or Accept-Language; a user with a language in their
    profile gets that one instead. A user without one keeps the browser's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
