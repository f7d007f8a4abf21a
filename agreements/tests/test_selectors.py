import uuid

import pytest

from agreements import selectors, services
from agreements.models import Agreement
from agreements.tests.factories import AgreementFactory, TicketFactory, UserFactory, tier, work_type


@pytest.fixture
def two_clients(client_a, client_b, staff, technician):
    mine = AgreementFactory(client=client_a)
    theirs = AgreementFactory(client=client_b)
    for agreement in (mine, theirs):
        block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
        services.block_mark_paid(block=block, actor=staff)
        services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=TicketFactory(client=agreement.client),
            work_date=agreement.starts_on,
            minutes=30,
            work_type=work_type(),
        )
    return mine, theirs


def test_a_client_contact_sees_only_their_client(two_clients, alice, bob):
    mine, theirs = two_clients
    for user in (alice, bob):
        assert list(selectors.clients_for_user(user)) == [mine.client]
        assert list(selectors.agreements_for_user(user)) == [mine]
        assert [e.agreement for e in selectors.time_entries_for_user(user)] == [mine]
        assert [t.client for t in selectors.tickets_for_user(user)] == [mine.client]
        assert selectors.agreement_get_for_user(user, mine.public_id) == mine


def test_charlie_sees_nothing_of_alices_client(two_clients, charlie):
    mine, theirs = two_clients
    assert mine not in selectors.agreements_for_user(charlie)
    assert not selectors.time_entries_for_user(charlie).filter(agreement=mine).exists()
    assert not selectors.tickets_for_user(charlie).filter(client=mine.client).exists()
    with pytest.raises(Agreement.DoesNotExist):
        selectors.agreement_get_for_user(charlie, mine.public_id)


def test_staff_and_technicians_see_every_client(two_clients, staff, technician):
    for user in (staff, technician):
        assert set(selectors.agreements_for_user(user)) == set(two_clients)


def test_unknown_malformed_and_anonymous_lookups_find_nothing(two_clients, staff):
    from django.contrib.auth.models import AnonymousUser

    mine, _ = two_clients
    for public_id in (uuid.uuid4(), "not-a-uuid", "", None, mine.pk):
        with pytest.raises(Agreement.DoesNotExist):
            selectors.agreement_get_for_user(staff, public_id)
    assert not selectors.agreements_for_user(AnonymousUser()).exists()
    contact_without_client = UserFactory(username="orphan", role="client")
    assert not selectors.agreements_for_user(contact_without_client).exists()


def test_the_ledger_shows_a_running_balance(two_clients):
    mine, _ = two_clients
    rows = [(row.kind, row.minutes, row.running_balance) for row in selectors.ledger_with_running_balance(mine)]
    assert rows == [("purchase", 600, 600), ("debit", -30, 570)]
