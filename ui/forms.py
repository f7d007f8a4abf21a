"""Showing a service's refusal on the form that asked for it, and the number
fields every form uses (digits 0-9 only)."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats

from agreements.domain import check_ascii_number, check_plain_decimal

# Service errors are keyed by the services' argument names; the form's fields
# are named for the person typing.
SERVICE_FIELD = {
    "minutes": "duration",
    "rollover_cap_minutes": "rollover_cap",
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


class _AsciiNumber:
    """A typed number in the digits 0-9 only (agreements.domain.check_ascii_number)."""

    def to_python(self, value: object) -> object:
        if isinstance(value, str):
            check_ascii_number(value)
        return super().to_python(value)  # type: ignore[misc]


class IntegerField(_AsciiNumber, forms.IntegerField):
    pass


class DecimalField(_AsciiNumber, forms.DecimalField):
    """Typed and shown with the language's decimal separator: 95,50 in Italian."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("localize", True)
        super().__init__(*args, **kwargs)

    def to_python(self, value: object) -> Decimal | None:
        number = super().to_python(value)
        if number is not None and isinstance(value, str):
            # The same spelling as everywhere else, once the language's separators
            # are read; a minus sign is left to the field's minimum, which says why.
            typed = formats.sanitize_separators(value.strip()) if self.localize else value.strip()
            check_plain_decimal(typed.removeprefix("-"))
        return number
