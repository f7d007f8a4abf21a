from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from monitoring.metrics import scrape_collector_register
        from notifications.metrics import NotificationsCollector
        from payments import signals as payment_signals

        scrape_collector_register(NotificationsCollector())
        # Payments sits below notifications: it asks for its emails with signals.
        payment_signals.payment_failed.connect(_payment_failed, dispatch_uid="notifications.payment_failed")
        payment_signals.payment_alert.connect(_payment_alert, dispatch_uid="notifications.payment_alert")


def _payment_failed(sender, *, invoice, topic, reason, pay_url, **kwargs) -> None:  # noqa: ANN001, ANN003
    from notifications import services
    from notifications.tasks import queue_sending

    services.payment_failed_emails_record(
        invoice=invoice, topic=topic, reason=reason, pay_url=pay_url, send=queue_sending
    )


def _payment_alert(sender, *, invoice, topic, message, **kwargs) -> None:  # noqa: ANN001, ANN003
    from notifications import services
    from notifications.tasks import queue_sending

    services.payment_alert_record(invoice=invoice, topic=topic, message=message, send=queue_sending)
