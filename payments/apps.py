from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Online payments")

    def ready(self) -> None:
        from billing import signals as billing_signals

        # Billing sits below payments: it tells us of a credit note inside the
        # transaction that issues it, and the Stripe refund row is written there.
        billing_signals.credit_note_issued.connect(_credit_note_issued, dispatch_uid="payments.credit_note_issued")


def _credit_note_issued(sender, *, credit_note, **kwargs) -> None:  # noqa: ANN001, ANN003
    from payments import refunds

    refunds.refund_for_credit_note(credit_note=credit_note)
