"""Display filters shared by every page: durations and money, one format each."""

from decimal import Decimal

from django import template
from django.http import QueryDict
from django.utils.translation import gettext_lazy

from agreements.domain import block_name as name_of_block
from agreements.domain import format_minutes, format_money

register = template.Library()


@register.filter
def minutes(value: int | None) -> str:
    """`105` → `1 h 45 min` (agreements.domain.format_minutes)."""
    if value is None or value == "":
        return "—"
    return format_minutes(int(value))


@register.filter
def block_name(minutes: int) -> str:
    """`1200` → "20-hour support block" in the active language (agreements.domain.block_name)."""
    return name_of_block(int(minutes))


TOPUP_SUMMARY = {
    "charge": gettext_lazy("When low: we add a reload block at once and invoice it"),
    "issue": gettext_lazy("When low: we send a reload invoice"),
    "draft": gettext_lazy("When low: we review a reload invoice, then send it"),
    "notify": gettext_lazy("When low: we let you know; nothing is sold"),
}


@register.filter
def topup_summary(agreement: object) -> str:
    """What happens when the agreement's balance falls to its threshold, in a line."""
    return str(TOPUP_SUMMARY.get(getattr(agreement, "topup_mode", ""), ""))


@register.filter
def signed_minutes(value: int) -> str:
    """Ledger changes: `+10 h`, `−1 h 30 min`."""
    text = format_minutes(int(value))
    return text if value < 0 else f"+{text}"


@register.filter
def multiplier(value: Decimal) -> str:
    """A work type's rate without trailing zeros: `Decimal("1.50")` → `1.5`, `Decimal("2.00")` → `2`."""
    return f"{Decimal(value).normalize():f}"


@register.filter
def money(amount: Decimal | None, currency: str = "") -> str:
    """`Decimal("1800")`, `"USD"` → `$1,800.00` (agreements.domain.format_money)."""
    return "—" if amount is None else format_money(amount, currency)


@register.simple_tag(takes_context=True)
def query(context: template.Context, **changes: object) -> str:
    """The current query string with some parameters changed (sorting, paging)."""
    params: QueryDict = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def bs(field):  # noqa: ANN001 - a BoundField
    """Render a form field's widget with Bootstrap classes, marked invalid when it has errors."""
    widget = field.field.widget
    input_type = getattr(widget, "input_type", "")
    if input_type == "checkbox":
        css = "form-check-input"
    elif input_type == "select" or widget.__class__.__name__ in {"Select", "SelectMultiple"}:
        css = "form-select"
    else:
        css = "form-control"
    existing = widget.attrs.get("class", "")
    attrs = {"class": f"{css} {existing}".strip()}
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{field.auto_id}_errors"
    elif field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}_help"
    return field.as_widget(attrs=attrs)
