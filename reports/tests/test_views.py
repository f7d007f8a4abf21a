import csv
import datetime
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements.models import Block, LedgerEntry, LedgerKind, TimeEntry
from agreements.tests.factories import AgreementFactory, ClientFactory, TechnicianFactory, TicketFactory, work_type
from reports.models import ClientProfile

PAGES = ["reports:index", "reports:revenue", "reports:usage", "reports:runway", "reports:cash", "reports:msa"]
REPORTS = PAGES[1:]
PERIOD = {"first": "2026-01", "last": "2026-03"}


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("page", PAGES)
def test_it_shows_each_report_to_staff(client, staff, dataset, page):
    client.force_login(staff)
    response = client.get(reverse(page), PERIOD)
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("page", PAGES)
def test_it_refuses_technicians_and_client_contacts(client, technician, alice, page):
    for user in (technician, alice):
        client.force_login(user)
        assert client.get(reverse(page)).status_code == HTTPStatus.NOT_FOUND
        assert client.get(reverse(page), {"format": "csv"}).status_code == HTTPStatus.NOT_FOUND


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("reports:revenue"))
    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]


def test_it_exports_deferred_revenue_and_months_as_csv(client, staff, dataset):
    client.force_login(staff)
    rows = _csv(client.get(reverse("reports:revenue"), {"as_of": "2026-01-31", "format": "csv"}))
    assert rows == [
        ["Client", "Currency", "Unused minutes", "Deferred revenue"],
        ["Acme Dental", "USD", "480", "800.00"],
        ["Birch Legal", "USD", "480", "960.00"],
    ]
    months = _csv(client.get(reverse("reports:revenue"), {**PERIOD, "format": "csv", "table": "months"}))
    assert months[0][4:11] == [
        "Recognised", "Breakage", "Cancelled", "Refunded", "Closing deferred", "Minutes recognised",
        "Minutes expired or forfeited",
    ]  # fmt: skip
    assert months[2][:9] == ["2026-02", "USD", "1760.00", "1800.00", "840.00", "960.00", "0.00", "0.00", "1760.00"]


def test_it_shows_the_deferred_total_on_the_page(client, staff, dataset):
    client.force_login(staff)
    response = client.get(reverse("reports:revenue"), {**PERIOD, "as_of": "2026-02-28"})
    assert b'data-testid="deferred-total">$1,760.00<' in response.content
    assert b"<svg" in response.content


def test_it_exports_usage_cash_runway_and_msa_as_csv(client, staff, dataset):
    client.force_login(staff)
    usage = _csv(client.get(reverse("reports:usage"), {**PERIOD, "by": "work_type", "format": "csv"}))
    assert ["2026-02", "Non-billable", "1", "0", "0", "45"] in usage
    cash = _csv(client.get(reverse("reports:cash"), {**PERIOD, "format": "csv"}))
    assert cash[2][:7] == ["2026-02", "USD", "1", "1800.00", "700.00", "2300.00", "2300.00"]
    assert _csv(client.get(reverse("reports:runway"), {"format": "csv"}))[0][0] == "Client"
    assert _csv(client.get(reverse("reports:msa"), {"format": "csv"}))[0][0] == "Client"


def test_it_neutralises_formulas_in_csv_cells(client, staff):
    evil = ClientFactory(name='=HYPERLINK("http://evil.example","x")')
    agreement = AgreementFactory(client=evil)
    block = Block.objects.create(
        agreement=agreement, minutes=600, rate=Decimal("100.00"), amount=Decimal("1000.00"), currency="USD"
    )
    LedgerEntry.objects.create(agreement=agreement, block=block, kind=LedgerKind.PURCHASE, minutes=600)
    tech = TechnicianFactory(username="mallory", first_name="+SUM(A1)", last_name="")
    TimeEntry.objects.create(
        agreement=agreement,
        ticket=TicketFactory(client=evil),
        technician=tech,
        work_date=agreement.starts_on.replace(year=agreement.starts_on.year + 1),
        minutes=30,
        work_type=work_type("Normal"),
        charged_minutes=30,
    )
    client.force_login(staff)
    rows = _csv(client.get(reverse("reports:revenue"), {"format": "csv"}))
    assert rows[1][0] == '\'=HYPERLINK("http://evil.example","x")'
    usage = _csv(client.get(reverse("reports:usage"), {"by": "technician", "format": "csv"}))
    assert usage[1][1] == "'+SUM(A1)"


def test_it_saves_a_clients_seats(client, staff, client_a):
    client.force_login(staff)
    response = client.post(reverse("reports:msa"), {"client": client_a.public_id, "seats": "12"})
    assert response.status_code == HTTPStatus.FOUND
    assert ClientProfile.objects.get(client=client_a).seats == 12
    client.post(reverse("reports:msa"), {"client": client_a.public_id, "seats": "-3"})
    assert ClientProfile.objects.get(client=client_a).seats == 12


def _grow(n: int, *, start: int) -> None:
    """n more clients, each with an agreement, a block, a debit and a time entry."""
    tech = TechnicianFactory(username="bulk")
    for i in range(start, start + n):
        c = ClientFactory(name=f"Bulk {i:04d}")
        agreement = AgreementFactory(client=c)
        block = Block.objects.create(
            agreement=agreement, minutes=600, rate=Decimal("95.55"), amount=Decimal("955.50"), currency="USD"
        )
        LedgerEntry.objects.create(agreement=agreement, block=block, kind=LedgerKind.PURCHASE, minutes=600)
        LedgerEntry.objects.create(agreement=agreement, block=block, kind=LedgerKind.DEBIT, minutes=-7)
        TimeEntry.objects.create(
            agreement=agreement,
            ticket=TicketFactory(client=c),
            technician=tech,
            work_date=agreement.starts_on.replace(year=agreement.starts_on.year + 1),
            minutes=7,
            work_type=work_type("Normal"),
            charged_minutes=7,
        )
        ClientProfile.objects.create(client=c, seats=i % 5)


def _queries(client, page: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse(page), params).status_code == HTTPStatus.OK
    return len(context)


@pytest.mark.parametrize("page", REPORTS)
def test_it_costs_the_same_queries_for_5_or_200_clients(client, staff, page):
    client.force_login(staff)
    client.get(reverse(page))  # the first request after signing in starts the idle clock (a session write)
    variants = ({}, {"format": "csv"})
    _grow(5, start=0)
    small = [_queries(client, page, params) for params in variants]
    _grow(195, start=5)
    large = [_queries(client, page, params) for params in variants]
    assert small == large
    assert max(large) <= 10  # session, user, the report's grouped queries


def test_it_caps_long_tables_and_points_to_the_csv(client, staff, dataset, monkeypatch):
    from reports import views

    monkeypatch.setattr(views, "ROW_LIMIT", 1)
    client.force_login(staff)
    page = client.get(reverse("reports:revenue"), {"as_of": "2026-01-31"})
    assert b"1 more client: download the CSV" in page.content
    assert len(_csv(client.get(reverse("reports:revenue"), {"as_of": "2026-01-31", "format": "csv"}))) == 3
    usage = client.get(reverse("reports:usage"), PERIOD)
    assert b"2 more rows: download the CSV" in usage.content


def test_it_filters_reports_by_client_name(client, staff, dataset):
    client.force_login(staff)
    rows = _csv(client.get(reverse("reports:revenue"), {"as_of": "2026-01-31", "client": "birch", "format": "csv"}))
    assert rows[1:] == [["Birch Legal", "USD", "480", "960.00"]]
    usage = _csv(client.get(reverse("reports:usage"), {**PERIOD, "client": "acme", "format": "csv"}))
    assert {row[1] for row in usage[1:]} == {"Acme Dental"}


def test_the_msa_page_has_a_seats_form_per_client(client, staff, dataset):
    ClientProfile.objects.create(client=dataset.acme, seats=4)  # listed without recent spend: it has seats
    client.force_login(staff)
    response = client.get(reverse("reports:msa"))
    assert f'name="client" value="{dataset.acme.public_id}"'.encode() in response.content


def test_the_runway_report_shows_hours_expiring_unused(client, staff, expiring):
    client.force_login(staff)
    on = timezone.localdate() + datetime.timedelta(days=20)
    page = client.get(reverse("reports:runway")).content.decode()
    assert 'data-expiring-minutes="645"' in page and "10 h 45 min" in page
    rows = _csv(client.get(reverse("reports:runway"), {"format": "csv"}))
    assert rows[0][-4:] == ["Runway (days)", "Runs out on", "Expiring unused (min)", "First expiry unused on"]
    assert rows[1][0] == "Acme Dental" and rows[1][-4:] == ["20", on.isoformat(), "645", on.isoformat()]
