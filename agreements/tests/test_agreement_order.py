"""Several agreements per client, used in the order staff set: a time entry
logged for the client goes to the first agreement that can take it."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, AgreementStatus, LedgerEntry, OveragePolicy, TimeEntry
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, ClientFactory, TicketFactory, work_type
from audit.models import AuditAction, AuditEvent

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def paid_block(agreement, staff, hours):
    block = services.block_sell(agreement=agreement, actor=staff, hours=hours, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)


@pytest.fixture
def project(client_a, staff):
    """First in order: a project block of 1 h, nothing beyond it (reject policy)."""
    agreement = AgreementFactory(client=client_a, name="Office move project")
    paid_block(agreement, staff, 1)
    return agreement


@pytest.fixture
def support(client_a, staff, project):
    """Second in order: general support, 10 h."""
    agreement = AgreementFactory(client=client_a, name="General support")
    paid_block(agreement, staff, 10)
    return agreement


def log(client, technician, ticket, minutes, *, kind="Normal", on=TODAY, **extra) -> TimeEntry:
    return services.time_entry_log_for_client(
        client=client,
        technician=technician,
        ticket=ticket,
        work_date=on,
        minutes=minutes,
        work_type=work_type(kind),
        **extra,
    )


def balances(*agreements) -> list[int]:
    return [assert_balance_is_ledger_sum(a) for a in agreements]


# --- the order ------------------------------------------------------------


def test_it_places_each_new_agreement_last_in_its_clients_order(client_a, client_b):
    first = services.agreement_create(client=client_a, name="Project")
    second = services.agreement_create(client=client_a, name="Support")
    other = services.agreement_create(client=client_b, name="Support")
    assert (first.position, second.position, other.position) == (1, 2, 1)


def test_it_creates_an_agreement_at_a_chosen_place(client_a, staff):
    support = services.agreement_create(client=client_a, name="Support")
    project = services.agreement_create(client=client_a, name="Project", position=1, actor=staff)
    assert list(Agreement.objects.filter(client=client_a).order_by("position").values_list("name", flat=True)) == [
        "Project",
        "Support",
    ]
    support.refresh_from_db()
    assert (project.position, support.position) == (1, 2)


def test_it_moves_an_agreement_and_shifts_the_others(client_a, staff):
    a, b, c = (AgreementFactory(client=client_a, name=name) for name in ("A", "B", "C"))
    services.agreement_reorder(agreement=c, position=1, actor=staff)
    order = list(Agreement.objects.filter(client=client_a).order_by("position").values_list("name", "position"))
    assert order == [("C", 1), ("A", 2), ("B", 3)]
    event = AuditEvent.objects.get(action=AuditAction.AGREEMENT_ORDER)
    assert event.summary == "Moved agreement “C” of Acme Dental from place 3 to 1"
    assert event.before == {"order": ["A", "B", "C"]}
    assert event.after == {"order": ["C", "A", "B"]}

    services.agreement_reorder(agreement=c, position=3, actor=staff)
    order = list(Agreement.objects.filter(client=client_a).order_by("position").values_list("name", flat=True))
    assert order == ["A", "B", "C"]


def test_moving_to_the_same_place_changes_and_logs_nothing(client_a, staff):
    a = AgreementFactory(client=client_a)
    AgreementFactory(client=client_a)
    services.agreement_reorder(agreement=a, position=1, actor=staff)
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_ORDER).exists()


@pytest.mark.parametrize("position", [0, 3, -1, "1", 1.0, True])
def test_it_refuses_a_place_outside_the_order(client_a, staff, position):
    a = AgreementFactory(client=client_a)
    AgreementFactory(client=client_a)
    with pytest.raises(ValidationError) as error:
        services.agreement_reorder(agreement=a, position=position, actor=staff)
    assert "position" in error.value.message_dict
    assert list(Agreement.objects.filter(client=client_a).order_by("pk").values_list("position", flat=True)) == [1, 2]


def test_the_database_refuses_two_agreements_in_one_place(client_a):
    from django.db import IntegrityError, transaction

    AgreementFactory(client=client_a, position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(client=client_a, position=1)


def test_it_sets_the_work_types_an_agreement_covers(agreement, staff):
    services.agreement_set_work_types(agreement=agreement, work_types=[work_type("Normal")], actor=staff)
    assert list(agreement.work_types.values_list("name", flat=True)) == ["Normal"]
    event = AuditEvent.objects.get(action=AuditAction.AGREEMENT_WORK_TYPES)
    assert event.summary == "Agreement “Prepaid support hours” of Acme Dental now covers Normal"
    services.agreement_set_work_types(agreement=agreement, work_types=[], actor=staff)
    assert not agreement.work_types.exists()
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_WORK_TYPES).order_by("pk").last().summary == (
        "Agreement “Prepaid support hours” of Acme Dental now covers all work types"
    )


def test_it_refuses_a_work_type_no_longer_in_use(agreement, staff):
    retired = work_type("Emergency")
    retired.is_active = False
    retired.save()
    with pytest.raises(ValidationError) as error:
        services.agreement_set_work_types(agreement=agreement, work_types=[retired], actor=staff)
    assert error.value.message_dict == {"work_types": ["No longer in use: Emergency."]}
    assert not agreement.work_types.exists()


# --- time logged for the client ---------------------------------------------


def test_the_first_agreement_in_order_takes_the_entry(client_a, project, support, technician, ticket):
    entry = log(client_a, technician, ticket, 40)
    assert entry.agreement == project
    assert entry.charged_minutes == 45
    assert balances(project, support) == [15, 600]


def test_a_full_first_agreement_under_reject_passes_the_entry_to_the_next(
    client_a, project, support, technician, ticket
):
    log(client_a, technician, ticket, 45)  # 15 min left on the project
    entry = log(client_a, technician, ticket, 30)
    assert entry.agreement == support
    assert entry.charged_minutes == 30
    assert balances(project, support) == [15, 570]
    # What still fits goes to the first again.
    assert log(client_a, technician, ticket, 10).agreement == project
    assert balances(project, support) == [0, 570]


def test_the_order_staff_set_decides(client_a, project, support, technician, ticket, staff):
    services.agreement_reorder(agreement=support, position=1, actor=staff)
    assert log(client_a, technician, ticket, 30).agreement == support
    assert balances(project, support) == [60, 570]


def test_a_work_type_the_first_does_not_cover_goes_to_the_next(client_a, project, support, technician, ticket, staff):
    services.agreement_set_work_types(agreement=project, work_types=[work_type("Normal")], actor=staff)
    entry = log(client_a, technician, ticket, 20, kind="Emergency")  # 30 min × 2
    assert entry.agreement == support
    assert entry.charged_minutes == 60
    assert balances(project, support) == [60, 540]


def test_an_allow_negative_first_agreement_takes_time_down_to_its_limit(client_a, support, technician, ticket, staff):
    services.agreement_reorder(agreement=support, position=2, actor=staff)
    first = Agreement.objects.get(client=client_a, position=1)
    Agreement.objects.filter(pk=first.pk).update(overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=30)
    assert log(client_a, technician, ticket, 90).agreement == first  # 60 in the block, 30 below zero
    assert log(client_a, technician, ticket, 15).agreement == support
    assert balances(first, support) == [-30, 585]


def test_an_ended_agreement_is_skipped(client_a, project, support, technician, ticket):
    Agreement.objects.filter(pk=project.pk).update(status=AgreementStatus.ENDED)
    assert log(client_a, technician, ticket, 15).agreement == support
    assert balances(project, support) == [60, 585]


def test_an_agreement_whose_term_is_over_on_the_date_is_skipped(client_a, project, support, technician, ticket):
    Agreement.objects.filter(pk=project.pk).update(ends_on=TODAY - 2 * DAY)
    assert log(client_a, technician, ticket, 15, on=TODAY - 3 * DAY).agreement == project
    assert log(client_a, technician, ticket, 15).agreement == support
    assert balances(project, support) == [45, 585]


def test_when_none_can_take_it_it_says_why_and_changes_nothing(client_a, project, support, technician, ticket, staff):
    services.agreement_set_work_types(agreement=support, work_types=[work_type("Normal")], actor=staff)
    ledger_rows = LedgerEntry.objects.count()
    with pytest.raises(services.NoAgreementCanTake) as error:
        log(client_a, technician, ticket, 45, kind="After-hours")  # 45 × 1.5 = 67.5 → 68 min
    assert error.value.messages == [
        "No agreement of Acme Dental can take this entry: “Office move project”: 68 min to charge, "
        "only 60 min allowed (overage policy: reject time beyond the balance); “General support”: does not cover “After-hours” work. "
        "Sell a block or ask staff first."
    ]
    assert not TimeEntry.objects.exists()
    assert LedgerEntry.objects.count() == ledger_rows
    assert balances(project, support) == [60, 600]


def test_a_client_without_an_active_agreement_gets_a_clear_error(client_b, technician):
    AgreementFactory(client=client_b, status=AgreementStatus.ENDED)
    with pytest.raises(services.NoAgreementCanTake) as error:
        log(client_b, technician, TicketFactory(client=client_b), 15)
    assert error.value.messages == ["Birch Legal has no active agreement to charge this time to."]
    assert not TimeEntry.objects.exists()


def test_non_billable_time_goes_to_the_first_that_covers_it_even_when_empty(client_a, technician, ticket, staff):
    empty = AgreementFactory(client=client_a, name="Empty")
    assert log(client_a, technician, ticket, 30, kind="Non-billable").agreement == empty
    assert balances(empty) == [0]


def test_a_retry_with_the_same_key_returns_the_entry_and_charges_once(client_a, project, support, technician, ticket):
    first = log(client_a, technician, ticket, 45, idempotency_key="k-1")
    # The project now has 15 min left: a fresh choice would pick support, the retry must not.
    again = log(client_a, technician, ticket, 45, idempotency_key="k-1")
    assert again.pk == first.pk
    assert TimeEntry.objects.count() == 1
    assert balances(project, support) == [15, 600]
    with pytest.raises(services.IdempotencyConflict):
        log(client_a, technician, ticket, 30, idempotency_key="k-1")


def test_it_refuses_another_clients_ticket_and_bad_input_and_changes_nothing(
    client_a, client_b, project, support, technician
):
    with pytest.raises(ValidationError) as error:
        log(client_a, technician, TicketFactory(client=client_b, number="77"), 0, on=TODAY + DAY)
    assert error.value.message_dict == {
        "minutes": ["The duration must be more than zero minutes."],
        "ticket": ["Ticket #77 belongs to another client."],
        "work_date": ["Time cannot be logged for a future date."],
    }
    assert not TimeEntry.objects.exists()
    assert balances(project, support) == [60, 600]


def test_client_contacts_cannot_log_time_for_any_client(client_a, project, alice, charlie, ticket):
    for contact in (alice, charlie):
        with pytest.raises(PermissionDenied):
            log(client_a, contact, ticket, 15)
    assert not TimeEntry.objects.exists()


def test_an_explicit_agreement_is_charged_as_before_whatever_the_order(project, support, technician, ticket):
    entry = services.time_entry_log(
        agreement=support,
        technician=technician,
        ticket=ticket,
        work_date=TODAY,
        minutes=20,
        work_type=work_type("Normal"),
    )
    assert entry.agreement == support
    assert balances(project, support) == [60, 570]


def test_a_second_clients_agreements_never_take_the_first_clients_time(client_a, project, technician, ticket, staff):
    other = AgreementFactory(client=ClientFactory(name="Cedar Co"))
    paid_block(other, staff, 10)
    log(client_a, technician, ticket, 60)
    with pytest.raises(services.NoAgreementCanTake):
        log(client_a, technician, ticket, 15)
    assert balances(project, other) == [0, 600]
