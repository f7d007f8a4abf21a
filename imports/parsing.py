"""Reading a client import file: bytes to text, text to rows, each cell
checked on its own. No database here: imports.services compares the rows with
what exists.

File-level problems (size, encoding, delimiter, header, too many rows) refuse
the whole file with one message (FileRefused). Cell problems are collected,
each tied to its row and column, so staff can fix them all in one go.
"""

import csv
import datetime
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext, gettext_lazy

from agreements.domain import MAX_BLOCK_MINUTES, check_date_in_range
from agreements.models import OveragePolicy


class FileRefused(Exception):
    """The file as a whole cannot be read: nothing in it is imported."""


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    help: str
    example: str


COLUMNS: tuple[Column, ...] = (
    Column("external_id", False, gettext_lazy("Your own id for the agreement; re-imports match on it."), "PSA-1001"),
    Column("client_name", True, gettext_lazy("The client organisation."), "Acme Dental"),
    Column("billing_email", False, gettext_lazy("Accounts-payable address that receives invoices."), "ap@acme.example"),
    Column(
        "contacts",
        False,
        gettext_lazy("Client contacts, Name <email> separated by |."),
        "Ann Lee <ann@acme.example>|Bob Ray <bob@acme.example>",
    ),
    Column("currency", True, gettext_lazy("Three-letter code, e.g. USD."), "USD"),
    Column(
        "language",
        False,
        gettext_lazy("Language of invoices and emails (en, it); empty: the default, or unchanged."),
        "en",
    ),
    Column("hourly_rate", True, gettext_lazy("The client's normal hourly rate, e.g. 100.00."), "100.00"),
    Column("agreement_name", True, gettext_lazy("The agreement, unique within the client."), "Prepaid support hours"),
    Column("term_start", False, gettext_lazy("First day, YYYY-MM-DD; empty: today (new agreements)."), "2026-01-01"),
    Column("term_end", False, gettext_lazy("Last day, YYYY-MM-DD; empty or none: never expires."), "none"),
    Column(
        "threshold", False, gettext_lazy("Low-balance threshold, hours:minutes; empty: 2:00, or unchanged."), "2:00"
    ),
    Column(
        "overage_policy",
        False,
        gettext_lazy("reject, allow_negative or bill_overage; empty: reject, or unchanged."),
        "reject",
    ),
    Column("opening_balance", False, gettext_lazy("Hours left, as 12:30 or 12h30m; empty or 0: none."), "12:30"),
    Column(
        "opening_rate",
        False,
        gettext_lazy("The hourly rate those hours were paid at (needed with a balance)."),
        "90.00",
    ),
    Column("opening_expires_on", False, gettext_lazy("When those hours expire, YYYY-MM-DD; empty: never."), ""),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
# A cell a spreadsheet would run as a formula (CSV injection): refused, never stored.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DURATION = re.compile(r"(?:(\d{1,5}):([0-5]\d)|(?:(\d{1,5})h)?\s*(?:(\d{1,5})m)?)")
_AMOUNT = re.compile(r"\d{1,10}(?:\.\d{1,2})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CONTACT = re.compile(r"\s*(?P<name>[^<>|]*?)\s*<(?P<email>[^<>|\s]+)>\s*")
_NONE = {"", "none", "never"}


@dataclass
class CellError:
    row: int  # the line number a spreadsheet shows (the header is row 1)
    column: str
    message: str

    def __str__(self) -> str:
        return gettext("row %(row)s, %(column)s: %(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class Row:
    number: int
    external_id: str
    client_name: str
    billing_email: str
    contacts: list[tuple[str, str]]  # (name, email)
    currency: str
    language: str  # "" : the default for a new client, unchanged for an existing one
    hourly_rate: Decimal
    agreement_name: str
    term_start: datetime.date | None
    term_end: datetime.date | None
    # None (empty cell): the default for a new agreement, unchanged for an existing one.
    threshold_minutes: int | None
    overage_policy: str | None
    opening_minutes: int
    opening_rate: Decimal | None
    opening_expires_on: datetime.date | None

    @property
    def key(self) -> tuple[str, ...]:
        """What identifies the agreement in a file: its external id, else client and agreement name."""
        if self.external_id:
            return ("id", self.external_id)
        return ("name", self.client_name.casefold(), self.agreement_name.casefold())

    @property
    def client_fields(self) -> tuple[object, ...]:
        return (self.billing_email.lower(), self.currency, self.language, self.hourly_rate)


@dataclass
class Parsed:
    rows: list[Row] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    row_count: int = 0
    delimiter: str = ","


def decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252; anything else is refused."""
    if b"\x00" in data:
        raise FileRefused(
            gettext(
                "This is not a text CSV file (it contains NUL bytes; UTF-16 files are not accepted). Save as CSV UTF-8."
            )
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # cp1252 leaves five bytes undefined: a file using them is neither encoding.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise FileRefused(
            gettext("The file is neither UTF-8 nor Windows-1252 text. Save it as CSV UTF-8 and upload it again.")
        ) from None


def _delimiter(header_line: str) -> str:
    """Comma, or semicolon (what spreadsheets write where the decimal mark is a comma): both are accepted."""
    commas, semicolons = header_line.count(","), header_line.count(";")
    if semicolons > commas:
        return ";"
    if commas:
        return ","
    raise FileRefused(
        gettext("The first line is not a header of comma- or semicolon-separated column names: %(line)s")
        % {"line": header_line[:200]}
    )


def _duration(text: str) -> int:
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(gettext("“%(value)s” is not a duration (use 12:30 or 12h30m)") % {"value": text})
    hours, minutes, h, m = match.groups()
    if hours is not None:
        return int(hours) * 60 + int(minutes)
    return int(h or 0) * 60 + int(m or 0)


def _amount(text: str) -> Decimal:
    if not _AMOUNT.fullmatch(text.strip()):
        raise ValueError(gettext("“%(value)s” is not an amount (use 100.00)") % {"value": text})
    return Decimal(text.strip())


def _date(text: str, today: datetime.date) -> datetime.date:
    try:
        value = datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(gettext("“%(value)s” is not a date (use YYYY-MM-DD)") % {"value": text}) from None
    try:
        check_date_in_range(value, field="date", today=today)
    except ValidationError as error:
        raise ValueError(error.message_dict["date"][0]) from None
    if len(text.strip()) != 10:  # fromisoformat also reads 20260101
        raise ValueError(gettext("“%(value)s” is not a date (use YYYY-MM-DD)") % {"value": text})
    return value


def _text(value: str, max_length: int) -> str:
    value = value.strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(gettext("Use one line of text, without line breaks, tabs or other control characters."))
    if len(value) > max_length:
        raise ValueError(gettext("At most %(max)s characters.") % {"max": max_length})
    return value


def _email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(gettext("“%(value)s” is not an email address") % {"value": value}) from None
    return value


def _contacts(value: str) -> list[tuple[str, str]]:
    if not value.strip():
        return []
    contacts = []
    for part in value.split("|"):
        match = _CONTACT.fullmatch(part)
        if not match:
            raise ValueError(gettext("“%(value)s” is not Name <email>") % {"value": part.strip()})
        email = _email(match["email"])
        if len(email) > 150:  # it becomes the contact's username
            raise ValueError(gettext("At most %(max)s characters.") % {"max": 150})
        contacts.append((_text(match["name"], 300), email))
    emails = [email.lower() for _, email in contacts]
    if len(set(emails)) != len(emails):
        raise ValueError(gettext("The same email is listed twice"))
    return contacts


def check_size(size: int) -> None:
    """Refuse a file over IMPORT_MAX_BYTES; the page calls it before reading the upload into memory."""
    if size > settings.IMPORT_MAX_BYTES:
        raise FileRefused(
            gettext("The file is %(size)s MB; at most %(max)s MB can be imported at once. Split it into smaller files.")
            % {"size": round(size / 1024 / 1024, 1), "max": round(settings.IMPORT_MAX_BYTES / 1024 / 1024, 1)}
        )


def parse(data: bytes) -> Parsed:
    """Read and check a whole file (see the module's docstring)."""
    check_size(len(data))
    text = decode(data)
    if not text.strip():
        raise FileRefused(gettext("The file is empty."))
    parsed = Parsed(delimiter=_delimiter(text.splitlines()[0]))
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=parsed.delimiter, strict=True))
    except csv.Error as error:
        raise FileRefused(gettext("The file is not valid CSV: %(error)s") % {"error": error}) from None
    header = [name.strip().lower() for name in records[0]]
    missing = [c.name for c in COLUMNS if c.required and c.name not in header]
    unknown = [name for name in header if name not in COLUMN_NAMES]
    doubled = sorted({name for name in header if header.count(name) > 1})
    if missing or unknown or doubled:
        problems = []
        if missing:
            problems.append(gettext("missing columns: %(names)s") % {"names": ", ".join(missing)})
        if unknown:
            problems.append(gettext("unknown columns: %(names)s") % {"names": ", ".join(unknown[:10])})
        if doubled:
            problems.append(gettext("columns given twice: %(names)s") % {"names": ", ".join(doubled)})
        raise FileRefused(
            gettext("The header does not match the template (%(problems)s). Expected: %(expected)s")
            % {"problems": "; ".join(problems), "expected": ",".join(COLUMN_NAMES)}
        )
    body = [(number, cells) for number, cells in enumerate(records[1:], start=2) if any(c.strip() for c in cells)]
    if len(body) > settings.IMPORT_MAX_ROWS:
        raise FileRefused(
            gettext(
                "The file has %(count)s rows; at most %(max)s can be imported at once. Split it into smaller files."
            )
            % {"count": len(body), "max": settings.IMPORT_MAX_ROWS}
        )
    if not body:
        raise FileRefused(gettext("The file has a header but no rows."))
    parsed.row_count = len(body)
    today = datetime.date.today()
    languages = {code for code, _ in settings.LANGUAGES}
    for number, cells in body:
        row = _parse_row(number, header, cells, today, languages, parsed.errors)
        if row is not None:
            parsed.rows.append(row)
    return parsed


def _parse_row(
    number: int, header: list[str], cells: list[str], today: datetime.date, languages: set[str], errors: list[CellError]
) -> Row | None:
    if len(cells) != len(header):
        errors.append(
            CellError(
                number,
                "-",
                gettext("%(found)s cells where the header has %(expected)s")
                % {"found": len(cells), "expected": len(header)},
            )
        )
        return None
    raw = dict(zip(header, cells, strict=True))
    found: dict[str, object] = {}
    before = len(errors)

    def check(name: str, read, default: object = None) -> None:  # noqa: ANN001
        value = raw.get(name, "")
        if value.lstrip(" ")[:1] in FORMULA_START:
            errors.append(
                CellError(
                    number,
                    name,
                    gettext("“%(value)s” starts like a spreadsheet formula; refused") % {"value": value[:40]},
                )
            )
            return
        column = next(c for c in COLUMNS if c.name == name)
        if not value.strip():
            if column.required:
                errors.append(CellError(number, name, gettext("required")))
                return
            found[name] = default
            return
        try:
            found[name] = read(value)
        except ValueError as error:
            errors.append(CellError(number, name, str(error)))

    def currency(value: str) -> str:
        if not _CURRENCY.fullmatch(value.strip().upper()):
            raise ValueError(gettext("“%(value)s” is not a three-letter currency code") % {"value": value})
        return value.strip().upper()

    def language(value: str) -> str:
        if value.strip().lower() not in languages:
            raise ValueError(
                gettext("“%(value)s” is not one of %(choices)s")
                % {"value": value, "choices": ", ".join(sorted(languages))}
            )
        return value.strip().lower()

    def overage(value: str) -> str:
        if value.strip().lower() not in OveragePolicy.values:
            raise ValueError(
                gettext("“%(value)s” is not one of %(choices)s")
                % {"value": value, "choices": ", ".join(OveragePolicy.values)}
            )
        return value.strip().lower()

    def term_end(value: str) -> datetime.date | None:
        return None if value.strip().lower() in _NONE else _date(value, today)

    def limited(value: str) -> int:
        minutes = _duration(value)
        if minutes > MAX_BLOCK_MINUTES:
            raise ValueError(gettext("At most %(hours)s hours") % {"hours": MAX_BLOCK_MINUTES // 60})
        return minutes

    check("external_id", lambda v: _text(v, 100), "")
    check("client_name", lambda v: _text(v, 200))
    check("billing_email", lambda v: _email(_text(v, 254)), "")
    check("contacts", _contacts, [])
    check("currency", currency)
    check("language", language, "")
    check("hourly_rate", _amount)
    check("agreement_name", lambda v: _text(v, 200))
    check("term_start", lambda v: _date(v, today), None)
    check("term_end", term_end, None)
    check("threshold", limited, None)
    check("overage_policy", overage, None)
    check("opening_balance", limited, 0)
    check("opening_rate", _amount, None)
    check("opening_expires_on", lambda v: _date(v, today), None)
    if len(errors) > before:
        return None
    start, end = found["term_start"], found["term_end"]
    if end is not None and end < (start or today):
        errors.append(CellError(number, "term_end", gettext("The agreement cannot end before it starts.")))
    if found["opening_balance"] and found["opening_rate"] is None:
        errors.append(CellError(number, "opening_rate", gettext("required with an opening balance")))
    if not found["opening_balance"] and (found["opening_rate"] is not None or found["opening_expires_on"]):
        errors.append(CellError(number, "opening_balance", gettext("empty, but a rate or expiry is given for it")))
    expires = found["opening_expires_on"]
    if expires is not None and expires < (start or today):
        errors.append(
            CellError(number, "opening_expires_on", gettext("The hours cannot expire before the agreement starts."))
        )
    if len(errors) > before:
        return None
    return Row(
        number=number,
        external_id=found["external_id"],
        client_name=found["client_name"],
        billing_email=found["billing_email"],
        contacts=found["contacts"],
        currency=found["currency"],
        language=found["language"],
        hourly_rate=found["hourly_rate"],
        agreement_name=found["agreement_name"],
        term_start=start,
        term_end=end,
        threshold_minutes=found["threshold"],
        overage_policy=found["overage_policy"],
        opening_minutes=found["opening_balance"],
        opening_rate=found["opening_rate"],
        opening_expires_on=expires,
    )


def template_csv() -> str:
    """The downloadable template: the header and example rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    writer.writerow([column.example for column in COLUMNS])
    writer.writerow(
        [
            "PSA-1002",
            "Acme Dental",
            "ap@acme.example",
            "",
            "USD",
            "en",
            "100.00",
            "Yearly block 2026",
            "2026-01-01",
            "2026-12-31",
            "3:00",
            "allow_negative",
            "4h15m",
            "95.00",
            "2026-12-31",
        ]
    )
    writer.writerow(
        [
            "",
            "Baker & Sons",
            "",
            "Carla Díaz <carla@baker.example>",
            "EUR",
            "it",
            "80.00",
            "Support",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    return out.getvalue()
