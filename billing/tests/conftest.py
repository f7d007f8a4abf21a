import pytest

from billing.models import SellerProfile


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test writes its PDFs to its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def seller(db) -> SellerProfile:
    return SellerProfile.objects.create(
        name="Northwind IT Services",
        address="200 Harbor Way, Suite 4\nPortland, OR 97201",
        email="billing@northwind.example",
        phone="+1 503 555 0142",
        tax_id="EIN 12-3456789",
        payment_instructions="ACH or wire to Northwind IT Services\nFirst Harbor Bank — routing 123000848, account 4401 2288 19",
        payment_terms_days=15,
    )
