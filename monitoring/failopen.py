"""Rate limits fail open: when the cache that holds their counters is down,
the request goes through unchecked, with a warning in the log and in the
metrics (blockhours_rate_limit_fail_open, blockhours_rate_limit_degraded),
and /readyz names the cache. Refusing every request instead would turn a
Redis outage into an outage of the whole API and of password reset.

Sign-in lockouts do not depend on this: django-axes keeps them in the database.
"""

import logging
import time

from redis.exceptions import RedisError

from monitoring.metrics import RATE_LIMIT_DEGRADED, RATE_LIMIT_FAIL_OPEN

log = logging.getLogger(__name__)

# What a cache read or write raises when its server cannot be reached.
CACHE_ERRORS = (RedisError, OSError)

# One warning per limiter and process per minute is enough to be seen; the
# counter counts every request let through.
_WARN_EVERY_SECONDS = 60
_last_warned: dict[str, float] = {}


def rate_limit_fail_open(*, limiter: str, error: Exception) -> None:
    """Record that `limiter` let a request through without counting it."""
    RATE_LIMIT_FAIL_OPEN.labels(limiter=limiter).inc()
    RATE_LIMIT_DEGRADED.set(1)
    now = time.monotonic()
    if now - _last_warned.get(limiter, -_WARN_EVERY_SECONDS) >= _WARN_EVERY_SECONDS:
        _last_warned[limiter] = now
        log.warning("Rate limit %r not applied: the cache is unreachable (%s); requests go through.", limiter, error)


def rate_limit_checked() -> None:
    """The cache answered: limits apply again."""
    RATE_LIMIT_DEGRADED.set(0)
