"""Fixtures shared by every app's tests: the three users of every access test
(Alice at client A, Bob her colleague, Charlie at client B who must see
nothing of hers), staff, a technician, and a ready agreement."""

import os

import pytest
from django.db import connection

from agreements.tests.factories import (
    AgreementFactory,
    ClientContactFactory,
    ClientFactory,
    StaffFactory,
    TechnicianFactory,
    TicketFactory,
    UserFactory,
)


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite; with CI=true a missing server is a failure, not a skip."""
    for item in items:
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            if os.environ.get("CI") == "true" and os.environ.get("BLOCKHOURS_REQUIRE_SERVERS") == "true":
                continue  # let it run and fail loudly
            item.add_marker(pytest.mark.skip(reason="needs REDIS_URL (a real Redis)"))


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):
    """Tests render pages without collectstatic and hash passwords cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
    # Webhook receivers in tests listen on 127.0.0.1 (webhooks/tests prove the refusal with it off).
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counters (API, password reset) live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_price_list(request):
    """The tiers and work types the data migration creates. A transactional
    test (threads, live server, real workers) ends by flushing every table,
    so they are put back for whichever test needs the database next."""
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    ):
        from agreements.defaults import create_default_business_hours, create_default_price_list
        from agreements.models import BusinessHours, Tier, WorkType

        request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
        create_default_price_list(Tier, WorkType)
        create_default_business_hours(BusinessHours)


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CI") == "true" and os.environ.get("BLOCKHOURS_REQUIRE_SERVERS") == "true":
            pytest.fail("needs PostgreSQL, and CI requires it: DATABASE_URL is not a postgres:// URL")
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")


@pytest.fixture
def client_a(db):
    return ClientFactory(name="Acme Dental")


@pytest.fixture
def client_b(db):
    return ClientFactory(name="Birch Legal")


@pytest.fixture
def alice(client_a):
    return ClientContactFactory(client=client_a, user__username="alice").user


@pytest.fixture
def bob(client_a):
    return ClientContactFactory(client=client_a, user__username="bob").user


@pytest.fixture
def charlie(client_b):
    return ClientContactFactory(client=client_b, user__username="charlie").user


@pytest.fixture
def staff(db):
    return StaffFactory(username="sam")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, role="staff")


@pytest.fixture
def technician(db):
    return TechnicianFactory(username="tess")


@pytest.fixture
def agreement(client_a):
    return AgreementFactory(client=client_a)


@pytest.fixture
def ticket(client_a):
    return TicketFactory(client=client_a)


@pytest.fixture
def seller(db):
    """The MSP's invoice details; issuing an invoice needs them. Apps may override it."""
    from billing.models import SellerProfile

    return SellerProfile.objects.create(
        name="Northwind IT",
        email="billing@northwind.example",
        address="12 Harbour Road\nPortsmouth",
        payment_instructions="ACH to Northwind IT, routing 011000015, account 123456789",
        payment_terms_days=15,
    )
