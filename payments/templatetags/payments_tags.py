from django import template

from payments import provider

register = template.Library()


@register.simple_tag
def online_payments() -> bool:
    """Whether pages may offer online payment (Stripe's keys are set)."""
    return provider.enabled()


@register.simple_tag
def payments_processing(invoices) -> dict[int, str]:  # noqa: ANN001 - invoices or a queryset of them
    """Of the invoices listed, those whose online payment is processing: id → method label (one query)."""
    from payments import services

    if not provider.enabled():
        return {}
    return services.invoice_payment_processing([invoice.pk for invoice in invoices])


@register.simple_tag
def processing_label(processing: dict[int, str], invoice_id: int) -> str:
    return processing.get(invoice_id, "")
