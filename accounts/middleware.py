import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control


class StaffIdleTimeoutMiddleware:
    """MSP staff sessions end after STAFF_SESSION_IDLE_MINUTES without a request.

    Staff can sell, adjust and void: a forgotten open session is worth more to
    an attacker than a client's. A staff request restarts the idle clock (the
    session is saved with a new expiry), but at most once every
    STAFF_SESSION_REFRESH_SECONDS: saving the session on every request cost
    each page a database write. The session thus ends between the idle time
    less that interval and the idle time after the last request. Other roles
    keep the site-wide session age.
    """

    SAVED_AT = "_staff_idle_saved_at"  # when the idle clock was last restarted (Unix seconds)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_msp_staff:
            now = int(time.time())
            saved_at = request.session.get(self.SAVED_AT)
            if not isinstance(saved_at, int) or not 0 <= now - saved_at < settings.STAFF_SESSION_REFRESH_SECONDS:
                request.session.set_expiry(settings.STAFF_SESSION_IDLE_MINUTES * 60)
                request.session[self.SAVED_AT] = now
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


class PrivateResponseMiddleware:
    """Whatever is answered to a signed-in person shows a client's data:
    `Cache-Control: private, no-store`, so no proxy or CDN keeps a copy for
    the next visitor and the browser keeps none on disk for the next person at
    a shared desk. Static files (served by WhiteNoise before this runs) and
    pages for anonymous visitors keep their own caching.

    After the view: an API request authenticated by token is signed in only
    once DRF has read the token, and DRF puts that user on the request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
