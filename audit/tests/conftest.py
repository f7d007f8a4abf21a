import pytest

from ui.tests.fixtures import *  # noqa: F403 - shared web fixtures


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Invoice PDFs rendered by the tests go to the test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
