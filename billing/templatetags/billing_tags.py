"""Money and time as they read on an invoice: `$1,800.00`, `−$200.00`, `20 h`."""

from decimal import Decimal

from django import template

from agreements import domain
from agreements.domain import format_minutes

register = template.Library()


@register.simple_tag
def format_money(amount: Decimal, currency: str) -> str:
    return domain.format_money(amount, currency)


@register.filter
def quantity(minutes: int | None) -> str:
    """A time quantity: whole hours as `20 h`, the rest as `1 h 45 min`."""
    return "" if minutes is None else format_minutes(minutes)
