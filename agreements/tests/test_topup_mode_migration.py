"""The migration that replaces auto-reload with top-up modes keeps what each agreement did."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("agreements", "0013_refund_forfeit_ledger_kinds")]
AFTER = [("agreements", "0015_topup_mode")]


def _migrate(targets) -> MigrationExecutor:  # noqa: ANN001
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_auto_reload_becomes_charge_and_the_rest_issue():
    try:
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Client, Agreement, Tier = (old.get_model("agreements", name) for name in ("Client", "Agreement", "Tier"))
        tier = Tier.objects.create(name="Migration 20 h", hours=20)
        acme = Client.objects.create(name="Acme")
        auto = Agreement.objects.create(client=acme, name="Auto", position=1, auto_reload=True, reload_tier=tier)
        manual = Agreement.objects.create(client=acme, name="Manual", position=2, auto_reload=False)

        executor = _migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("agreements", "Agreement")
        assert dict(new.objects.values_list("pk", "topup_mode")) == {auto.pk: "charge", manual.pk: "issue"}
        assert "auto_reload" not in {f.name for f in new._meta.get_fields()}

        executor = _migrate(BEFORE)  # and back: only "charge" was auto-reload
        old = executor.loader.project_state(BEFORE).apps.get_model("agreements", "Agreement")
        assert dict(old.objects.values_list("pk", "auto_reload")) == {auto.pk: True, manual.pk: False}
    finally:
        _migrate(None)  # the other tests need the schema of today
