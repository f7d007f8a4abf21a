from django.db import migrations

from agreements.defaults import AFTER_HOURS_WORK_TYPE, create_default_business_hours


def flag_after_hours_and_open(apps, schema_editor):
    """The default "After-hours" work type becomes the calendar's after-hours
    rate (unless another one already is), and the MSP opens Monday to Friday
    08:00–17:00 until staff set its hours."""
    work_type = apps.get_model("agreements", "WorkType")
    if not work_type.objects.filter(is_after_hours=True, is_active=True).exists():
        work_type.objects.filter(name=AFTER_HOURS_WORK_TYPE, is_active=True).update(is_after_hours=True)
    create_default_business_hours(apps.get_model("agreements", "BusinessHours"))


class Migration(migrations.Migration):
    dependencies = [("agreements", "0016_minimum_and_business_calendar")]
    operations = [migrations.RunPython(flag_after_hours_and_open, migrations.RunPython.noop)]
