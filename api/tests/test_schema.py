"""The OpenAPI schema validates and documents what the API does; the docs are served locally."""

from http import HTTPStatus

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["tokenAuth"]["in"] == "header"


def test_the_schema_is_served_and_documents_errors_and_idempotency(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == HTTPStatus.OK
    schema = response.json()
    entries = schema["paths"]["/api/v1/time-entries/"]["post"]
    # 404 too: a role that may not log time is answered as for an unknown URL.
    assert {"201", "400", "401", "403", "404", "409", "422", "429"} <= set(entries["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in entries["parameters"])
    detail = schema["paths"]["/api/v1/agreements/{id}/"]["get"]
    assert "404" in detail["responses"]
    money = schema["components"]["schemas"]["Block"]["properties"]["amount"]
    assert money["type"] == "string"
    assert money["pattern"] == r"^-?\d{1,10}(\.\d{1,2})?$"  # never an empty string
    assert schema["components"]["schemas"]["TimeEntryCreateRequest"]["properties"]["minutes"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1440,
        "description": "Time worked, in whole minutes (1 to 1440).",
    }


def test_the_docs_are_served_from_local_assets(client, staff):
    client.force_login(staff)
    page = client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs"):
        assert cdn not in page
