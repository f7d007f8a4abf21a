import pytest
from django.core.management import CommandError, call_command

from agreements.models import Agreement, Client, LedgerEntry
from imports.tests.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_bytes(row(external_id="PSA-1"), row(client_name="Birch Legal", contacts="")))
    return path


def test_it_is_a_dry_run_by_default(csv_file, capsys):
    call_command("import_clients", str(csv_file))
    out = capsys.readouterr().out
    assert out.startswith("Dry run: 2 rows: 2 to create, 0 to update, 0 unchanged; 2 new clients, 1 new contacts")
    assert not Client.objects.exists()


def test_it_imports_with_commit_and_twice_changes_nothing(csv_file, capsys):
    call_command("import_clients", str(csv_file), "--commit")
    assert (
        "Imported: 2 agreements created, 0 updated, 0 unchanged; 2 opening balances (1500 min)."
        in capsys.readouterr().out
    )
    assert Agreement.objects.count() == 2 and LedgerEntry.objects.count() == 2
    call_command("import_clients", str(csv_file), "--commit")
    assert "Imported: 0 agreements created, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert LedgerEntry.objects.count() == 2


def test_it_lists_errors_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(row(opening_balance="1,5h")))
    with pytest.raises(CommandError, match="1 errors. Nothing imported."):
        call_command("import_clients", str(path), "--commit")
    assert "row 2, opening_balance: “1,5h” is not a duration" in capsys.readouterr().err
    assert not Client.objects.exists()


def test_it_refuses_an_unreadable_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("x".encode("utf-16"))
    with pytest.raises(CommandError, match="not a text CSV file"):
        call_command("import_clients", str(path))
