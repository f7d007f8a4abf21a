from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (per user for the browsable API, per address
    when anonymous), at API_THROTTLE_RATE. Counters live in the default
    cache: with several processes, use a shared cache (Redis) for one budget."""

    scope = "token"

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
