from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Health endpoints, Prometheus metrics and the helpers that keep a web
    request working when Redis is down. At the bottom of the dependency order:
    it imports none of the project's apps, so every app may use it."""

    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from monitoring import signals  # noqa: F401 - connects the Celery task counters
