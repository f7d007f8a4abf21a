"""Hostile files: refused with a clear message, nothing written."""

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agreements.models import Client
from imports.models import ImportRun
from imports.parsing import FileRefused, parse
from imports.services import import_plan
from imports.tests.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def _errors(data: bytes) -> list[str]:
    return [str(e) for e in import_plan(parse(data)).errors]


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_utf8_with_and_without_bom_and_windows_1252_read_the_same():
    cells = row(client_name="Café Müller", contacts="José Núñez <jose@cafe.example>")
    for data in (csv_bytes(cells), csv_bytes(cells, bom=True), csv_bytes(cells, encoding="cp1252")):
        parsed = parse(data)
        assert parsed.errors == []
        assert parsed.rows[0].client_name == "Café Müller"
        assert parsed.rows[0].contacts == [("José Núñez", "jose@cafe.example")]


def test_semicolon_delimited_files_are_detected_and_accepted():
    parsed = parse(csv_bytes(row(), delimiter=";"))
    assert parsed.delimiter == ";"
    assert parsed.errors == [] and parsed.rows[0].opening_minutes == 750


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("ｃlient".encode("utf-16"), "not a text CSV file"),
        (b"client_name,currency\r\n\x81\x8d,USD\r\n", "neither UTF-8 nor Windows-1252"),
        (b"", "The file is empty."),
        (b"just some words\r\n", "not a header of comma- or semicolon-separated"),
        (b"client_name,currency,hourly_rate\r\n", "missing columns: agreement_name"),
        (b"client_name,currency,hourly_rate,agreement_name,password\r\nA,USD,1,B,x\r\n", "unknown columns: password"),
        (b"client_name,currency,hourly_rate,agreement_name\r\n", "a header but no rows"),
        (b'client_name,currency,hourly_rate,agreement_name\r\n"A,USD,1,B\r\n', "not valid CSV"),
    ],
)
def test_unreadable_files_are_refused_whole(data, message):
    with pytest.raises(FileRefused, match=message):
        parse(data)


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", " =1+1"])
def test_formula_cells_are_refused(formula):
    errors = _errors(csv_bytes(row(client_name=formula)))
    assert len(errors) == 1 and errors[0].startswith("row 2, client_name: ")
    assert "starts like a spreadsheet formula; refused" in errors[0]


def test_duplicate_rows_are_refused():
    assert _errors(csv_bytes(row(external_id="A"), row(external_id="A"))) == [
        "row 3, external_id: the same agreement as row 2 (duplicate row)"
    ]


def test_too_many_rows_are_refused(settings):
    settings.IMPORT_MAX_ROWS = 2
    with pytest.raises(FileRefused, match="at most 2 can be imported"):
        parse(csv_bytes(*[row(agreement_name=f"A{n}") for n in range(3)]))


def test_a_50_mb_file_is_refused_before_it_is_read(staff_client):
    data = csv_bytes(row()) + b"," * (50 * 1024 * 1024)
    response = staff_client.post(reverse("imports:upload"), {"file": SimpleUploadedFile("big.csv", data, "text/csv")})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "The file is 50.0 MB; at most 10.0 MB can be imported at once." in response.content.decode()
    assert not ImportRun.objects.exists() and not Client.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        "x".encode("utf-16"),
        csv_bytes(row(client_name="=cmd|' /C calc'!A0")),
        csv_bytes(row(), row()),
        b"\x81\x8d\x8f",
    ],
)
def test_the_page_refuses_hostile_files_and_writes_nothing(staff_client, data):
    response = staff_client.post(reverse("imports:upload"), {"file": SimpleUploadedFile("x.csv", data, "text/csv")})
    if response.status_code == HTTPStatus.FOUND:  # read, with errors: shown, not importable
        run = ImportRun.objects.get()
        assert run.preview["errors"]
        staff_client.post(reverse("imports:confirm", args=[run.public_id]))
    else:
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert not ImportRun.objects.exists()
    assert not Client.objects.exists()
