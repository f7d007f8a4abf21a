"""Pure rules of the domain: how time is charged, how money is rounded,
how a typed duration is read. No database here, so each rule has one home
and can be tested on its own."""

import calendar
import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

from babel.numbers import format_currency
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, gettext, ngettext, to_locale

T = TypeVar("T")

MAX_ENTRY_MINUTES = 24 * 60
MAX_BLOCK_HOURS = 10_000  # the largest block sold; no balance change, threshold or limit is bigger
MAX_BLOCK_MINUTES = MAX_BLOCK_HOURS * 60
CENT = Decimal("0.01")
# Dates a person types: none before 2000 (statements start there) and none more
# than ten years ahead. Beyond these a typo ("0001-01-01", "9999-12-31") would
# stretch every report and runway, and date arithmetic near year 1 or 9999 overflows.
EARLIEST_DATE = datetime.date(2000, 1, 1)
LATEST_YEARS_AHEAD = 10


def check_date_in_range(value: datetime.date | None, *, field: str, today: datetime.date) -> None:
    """Refuse a date far in the past or future, naming the field."""
    if value is None:
        return
    try:
        latest = today.replace(year=today.year + LATEST_YEARS_AHEAD)
    except ValueError:  # 29 February, in a year that has none
        latest = today.replace(year=today.year + LATEST_YEARS_AHEAD, day=28)
    if not EARLIEST_DATE <= value <= latest:
        raise ValidationError(
            {
                field: gettext("Enter a date between %(earliest)s and %(latest)s.")
                % {"earliest": EARLIEST_DATE.isoformat(), "latest": latest.isoformat()}
            },
            code="date_out_of_range",
        )


def check_ascii_number(text: str) -> None:
    """Numbers are typed with the digits 0-9. Python reads "１２" (fullwidth) or
    "١٢" as 12 too; refusing them keeps one spelling per number, so what the
    ledger, invoices and confirmations show is what was typed."""
    if not text.isascii():
        raise ValidationError(gettext("Type numbers with the digits 0-9."), code="invalid")


_PLAIN_DECIMAL = re.compile(r"\d+(?:\.\d{1,2})?")


def check_plain_decimal(text: str) -> None:
    """An amount is typed as digits with at most two decimals: 1800 or
    1800.50. Python's Decimal also reads 1_000, 1E+2, +5 and .5; refusing them
    keeps one spelling per amount, as typed on the invoice it pays."""
    check_ascii_number(text)
    if not _PLAIN_DECIMAL.fullmatch(text.strip()):
        raise ValidationError(
            gettext("Enter the amount as a plain number with at most two decimals, such as 1800.00."), code="invalid"
        )


def money(value: Decimal) -> Decimal:
    """Round an amount to cents, half up: the one rounding rule for money."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str, language: str | None = None) -> str:
    """`Decimal("1800")`, `"USD"` → `$1,800.00` in English, `1.800,00 USD` in Italian;
    `"EUR"` in Italian → `1.800,00 €`. Formatted for `language`, by default the
    active one, from Babel's locale data (symbol, its place, separators)."""
    amount = money(Decimal(amount))
    locale = to_locale(language or get_language() or settings.LANGUAGE_CODE)
    text = format_currency(abs(amount), (currency or settings.DEFAULT_CURRENCY).upper(), locale=locale)
    # CLDR's currency spacing, which Babel leaves out: a code is kept apart from the digits ("CHF 1,800.00").
    text = re.sub(r"(?<=[A-Z])(?=\d)", "\xa0", text)
    # A minus sign, not a hyphen, and always in front of the symbol.
    return f"−{text}" if amount < 0 else text


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


def _times(value: Decimal | int, multiplier: Decimal) -> int:
    """Minutes × multiplier, half-up to whole minutes."""
    return int((Decimal(value) * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def billable_minutes(*, minutes: int, increment: int, rounding_mode: str, minimum: int = 0) -> int:
    """Worked minutes rounded to the increment, then raised to the agreement's
    minimum: with a 15-min minimum and 6-min increments rounding up, 5 min → 15
    and 20 min → 24."""
    return max(round_to_increment(minutes, increment, rounding_mode), minimum)


def charged_minutes(*, minutes: int, increment: int, rounding_mode: str, multiplier: Decimal, minimum: int = 0) -> int:
    """Minutes deducted from the balance for time worked.

    Round the worked time to the increment first, then raise it to the
    minimum, then apply the work-type multiplier, then round half-up to whole
    minutes: 7 min after-hours with a 15-min increment rounding up is
    15 × 1.5 = 22.5 → 23 min. Zero-rate work stays 0 whatever the minimum.
    """
    rounded = billable_minutes(minutes=minutes, increment=increment, rounding_mode=rounding_mode, minimum=minimum)
    return _times(rounded, multiplier)


@dataclass(frozen=True)
class CalendarSplit:
    """Worked minutes inside and outside business hours, and where the entry ends."""

    business: int
    after_hours: int
    ends_after_hours: bool


def split_by_calendar(
    *,
    work_date: datetime.date,
    started_at: datetime.time,
    minutes: int,
    opening_hours: dict[int, tuple[datetime.time, datetime.time] | None],
    holidays: set[datetime.date],
    closed_days_after_hours: bool = True,
) -> CalendarSplit:
    """Split an entry that starts at `started_at` on `work_date` into its
    business-hours and after-hours minutes. It may run past midnight into the
    next day. `opening_hours` maps a weekday (Monday 0) to its (opens, closes)
    wall-clock times, None when closed. A closed weekday or a holiday is
    after-hours throughout, or business hours throughout when
    `closed_days_after_hours` is False."""
    start = started_at.hour * 60 + started_at.minute
    end = start + minutes
    business = 0
    last_minute_business = False
    for offset in (0, 1):
        day = work_date + datetime.timedelta(days=offset)
        hours = None if day in holidays else opening_hours.get(day.weekday())
        if hours is None:
            window = (0, 24 * 60) if not closed_days_after_hours else None
        else:
            opens, closes = hours
            window = (opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute)
        if window is None:
            continue
        low, high = window[0] + offset * 24 * 60, window[1] + offset * 24 * 60
        business += max(0, min(end, high) - max(start, low))
        if low <= end - 1 < high:
            last_minute_business = True
    return CalendarSplit(business=business, after_hours=minutes - business, ends_after_hours=not last_minute_business)


@dataclass(frozen=True)
class Charge:
    """What one entry charges: in all, and the after-hours part of it."""

    billable: int  # worked time after rounding and the minimum
    charged: int
    after_hours_billable: int = 0
    after_hours_charged: int = 0

    @property
    def business_billable(self) -> int:
        return self.billable - self.after_hours_billable

    @property
    def business_charged(self) -> int:
        return self.charged - self.after_hours_charged


def charge_split(
    *,
    split: CalendarSplit,
    increment: int,
    rounding_mode: str,
    minimum: int,
    multiplier: Decimal,
    after_hours_multiplier: Decimal,
) -> Charge:
    """Charge an entry split by the calendar. The increment and minimum apply
    to the whole entry; the difference they make goes to the part the entry
    ends in (a cut by rounding down spills into the other part if that one is
    too short). The business part is charged at the work type's multiplier,
    the after-hours part at the after-hours one, unless the work type's is
    higher (kept) or zero (zero-rate work stays 0)."""
    worked = split.business + split.after_hours
    billable = billable_minutes(minutes=worked, increment=increment, rounding_mode=rounding_mode, minimum=minimum)
    business, after = split.business, split.after_hours
    difference = billable - worked
    if split.ends_after_hours:
        after += difference
        if after < 0:
            business, after = business + after, 0
    else:
        business += difference
        if business < 0:
            business, after = 0, after + business
    after_multiplier = Decimal(0) if multiplier == 0 else max(multiplier, after_hours_multiplier)
    after_charged = _times(after, after_multiplier)
    return Charge(
        billable=billable,
        charged=_times(business, multiplier) + after_charged,
        after_hours_billable=after,
        after_hours_charged=after_charged,
    )


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
        raise ValidationError(gettext("Enter a duration, e.g. 90, 1:30, 1.5h or 1h30m."), code="required")
    check_ascii_number(value)
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
            gettext(
                "“%(value)s” is not a duration. Use minutes (90), hours and minutes (1:30), hours (1.5h) or both (1h30m)."
            ),
            code="invalid",
            params={"value": text},
        )
    if minutes != minutes.to_integral_value():
        raise ValidationError(gettext("A duration must be a whole number of minutes."), code="invalid")
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


def block_name(minutes: int) -> str:
    """What a block of `minutes` is called, in the active language: `1200` →
    "20-hour support block"; a block of part hours → "1 h 30 min support block"."""
    if minutes % 60 == 0:
        hours = minutes // 60
        # Translators: English keeps the adjective singular ("20-hour"); other languages may need a plural.
        return ngettext("%(hours)d-hour support block", "%(hours)d-hour support block", hours) % {"hours": hours}
    return gettext("%(duration)s support block") % {"duration": format_minutes(minutes)}


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or that month's last day if it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def next_term_ends_on(starts_on: datetime.date, ends_on: datetime.date) -> datetime.date:
    """The end of the term that follows [starts_on, ends_on], of the same length.

    A term of whole months (1 Jan–31 Dec, 24 Dec–23 Dec) renews for as many
    months, so a yearly term stays a year across leap years; any other term
    renews for the same number of days."""
    day = datetime.timedelta(days=1)
    new_start = ends_on + day
    months = (ends_on.year - starts_on.year) * 12 + ends_on.month - starts_on.month + 1
    for n in (months - 1, months):
        if n > 0 and add_months(starts_on, n) - day == ends_on:
            return add_months(new_start, n) - day
    return new_start + (ends_on - starts_on)


def rollover_allowance(
    *, policy: str, unused_minutes: int, cap_minutes: int | None, cap_percent: int | None, renewal_minutes: int
) -> int:
    """How many of `unused_minutes` roll over into the next term under `policy`
    (the values of agreements.models.RolloverPolicy); a share of the renewal
    block is rounded down to the minute, never rolling more than was promised."""
    if policy == "all":
        allowed = unused_minutes
    elif policy == "capped_hours":
        allowed = cap_minutes or 0
    elif policy == "capped_percent":
        allowed = renewal_minutes * (cap_percent or 0) // 100
    else:
        allowed = 0
    return max(min(allowed, unused_minutes), 0)


OLDEST_FIRST = "oldest_first"
SOONEST_EXPIRING_FIRST = "soonest_expiring_first"


def in_burn_order(blocks: Iterable[T], burn_order: str) -> list[T]:
    """Blocks in the order they pay for time: the one rule the ledger's
    allocation and the runway forecast share.

    Oldest first: by start date, then sale (created, then id). Soonest
    expiring first: by expiry date, blocks that never expire last; ties by
    the same age. `blocks` have `starts_on`, `expires_on`, `created_at`, `pk`
    (burn_order is a value of agreements.models.BurnOrder)."""

    def age(block: T) -> tuple:
        return (block.starts_on, block.created_at, block.pk)

    if burn_order == OLDEST_FIRST:
        return sorted(blocks, key=age)
    if burn_order == SOONEST_EXPIRING_FIRST:
        return sorted(blocks, key=lambda b: (b.expires_on is None, b.expires_on or datetime.date.min, *age(b)))
    raise ValueError(f"Unknown burn order {burn_order!r}")
