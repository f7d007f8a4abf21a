"""Data migrations of agreements: the one that gives agreements their place in
the client's order numbers existing agreements the way they were shown (by
start date, then age); the one that adds `has_had_hours` sets it from the
blocks and the ledger."""

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


@pytest.mark.django_db(transaction=True)
def test_it_sets_has_had_hours_from_the_blocks_and_the_ledger():
    before, after = [("agreements", "0027_estimates")], [("agreements", "0028_has_had_hours")]
    try:
        executor = _migrate(before)
        old = executor.loader.project_state(before).apps
        Client, Agreement = old.get_model("agreements", "Client"), old.get_model("agreements", "Agreement")
        Block, LedgerEntry = old.get_model("agreements", "Block"), old.get_model("agreements", "LedgerEntry")
        acme = Client.objects.create(name="Acme")
        day = datetime.date(2026, 1, 1)
        now = datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC)

        def agreement(name: str):
            return Agreement.objects.create(
                client=acme, name=name, starts_on=day, position=Agreement.objects.count() + 1
            )

        def block(of, **fields):
            return Block.objects.create(
                agreement=of, minutes=600, rate=100, amount=1000, currency="USD", starts_on=day, **fields
            )

        credited, granted, unpaid, cancelled, deducted, _never = (
            agreement(name) for name in ("Credited", "Granted", "Unpaid", "Cancelled", "Deducted", "Never")
        )
        block(credited, credited_at=now, paid_at=now)
        LedgerEntry.objects.create(agreement=granted, kind="adjustment", minutes=30, reason="Goodwill")
        block(unpaid)
        block(cancelled, credited_at=now, cancelled_at=now)
        LedgerEntry.objects.create(agreement=deducted, kind="adjustment", minutes=-30, reason="Correction")

        executor = _migrate(after)
        new = executor.loader.project_state(after).apps.get_model("agreements", "Agreement")
        assert dict(new.objects.values_list("name", "has_had_hours")) == {
            "Credited": True,
            "Granted": True,
            "Unpaid": False,
            "Cancelled": False,
            "Deducted": False,
            "Never": False,
        }
    finally:
        _migrate(None)  # the other tests need the schema of today
