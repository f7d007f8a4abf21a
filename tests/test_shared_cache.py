"""Throttle counters live in the cache; with CACHE_URL on Redis every web
worker process counts the same requests, so a limit holds across gunicorn's
workers instead of once per worker."""

import os
import re
import subprocess
import sys

import pytest
from django.core.cache import cache

from accounts.services import password_reset_allowed

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(settings):
    """The cache on Redis, as production configures it (CACHE_URL, else the
    test Redis's database 15); returns the URL for other processes."""
    url = os.environ.get("CACHE_URL") or re.sub(r"^(rediss?://[^/]+).*", r"\1/15", os.environ["REDIS_URL"])
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    cache.clear()
    yield url
    cache.clear()


def _allowed_in_another_process(cache_url: str, *, address: str, email: str) -> bool:
    code = (
        "import django; django.setup()\n"
        "from accounts.services import password_reset_allowed\n"
        f"print(password_reset_allowed(address={address!r}, email={email!r}))\n"
    )
    environment = {**os.environ, "CACHE_URL": cache_url, "DJANGO_SETTINGS_MODULE": "blockhours.settings"}
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1] == "True"


def test_another_worker_process_sees_the_same_password_reset_count(redis_cache, settings):
    address = "198.51.100.9"
    for n in range(settings.PASSWORD_RESET_LIMIT - 1):
        assert password_reset_allowed(address=address, email=f"user{n}@example.com")
    # The last request the limit allows, made by another process…
    assert _allowed_in_another_process(redis_cache, address=address, email="last@example.com")
    # …is counted here too: the next one is refused in this process and in a third.
    assert not password_reset_allowed(address=address, email="one-more@example.com")
    assert not _allowed_in_another_process(redis_cache, address=address, email="yet-another@example.com")
