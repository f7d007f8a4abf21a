from django.apps import AppConfig


class TimesheetConfig(AppConfig):
    name = "timesheet"
    verbose_name = "Time entry"
