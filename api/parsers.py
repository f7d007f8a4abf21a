"""The API's JSON parser: JSON text that is valid JSON but not storable text is refused here.

JSON may escape a lone surrogate ("\\ud800") or a NUL ("\\u0000"). Neither is
text PostgreSQL can store, and a lone surrogate cannot even be written back
out as UTF-8: an error message quoting it (an unknown id, an invalid choice)
would crash the JSON renderer with a 500. One check for the whole body
covers every field, whatever its type.

Deeply nested JSON ("[[[[…" 2,000 times) would exhaust Python's recursion
limit inside the parser and answer 500; its depth is measured on the raw text
first, which costs one regular-expression pass and no recursion.
"""

import io
import re

from django.utils.translation import gettext
from rest_framework import exceptions, parsers

# No body of this API nests more than three levels; 32 leaves room and stays
# far below the recursion limit of the parser and of the checks after it.
MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def _too_deep(body: bytes) -> bool:
    """Whether the JSON text opens more than MAX_JSON_DEPTH arrays or objects
    inside one another. Strings are removed first: their brackets are text."""
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        else:
            depth -= 1
    return False


def _bad_character(text: str) -> str | None:
    if "\x00" in text:
        return gettext("Null characters are not allowed.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return gettext("Surrogate characters are not allowed: U+%(code)X.") % {"code": ord(text[error.start])}
    return None


def _printable(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _find_bad_text(data: object, path: str = "") -> tuple[str, str] | None:
    """(field path, message) of the first string, or object key, that is not storable text."""
    if isinstance(data, str):
        message = _bad_character(data)
        return (path, message) if message else None
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{_printable(key)}" if path else _printable(key)
            if message := _bad_character(key):
                return where, message
            if found := _find_bad_text(value, where):
                return found
    if isinstance(data, list):
        for value in data:
            if found := _find_bad_text(value, path or "non_field_errors"):
                return found
    return None


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ANN001, ANN201
        body = stream.read() if stream is not None else b""
        if _too_deep(body):
            raise exceptions.ParseError(
                gettext("The JSON body is nested too deeply: at most %(depth)d levels.") % {"depth": MAX_JSON_DEPTH}
            )
        data = super().parse(io.BytesIO(body), media_type, parser_context)
        if found := _find_bad_text(data):
            field, message = found
            raise exceptions.ValidationError({field or "non_field_errors": [message]})
        return data
