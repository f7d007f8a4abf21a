"""The MSPs' usual price list and work types, as data staff can edit afterwards:
blocks of 10 h at the full rate, 20 h and 30 h at $10/h off; work types normal
1.0x, after-hours 1.5x, emergency 2.0x, non-billable 0x."""

from decimal import Decimal

DEFAULT_TIERS = [
    ("10-hour block", 10, Decimal("0.00")),
    ("20-hour block", 20, Decimal("10.00")),
    ("30-hour block", 30, Decimal("10.00")),
]
DEFAULT_WORK_TYPES = [
    ("Normal", Decimal("1.00")),
    ("After-hours", Decimal("1.50")),
    ("Emergency", Decimal("2.00")),
    ("Non-billable", Decimal("0.00")),
]


def create_default_price_list(tier_model, work_type_model) -> None:
    """Create the defaults that are missing (models passed in, so a migration can use it)."""
    for name, hours, discount in DEFAULT_TIERS:
        tier_model.objects.get_or_create(name=name, defaults={"hours": hours, "discount_per_hour": discount})
    for name, multiplier in DEFAULT_WORK_TYPES:
        work_type_model.objects.get_or_create(name=name, defaults={"multiplier": multiplier})
