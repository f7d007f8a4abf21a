"""Staff edit a client's details; the currency is fixed once money exists in it."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils.translation import override

from agreements.models import Client
from agreements.tests.factories import ClientFactory
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def _url(client: Client) -> str:
    return reverse("dashboard:client_edit", args=[client.public_id])


def _form(client: Client, **changes: str) -> dict[str, str]:
    data = {
        "name": client.name,
        "hourly_rate": str(client.hourly_rate),
        "currency": client.currency,
        "billing_name": client.billing_name,
        "billing_email": client.billing_email,
        "billing_address": client.billing_address,
        "language": client.language,
    }
    return {**data, **changes}


def _row(client: Client) -> tuple:
    return tuple(
        Client.objects.filter(pk=client.pk).values_list(
            "name", "hourly_rate", "currency", "billing_name", "billing_email", "billing_address", "language"
        )[0]
    )


def test_it_shows_the_form_prefilled_and_linked_from_the_client_page(client, staff, client_a):
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[client_a.public_id])).content.decode()
    assert f'href="{_url(client_a)}"' in page
    response = client.get(_url(client_a))
    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert form["name"].value() == "Acme Dental"
    assert form["billing_email"].value() == "billing@acme-dental.example"
    assert form["currency"].value() == "USD"
    assert "future sales only" in str(form["hourly_rate"].help_text)


def test_it_stores_the_changes_and_records_exactly_what_changed(client, staff, client_a):
    client.force_login(staff)
    response = client.post(
        _url(client_a), _form(client_a, name="Acme Dental Group", billing_email="ap@acme.example", language="it")
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("dashboard:client", args=[client_a.public_id])
    client_a.refresh_from_db()
    assert (client_a.name, client_a.billing_email, client_a.language) == (
        "Acme Dental Group",
        "ap@acme.example",
        "it",
    )
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.CLIENT_UPDATE
    assert event.actor == staff and event.client == client_a
    assert (event.target_type, event.target_id) == ("client", str(client_a.public_id))
    assert event.before == {
        "name": "Acme Dental",
        "billing_email": "billing@acme-dental.example",
        "language": "en",
    }
    assert event.after == {"name": "Acme Dental Group", "billing_email": "ap@acme.example", "language": "it"}
    assert event.summary == "Changed the details of Acme Dental Group: name, billing email, language"


def test_it_records_nothing_when_nothing_changed(client, staff, client_a):
    client.force_login(staff)
    response = client.post(_url(client_a), _form(client_a))
    assert response.status_code == HTTPStatus.FOUND
    assert not AuditEvent.objects.exists()


def test_it_refuses_another_clients_name_in_any_case_and_changes_nothing(client, staff, client_a, client_b):
    client.force_login(staff)
    before = _row(client_a)
    with override("en"):
        response = client.post(_url(client_a), _form(client_a, name="BIRCH legal", billing_email="x@y.example"))
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["name"] == ["A client named “BIRCH legal” already exists."]
    assert _row(client_a) == before
    assert not AuditEvent.objects.exists()


def test_it_lets_a_client_change_the_case_of_its_own_name(client, staff, client_a):
    client.force_login(staff)
    client.post(_url(client_a), _form(client_a, name="ACME Dental"))
    client_a.refresh_from_db()
    assert client_a.name == "ACME Dental"


def test_it_refuses_a_currency_change_once_the_client_has_a_block(client, staff, funded):
    client_a = funded.client
    client.force_login(staff)
    before = _row(client_a)
    with override("en"):
        response = client.post(_url(client_a), _form(client_a, currency="eur", hourly_rate="150.00"))
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["currency"] == [
        "The currency cannot change once the client has blocks or invoices: their amounts are in USD."
    ]
    assert "their amounts are in USD" in response.content.decode()
    assert _row(client_a) == before
    assert not AuditEvent.objects.filter(action=AuditAction.CLIENT_UPDATE).exists()


def test_it_changes_the_rate_but_not_the_blocks_already_sold(client, staff, funded):
    block = funded.blocks.get()
    client.force_login(staff)
    client.post(_url(funded.client), _form(funded.client, hourly_rate="150.00"))
    funded.client.refresh_from_db()
    block.refresh_from_db()
    assert funded.client.hourly_rate == Decimal("150.00")
    assert block.rate == Decimal("100.00") and block.currency == "USD"
    event = AuditEvent.objects.get(action=AuditAction.CLIENT_UPDATE)
    assert (event.before, event.after) == ({"hourly_rate": "100.00"}, {"hourly_rate": "150.00"})


def test_it_allows_a_currency_change_before_any_block(client, staff, agreement):
    client_a = agreement.client
    client.force_login(staff)
    response = client.post(_url(client_a), _form(client_a, currency="eur"))
    assert response.status_code == HTTPStatus.FOUND
    client_a.refresh_from_db()
    assert client_a.currency == "EUR"
    event = AuditEvent.objects.get()
    assert (event.before, event.after) == ({"currency": "USD"}, {"currency": "EUR"})


@pytest.mark.parametrize("who", ["charlie", "technician"])
def test_it_answers_404_to_anyone_but_staff_and_changes_nothing(client, request, who, client_a):
    client.force_login(request.getfixturevalue(who))
    before = _row(client_a)
    assert client.get(_url(client_a)).status_code == HTTPStatus.NOT_FOUND
    response = client.post(_url(client_a), _form(client_a, name="Hijacked", currency="EUR"))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert _row(client_a) == before
    assert not AuditEvent.objects.exists()


def test_it_answers_404_for_an_unknown_client(client, staff):
    client.force_login(staff)
    other = ClientFactory.build()
    assert client.get(_url(other)).status_code == HTTPStatus.NOT_FOUND
