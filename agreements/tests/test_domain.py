import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from agreements.domain import (
    block_price,
    charged_minutes,
    check_date_in_range,
    format_minutes,
    format_money,
    money,
    parse_duration,
    round_to_increment,
)


@pytest.mark.parametrize(
    ("minutes", "mode", "expected"),
    [
        (7, "up", 15),
        (15, "up", 15),
        (16, "up", 30),
        (7, "down", 0),
        (29, "down", 15),
        (30, "down", 30),
        (7, "nearest", 0),
        (8, "nearest", 15),
        (22, "nearest", 15),
        (23, "nearest", 30),
    ],
)
def test_it_rounds_to_the_increment(minutes, mode, expected):
    assert round_to_increment(minutes, 15, mode) == expected


@pytest.mark.parametrize(
    ("minutes", "increment", "mode", "multiplier", "expected"),
    [
        (7, 15, "up", Decimal("1.50"), 23),  # 15 × 1.5 = 22.5 → 23
        (7, 15, "up", Decimal("1.00"), 15),
        (7, 15, "up", Decimal("2.00"), 30),
        (7, 15, "up", Decimal("0.00"), 0),  # non-billable: kept, charged nothing
        (5, 1, "up", Decimal("1.50"), 8),  # 7.5 → 8, half up
        (90, 15, "nearest", Decimal("1.00"), 90),
        (7, 6, "up", Decimal("1.25"), 15),  # 12 × 1.25 = 15
        (1, 1, "down", Decimal("1.50"), 2),  # 1.5 → 2
    ],
)
def test_it_rounds_first_then_multiplies_then_rounds_half_up(minutes, increment, mode, multiplier, expected):
    charged = charged_minutes(minutes=minutes, increment=increment, rounding_mode=mode, multiplier=multiplier)
    assert charged == expected
    assert type(charged) is int


def test_it_prices_blocks_in_decimal_cents():
    assert block_price(hourly_rate=Decimal("100.00"), discount_per_hour=Decimal("10.00"), minutes=1200) == (
        Decimal("90.00"),
        Decimal("1800.00"),
    )
    assert block_price(hourly_rate=Decimal("95.55"), discount_per_hour=Decimal("0"), minutes=90) == (
        Decimal("95.55"),
        Decimal("143.33"),  # 143.325 rounds half up
    )
    assert money(Decimal("0.005")) == Decimal("0.01")


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90", 90),
        ("1:30", 90),
        ("1.5h", 90),
        ("1,5h", 90),
        ("1h30m", 90),
        ("1h 30min", 90),
        ("45m", 45),
        ("2h", 120),
        (" 0:05 ", 5),
    ],
)
def test_it_reads_typed_durations(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "abc", "1:75", "1.2.3h", "-30", "1e3", "1.01h", "h", "½h", "90 minutes please"])
def test_it_refuses_malformed_durations_with_a_message(text):
    with pytest.raises(ValidationError) as error:
        parse_duration(text)
    assert error.value.messages[0]


def test_it_formats_minutes_as_hours_and_minutes():
    assert format_minutes(105) == "1 h 45 min"
    assert format_minutes(120) == "2 h"
    assert format_minutes(5) == "5 min"
    assert format_minutes(-90) == "−1 h 30 min"


def test_it_formats_money_for_the_language_given():
    assert format_money(Decimal("1800"), "EUR", "it") == "1.800,00\xa0€"
    assert format_money(Decimal("1800"), "USD", "en") == "$1,800.00"


def test_it_formats_money_for_the_active_language_by_default():
    with translation.override("it"):
        assert format_money(Decimal("1800"), "EUR") == "1.800,00\xa0€"
    with translation.override("en"):
        assert format_money(Decimal("1800"), "USD") == "$1,800.00"


def test_it_puts_the_minus_sign_in_front_of_a_negative_amount():
    assert format_money(Decimal("-1800"), "EUR", "it") == "−1.800,00\xa0€"
    assert format_money(Decimal("-12.5"), "USD", "en") == "−$12.50"


@pytest.mark.parametrize(
    ("day", "ok"),
    [
        ("1999-12-31", False),
        ("2000-01-01", True),
        ("2034-02-28", True),  # ten years after 29 February 2024: the 28th, there is no 29th
        ("2034-03-01", False),
    ],
)
def test_it_accepts_dates_from_2000_to_ten_years_ahead(day, ok):
    value = datetime.date.fromisoformat(day)
    if ok:
        check_date_in_range(value, field="paid_on", today=datetime.date(2024, 2, 29))
    else:
        with pytest.raises(ValidationError) as refused:
            check_date_in_range(value, field="paid_on", today=datetime.date(2024, 2, 29))
        assert refused.value.message_dict == {"paid_on": ["Enter a date between 2000-01-01 and 2034-02-28."]}


@pytest.mark.parametrize("text", ["１２", "١٢", "1:３０", "１h"])
def test_it_reads_durations_in_the_digits_0_to_9_only(text):
    with pytest.raises(ValidationError) as refused:
        parse_duration(text)
    assert refused.value.messages == ["Type numbers with the digits 0-9."]
