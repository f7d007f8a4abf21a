from ui.tests.fixtures import *  # noqa: F403 - shared web fixtures
