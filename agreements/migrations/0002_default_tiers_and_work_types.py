from django.db import migrations

from agreements.defaults import create_default_price_list


def create_defaults(apps, schema_editor):
    create_default_price_list(apps.get_model("agreements", "Tier"), apps.get_model("agreements", "WorkType"))


class Migration(migrations.Migration):
    dependencies = [("agreements", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
