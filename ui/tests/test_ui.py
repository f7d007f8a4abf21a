import datetime
from decimal import Decimal

from django.utils import translation

from ui.charts import burn_down
from ui.templatetags.bh import minutes, money, signed_minutes


def test_minutes_are_hours_and_minutes():
    assert minutes(105) == "1 h 45 min"
    assert minutes(-30) == "−30 min"
    assert minutes(None) == "—"
    assert signed_minutes(90) == "+1 h 30 min" and signed_minutes(-60) == "−1 h"


def test_money_has_its_currency():
    assert money(Decimal("1800"), "USD") == "$1,800.00"
    assert money(Decimal("-5.5"), "EUR") == "−€5.50"
    assert money(Decimal("12.30"), "SEK") == "SEK\xa012.30"  # a code, not a symbol: kept apart


def test_money_follows_the_active_language():
    with translation.override("it"):
        assert money(Decimal("1800"), "EUR") == "1.800,00\xa0€"
        assert money(Decimal("-5.5"), "EUR") == "−5,50\xa0€"
        assert money(Decimal("1800"), "USD") == "1.800,00\xa0USD"


def test_burn_down_is_a_step_line_down_to_today():
    today = datetime.date(2026, 11, 23)
    chart = burn_down(
        [(datetime.date(2026, 11, 1), 600), (datetime.date(2026, 11, 10), 300)], today=today, threshold=120
    )
    # From zero up to 10 h on 1 Nov, down to 5 h on 10 Nov, flat to today at the right edge.
    assert chart.path == "M100.0,192.0 L100.0,12.0 L445.3,12.0 L445.3,102.0 L944.0,102.0"
    assert chart.threshold_y is not None
    assert "10 h" in chart.summary and "5 h" in chart.summary
    assert burn_down([], today=today, threshold=120) is None
