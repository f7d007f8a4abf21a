"""Estimates: approved at once when the balance less other open estimates covers
the charge, else waiting for the client; decided once; reserving minutes; overruns flagged once."""

import datetime

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import Estimate, EstimateStatus
from agreements.tests.factories import AgreementFactory, TicketFactory, tier, work_type
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(agreement, staff):
    """Acme's agreement with a paid 10-hour block: 600 min."""
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    return agreement


def estimate(ticket, actor, minutes, name="Normal", description="Replace the file server disks"):
    return services.estimate_create(
        ticket=ticket, actor=actor, minutes=minutes, work_type=work_type(name), description=description
    )


def log(agreement, ticket, technician, minutes):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=minutes,
        work_type=work_type(),
    )


def test_it_approves_at_once_what_the_balance_covers(funded, ticket, technician):
    made = estimate(ticket, technician, 100)

    assert (made.status, made.auto_approved, made.agreement_id) == (EstimateStatus.APPROVED, True, funded.pk)
    assert (made.minutes, made.charged_minutes) == (100, 105)  # rounded up to 15 min
    assert made.decided_at is not None
    assert services.estimates_reserved_by_agreement([funded.pk]) == {funded.pk: 105}
    [event] = AuditEvent.objects.filter(action=AuditAction.ESTIMATE_CREATE)
    assert event.after["available_minutes"] == 600
    assert event.after["auto_approved"] is True


def test_it_waits_when_other_open_estimates_leave_too_little(funded, ticket, technician):
    first = estimate(ticket, technician, 480)
    second = estimate(ticket, technician, 60, name="Emergency")  # 120 charged, 120 left: covered
    third = estimate(ticket, technician, 15)  # 15 charged, 0 left

    assert [e.status for e in (first, second, third)] == ["approved", "approved", "waiting"]
    assert second.charged_minutes == 120
    assert (third.auto_approved, third.decided_at) == (False, None)
    assert services.agreement_reserved_minutes(funded) == 615
    funded.refresh_from_db()
    assert funded.balance_minutes == 600  # an estimate reserves, it never charges


def test_time_logged_uses_up_an_approved_estimate(funded, ticket, technician):
    made = estimate(ticket, technician, 120)
    log(funded, ticket, technician, 50)  # charged 60

    assert services.estimate_reserved_minutes(made) == 60
    waiting = estimate(ticket, technician, 600)  # 600 charged > 540 usable: waits, reserved whole
    assert waiting.status == "waiting"
    assert services.estimates_reserved_by_agreement([funded.pk]) == {funded.pk: 60 + 600}
    services.estimate_cancel(estimate=waiting, actor=technician)
    log(funded, ticket, technician, 90)
    assert services.estimate_reserved_minutes(made) == 0
    assert services.estimates_reserved_by_agreement([funded.pk]) == {}


def test_it_chooses_the_agreement_the_clients_order_charges(client_a, funded, staff, technician, ticket):
    type(funded).objects.filter(pk=funded.pk).update(position=2)
    first = AgreementFactory(client=client_a, position=1)  # nothing in it
    made = estimate(ticket, technician, 60)
    assert made.agreement_id == funded.pk and made.status == EstimateStatus.APPROVED

    services.block_mark_paid(
        block=services.block_sell(agreement=first, tier=tier(10), actor=staff, starts_on=first.starts_on), actor=staff
    )
    assert estimate(ticket, technician, 60).agreement_id == first.pk


def test_with_no_agreement_covered_it_waits_on_the_first_in_order(agreement, ticket, technician):
    made = estimate(ticket, technician, 30)
    assert (made.agreement_id, made.status, made.charged_minutes) == (agreement.pk, "waiting", 30)


@pytest.mark.parametrize(
    ("minutes", "description", "field"),
    [(0, "Disks", "minutes"), (-5, "Disks", "minutes"), ("90", "Disks", "minutes"), (60, "  ", "description")],
)
def test_bad_input_is_refused_and_nothing_is_saved(funded, ticket, technician, minutes, description, field):
    with pytest.raises(ValidationError) as refused:
        estimate(ticket, technician, minutes, description=description)
    assert field in refused.value.message_dict
    assert not Estimate.objects.exists()


def test_a_client_contact_cannot_estimate(funded, ticket, alice):
    with pytest.raises(PermissionDenied):
        estimate(ticket, alice, 60)


def test_the_client_approves_once_and_a_second_decision_changes_nothing(funded, ticket, technician, alice, bob):
    waiting = estimate(ticket, technician, 700)
    assert waiting.status == EstimateStatus.WAITING

    approved = services.estimate_approve(estimate=waiting, actor=alice)
    assert (approved.status, approved.decided_by, approved.auto_approved) == ("approved", alice, False)
    with pytest.raises(ValidationError, match="already decided"):
        services.estimate_decline(estimate=waiting, actor=bob)
    with pytest.raises(ValidationError, match="already decided"):
        services.estimate_approve(estimate=waiting, actor=alice)
    waiting.refresh_from_db()
    assert waiting.status == EstimateStatus.APPROVED
    assert AuditEvent.objects.filter(action=AuditAction.ESTIMATE_APPROVE).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.ESTIMATE_DECLINE).exists()


def test_a_declined_estimate_reserves_nothing(funded, ticket, technician, alice):
    waiting = estimate(ticket, technician, 700)
    services.estimate_decline(estimate=waiting, actor=alice)
    assert services.agreement_reserved_minutes(funded) == 0
    [event] = AuditEvent.objects.filter(action=AuditAction.ESTIMATE_DECLINE)
    assert event.after == {"status": "declined", "via_link": False, "charged_minutes": 705}


def test_charlie_cannot_decide_acmes_estimate(funded, ticket, technician, charlie):
    waiting = estimate(ticket, technician, 700)
    with pytest.raises(PermissionDenied):
        services.estimate_approve(estimate=waiting, actor=charlie)
    waiting.refresh_from_db()
    assert waiting.status == EstimateStatus.WAITING


def test_staff_cancel_an_open_estimate_once(funded, ticket, technician, staff):
    made = estimate(ticket, technician, 60)
    services.estimate_cancel(estimate=made, actor=staff)
    assert Estimate.objects.get().status == EstimateStatus.CANCELLED
    with pytest.raises(ValidationError):
        services.estimate_cancel(estimate=made, actor=staff)


def test_a_link_names_one_estimate_and_one_action(funded, ticket, technician):
    waiting = estimate(ticket, technician, 700)
    token = services.estimate_link_token(waiting, "approve")
    assert services.estimate_for_link(token) == (waiting, "approve")

    with pytest.raises(services.EstimateLinkError, match="not valid"):
        services.estimate_for_link(token[:-2] + "xx")
    forged = signing.dumps({"e": str(waiting.public_id), "a": "approve"}, salt="another-salt")
    with pytest.raises(services.EstimateLinkError, match="not valid"):
        services.estimate_for_link(forged)


def test_a_link_expires_after_the_setting(funded, ticket, technician, settings):
    waiting = estimate(ticket, technician, 700)
    token = services.estimate_link_token(waiting, "decline")
    settings.ESTIMATE_LINK_DAYS = 7
    later = timezone.now() + datetime.timedelta(days=7, minutes=1)
    signing_time = signing.time.time
    try:
        signing.time.time = lambda: later.timestamp()
        with pytest.raises(services.EstimateLinkError, match="expired"):
            services.estimate_for_link(token)
    finally:
        signing.time.time = signing_time


def test_a_used_link_cannot_act_again(funded, ticket, technician):
    waiting = estimate(ticket, technician, 700)
    token = services.estimate_link_token(waiting, "approve")
    services.estimate_approve(estimate=waiting, actor=None, via_link=True)
    with pytest.raises(services.EstimateLinkError, match="already decided"):
        services.estimate_for_link(token)


def test_time_beyond_an_approved_estimate_and_ten_percent_is_flagged_once(funded, ticket, technician):
    made = estimate(ticket, technician, 100)  # limit 110 min worked
    log(funded, ticket, technician, 110)
    assert services.estimates_overrun_flag(agreement_id=funded.pk) == []

    log(funded, ticket, technician, 1)
    [flagged] = services.estimates_overrun_flag(agreement_id=funded.pk)
    assert (flagged.pk, flagged.worked_minutes) == (made.pk, 111)
    assert services.estimates_overrun_flag() == []
    [listed] = services.estimates_overrun()
    assert (listed.pk, listed.worked_minutes) == (made.pk, 111)
    assert AuditEvent.objects.filter(action=AuditAction.ESTIMATE_OVERRUN).count() == 1


def test_the_overrun_share_is_a_setting(funded, ticket, technician, settings):
    settings.ESTIMATE_OVERRUN_PERCENT = 0
    estimate(ticket, technician, 100)
    log(funded, ticket, technician, 101)
    assert len(services.estimates_overrun_flag()) == 1


def test_time_on_another_ticket_does_not_use_an_estimate(funded, client_a, ticket, technician):
    made = estimate(ticket, technician, 60)
    log(funded, TicketFactory(client=client_a), technician, 300)
    assert services.estimate_reserved_minutes(made) == 60
    assert services.estimates_overrun_flag() == []
