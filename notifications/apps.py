from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from monitoring.metrics import scrape_collector_register
        from notifications.metrics import NotificationsCollector

        scrape_collector_register(NotificationsCollector())
