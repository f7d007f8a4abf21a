"""bench/seed.py builds the benchmarks' bulk INSERTs from the models, so a schema change is met in one place."""

import pytest
from django.conf import settings

from agreements.models import Client, TimeEntry
from bench.seed import insert_select_sql


def test_columns_the_benchmark_does_not_give_come_from_the_model():
    params = {"n": 3}
    sql = insert_select_sql(Client, {"name": "'Client ' || n"}, "FROM generate_series(1, %(n)s) AS n", params)

    assert sql == (
        "INSERT INTO agreements_client (public_id, name, billing_name, billing_address, billing_email, hourly_rate, "
        "currency, language, is_active, created_at)\n"
        "SELECT gen_random_uuid(), 'Client ' || n, %(_seed_agreements_client_billing_name)s, "
        "%(_seed_agreements_client_billing_address)s, %(_seed_agreements_client_billing_email)s, "
        "%(_seed_agreements_client_hourly_rate)s, %(_seed_agreements_client_currency)s, "
        "%(_seed_agreements_client_language)s, %(_seed_agreements_client_is_active)s, "
        "%(_seed_agreements_client_created_at)s\n"
        "FROM generate_series(1, %(n)s) AS n"
    )
    assert params["_seed_agreements_client_language"] == settings.LANGUAGE_CODE
    assert params["_seed_agreements_client_currency"] == settings.DEFAULT_CURRENCY
    assert params["_seed_agreements_client_billing_name"] == ""
    assert params["_seed_agreements_client_is_active"] is True


def test_nullable_columns_get_null():
    sql = insert_select_sql(
        TimeEntry,
        {
            "agreement_id": "a.id",
            "ticket_id": "t.id",
            "technician_id": "1",
            "work_date": "current_date",
            "minutes": "60",
            "work_type_id": "1",
            "charged_minutes": "60",
        },
        "FROM x",
        {},
    )

    assert "idempotency_key, corrects_id, voided_at, voided_by_id" in sql
    assert "NULL, NULL, NULL, NULL" in sql


def test_a_not_null_column_without_a_default_stops_the_seed_with_its_name():
    with pytest.raises(ValueError, match=r"agreements_timeentry\.minutes is NOT NULL without a default"):
        insert_select_sql(
            TimeEntry,
            {
                "agreement_id": "a.id",
                "ticket_id": "t.id",
                "technician_id": "1",
                "work_date": "current_date",
                "work_type_id": "1",
                "charged_minutes": "60",
            },
            "FROM x",
            {},
        )


def test_a_column_the_model_does_not_have_stops_the_seed_with_its_name():
    with pytest.raises(ValueError, match="agreements_client has no column rollover_unused"):
        insert_select_sql(Client, {"name": "'x'", "rollover_unused": "false"}, "FROM x", {})
