"""Showing a service's refusal on the form that asked for it."""

from django import forms
from django.core.exceptions import ValidationError

# Service errors are keyed by the services' argument names; the form's fields
# are named for the person typing.
SERVICE_FIELD = {
    "minutes": "duration",
    "ticket": "ticket",
    "subject": "subject",
    "work_type": "work_type",
    "work_date": "work_date",
    "agreement": "agreement",
    "notes": "notes",
    "reason": "reason",
    "low_balance_threshold_minutes": "low_balance_threshold",
}


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: by field where it names one."""
    if hasattr(error, "error_dict"):
        for key, errors in error.error_dict.items():
            field = SERVICE_FIELD.get(key, key)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
