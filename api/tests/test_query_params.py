"""A misspelt filter must not return everything as if it had matched: every
list endpoint answers 400 naming a query parameter it does not know, and takes
every parameter its schema documents (plus `format`)."""

from http import HTTPStatus

import pytest
from drf_spectacular.generators import SchemaGenerator

from agreements.tests.factories import tier
from billing.services import invoice_sell_block
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def _list_endpoints() -> list[tuple[str, list[str]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    endpoints = []
    for path, operations in schema["paths"].items():
        parameters = [p["name"] for p in operations.get("get", {}).get("parameters", []) if p["in"] == "query"]
        if "page" in parameters:  # paginated: a list
            endpoints.append((path, parameters))
    return endpoints


LISTS = _list_endpoints()


@pytest.fixture
def urls(funded, staff, seller, client_a):
    invoice = invoice_sell_block(agreement=funded, actor=staff, tier=tier(10))
    hook = endpoint_create(url="http://127.0.0.1:9/hook", events=["invoice.paid"], actor=staff).endpoint
    ids = {
        "agreements": funded.public_id,
        "clients": client_a.public_id,
        "invoices": invoice.public_id,
        "webhook-endpoints": hook.public_id,
    }
    return lambda path: path.replace("{id}", str(ids[path.split("/")[3]])) if "{id}" in path else path


def test_it_knows_the_list_endpoints():
    # With business hours, holidays, timers, questions, estimates and the webhooks' endpoints, deliveries and events.
    assert len(LISTS) == 21


@pytest.mark.parametrize(("path", "parameters"), LISTS, ids=[path for path, _ in LISTS])
def test_an_unknown_query_parameter_is_a_400_naming_it(staff_api, urls, path, parameters):
    response = staff_api.get(urls(path), {"stauts": "issued", "page_size": "10"})
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content[:300]
    assert response.json() == {
        "status": 400,
        "code": "invalid",
        "message": "stauts: Unknown query parameter. Known: " + ", ".join(sorted({*parameters, "format"})) + ".",
        "fields": {"stauts": ["Unknown query parameter. Known: " + ", ".join(sorted({*parameters, "format"})) + "."]},
    }


@pytest.mark.parametrize(("path", "parameters"), LISTS, ids=[path for path, _ in LISTS])
def test_the_documented_parameters_are_all_taken(staff_api, urls, path, parameters):
    response = staff_api.get(urls(path), {"page": "1", "page_size": "10", "format": "json"})
    assert response.status_code == HTTPStatus.OK, response.content[:300]


@pytest.mark.parametrize("page", ["", "0", "-1", "one", "1.5"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_400(staff_api, urls, page):
    response = staff_api.get(urls("/api/v1/credit-notes/"), {"page": page})
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content[:300]
    assert response.json()["fields"] == {"page": ["A whole number from 1."]}


def test_a_page_beyond_the_last_is_a_404(staff_api, urls):
    assert staff_api.get(urls("/api/v1/credit-notes/"), {"page": "2"}).status_code == HTTPStatus.NOT_FOUND
