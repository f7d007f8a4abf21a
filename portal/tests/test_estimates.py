"""Estimates in the portal: the reserved hours beside the balance, approve (with
or without buying a block) and decline once, the emailed links, and Charlie
who sees and decides nothing of Acme's."""

import datetime
import re
from http import HTTPStatus

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import Estimate, EstimateStatus
from agreements.tests.factories import tier, work_type
from notifications import estimates as estimate_notify
from notifications.tasks import queue_sending
from portal.models import HoursRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(agreement, staff, seller):
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    return agreement


@pytest.fixture
def waiting(funded, ticket, technician, django_capture_on_commit_callbacks):
    """An estimate of 11 h 40 min (charging 11 h 45 min) that the 10 hours do not cover."""
    with django_capture_on_commit_callbacks(execute=True):
        made = estimate_notify.estimate_create_and_notify(
            ticket=ticket,
            actor=technician,
            minutes=700,
            work_type=work_type(),
            description="Migrate the mail server",
            send=queue_sending,
        )
    assert made.status == EstimateStatus.WAITING
    return made


def approve_url(estimate) -> str:
    return reverse("portal:estimate_approve", args=[estimate.public_id])


def decline_url(estimate) -> str:
    return reverse("portal:estimate_decline", args=[estimate.public_id])


def test_the_portal_shows_the_hours_reserved_and_the_waiting_estimate(client, alice, waiting):
    client.force_login(alice)
    home = client.get(reverse("portal:home")).content.decode()
    assert "Hours reserved by estimates: <strong>11 h 45 min</strong>" in home
    assert "1 estimate waits for your approval before we start the work." in home
    page = client.get(reverse("portal:estimates")).content.decode()
    assert "Migrate the mail server" in page
    assert "11 h 40 min of Normal work, charging 11 h 45 min" in page
    assert approve_url(waiting) in page and decline_url(waiting) in page


def test_alice_approves_once_and_the_technician_and_staff_hear_of_it(
    client, alice, technician, staff, waiting, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(approve_url(waiting), {"tier": ""})
        client.post(approve_url(waiting), {"tier": ""})  # a double click
    assert response.status_code == HTTPStatus.FOUND
    waiting.refresh_from_db()
    assert (waiting.status, waiting.decided_by) == (EstimateStatus.APPROVED, alice)
    assert sorted(m.to[0] for m in mail.outbox) == [staff.email, technician.email]
    page = client.get(reverse("portal:estimates")).content.decode()
    assert "This estimate was already decided (approved)." in page
    assert not HoursRequest.objects.exists()


def test_approving_with_a_block_asks_for_the_block(client, alice, waiting, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(approve_url(waiting), {"tier": tier(20).pk})
    [request] = HoursRequest.objects.all()
    assert (request.agreement_id, request.tier.hours, request.requested_by) == (waiting.agreement_id, 20, alice)
    assert request.note == f"For the estimate on ticket #{waiting.ticket.number}"
    assert Estimate.objects.get().status == EstimateStatus.APPROVED


def test_bob_declines_and_the_reservation_is_gone(client, bob, waiting, django_capture_on_commit_callbacks):
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(decline_url(waiting))
    assert Estimate.objects.get().status == EstimateStatus.DECLINED
    assert "Hours reserved by estimates" not in client.get(reverse("portal:home")).content.decode()


def test_charlie_sees_and_decides_nothing_of_acmes(client, charlie, waiting):
    client.force_login(charlie)
    assert "Migrate the mail server" not in client.get(reverse("portal:estimates")).content.decode()
    assert client.post(approve_url(waiting), {"tier": ""}).status_code == HTTPStatus.NOT_FOUND
    assert client.post(decline_url(waiting)).status_code == HTTPStatus.NOT_FOUND
    assert Estimate.objects.get().status == EstimateStatus.WAITING


def emailed_link(action: str) -> str:
    body = next(m.body for m in mail.outbox if m.to == ["billing@acme-dental.example"])
    label = {"approve": "Approve", "decline": "Decline"}[action]
    return re.search(rf"{label}: http://[^/]+(\S+)", body).group(1)


def test_the_emailed_link_asks_then_acts_once(client, waiting, django_capture_on_commit_callbacks):
    link = emailed_link("approve")
    page = client.get(link)  # no sign-in; a mail scanner's GET changes nothing
    assert page.status_code == HTTPStatus.OK
    assert "Approve the estimate" in page.content.decode()
    assert Estimate.objects.get().status == EstimateStatus.WAITING

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(link)
    assert "Estimate approved: we will start the work." in done.content.decode()
    again = client.post(link)
    assert again.status_code == HTTPStatus.GONE
    assert "This estimate was already decided (approved); the link cannot change it." in again.content.decode()
    decline = client.post(emailed_link("decline"))
    assert decline.status_code == HTTPStatus.GONE
    assert Estimate.objects.get().status == EstimateStatus.APPROVED


def test_a_tampered_or_expired_link_changes_nothing(client, waiting, settings):
    link = emailed_link("decline")
    tampered = client.post(link[:-3] + "xx/")
    assert tampered.status_code == HTTPStatus.NOT_FOUND
    assert "This link is not valid." in tampered.content.decode()

    later = (timezone.now() + datetime.timedelta(days=settings.ESTIMATE_LINK_DAYS, hours=1)).timestamp()
    real_time = signing.time.time
    signing.time.time = lambda: later
    try:
        expired = client.post(link)
    finally:
        signing.time.time = real_time
    assert "This link has expired." in expired.content.decode()
    assert Estimate.objects.get().status == EstimateStatus.WAITING


def test_another_clients_link_cannot_act_on_this_one(client, client_b, waiting, staff, technician):
    """A link names its estimate: Birch's link decides Birch's estimate only."""
    from agreements.tests.factories import AgreementFactory, TicketFactory

    birch = AgreementFactory(client=client_b)
    theirs = services.estimate_create(
        ticket=TicketFactory(client=client_b),
        actor=technician,
        minutes=60,
        work_type=work_type(),
        description="Their work",
    )
    assert theirs.agreement_id == birch.pk
    token = services.estimate_link_token(theirs, "decline")
    client.post(reverse("portal:estimate_link", args=[token]))
    assert Estimate.objects.get(pk=theirs.pk).status == EstimateStatus.DECLINED
    assert Estimate.objects.get(pk=waiting.pk).status == EstimateStatus.WAITING
