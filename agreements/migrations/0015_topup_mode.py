from django.db import migrations, models


def auto_reload_to_topup_mode(apps, schema_editor):
    """Auto-reload became the "charge" mode; every other agreement keeps issuing its reload invoice."""
    Agreement = apps.get_model("agreements", "Agreement")
    Agreement.objects.filter(auto_reload=True).update(topup_mode="charge")
    Agreement.objects.filter(auto_reload=False).update(topup_mode="issue")


def topup_mode_to_auto_reload(apps, schema_editor):
    # Back to a boolean: only "charge" was auto-reload; "draft" and "notify" become "issue".
    Agreement = apps.get_model("agreements", "Agreement")
    Agreement.objects.filter(topup_mode="charge").update(auto_reload=True)


class Migration(migrations.Migration):

    dependencies = [
        ('agreements', '0014_burn_order_and_expiry_change'),
    ]

    operations = [
        migrations.AddField(
            model_name='agreement',
            name='topup_mode',
            field=models.CharField(choices=[('charge', 'Charge the payment method on file: hours added at once'), ('issue', 'Issue the reload invoice and email it'), ('draft', 'Draft a reload invoice for staff to review'), ('notify', 'Only tell staff and the client; sell nothing')], default='issue', help_text='What happens when the balance falls to the threshold.', max_length=8, verbose_name='when the balance is low'),
        ),
        migrations.RunPython(auto_reload_to_topup_mode, topup_mode_to_auto_reload),
        migrations.RemoveConstraint(
            model_name='agreement',
            name='agreement_auto_reload_needs_tier',
        ),
        migrations.RemoveField(
            model_name='agreement',
            name='auto_reload',
        ),
        migrations.AddConstraint(
            model_name='agreement',
            constraint=models.CheckConstraint(condition=models.Q(('topup_mode__in', ['charge', 'issue', 'draft', 'notify'])), name='agreement_topup_mode_valid'),
        ),
        migrations.AddConstraint(
            model_name='agreement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('topup_mode', 'charge'), _negated=True), ('reload_tier__isnull', False), _connector='OR'), name='agreement_charge_needs_tier', violation_error_message='Charging the payment method on file needs a reload tier.'),
        ),
    ]
