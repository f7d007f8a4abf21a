"""Money and time as they read on an invoice: `$1,800.00`, `−$200.00`, `20 h`."""

from decimal import Decimal

from django import template

from agreements.domain import format_minutes, money

register = template.Library()

_SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


@register.simple_tag
def format_money(amount: Decimal, currency: str) -> str:
    amount = money(Decimal(amount))
    sign = "−" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


@register.filter
def quantity(minutes: int | None) -> str:
    """A time quantity: whole hours as `20 h`, the rest as `1 h 45 min`."""
    return "" if minutes is None else format_minutes(minutes)
