"""The migration that gives agreements their place in the client's order numbers
existing agreements the way they were shown: by start date, then age."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("agreements", "0010_single_line_text")]
AFTER = [("agreements", "0011_agreement_position")]


def _migrate(targets) -> MigrationExecutor:  # noqa: ANN001
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_it_numbers_each_clients_agreements_by_start_date():
    try:
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Client, Agreement = old.get_model("agreements", "Client"), old.get_model("agreements", "Agreement")
        acme, birch = Client.objects.create(name="Acme"), Client.objects.create(name="Birch")
        day = datetime.date(2026, 1, 1)
        late = Agreement.objects.create(client=acme, name="Support", starts_on=day + datetime.timedelta(days=30))
        early = Agreement.objects.create(client=acme, name="Project", starts_on=day)
        only = Agreement.objects.create(client=birch, name="Support", starts_on=day)

        executor = _migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("agreements", "Agreement")
        assert dict(new.objects.values_list("pk", "position")) == {early.pk: 1, late.pk: 2, only.pk: 1}
    finally:
        _migrate(None)  # the other tests need the schema of today
