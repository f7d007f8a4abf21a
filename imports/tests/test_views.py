from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agreements.models import Agreement, Client, LedgerEntry
from imports.models import ImportRun, ImportStatus
from imports.parsing import COLUMN_NAMES
from imports.tests.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def _upload(client, data: bytes, name: str = "clients.csv"):
    return client.post(reverse("imports:upload"), {"file": SimpleUploadedFile(name, data, "text/csv")})


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_it_previews_then_imports_on_confirmation(staff_client, staff):
    response = _upload(
        staff_client,
        csv_bytes(row(external_id="PSA-1"), row(agreement_name="Second", opening_balance="", opening_rate="")),
    )
    run = ImportRun.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("imports:run", args=[run.public_id])
    assert run.status == ImportStatus.PREVIEWED and run.created_by == staff
    assert not Client.objects.exists()  # a dry run writes nothing

    page = staff_client.get(response["Location"])
    assert page.status_code == HTTPStatus.OK
    assert "Agreements to create: 2" in page.content.decode()
    assert "Import these rows" in page.content.decode()

    confirmed = staff_client.post(reverse("imports:confirm", args=[run.public_id]))
    assert confirmed.status_code == HTTPStatus.FOUND
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE and run.confirmed_by == staff
    assert Agreement.objects.count() == 2
    assert Agreement.objects.get(name="Prepaid support hours").balance_minutes == 750
    # A second confirmation does nothing.
    staff_client.post(reverse("imports:confirm", args=[run.public_id]))
    assert LedgerEntry.objects.count() == 1


def test_errors_are_listed_by_row_and_column_and_cannot_be_confirmed(staff_client):
    _upload(staff_client, csv_bytes(row(), row(agreement_name="Other", opening_balance="1,5h")))
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.INVALID

    page = staff_client.get(reverse("imports:run", args=[run.public_id])).content.decode()
    assert "row 3, opening_balance: “1,5h” is not a duration (use 12:30 or 12h30m)" in page.replace(
        "&ldquo;", "“"
    ).replace("&rdquo;", "”")
    assert "Import these rows" not in page
    staff_client.post(reverse("imports:confirm", args=[run.public_id]))
    assert not Client.objects.exists()


def test_a_large_file_runs_in_a_task_with_progress(staff_client, settings, django_capture_on_commit_callbacks):
    settings.IMPORT_INLINE_MAX_ROWS = 2
    settings.CELERY_TASK_ALWAYS_EAGER = True
    rows = [row(client_name=f"Client {n}", contacts="", external_id=f"X-{n}") for n in range(3)]
    _upload(staff_client, csv_bytes(*rows))
    run = ImportRun.objects.get()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        staff_client.post(reverse("imports:confirm", args=[run.public_id]))
    run.refresh_from_db()
    assert run.status == ImportStatus.QUEUED
    assert not Client.objects.exists()
    status = staff_client.get(reverse("imports:status", args=[run.public_id])).json()
    assert (status["status"], status["done"], status["total"], status["percent"], status["finished"]) == (
        "queued",
        0,
        3,
        0,
        False,
    )
    page = staff_client.get(reverse("imports:run", args=[run.public_id])).content.decode()
    assert f'data-import-status="{reverse("imports:status", args=[run.public_id])}"' in page

    from imports.tasks import import_run_task

    assert len(callbacks) == 1
    import_run_task.apply(args=[run.pk])
    import_run_task.apply(args=[run.pk])  # delivered twice: runs once
    status = staff_client.get(reverse("imports:status", args=[run.public_id])).json()
    assert (status["status"], status["done"], status["percent"], status["finished"]) == ("done", 3, 100, True)
    assert Client.objects.count() == 3 and LedgerEntry.objects.count() == 3


def test_something_changed_since_the_dry_run_fails_and_writes_nothing(staff_client):
    _upload(staff_client, csv_bytes(row(client_name="Harbor Vet"), row(client_name="Other Co", contacts="")))
    run = ImportRun.objects.get()
    from agreements.tests.factories import UserFactory

    UserFactory(username="nora@harbor.example")  # a technician took the contact's address meanwhile

    staff_client.post(reverse("imports:confirm", args=[run.public_id]))
    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert "nora@harbor.example already signs in" in run.error
    assert not Client.objects.exists()


def test_the_template_downloads_with_every_column(staff_client):
    response = staff_client.get(reverse("imports:template"))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == ",".join(COLUMN_NAMES)
    assert len(lines) == 4


def test_the_template_imports_cleanly(staff_client):
    template = staff_client.get(reverse("imports:template")).content
    _upload(staff_client, template)
    run = ImportRun.objects.get()
    assert run.preview["errors"] == []
    assert run.preview["counts"]["create"] == 3


@pytest.mark.parametrize("who", ["alice", "technician"])
def test_only_staff_reach_the_import_pages(client, request, who, staff):
    from imports.services import import_upload

    run = import_upload(filename="a.csv", data=csv_bytes(row()), actor=staff)
    client.force_login(request.getfixturevalue(who))
    for name, args in [
        ("imports:upload", []),
        ("imports:template", []),
        ("imports:run", [run.public_id]),
        ("imports:status", [run.public_id]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == HTTPStatus.NOT_FOUND
    assert client.post(reverse("imports:confirm", args=[run.public_id])).status_code == HTTPStatus.NOT_FOUND
    assert _upload(client, csv_bytes(row())).status_code == HTTPStatus.NOT_FOUND
    run.refresh_from_db()
    assert run.status == ImportStatus.PREVIEWED
    assert not Client.objects.filter(name="Harbor Vet").exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("imports:upload"))
    assert response.status_code == HTTPStatus.FOUND and "login" in response["Location"]
