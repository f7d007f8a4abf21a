from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimesheetConfig(AppConfig):
    name = "timesheet"
    verbose_name = _("Time entry")
