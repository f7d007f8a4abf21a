"""One rule for single-line text, used by every app (accounts is at the
bottom of the dependency order, so all of them may import it).

A name, a username, a ticket number or subject, a payment reference, a
reason: each is one line. A carriage return or line feed in one of them forges
extra lines wherever it is written out (an email header, a CSV export, an
audit log line, a PDF), and other control characters are invisible on screen
but different in the database. Multi-line fields (addresses, notes) do not use
it.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

SINGLE_LINE_MESSAGE = gettext_lazy("Use one line of text, without line breaks, tabs or other control characters.")


def validate_single_line(value: object) -> None:
    """A model field validator: admin forms, full_clean() in the services and
    DRF's model serializers all apply it."""
    if isinstance(value, str) and any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(SINGLE_LINE_MESSAGE, code="control_character")


def check_single_line(**fields: object) -> None:
    """For services that save without full_clean(): one ValidationError naming
    each field whose text breaks the rule."""
    errors = {}
    for name, value in fields.items():
        try:
            validate_single_line(value)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
