"""Importing clients in Chromium: upload, the dry run's preview, confirm; a
large file's progress bar, polled until a worker has imported it."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from agreements.models import Agreement, Client
from imports.models import ImportRun, ImportStatus
from imports.tasks import import_run_task
from imports.tests.helpers import csv_bytes, row
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)
# Set to a folder to keep PNGs of the pages for a look.
SHOTS = os.environ.get("BLOCKHOURS_IMPORT_SHOTS")


def shoot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _upload(page, url: str, tmp_path, data: bytes) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(data)
    page.goto(f"{url}/dashboard/imports/")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Check the file").click()


def test_staff_preview_then_import_a_file(live_server, page, staff, tmp_path):
    sign_in(page, live_server.url, staff.username)
    _upload(
        page,
        live_server.url,
        tmp_path,
        csv_bytes(row(external_id="PSA-1"), row(client_name="Birch Legal", contacts="", opening_balance="1,5h")),
    )
    expect(page.locator("#errors")).to_contain_text("row 3, opening_balance: “1,5h” is not a duration")
    expect(page.get_by_role("button", name="Import these rows")).to_have_count(0)
    shoot(page, "import-errors")

    _upload(
        page,
        live_server.url,
        tmp_path,
        csv_bytes(row(external_id="PSA-1"), row(client_name="Birch Legal", contacts="")),
    )
    expect(page.locator("#counts")).to_contain_text("Agreements to create: 2")
    expect(page.locator("#lines")).to_contain_text("12 h 30 min @ 90.00")
    shoot(page, "import-preview")
    assert not Client.objects.exists()
    page.get_by_role("button", name="Import these rows").click()
    expect(page.locator("#run-done")).to_contain_text("Imported.")
    shoot(page, "import-done")
    assert Agreement.objects.filter(balance_minutes=750).count() == 2


def test_a_large_import_shows_its_progress(live_server, page, staff, tmp_path, settings, monkeypatch):
    settings.IMPORT_INLINE_MAX_ROWS = 2
    monkeypatch.setattr(import_run_task, "delay", lambda run_id: None)  # queued; the test plays the worker
    sign_in(page, live_server.url, staff.username)
    rows = [row(client_name=f"Client {n}", contacts="", external_id=f"X-{n}") for n in range(3)]
    _upload(page, live_server.url, tmp_path, csv_bytes(*rows))
    page.get_by_role("button", name="Import these rows").click()
    expect(page.get_by_role("progressbar")).to_be_visible()
    shoot(page, "import-progress")
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.QUEUED

    import_run_task.apply(args=[run.pk])  # the worker

    # The page polls the status and reloads when it has finished.
    expect(page.locator("#run-done")).to_contain_text("Imported.", timeout=10_000)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    assert Client.objects.count() == 3
