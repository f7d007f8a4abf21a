"""API test fixtures: an APIClient signed in with a real token per role, a
seller profile (invoices need one to be issued), and a funded agreement."""

import pytest
from rest_framework.test import APIClient

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, tier, work_type
from api.tests.helpers import api_as
from billing.models import SellerProfile
from ui.tests.fixtures import expiring  # noqa: F401 - the shared fixture of hours that expire unused


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def seller(db) -> SellerProfile:
    return SellerProfile.objects.create(name="Northwind IT Services", address="200 Harbor Way", payment_terms_days=15)


@pytest.fixture
def staff_api(staff):
    return api_as(staff)


@pytest.fixture
def tech_api(technician):
    return api_as(technician)


@pytest.fixture
def alice_api(alice):
    return api_as(alice)


@pytest.fixture
def charlie_api(charlie):
    return api_as(charlie)


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def funded(agreement, staff):
    """Client A's agreement with a paid 10-hour block (600 min)."""
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    agreement_services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


@pytest.fixture
def other_agreement(client_b, staff):
    """Client B's (Charlie's) funded agreement, with a ticket."""
    agreement = AgreementFactory(client=client_b)
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    agreement_services.block_mark_paid(block=block, actor=staff)
    agreement.refresh_from_db()
    return agreement


@pytest.fixture
def normal():
    return work_type("Normal")
