"""Invariant 2 and 3 under real concurrency: many technicians posting at once
on PostgreSQL lose no update, and a retried request charges once.

These need committed transactions and real threads, so they run with
transaction=True and only on PostgreSQL (SQLite serialises all writers).
"""

import threading
from collections.abc import Callable

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from agreements import services
from agreements.models import CreditPolicy, LedgerEntry, LedgerKind, OveragePolicy, TimeEntry
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import (
    AgreementFactory,
    ClientFactory,
    StaffFactory,
    TechnicianFactory,
    TicketFactory,
    tier,
    work_type,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
ENTRIES_PER_THREAD = 25


def run_in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Start `count` threads at the same moment; return what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    return errors


@pytest.fixture
def busy_agreement():
    client = ClientFactory(name="Concurrent Co")
    agreement = AgreementFactory(
        client=client, credit_policy=CreditPolicy.IMMEDIATE, overage_policy=OveragePolicy.BILL_OVERAGE
    )
    staff = StaffFactory(username="concurrent-staff")
    # 30 h + 10 h: the debits cross from one block into the next and then into overage.
    services.block_sell(agreement=agreement, tier=tier(30), actor=staff, starts_on=agreement.starts_on)
    services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    return agreement


def test_it_loses_no_update_with_twenty_technicians_posting_at_once(busy_agreement):
    technicians = [TechnicianFactory(username=f"tech{i}") for i in range(THREADS)]
    ticket = TicketFactory(client=busy_agreement.client)
    normal = work_type("Normal")
    today = timezone.localdate()

    def post_entries(index: int) -> None:
        for _ in range(ENTRIES_PER_THREAD):
            services.time_entry_log(
                agreement=busy_agreement,
                technician=technicians[index],
                ticket=ticket,
                work_date=today,
                minutes=10,
                work_type=normal,
            )

    assert run_in_threads(THREADS, post_entries) == []
    charged = THREADS * ENTRIES_PER_THREAD * 15  # 10 min rounds up to the 15-min increment
    assert TimeEntry.objects.filter(agreement=busy_agreement).count() == THREADS * ENTRIES_PER_THREAD
    assert assert_balance_is_ledger_sum(busy_agreement) == 2400 - charged
    debits = LedgerEntry.objects.filter(agreement=busy_agreement, kind=LedgerKind.DEBIT)
    assert -sum(debits.values_list("minutes", flat=True)) == charged
    # FIFO held under contention: both blocks fully used, the rest is overage.
    per_block = {b.minutes: sum(b.ledger.values_list("minutes", flat=True)) for b in busy_agreement.blocks.all()}
    assert per_block == {1800: 0, 600: 0}
    assert services.overage_unbilled_minutes(busy_agreement) == charged - 2400


def test_a_request_retried_from_two_threads_at_once_charges_once(busy_agreement):
    technician = TechnicianFactory(username="retrying-psa")
    ticket = TicketFactory(client=busy_agreement.client)
    normal = work_type("Normal")
    results: list[int] = []

    def post_with_retries(index: int) -> None:
        for attempt in range(ENTRIES_PER_THREAD):
            entry = services.time_entry_log(
                agreement=busy_agreement,
                technician=technician,
                ticket=ticket,
                work_date=timezone.localdate(),
                minutes=30,
                work_type=normal,
                idempotency_key=f"psa-entry-{attempt}",
            )
            results.append(entry.pk)

    assert run_in_threads(2, post_with_retries) == []
    assert TimeEntry.objects.filter(agreement=busy_agreement).count() == ENTRIES_PER_THREAD
    assert len(set(results)) == ENTRIES_PER_THREAD and len(results) == 2 * ENTRIES_PER_THREAD
    assert assert_balance_is_ledger_sum(busy_agreement) == 2400 - ENTRIES_PER_THREAD * 30


def test_the_reject_policy_holds_under_contention():
    agreement = AgreementFactory(client=ClientFactory(name="Tight Co"), credit_policy=CreditPolicy.IMMEDIATE)
    services.block_sell(agreement=agreement, hours=1, actor=None)
    ticket = TicketFactory(client=agreement.client)
    technicians = [TechnicianFactory(username=f"racer{i}") for i in range(8)]
    normal = work_type("Normal")
    refused: list[int] = []

    def post(index: int) -> None:
        try:
            services.time_entry_log(
                agreement=agreement,
                technician=technicians[index],
                ticket=ticket,
                work_date=timezone.localdate(),
                minutes=15,
                work_type=normal,
            )
        except services.InsufficientBalance:
            refused.append(index)

    assert run_in_threads(8, post) == []
    assert len(refused) == 4  # 60 minutes pay for exactly four 15-minute entries
    assert assert_balance_is_ledger_sum(agreement) == 0


def test_technicians_logging_on_the_same_new_ticket_at_once_all_succeed(busy_agreement):
    """The first entry on a ticket number nobody has used yet creates the
    ticket. When several land at once, the database's unique constraint picks
    one ticket and every entry is charged to it: none is refused."""
    technicians = [TechnicianFactory(username=f"newticket{i}") for i in range(8)]
    normal = work_type("Normal")
    rounds = 15
    barrier = threading.Barrier(len(technicians))

    def post(index: int) -> None:
        for number in range(rounds):
            barrier.wait(timeout=10)  # every round starts together, on a number nobody has used
            ticket = services.ticket_get_or_create(
                client=busy_agreement.client, number=f"NEW-{number}", subject="Printer offline"
            )
            services.time_entry_log(
                agreement=busy_agreement,
                technician=technicians[index],
                ticket=ticket,
                work_date=timezone.localdate(),
                minutes=1,
                work_type=normal,
            )

    assert run_in_threads(len(technicians), post) == []
    tickets = busy_agreement.client.tickets.filter(number__startswith="NEW-")
    assert tickets.count() == rounds
    assert all(ticket.time_entries.count() == len(technicians) for ticket in tickets)
    assert assert_balance_is_ledger_sum(busy_agreement) == 2400 - rounds * len(technicians) * 15


def test_entries_logged_for_a_client_fill_its_agreements_in_order_and_no_further():
    """The choice of agreement and the debit happen under the same locks: with
    two agreements of limited balance and many technicians posting by client,
    nothing is lost and neither goes past its policy."""
    client = ClientFactory(name="Ordered Co")
    project = AgreementFactory(client=client, name="Project", credit_policy=CreditPolicy.IMMEDIATE)
    support = AgreementFactory(
        client=client,
        name="Support",
        credit_policy=CreditPolicy.IMMEDIATE,
        overage_policy=OveragePolicy.ALLOW_NEGATIVE,
        overage_limit_minutes=30,
    )
    # An explicit-agreement poster locks only its own row; this one locks
    # both. Started on the second agreement, it proves there is no deadlock.
    assert project.pk < support.pk
    services.block_sell(agreement=project, hours=2, actor=None)  # 120 min, reject beyond
    services.block_sell(agreement=support, hours=1, actor=None)  # 60 min, 30 more below zero
    ticket = TicketFactory(client=client)
    technicians = [TechnicianFactory(username=f"ordered{i}") for i in range(10)]
    normal = work_type("Normal")
    refused: list[int] = []
    logged: list[int] = []

    def post(index: int) -> None:
        for _ in range(3):
            try:
                if index == 0:
                    entry = services.time_entry_log(
                        agreement=support,
                        technician=technicians[index],
                        ticket=ticket,
                        work_date=timezone.localdate(),
                        minutes=15,
                        work_type=normal,
                    )
                else:
                    entry = services.time_entry_log_for_client(
                        client=client,
                        technician=technicians[index],
                        ticket=ticket,
                        work_date=timezone.localdate(),
                        minutes=15,
                        work_type=normal,
                    )
                logged.append(entry.charged_minutes)
            except services.InsufficientBalance:
                # Only the explicit poster may meet a full agreement at the
                # debit: a choice made under the locks is never overtaken.
                assert index == 0
                refused.append(index)
            except services.NoAgreementCanTake:
                refused.append(index)

    assert run_in_threads(10, post) == []
    # 120 + 60 + 30 = 210 minutes can be charged: fourteen 15-minute entries of thirty.
    assert len(logged) == 14 and len(refused) == 16
    assert assert_balance_is_ledger_sum(project) == 0
    assert assert_balance_is_ledger_sum(support) == -30
    charged = TimeEntry.objects.filter(agreement__client=client).values_list("charged_minutes", flat=True)
    assert sum(charged) == sum(logged) == 210
    debits = LedgerEntry.objects.filter(agreement__client=client, kind=LedgerKind.DEBIT)
    assert -sum(debits.values_list("minutes", flat=True)) == 210


def test_reorders_new_agreements_and_entries_by_client_at_once_keep_one_clear_order():
    """Staff reorder and add agreements while technicians post by client: no
    deadlock, no error, every place in the order taken once, balance = ledger."""
    client = ClientFactory(name="Busy order Co")
    first = AgreementFactory(client=client, name="A", overage_policy=OveragePolicy.BILL_OVERAGE)
    AgreementFactory(client=client, name="B", overage_policy=OveragePolicy.BILL_OVERAGE)
    staff = StaffFactory(username="order-staff")
    ticket = TicketFactory(client=client)
    technicians = [TechnicianFactory(username=f"order-tech{i}") for i in range(4)]
    normal = work_type("Normal")

    def work(index: int) -> None:
        for round_ in range(5):
            if index < 4:
                services.time_entry_log_for_client(
                    client=client,
                    technician=technicians[index],
                    ticket=ticket,
                    work_date=timezone.localdate(),
                    minutes=15,
                    work_type=normal,
                )
            elif index == 4:
                services.agreement_reorder(agreement=first, position=1 + round_ % 2, actor=staff)
            else:
                services.agreement_create(client=client, name=f"New {round_}", actor=staff)

    assert run_in_threads(6, work) == []
    positions = sorted(client.agreements.values_list("position", flat=True))
    assert positions == list(range(1, 8))
    assert TimeEntry.objects.filter(agreement__client=client).count() == 20
    for agreement in client.agreements.all():
        assert_balance_is_ledger_sum(agreement)


def test_moves_both_ways_and_time_on_both_agreements_at_once_never_deadlock():
    """Staff move hours A→B and B→A while technicians log time on both: the
    two agreements are locked in primary-key order by every writer, so no
    deadlock, no error, and each balance is its ledger's sum."""
    client = ClientFactory(name="Moving Co")
    helpdesk = AgreementFactory(client=client, name="Helpdesk", overage_policy=OveragePolicy.BILL_OVERAGE)
    projects = AgreementFactory(client=client, name="Projects", overage_policy=OveragePolicy.BILL_OVERAGE)
    staff = StaffFactory(username="move-staff")
    blocks = {}
    for agreement in (helpdesk, projects):
        block = services.block_sell(agreement=agreement, tier=tier(30), actor=staff, starts_on=agreement.starts_on)
        blocks[agreement.pk] = services.block_mark_paid(block=block, actor=staff)
    ticket = TicketFactory(client=client)
    technicians = [TechnicianFactory(username=f"move-tech{i}") for i in range(4)]
    normal = work_type("Normal")

    def work(index: int) -> None:
        for _ in range(10):
            if index < 2:  # one staff member moves A→B, the other B→A
                source, target = (helpdesk, projects) if index == 0 else (projects, helpdesk)
                services.block_hours_move(
                    block=blocks[source.pk], to_agreement=target, minutes=15, reason="Rebalance", actor=staff
                )
            else:
                services.time_entry_log(
                    agreement=(helpdesk, projects)[index % 2],
                    technician=technicians[index - 2],
                    ticket=ticket,
                    work_date=timezone.localdate(),
                    minutes=15,
                    work_type=normal,
                )
            services.time_entry_log_for_client(
                client=client,
                technician=technicians[index % 4],
                ticket=ticket,
                work_date=timezone.localdate(),
                minutes=15,
                work_type=normal,
            )

    assert run_in_threads(6, work) == []
    moves = LedgerEntry.objects.filter(kind__in=[LedgerKind.MOVE_OUT, LedgerKind.MOVE_IN])
    assert moves.count() == 40
    assert sum(moves.values_list("minutes", flat=True)) == 0
    charged = sum(TimeEntry.objects.filter(agreement__client=client).values_list("charged_minutes", flat=True))
    assert charged == (4 * 10 + 6 * 10) * 15  # four technicians by agreement, all six threads by client
    balances = [assert_balance_is_ledger_sum(agreement) for agreement in (helpdesk, projects)]
    assert sum(balances) == 2 * 1800 - charged
