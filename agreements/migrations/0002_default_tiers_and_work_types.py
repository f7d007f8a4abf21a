"""The MSPs' usual price list, as data staff can edit afterwards:
blocks of 10 h at the full rate, 20 h and 30 h at $10/h off; work types
normal 1.0x, after-hours 1.5x, emergency 2.0x, non-billable 0x."""

from decimal import Decimal

from django.db import migrations

TIERS = [
    ("10-hour block", 10, Decimal("0.00")),
    ("20-hour block", 20, Decimal("10.00")),
    ("30-hour block", 30, Decimal("10.00")),
]
WORK_TYPES = [
    ("Normal", Decimal("1.00")),
    ("After-hours", Decimal("1.50")),
    ("Emergency", Decimal("2.00")),
    ("Non-billable", Decimal("0.00")),
]


def create_defaults(apps, schema_editor):
    Tier = apps.get_model("agreements", "Tier")
    WorkType = apps.get_model("agreements", "WorkType")
    for name, hours, discount in TIERS:
        Tier.objects.get_or_create(name=name, defaults={"hours": hours, "discount_per_hour": discount})
    for name, multiplier in WORK_TYPES:
        WorkType.objects.get_or_create(name=name, defaults={"multiplier": multiplier})


class Migration(migrations.Migration):
    dependencies = [("agreements", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
