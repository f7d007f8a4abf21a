"""Pure rules of the domain: how time is charged, how money is rounded,
how a typed duration is read. No database here, so each rule has one home
and can be tested on its own."""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError

MAX_ENTRY_MINUTES = 24 * 60
CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Round an amount to cents, half up: the one rounding rule for money."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


_CURRENCY_SYMBOLS = {
    "USD": "$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "INR": "₹",
    "CHF": "CHF ",
}


def format_money(amount: Decimal, currency: str) -> str:
    """`Decimal("1800")`, `"USD"` → `$1,800.00`; currencies without a symbol keep their code."""
    amount = money(Decimal(amount))
    sign = "−" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    symbol = _CURRENCY_SYMBOLS.get((currency or "").upper())
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}".strip()


def round_to_increment(minutes: int, increment: int, mode: str) -> int:
    """Round worked minutes to the agreement's billing increment."""
    whole, rest = divmod(minutes, increment)
    if rest == 0:
        return minutes
    if mode == "up":
        return (whole + 1) * increment
    if mode == "down":
        return whole * increment
    if mode == "nearest":
        # Half an increment or more rounds up (half-up, like money).
        return (whole + 1) * increment if rest * 2 >= increment else whole * increment
    raise ValueError(f"Unknown rounding mode {mode!r}")


def charged_minutes(*, minutes: int, increment: int, rounding_mode: str, multiplier: Decimal) -> int:
    """Minutes deducted from the balance for time worked.

    Round the worked time to the increment first, then apply the work-type
    multiplier, then round half-up to whole minutes: 7 min after-hours with a
    15-min increment rounding up is 15 × 1.5 = 22.5 → 23 min.
    """
    rounded = round_to_increment(minutes, increment, rounding_mode)
    return int((Decimal(rounded) * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def block_price(*, hourly_rate: Decimal, discount_per_hour: Decimal, minutes: int) -> tuple[Decimal, Decimal]:
    """(rate per hour after discount, amount) for a block of `minutes`."""
    rate = money(max(hourly_rate - discount_per_hour, Decimal("0")))
    return rate, money(rate * Decimal(minutes) / 60)


_HOURS_MINUTES = re.compile(r"^(?:(?P<h>\d+(?:[.,]\d+)?)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?$")


def parse_duration(text: str) -> int:
    """Read a typed duration as whole minutes.

    Accepts `90` (minutes), `1:30`, `1.5h`, `1,5h`, `1h30m`, `1h 30min`, `45m`.
    """
    value = (text or "").strip().lower()
    if not value:
        raise ValidationError("Enter a duration, e.g. 90, 1:30, 1.5h or 1h30m.", code="required")
    minutes: Decimal | None = None
    try:
        if value.isdigit():
            minutes = Decimal(value)
        elif re.fullmatch(r"\d+:[0-5]\d", value):
            hours, mins = value.split(":")
            minutes = Decimal(hours) * 60 + Decimal(mins)
        else:
            match = _HOURS_MINUTES.fullmatch(value)
            if match and (match["h"] or match["m"]):
                hours = Decimal(match["h"].replace(",", ".")) if match["h"] else Decimal(0)
                minutes = hours * 60 + (Decimal(match["m"]) if match["m"] else 0)
    except InvalidOperation:
        minutes = None
    if minutes is None:
        raise ValidationError(
            "“%(value)s” is not a duration. Use minutes (90), hours and minutes (1:30), hours (1.5h) or both (1h30m).",
            code="invalid",
            params={"value": text},
        )
    if minutes != minutes.to_integral_value():
        raise ValidationError("A duration must be a whole number of minutes.", code="invalid")
    return int(minutes)


def format_minutes(minutes: int) -> str:
    """`105` → `1 h 45 min`; negative balances keep their sign."""
    sign = "−" if minutes < 0 else ""
    hours, mins = divmod(abs(minutes), 60)
    if hours and mins:
        return f"{sign}{hours} h {mins} min"
    if hours:
        return f"{sign}{hours} h"
    return f"{sign}{mins} min"
