from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken
from monitoring.failopen import CACHE_ERRORS, rate_limit_checked, rate_limit_fail_open


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (per user for the browsable API, per address
    when anonymous), at API_THROTTLE_RATE. Counters live in the default
    cache: with several processes, use a shared cache (Redis) for one budget.
    When that cache is down the limit fails open (monitoring.failopen)."""

    scope = "token"

    def allow_request(self, request, view) -> bool:  # noqa: ANN001
        try:
            allowed = super().allow_request(request, view)
        except CACHE_ERRORS as error:
            rate_limit_fail_open(limiter="api", error=error)
            return True
        rate_limit_checked()
        return allowed

    def get_rate(self) -> str | None:
        # Read at each request, not at import, so a settings change applies.
        return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(self.scope)

    def get_cache_key(self, request, view):  # noqa: ANN001, ANN201
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
