"""Emails that fail for good or get stuck are never lost silently: staff are
emailed, the dashboard counts them, the client's and the invoice's pages
show them with the error, and staff send them again from there. Against a
real SMTP server (aiosmtpd) that refuses."""

import datetime
from http import HTTPStatus

import pytest
from aiosmtpd.controller import Controller
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from billing.models import Invoice
from notifications import services
from notifications.models import EmailKind, EmailStatus, OutgoingEmail
from notifications.tests.conftest import sweep_now
from notifications.tests.smtp import Inbox, start_smtp

UNDELIVERED = reverse("notifications:undelivered")
CLIENT_ADDRESSES = {"alice@example.com", "bob@example.com", "billing@acme-dental.example"}


class RefusingClients(Inbox):
    """Accepts mail for staff (northwind.example), refuses every other recipient for good."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@northwind.example"):
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 No such user here"


class RefusingEveryone(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return "550 5.7.1 Relaying denied"


def run_with(handler, port: int, action) -> None:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        action()
    finally:
        controller.stop()


def test_the_default_retry_window_spans_a_day_with_capped_delays(settings):
    delays = [services.retry_delay(n) for n in range(1, settings.EMAIL_MAX_ATTEMPTS)]
    assert sum(delays) >= 24 * 60 * 60
    assert delays[:6] == [60, 120, 240, 480, 960, 1800]  # doubling from a minute...
    assert max(delays) == settings.EMAIL_RETRY_MAX_DELAY == 1800  # ...capped
    assert settings.EMAIL_RETRY_MAX_DELAY < 3600  # below the broker's visibility timeout


def test_a_client_email_that_fails_for_good_emails_staff_once(make_low_agreement, smtp_port, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    make_low_agreement(left=30)
    handler = RefusingClients()
    run_with(handler, smtp_port, lambda: (sweep_now(), sweep_now()))
    failed = OutgoingEmail.objects.filter(status=EmailStatus.FAILED)
    assert {e.recipient for e in failed} == CLIENT_ADDRESSES
    for email in failed:
        assert email.last_error == f"SMTPRecipientsRefused: {{'{email.recipient}': (550, b'5.1.1 No such user here')}}"
    invoice = Invoice.objects.get()
    alerts = [msg for rcpt, msg in handler.messages if msg["Subject"].startswith("Not delivered")]
    assert sorted(msg["Subject"] for msg in alerts) == sorted(
        f"Not delivered: an email to {address}" for address in CLIENT_ADDRESSES
    )
    assert {tuple(rcpt) for rcpt, msg in handler.messages if msg in alerts} == {("owner@northwind.example",)}
    body = alerts[0].get_body(("plain",)).get_content()
    assert "550" in body and "Acme Dental" in body and invoice.number in body
    assert "http://127.0.0.1:8000/notifications/emails/undelivered/" in body
    assert OutgoingEmail.objects.filter(kind=EmailKind.EMAIL_FAILED_STAFF, status=EmailStatus.SENT).count() == 3


def test_when_the_alert_fails_too_the_dashboard_shows_both_and_nothing_alerts_about_the_alert(
    make_low_agreement, smtp_port, client, msp_staff
):
    make_low_agreement(left=30)
    run_with(RefusingEveryone(), smtp_port, lambda: (sweep_now(), sweep_now()))
    # Three client emails, the staff low-balance notice, and one alert per client email: all failed.
    assert OutgoingEmail.objects.filter(status=EmailStatus.FAILED).count() == 7
    assert OutgoingEmail.objects.filter(kind=EmailKind.EMAIL_FAILED_STAFF).count() == 3
    client.force_login(msp_staff)
    page = client.get(reverse("dashboard:home")).content.decode()
    assert "7 emails could not be delivered." in page
    assert f'href="{UNDELIVERED}"' in page


def test_staff_see_undelivered_emails_with_their_error_on_every_page(make_low_agreement, smtp_port, client, msp_staff):
    agreement = make_low_agreement(left=30)
    run_with(RefusingClients(), smtp_port, sweep_now)
    invoice = Invoice.objects.get()
    client.force_login(msp_staff)
    error = "550, b&#x27;5.1.1 No such user here&#x27;"

    page = client.get(reverse("dashboard:home")).content.decode()
    assert "3 emails could not be delivered." in page

    listing = client.get(UNDELIVERED)
    assert listing.status_code == HTTPStatus.OK
    assert [e.recipient for e in listing.context["emails"]] == [
        e.recipient for e in OutgoingEmail.objects.filter(status=EmailStatus.FAILED).order_by("-created_at", "-pk")
    ]
    text = listing.content.decode()
    assert text.count(error) == 3 and text.count("Send again") == 3

    client_page = client.get(reverse("dashboard:client", args=[agreement.client.public_id])).content.decode()
    assert 'id="undelivered-emails"' in client_page and client_page.count(error) == 3

    invoice_page = client.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert invoice_page.count(error) == 3
    for email in OutgoingEmail.objects.filter(status=EmailStatus.FAILED):
        assert reverse("notifications:email_resend", args=[email.public_id]) in invoice_page


def test_an_empty_list_says_so_and_the_dashboard_shows_no_count(client, msp_staff):
    client.force_login(msp_staff)
    assert "Every email was delivered." in client.get(UNDELIVERED).content.decode()
    assert 'id="undelivered-emails"' not in client.get(reverse("dashboard:home")).content.decode()


def test_staff_send_a_failed_email_again_once_on_a_double_click(make_low_agreement, smtp_port, client, msp_staff):
    make_low_agreement(left=30)
    run_with(RefusingClients(), smtp_port, sweep_now)
    failed = OutgoingEmail.objects.get(status=EmailStatus.FAILED, recipient="alice@example.com")
    url = reverse("notifications:email_resend", args=[failed.public_id])
    client.force_login(msp_staff)
    controller, inbox = start_smtp(smtp_port)  # the address was fixed: the server now accepts it
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            first = client.post(url, {"next": reverse("billing:invoice", args=[failed.invoice.public_id])})
        with TestCase.captureOnCommitCallbacks(execute=True):
            second = client.post(url, follow=True)
    finally:
        controller.stop()
    assert first.status_code == HTTPStatus.FOUND
    assert first.url == reverse("billing:invoice", args=[failed.invoice.public_id])
    assert [rcpt for rcpt, _msg in inbox.messages] == [["alice@example.com"]]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (EmailStatus.SENT, 2)
    assert second.redirect_chain[-1][0] == UNDELIVERED
    assert "was already sent again or delivered: nothing more was done" in second.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.EMAIL_RESEND)
    assert (event.actor, event.target_type, event.target_id, event.before["status"], event.after) == (
        msp_staff,
        "email",
        str(failed.pk),
        "failed",
        {"status": "pending"},
    )
    assert event.summary == f"Sent again: “{failed.subject}” to alice@example.com."


def test_resend_goes_back_only_to_this_site(make_low_agreement, smtp_port, client, msp_staff):
    make_low_agreement(left=30)
    run_with(RefusingClients(), smtp_port, sweep_now)
    failed = OutgoingEmail.objects.filter(status=EmailStatus.FAILED).first()
    client.force_login(msp_staff)
    response = client.post(
        reverse("notifications:email_resend", args=[failed.public_id]), {"next": "https://evil.example/"}
    )
    assert response.url == UNDELIVERED


def test_a_stuck_email_is_shown_and_alerts_staff_once(make_low_agreement, settings, msp_staff):
    make_low_agreement(left=30)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.sweep(
            process=lambda pk: services.episode_process(episode_id=pk, send=lambda _: None), send=lambda _: None
        )
    email = OutgoingEmail.objects.get(recipient="alice@example.com")
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING,
        attempts=1,
        claimed_at=timezone.now() - datetime.timedelta(seconds=settings.EMAIL_STUCK_AFTER + 1),
    )
    queued: list[int] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.sweep(process=lambda _: None, send=queued.append)
        services.sweep(process=lambda _: None, send=queued.append)
    alert = OutgoingEmail.objects.get(kind=EmailKind.EMAIL_FAILED_STAFF)
    assert alert.recipient == "owner@northwind.example"
    assert "Sending was interrupted" in alert.body_text
    assert alert.pk in queued


@pytest.mark.parametrize("who", ["charlie", "technician", "alice"])
def test_nobody_but_staff_sees_or_resends_undelivered_emails(make_low_agreement, smtp_port, client, request, who):
    make_low_agreement(left=30)
    run_with(RefusingClients(), smtp_port, sweep_now)
    failed = OutgoingEmail.objects.filter(status=EmailStatus.FAILED).first()
    client.force_login(request.getfixturevalue(who))
    assert client.get(UNDELIVERED).status_code == HTTPStatus.NOT_FOUND
    assert (
        client.post(reverse("notifications:email_resend", args=[failed.public_id])).status_code == HTTPStatus.NOT_FOUND
    )
    failed.refresh_from_db()
    assert failed.status == EmailStatus.FAILED
    assert not AuditEvent.objects.filter(action=AuditAction.EMAIL_RESEND).exists()


def test_resend_is_a_post(client, msp_staff):
    client.force_login(msp_staff)
    email = OutgoingEmail(public_id="00000000-0000-0000-0000-000000000000")
    assert (
        client.get(reverse("notifications:email_resend", args=[email.public_id])).status_code
        == HTTPStatus.METHOD_NOT_ALLOWED
    )


def test_resend_needs_the_csrf_token_of_the_page(make_low_agreement, smtp_port, msp_staff):
    from django.test import Client

    make_low_agreement(left=30)
    run_with(RefusingClients(), smtp_port, sweep_now)
    failed = OutgoingEmail.objects.filter(status=EmailStatus.FAILED).first()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(msp_staff)
    url = reverse("notifications:email_resend", args=[failed.public_id])
    assert browser.post(url).status_code == HTTPStatus.FORBIDDEN  # a forged cross-site form
    page = browser.get(UNDELIVERED)
    token = page.context["csrf_token"]
    assert f'name="csrfmiddlewaretoken" value="{token}"' in page.content.decode()
    with TestCase.captureOnCommitCallbacks(execute=False):
        assert browser.post(url, {"csrfmiddlewaretoken": token}).status_code == HTTPStatus.FOUND
    failed.refresh_from_db()
    assert failed.status == EmailStatus.PENDING
