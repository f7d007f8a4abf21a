from django import template

from payments import provider

register = template.Library()


@register.simple_tag
def online_payments() -> bool:
    """Whether pages may offer online payment (Stripe's keys are set)."""
    return provider.enabled()
