from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data that spans every app (agreements, billing), so it sits above them all."""

    name = "demo"
    verbose_name = "Demo data"
