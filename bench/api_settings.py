"""Settings for the API benchmark's gunicorn: the project's, plus a bare DRF
detail view to compare the real agreement detail against."""

from blockhours.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
