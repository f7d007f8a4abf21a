"""The MSPs' usual price list and work types, as data staff can edit afterwards:
blocks of 10 h at the full rate, 20 h and 30 h at $10/h off; work types normal
1.0x, after-hours 1.5x (the calendar's after-hours rate), emergency 2.0x,
non-billable 0x; business hours Monday to Friday 08:00–17:00."""

import datetime
from decimal import Decimal

DEFAULT_TIERS = [
    ("10-hour block", 10, Decimal("0.00")),
    ("20-hour block", 20, Decimal("10.00")),
    ("30-hour block", 30, Decimal("10.00")),
]
AFTER_HOURS_WORK_TYPE = "After-hours"
DEFAULT_OPENING_HOURS = [(day, datetime.time(8, 0), datetime.time(17, 0)) for day in range(5)] + [
    (5, None, None),
    (6, None, None),
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
    # Migrations before 0014 know no after-hours flag; 0015 sets it there.
    flagged = any(field.name == "is_after_hours" for field in work_type_model._meta.get_fields())
    for name, multiplier in DEFAULT_WORK_TYPES:
        defaults = {"multiplier": multiplier}
        if flagged:
            defaults["is_after_hours"] = name == AFTER_HOURS_WORK_TYPE
        work_type_model.objects.get_or_create(name=name, defaults=defaults)


def create_default_business_hours(business_hours_model) -> None:
    """A row per weekday, Monday to Friday 08:00–17:00, where none is set yet."""
    for weekday, opens, closes in DEFAULT_OPENING_HOURS:
        business_hours_model.objects.get_or_create(weekday=weekday, defaults={"opens": opens, "closes": closes})
