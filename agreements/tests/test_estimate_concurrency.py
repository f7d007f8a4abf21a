"""An estimate is decided exactly once, and two estimates cannot both count on
the same free minutes, also when requests arrive at the same moment on
PostgreSQL: committed transactions and real threads."""

import pytest
from django.core.exceptions import ValidationError

from agreements import services
from agreements.models import ClientContact, CreditPolicy, Estimate, EstimateStatus
from agreements.tests.factories import (
    AgreementFactory,
    ClientFactory,
    TechnicianFactory,
    TicketFactory,
    UserFactory,
    tier,
    work_type,
)
from agreements.tests.test_concurrency import run_in_threads
from audit.models import AuditAction, AuditEvent
from notifications import estimates as notify
from notifications.models import EmailKind, OutgoingEmail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLICKS = 8


@pytest.fixture
def world():
    client = ClientFactory(name="Clicky Co")
    agreement = AgreementFactory(client=client, credit_policy=CreditPolicy.IMMEDIATE)
    technicians = [TechnicianFactory(username=f"tech{i}") for i in range(CLICKS)]
    services.block_sell(agreement=agreement, tier=tier(10), actor=technicians[0], starts_on=agreement.starts_on)
    contacts = [UserFactory(username=f"clicky{i}", role="client") for i in range(CLICKS)]
    for contact in contacts:
        ClientContact.objects.create(client=client, user=contact)
    ticket = TicketFactory(client=client)
    return {"agreement": agreement, "technicians": technicians, "contacts": contacts, "ticket": ticket}


def waiting_estimate(world) -> Estimate:
    made = services.estimate_create(
        ticket=world["ticket"],
        actor=world["technicians"][0],
        minutes=700,
        work_type=work_type(),
        description="Migrate the mail server",
    )
    assert made.status == EstimateStatus.WAITING
    return made


def test_concurrent_approvals_and_declines_give_one_outcome_and_one_email_each(world):
    made = waiting_estimate(world)

    def decide(index: int) -> None:
        fresh = Estimate.objects.get(pk=made.pk)
        decide = notify.estimate_approve_and_notify if index % 2 else notify.estimate_decline_and_notify
        decide(estimate=fresh, actor=world["contacts"][index], send=lambda email_id: None)

    errors = run_in_threads(CLICKS, decide)

    assert len(errors) == CLICKS - 1, errors
    assert all(isinstance(e, ValidationError) and "already decided" in str(e) for e in errors), errors
    made.refresh_from_db()
    assert made.status in (EstimateStatus.APPROVED, EstimateStatus.DECLINED)
    decisions = AuditEvent.objects.filter(action__in=[AuditAction.ESTIMATE_APPROVE, AuditAction.ESTIMATE_DECLINE])
    assert decisions.count() == 1
    # The technician who estimated, no staff in this world: one email, once.
    assert list(OutgoingEmail.objects.filter(kind=EmailKind.ESTIMATE_DECIDED).values_list("recipient", flat=True)) == [
        "tech0@example.com"
    ]


def test_the_same_link_clicked_at_once_acts_once(world):
    made = waiting_estimate(world)
    token = services.estimate_link_token(made, "approve")

    def click(index: int) -> None:
        notify.estimate_decide_by_link(token=token, send=lambda email_id: None)

    errors = run_in_threads(CLICKS, click)

    assert len(errors) == CLICKS - 1, errors
    assert all(isinstance(e, services.EstimateLinkError) for e in errors), errors
    assert Estimate.objects.get().status == EstimateStatus.APPROVED
    assert OutgoingEmail.objects.filter(kind=EmailKind.ESTIMATE_DECIDED).count() == 1


def test_concurrent_estimates_never_reserve_more_than_the_balance_unapproved(world):
    """600 min, eight estimates of 90 min at once: six approved at once (540 min), two wait."""

    def estimate(index: int) -> None:
        services.estimate_create(
            ticket=world["ticket"],
            actor=world["technicians"][index],
            minutes=90,
            work_type=work_type(),
            description=f"Part {index}",
        )

    errors = run_in_threads(CLICKS, estimate)

    assert errors == []
    statuses = sorted(Estimate.objects.values_list("status", flat=True))
    assert statuses == ["approved"] * 6 + ["waiting"] * 2
    assert services.agreement_reserved_minutes(world["agreement"]) == 720
