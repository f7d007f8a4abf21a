"""Building import files in tests."""

import csv
import io

from imports.parsing import COLUMN_NAMES


def row(**cells: str) -> dict[str, str]:
    base = {
        "external_id": "",
        "client_name": "Harbor Vet",
        "billing_email": "ap@harbor.example",
        "contacts": "Nora Fox <nora@harbor.example>",
        "currency": "USD",
        "language": "en",
        "hourly_rate": "100.00",
        "agreement_name": "Prepaid support hours",
        "term_start": "2026-01-01",
        "term_end": "none",
        "threshold": "2:00",
        "overage_policy": "reject",
        "opening_balance": "12:30",
        "opening_rate": "90.00",
        "opening_expires_on": "",
    }
    return {**base, **cells}


def csv_bytes(*rows: dict[str, str], delimiter: str = ",", encoding: str = "utf-8", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    for cells in rows:
        writer.writerow([cells[name] for name in COLUMN_NAMES])
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data
