from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


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
