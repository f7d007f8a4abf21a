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

from agreements import services
from agreements.tests.factories import TicketFactory, tier, work_type
from portal.models import HoursRequest
from ui.csv import safe_cell
from ui.tests.fixtures import expiry_sentence, log_entries

pytestmark = pytest.mark.django_db
HOME = reverse("portal:home")


def test_alice_sees_her_balance_runway_and_chart(client, alice, entry):
    client.force_login(alice)
    response = client.get(HOME)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "8 h 30 min" in page  # 10 h − 1 h 30 min
    card = response.context["cards"][0]
    assert card.runway.burn_per_week == 90 // 8
    assert card.runway.runs_out_on == timezone.localdate() + datetime.timedelta(days=510 * 56 // 90)
    assert "<svg" in page and "burn-down" in page
    assert alice.email in page  # billing contacts


def test_bob_her_colleague_sees_the_same(client, bob, entry):
    client.force_login(bob)
    assert "8 h 30 min" in client.get(HOME).content.decode()


def test_agreement_page_shows_blocks_and_usage(client, alice, entry):
    client.force_login(alice)
    response = client.get(reverse("portal:agreement", args=[entry.agreement.public_id]))
    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "10-hour support block" in page and "$1,000.00" in page
    assert f"#{entry.ticket.number}" in page and "1 h 30 min" in page


def test_usage_filters_by_date(client, alice, entry):
    client.force_login(alice)
    url = reverse("portal:agreement", args=[entry.agreement.public_id])
    today = timezone.localdate().isoformat()
    response = client.get(url, {"start": today})
    assert list(response.context["page"]) == []
    response = client.get(url, {"start": entry.work_date.isoformat(), "end": today})
    assert list(response.context["page"]) == [entry]
    response = client.get(url, {"start": today, "end": "2000-01-01"})
    assert "The end date is before the start date" in response.content.decode()


def test_csv_export_neutralises_formulas(client, alice, funded, technician):
    ticket = TicketFactory(client=funded.client, subject='=HYPERLINK("http://evil")')
    services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=30,
        work_type=work_type(),
        notes="@SUM(A1:A9)",
    )
    client.force_login(alice)
    response = client.get(reverse("portal:usage_csv", args=[funded.public_id]))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "Date"
    assert rows[1][3] == '\'=HYPERLINK("http://evil")'
    assert rows[1][7] == "'@SUM(A1:A9)"
    assert rows[1][5:7] == ["30", "30"]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_safe_cell_prefixes_formula_starts(value):
    assert safe_cell(value) == "'" + value


def test_safe_cell_keeps_plain_text():
    assert safe_cell("Printer offline") == "Printer offline"
    assert safe_cell(None) == ""


def test_safe_cell_writes_numbers_as_they_are():
    """A negative amount is a number, not a formula: accounting imports need `-840.00`."""
    assert safe_cell(Decimal("-840.00")) == "-840.00"
    assert safe_cell(-30) == "-30"
    assert safe_cell("-30") == "'-30"  # text stays guarded


def test_alice_asks_for_more_hours_and_staff_see_it(client, alice, staff, funded):
    client.force_login(alice)
    url = reverse("portal:buy", args=[funded.public_id])
    page = client.get(url).content.decode()
    assert "$1,800.00" in page  # 20 h at $90
    response = client.post(url, {"tier": tier(20).pk, "note": "PO 123"})
    assert response.status_code == HTTPStatus.FOUND
    request = HoursRequest.objects.get()
    assert request.agreement == funded and request.requested_by == alice
    client.force_login(staff)
    page = client.get(reverse("dashboard:home")).content.decode()
    assert "asks for a <strong>20-hour block</strong>" in page


def test_a_bad_request_changes_nothing(client, alice, funded):
    client.force_login(alice)
    response = client.post(reverse("portal:buy", args=[funded.public_id]), {"tier": "999999"})
    assert response.status_code == HTTPStatus.OK
    assert "Select a valid choice" in response.content.decode()
    assert not HoursRequest.objects.exists()


def test_charlie_sees_nothing_of_alices_client(client, charlie, charlies_agreement, entry):
    client.force_login(charlie)
    page = client.get(HOME).content.decode()
    assert "Acme Dental" not in page
    for name in ("portal:agreement", "portal:usage_csv", "portal:buy"):
        url = reverse(name, args=[entry.agreement.public_id])
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND
        assert client.post(url, {"tier": tier(10).pk}).status_code == HTTPStatus.NOT_FOUND
    assert not HoursRequest.objects.exists()


def test_malformed_ids_are_404(client, alice):
    client.force_login(alice)
    assert client.get(reverse("portal:agreement", args=["not-a-uuid"])).status_code == HTTPStatus.NOT_FOUND


def test_staff_and_technicians_do_not_use_the_portal(client, staff, technician):
    for user in (staff, technician):
        client.force_login(user)
        assert client.get(HOME).status_code == HTTPStatus.NOT_FOUND


def test_portal_query_count_does_not_grow(client, alice, funded, technician):
    client.force_login(alice)
    urls = [
        HOME,
        reverse("portal:agreement", args=[funded.public_id]),
        reverse("portal:usage_csv", args=[funded.public_id]),
    ]
    log_entries(funded, technician, 5)
    with CaptureQueriesContext(connection) as few:
        for url in urls:
            assert client.get(url).status_code == HTTPStatus.OK
    log_entries(funded, technician, 200, minutes=1)
    with CaptureQueriesContext(connection) as many:
        for url in urls:
            assert client.get(url).status_code == HTTPStatus.OK
    assert len(many) == len(few)


def test_a_client_user_without_a_client_gets_404(client):
    from accounts.models import Role
    from agreements.tests.factories import UserFactory

    client.force_login(UserFactory(username="orphan", role=Role.CLIENT))
    assert client.get(HOME).status_code == HTTPStatus.NOT_FOUND


def test_alice_is_told_which_hours_will_expire_unused(client, alice, expiring):
    client.force_login(alice)
    on = timezone.localdate() + datetime.timedelta(days=20)
    sentence = expiry_sentence("10 h 45 min", on)
    home = client.get(HOME)
    assert sentence in home.content.decode()
    card = home.context["cards"][0]
    assert (card.runway.days, card.runway.runs_out_on, card.runway.expiring_unused_minutes) == (20, on, 645)
    detail = client.get(reverse("portal:agreement", args=[expiring.public_id])).content.decode()
    assert sentence in detail


def test_hours_used_in_time_bring_no_warning(client, alice, entry):
    client.force_login(alice)
    assert "will expire on" not in client.get(HOME).content.decode()


def test_charlie_sees_nothing_of_alices_expiring_hours(client, charlie, charlies_agreement, expiring):
    client.force_login(charlie)
    home = client.get(HOME)
    assert home.status_code == HTTPStatus.OK
    page = home.content.decode()
    assert "will expire on" not in page and "10 h 45 min" not in page
    assert [card.agreement for card in home.context["cards"]] == [charlies_agreement]
    detail = client.get(reverse("portal:agreement", args=[expiring.public_id]))
    assert detail.status_code == HTTPStatus.NOT_FOUND
    assert "will expire" not in detail.content.decode()
