"""CSV downloads that are safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable
from decimal import Decimal

from django.http import HttpResponse

# A cell starting with one of these is read as a formula by Excel, LibreOffice
# and Google Sheets (CSV injection); tab and carriage return too, per OWASP.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as text, with a leading apostrophe if it could start a formula.
    Numbers are written as they are: a negative amount is not a formula, and
    accounting imports read `-12.50`, never `'-12.50`."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[object]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    writer = csv.writer(response)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return response
