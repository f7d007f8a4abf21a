"""The estimate page for technicians and staff, the charge preview's warning for
a ticket whose estimate waits, the staff dashboard's lists, and who may see what."""

from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.models import Estimate, EstimateStatus
from agreements.tests.factories import work_type
from notifications.tasks import check_agreement

pytestmark = pytest.mark.django_db

NEW = reverse("timesheet:estimate_new")


def estimate_data(**overrides):
    return {
        "agreement": "Acme Dental",
        "ticket": "4711",
        "subject": "Mail server down",
        "duration": "2:00",
        "work_type": work_type().pk,
        "description": "Move the mailboxes to the new server",
        **overrides,
    }


def test_a_technician_adds_an_estimate_the_balance_covers(
    client, technician, funded, alice, django_capture_on_commit_callbacks
):
    client.force_login(technician)
    assert client.get(NEW).status_code == HTTPStatus.OK
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(NEW, estimate_data(), follow=True)
    made = Estimate.objects.get()
    assert (made.status, made.auto_approved, made.minutes, made.charged_minutes) == ("approved", True, 120, 120)
    assert made.ticket.subject == "Mail server down"
    assert "approved automatically: the balance covers 2 h." in response.content.decode()
    assert mail.outbox == []


def test_staff_add_one_it_does_not_cover_and_the_client_is_emailed(
    client, staff, funded, alice, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(NEW, estimate_data(duration="12h"), follow=True)
    made = Estimate.objects.get()
    assert (made.status, made.charged_minutes) == (EstimateStatus.WAITING, 720)
    assert response.redirect_chain[-1][0] == reverse("dashboard:client", args=[funded.client.public_id])
    page = response.content.decode()
    assert "needs the client&#x27;s approval: the balance does not cover 12 h." in page
    assert "12 h reserved by estimates" in page
    assert "Hours reserved by estimates: <strong>12 h</strong>" in page
    assert {m.to[0] for m in mail.outbox} == {"alice@example.com", "billing@acme-dental.example"}
    home = client.get(reverse("dashboard:home")).content.decode()
    assert "Estimates waiting for the client" in home and "Move the mailboxes to the new server" in home
    runway = client.get(reverse("reports:runway")).content.decode()
    assert '<div class="small text-secondary" data-testid="reserved">12 h reserved by estimates</div>' in runway


def test_bad_input_changes_nothing(client, technician, funded):
    client.force_login(technician)
    response = client.post(NEW, estimate_data(duration="-5", description=""))
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors.keys() == {"duration", "description"}
    response = client.post(NEW, estimate_data(agreement="Nobody Ltd"))
    assert "Choose a client with an active agreement from the list." in response.content.decode()
    assert not Estimate.objects.exists()


def test_the_preview_warns_of_a_waiting_estimate_and_still_saves(
    client, technician, funded, django_capture_on_commit_callbacks
):
    client.force_login(technician)
    client.post(NEW, estimate_data(duration="12h"))
    data = {
        "agreement": "Acme Dental",
        "ticket": "4711",
        "subject": "",
        "work_date": timezone.localdate().isoformat(),
        "duration": "0:30",
        "work_type": work_type().pk,
        "notes": "",
        "idempotency_key": "k-1",
    }
    preview = client.post(reverse("timesheet:log"), {**data, "check": "1"}).content.decode()
    assert "The estimate of 12 h on ticket #4711" in preview
    assert "still waits for the client's approval. You can save" in preview
    other = client.post(reverse("timesheet:log"), {**data, "ticket": "4712", "check": "1"}).content.decode()
    assert "still waits" not in other
    assert client.post(reverse("timesheet:log"), {**data, "save": "1"}).status_code == HTTPStatus.FOUND
    funded.refresh_from_db()
    assert funded.balance_minutes == 570


def test_an_overrun_is_listed_for_staff(client, staff, technician, funded, ticket):
    made = services.estimate_create(
        ticket=ticket, actor=technician, minutes=60, work_type=work_type(), description="Printer swap"
    )
    services.time_entry_log(
        agreement=funded,
        technician=technician,
        ticket=ticket,
        work_date=timezone.localdate(),
        minutes=90,
        work_type=work_type(),
    )
    check_agreement(funded.pk)
    made.refresh_from_db()
    assert made.overrun_flagged_at is not None
    client.force_login(staff)
    home = client.get(reverse("dashboard:home")).content.decode()
    assert "Tickets beyond their estimate" in home
    assert "Printer swap" in home and "1 h 30 min" in home


def test_cancel_frees_the_reservation(client, staff, funded, ticket, technician):
    made = services.estimate_create(
        ticket=ticket, actor=technician, minutes=60, work_type=work_type(), description="Printer swap"
    )
    client.force_login(staff)
    client.post(reverse("timesheet:estimate_cancel", args=[made.public_id]))
    made.refresh_from_db()
    assert made.status == EstimateStatus.CANCELLED
    assert services.agreement_reserved_minutes(funded) == 0


def test_a_client_contact_gets_404_on_the_estimate_pages(client, alice, funded, ticket, technician):
    made = services.estimate_create(
        ticket=ticket, actor=technician, minutes=60, work_type=work_type(), description="Printer swap"
    )
    client.force_login(alice)
    assert client.get(NEW).status_code == HTTPStatus.NOT_FOUND
    cancel = client.post(reverse("timesheet:estimate_cancel", args=[made.public_id]))
    assert cancel.status_code == HTTPStatus.NOT_FOUND
    assert Estimate.objects.get().status == EstimateStatus.APPROVED
