"""Money and time as they read on an invoice: `$1,800.00`, `−$200.00`, `20 h`."""

import re
from decimal import Decimal

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

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


_PAGE_COUNTERS = {"%(page)s": "counter(page)", "%(pages)s": "counter(pages)"}


@register.simple_tag
def page_numbers_css() -> str:
    """The CSS `content` of a PDF's page-number box, "Page 1 of 2" in the active language.

    CSS counters cannot go inside a translated string, so the translated
    sentence is cut around its placeholders into CSS strings and counters.
    """
    sentence = gettext("Page %(page)s of %(pages)s")
    parts = []
    for part in re.split(r"(%\(pages?\)s)", sentence):
        if part in _PAGE_COUNTERS:
            parts.append(_PAGE_COUNTERS[part])
        elif part:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
            parts.append(f'"{escaped}"')
    # Safe: every translated part is a CSS string with its quotes, backslashes
    # and "<" escaped; the rest are the two fixed counters.
    return mark_safe(" ".join(parts))  # noqa: S308  # nosec B308 B703
