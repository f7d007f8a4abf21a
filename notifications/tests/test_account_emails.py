"""Invitations and password-reset links go through the recorded, retried,
resendable outbox like every other email: a mail server that is down or slow
never fails or slows the web request, and never tells which addresses have
accounts. Against real SMTP servers (aiosmtpd) started here."""

import asyncio
import datetime
import statistics
import time
from http import HTTPStatus

import pytest
from aiosmtpd.controller import Controller
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Role, User
from agreements.tests.factories import StaffFactory, TechnicianFactory
from audit.models import AuditAction, AuditEvent
from notifications.models import EmailKind, EmailStatus, OutgoingEmail
from notifications.tests.conftest import sweep_now
from notifications.tests.smtp import Inbox, start_smtp

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.django_db


class SlowInbox(Inbox):
    """A mail server that takes `delay` seconds to accept each message."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class Refusing(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@northwind.example"):
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 No such user here"


def link_in(body: str, marker: str) -> str:
    return body[body.index(marker) :].split()[0]


# --- invitations -------------------------------------------------------------------


def test_inviting_a_technician_with_the_mail_server_down_succeeds_and_the_email_follows(client, staff, smtp_port):
    client.force_login(staff)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker's first try: nothing listens
        response = client.post(
            reverse("dashboard:technician_invite"), {"email": "tim@msp.example", "username": "tim"}, follow=True
        )
    assert response.status_code == HTTPStatus.OK
    assert response.redirect_chain[-1][0] == reverse("dashboard:team")
    assert "Invitation sent to tim@msp.example" in response.content.decode()
    tim = User.objects.get(username="tim")
    email = OutgoingEmail.objects.get(kind=EmailKind.INVITATION)
    assert (email.user, email.recipient, email.agreement, email.status, email.attempts) == (
        tim,
        "tim@msp.example",
        None,
        EmailStatus.PENDING,
        1,
    )
    assert "Connection refused" in email.last_error or "ConnectionRefused" in email.last_error

    controller, inbox = start_smtp(smtp_port)  # the server is back: the sweep catches up
    try:
        OutgoingEmail.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
        sweep_now()
    finally:
        controller.stop()
    ((recipients, message),) = inbox.messages
    assert recipients == ["tim@msp.example"]
    assert message["Subject"] == "You're invited to Blockhours"
    path = link_in(message.get_body(("plain",)).get_content(), "/invitation/")
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 2)
    assert "/invitation/" not in email.body_text  # no working link kept once sent
    client.logout()
    response = client.post(path, {"new_password1": "a-Long-new-pass-92", "new_password2": "a-Long-new-pass-92"})
    assert response.status_code == HTTPStatus.FOUND
    tim.refresh_from_db()
    assert tim.check_password("a-Long-new-pass-92")


def test_an_invitation_refused_for_good_shows_on_the_clients_page_and_is_sent_again(client, staff, client_a, smtp_port):
    StaffFactory(username="owner", email="owner@northwind.example")
    client.force_login(staff)
    controller = Controller(Refusing(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post(
                reverse("dashboard:contact_invite", args=[client_a.public_id]),
                {"email": "dana@acme.example", "username": "dana"},
            )
    finally:
        controller.stop()
    failed = OutgoingEmail.objects.get(kind=EmailKind.INVITATION)
    assert failed.status == EmailStatus.FAILED
    # One alert per staff address; the refusing server accepts only northwind's.
    assert sorted(
        OutgoingEmail.objects.filter(kind=EmailKind.EMAIL_FAILED_STAFF).values_list("recipient", "status")
    ) == [
        ("owner@northwind.example", EmailStatus.SENT),
        ("sam@example.com", EmailStatus.FAILED),
    ]
    page = client.get(reverse("dashboard:client", args=[client_a.public_id])).content.decode()
    assert 'id="undelivered-emails"' in page and "5.1.1 No such user here" in page

    controller, inbox = start_smtp(smtp_port)
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post(reverse("notifications:email_resend", args=[failed.public_id]))
    finally:
        controller.stop()
    assert [rcpt for rcpt, _msg in inbox.messages] == [["dana@acme.example"]]


def test_staff_re_invite_a_technician_and_a_staff_member_from_the_team_page(client, staff, technician):
    colleague = StaffFactory(username="stella", email="stella@msp.example")
    old = Invitation.objects.create(
        user=technician, token_hash="0" * 64, expires_at=timezone.now() + datetime.timedelta(days=3)
    )
    client.force_login(staff)
    page = client.get(reverse("dashboard:team")).content.decode()
    for person in (staff, technician, colleague):
        assert reverse("dashboard:member_reinvite", args=[person.username]) in page
    for person in (technician, colleague):
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.post(reverse("dashboard:member_reinvite", args=[person.username]), follow=True)
        assert response.redirect_chain[-1][0] == reverse("dashboard:team")
        assert f"A new invitation was sent to {person.email}" in response.content.decode()
    old.refresh_from_db()
    assert old.expires_at <= timezone.now()  # the earlier link stopped working
    assert sorted(OutgoingEmail.objects.filter(kind=EmailKind.INVITATION).values_list("recipient", "status")) == [
        ("stella@msp.example", EmailStatus.SENT),
        (technician.email, EmailStatus.SENT),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_SEND).count() == 2


def test_client_contacts_are_not_re_invited_from_the_team_page(client, staff, alice):
    client.force_login(staff)
    assert alice.role == Role.CLIENT
    assert client.post(reverse("dashboard:member_reinvite", args=[alice.username])).status_code == HTTPStatus.NOT_FOUND
    assert not Invitation.objects.exists()


def test_staff_re_invite_a_contact_who_already_has_a_password(client, staff, alice, client_a):
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[client_a.public_id])).content.decode()
    url = reverse("dashboard:contact_reinvite", args=[client_a.public_id, alice.client_contact.pk])
    assert url in page
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(url)
    assert OutgoingEmail.objects.get(kind=EmailKind.INVITATION).recipient == alice.email


@pytest.mark.parametrize("who", ["charlie", "technician"])
def test_nobody_but_staff_sees_the_team_or_re_invites(client, request, who, staff):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("dashboard:team")).status_code == HTTPStatus.NOT_FOUND
    assert client.post(reverse("dashboard:member_reinvite", args=[staff.username])).status_code == HTTPStatus.NOT_FOUND
    assert not Invitation.objects.exists()


# --- password reset ----------------------------------------------------------------


def test_password_reset_takes_as_long_for_known_and_unknown_addresses_with_a_slow_mail_server(
    client, smtp_port, settings
):
    """The request only queues the reset, for any address; a worker finds the
    account, records the email and sends it after the response (here: the
    captured on-commit callbacks, run once the timing is taken). Medians of
    seven, compared as a ratio: before, about 200 times slower for a known one."""
    settings.PASSWORD_RESET_LIMIT = 100
    known = TechnicianFactory(username="tess", email="tess@example.com")
    handler = SlowInbox(delay=0.5)
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    after_response = []
    try:
        for _round in range(7):
            for which, address in (("known", known.email), ("unknown", "ghost@example.com")):
                with TestCase.captureOnCommitCallbacks() as callbacks:
                    start = time.perf_counter()
                    response = client.post(reverse("password_reset"), {"email": address})
                    timings[which].append(time.perf_counter() - start)
                assert response.status_code == HTTPStatus.FOUND
                assert response.url == reverse("password_reset_done")
                after_response += callbacks
        ratio = statistics.median(timings["known"]) / statistics.median(timings["unknown"])
        assert ratio < 3, timings  # with the email sent in the request: about 0.5 s against a few ms
        with TestCase.captureOnCommitCallbacks(execute=True):
            for callback in after_response:
                callback()
    finally:
        controller.stop()
    assert [rcpt for rcpt, _msg in handler.messages] == [["tess@example.com"]] * 7
    assert OutgoingEmail.objects.filter(kind=EmailKind.PASSWORD_RESET, status=EmailStatus.SENT).count() == 7
    assert all("/password/reset/" not in e.body_text for e in OutgoingEmail.objects.all())


def test_a_reset_link_that_could_not_be_sent_is_retried_not_lost(client, smtp_port):
    TechnicianFactory(username="tess", email="tess@example.com", password=PASSWORD)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "TESS@example.com"})
    assert response.status_code == HTTPStatus.FOUND  # not a 500
    email = OutgoingEmail.objects.get(kind=EmailKind.PASSWORD_RESET)
    assert (email.status, email.attempts, email.recipient) == (EmailStatus.PENDING, 1, "tess@example.com")
    assert not OutgoingEmail.objects.filter(kind=EmailKind.EMAIL_FAILED_STAFF).exists()
