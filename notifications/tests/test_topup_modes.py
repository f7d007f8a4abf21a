"""Top-up modes: what the low-balance sweep does, once per episode, per agreement."""

import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Block, CreditPolicy, LedgerEntry, LedgerKind, TopupMode
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import tier
from audit.models import AuditAction, AuditEvent
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from notifications import services
from notifications.models import EmailKind, Episode, OutgoingEmail
from notifications.tests.conftest import sweep_now, use_hours

CLIENT_RECIPIENTS = ["alice@example.com", "billing@acme-dental.example", "bob@example.com"]
STAFF = ["owner@northwind.example"]


def number(sequence: int) -> str:
    return f"{timezone.localdate().year}-{sequence:04d}"


def sent() -> list[tuple[str, str]]:
    return sorted((m.to[0], m.subject) for m in mail.outbox)


def issue_now(invoice: Invoice, actor) -> Invoice:  # noqa: ANN001
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.reload_draft_issue(invoice=invoice, actor=actor, send=_send)


def _send(email_id: int) -> None:
    services.email_send(email_id=email_id)


# --- charge


def test_charge_credits_the_reload_block_at_once_and_invoices_it(make_low_agreement):
    agreement = make_low_agreement(left=100, topup_mode=TopupMode.CHARGE)
    sweep_now()

    invoice = Invoice.objects.get()
    assert (invoice.kind, invoice.status, invoice.number, invoice.total) == (
        InvoiceKind.RELOAD,
        InvoiceStatus.ISSUED,
        number(1),
        Decimal("1800.00"),
    )
    assert invoice.block.minutes == 1200 and invoice.block.credited_at is not None
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 100 + 1200
    assert (
        LedgerEntry.objects.filter(agreement=agreement, kind=LedgerKind.PURCHASE, block=invoice.block).get().minutes
        == 1200
    )
    assert sent() == sorted(
        [(to, f"Acme Dental: we have reloaded your support hours (invoice {number(1)})") for to in CLIENT_RECIPIENTS]
        + [(STAFF[0], "Low balance: Acme Dental has 21 h 40 min left — reloaded automatically")]
    )


# --- issue (the default)


def test_issue_is_the_default_and_sells_on_an_invoice_paid_before_the_hours_come(make_low_agreement):
    agreement = make_low_agreement(left=120)
    assert agreement.topup_mode == TopupMode.ISSUE
    sweep_now()

    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number, invoice.total, invoice.block.credited_at) == (
        InvoiceStatus.ISSUED,
        number(1),
        Decimal("1800.00"),
        None,
    )
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 120
    assert sent() == sorted(
        [
            (to, f"Acme Dental: your support hours are running low — reload invoice {number(1)}")
            for to in CLIENT_RECIPIENTS
        ]
        + [(STAFF[0], f"Low balance: Acme Dental has 2 h left — reload invoice {number(1)} sent")]
    )


# --- notify


def test_notify_tells_staff_and_client_and_sells_nothing(make_low_agreement):
    agreement = make_low_agreement(left=90, topup_mode=TopupMode.NOTIFY)
    ledger_before = LedgerEntry.objects.filter(agreement=agreement).count()
    sweep_now()
    sweep_now()

    assert not Invoice.objects.exists()
    assert Block.objects.filter(agreement=agreement).count() == 1  # the block it started with
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 90
    assert LedgerEntry.objects.filter(agreement=agreement).count() == ledger_before
    assert sent() == sorted(
        [(to, "Acme Dental: your support hours are running low — 1 h 30 min left") for to in CLIENT_RECIPIENTS]
        + [(STAFF[0], "Low balance: Acme Dental has 1 h 30 min left — client told, nothing sold")]
    )
    client_mail = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "No invoice has been issued." in client_mail.body and client_mail.attachments == []
    staff_mail = next(m for m in mail.outbox if m.to == STAFF)
    assert "nothing was sold or invoiced" in staff_mail.body
    assert Episode.objects.get().reload_invoice is None


# --- draft


def test_draft_leaves_a_draft_for_staff_and_tells_only_staff(make_low_agreement):
    agreement = make_low_agreement(left=120, topup_mode=TopupMode.DRAFT)
    ledger_before = LedgerEntry.objects.filter(agreement=agreement).count()
    sweep_now()
    sweep_now()

    draft = Invoice.objects.get()
    assert (draft.kind, draft.status, draft.number, draft.total) == (
        InvoiceKind.RELOAD,
        InvoiceStatus.DRAFT,
        None,
        Decimal("1800.00"),
    )
    assert (draft.block.minutes, draft.block.credited_at, draft.block.cancelled_at) == (1200, None, None)
    assert Episode.objects.get().reload_invoice == draft
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 120
    assert LedgerEntry.objects.filter(agreement=agreement).count() == ledger_before
    assert sent() == [(STAFF[0], "Low balance: Acme Dental has 2 h left — reload invoice drafted for your review")]
    (message,) = mail.outbox
    assert "20-hour support block ($1,800.00)" in message.body
    assert f"/dashboard/reloads/{draft.public_id}/" in message.body
    assert message.attachments == []


def test_a_draft_under_usable_at_once_holds_its_hours_until_issued(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=120, topup_mode=TopupMode.DRAFT, credit_policy=CreditPolicy.IMMEDIATE)
    sweep_now()
    draft = Invoice.objects.get()
    assert draft.block.credited_at is None
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 120

    mail.outbox.clear()
    invoice = issue_now(draft, msp_staff)
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 120 + 1200
    assert invoice.block.credited_at is not None
    assert sent() == [
        (to, f"Acme Dental: we have reloaded your support hours (invoice {number(1)})") for to in CLIENT_RECIPIENTS
    ]


def test_staff_change_the_drafted_block_then_issue_it_numbered_and_emailed(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=120, topup_mode=TopupMode.DRAFT)
    sweep_now()
    draft = Invoice.objects.get()

    changed = services.reload_draft_change_block(invoice=draft, actor=msp_staff, tier=tier(30))
    assert (changed.block.minutes, changed.block.rate, changed.total, changed.number) == (
        1800,
        Decimal("90.00"),
        Decimal("2700.00"),
        None,
    )
    assert [(line.minutes, line.amount) for line in changed.lines.order_by("position")] == [
        (1800, Decimal("3000.00")),
        (1800, Decimal("-300.00")),
    ]
    changed = services.reload_draft_change_block(invoice=draft, actor=msp_staff, hours=5)
    assert (changed.block.minutes, changed.block.tier, changed.total) == (300, None, Decimal("500.00"))
    assert list(changed.lines.values_list("minutes", "unit_price", "amount")) == [
        (300, Decimal("100.00"), Decimal("500.00"))
    ]
    assert AuditEvent.objects.filter(action=AuditAction.BLOCK_RESIZE, actor=msp_staff).count() == 2

    mail.outbox.clear()
    invoice = issue_now(draft, msp_staff)
    assert (invoice.status, invoice.number, invoice.total, invoice.block.credited_at) == (
        InvoiceStatus.ISSUED,
        number(1),
        Decimal("500.00"),
        None,
    )
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 120  # hours come once paid
    assert sent() == [
        (to, f"Acme Dental: your support hours are running low — reload invoice {number(1)}")
        for to in CLIENT_RECIPIENTS
    ]
    message = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "$500.00" in message.body and message.attachments[0][0] == f"Invoice-{number(1)}.pdf"
    assert AuditEvent.objects.filter(action=AuditAction.RELOAD_DRAFT_ISSUE, actor=msp_staff).count() == 1
    # Issued once: a second issue is refused, nothing more is sent.
    with pytest.raises(ValidationError, match="no longer a draft: it was issued or discarded"):
        issue_now(draft, msp_staff)
    assert len(mail.outbox) == 3


def test_a_discarded_draft_sells_nothing_and_does_not_come_back_in_the_same_episode(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=120, topup_mode=TopupMode.DRAFT)
    sweep_now()
    draft = Invoice.objects.get()
    ledger_before = LedgerEntry.objects.filter(agreement=agreement).count()

    services.reload_draft_discard(invoice=draft, actor=msp_staff, reason="Client moves to an MSA")
    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.void_reason) == (InvoiceStatus.VOID, None, "Client moves to an MSA")
    assert draft.block.cancelled_at is not None and draft.block.credited_at is None
    agreement.refresh_from_db()
    assert assert_balance_is_ledger_sum(agreement) == 120
    assert LedgerEntry.objects.filter(agreement=agreement).count() == ledger_before

    use_hours(agreement, 30)  # lower still, same episode
    sweep_now()
    sweep_now()
    assert Invoice.objects.count() == 1 and Episode.objects.count() == 1
    assert len(mail.outbox) == 1  # the one staff notice of the draft


def test_recovery_then_a_new_fall_drafts_again(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=120, topup_mode=TopupMode.DRAFT)
    sweep_now()
    services.reload_draft_discard(invoice=Invoice.objects.get(), actor=msp_staff)
    agreement_services.ledger_adjust(agreement=agreement, minutes=300, reason="Goodwill", author=msp_staff)
    sweep_now()  # balance 7 h: above the threshold, the episode closes
    assert Episode.objects.get().closed_at is not None

    use_hours(agreement, 320)  # down to 1 h 40 min
    sweep_now()
    assert Episode.objects.count() == 2
    second = Invoice.objects.get(status=InvoiceStatus.DRAFT)
    assert (second.total, second.block.minutes) == (Decimal("1800.00"), 1200)
    assert Episode.objects.get(closed_at__isnull=True).reload_invoice == second
    assert [m.subject for m in mail.outbox] == [
        "Low balance: Acme Dental has 2 h left — reload invoice drafted for your review",
        "Low balance: Acme Dental has 1 h 40 min left — reload invoice drafted for your review",
    ]


def test_only_a_drafted_reload_can_be_reviewed(make_low_agreement, msp_staff):
    make_low_agreement(left=120)  # issue mode: an issued invoice, no draft
    sweep_now()
    issued = Invoice.objects.get()
    with pytest.raises(ValidationError, match="no longer a draft"):
        services.reload_draft_discard(invoice=issued, actor=msp_staff)
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.ISSUED


def test_a_drafted_block_that_was_discarded_cannot_change_size(make_low_agreement, msp_staff):
    make_low_agreement(left=120, topup_mode=TopupMode.DRAFT)
    sweep_now()
    draft = Invoice.objects.get()
    services.reload_draft_discard(invoice=draft, actor=msp_staff)
    with pytest.raises(ValidationError, match="no longer a draft"):
        services.reload_draft_change_block(invoice=draft, actor=msp_staff, tier=tier(30))
    draft.refresh_from_db()
    assert (draft.total, draft.block.minutes) == (Decimal("1800.00"), 1200)


# --- exactly once, two sweeps at the same moment (PostgreSQL)


def _two_sweeps_at_once() -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sweep_now()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    assert errors == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_make_one_draft(make_low_agreement):
    make_low_agreement(left=60, topup_mode=TopupMode.DRAFT)
    _two_sweeps_at_once()
    assert Episode.objects.count() == 1
    assert list(Invoice.objects.values_list("status", "total")) == [(InvoiceStatus.DRAFT, Decimal("1800.00"))]
    assert Block.objects.filter(credited_at__isnull=True).count() == 1
    assert list(OutgoingEmail.objects.values_list("kind", "recipient")) == [(EmailKind.RELOAD_DRAFT_STAFF, STAFF[0])]
    assert [m.to for m in mail.outbox] == [STAFF]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_one_notice(make_low_agreement):
    make_low_agreement(left=60, topup_mode=TopupMode.NOTIFY)
    _two_sweeps_at_once()
    assert Episode.objects.count() == 1 and not Invoice.objects.exists()
    assert sorted(OutgoingEmail.objects.values_list("kind", "recipient")) == sorted(
        [(EmailKind.LOW_BALANCE_CLIENT, to) for to in CLIENT_RECIPIENTS] + [(EmailKind.LOW_BALANCE_STAFF, STAFF[0])]
    )
    assert sorted(m.to[0] for m in mail.outbox) == sorted(CLIENT_RECIPIENTS + STAFF)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_issuing_the_same_draft_at_once_issue_it_once(make_low_agreement, msp_staff):
    make_low_agreement(left=60, topup_mode=TopupMode.DRAFT)
    sweep_now()
    draft = Invoice.objects.get()
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            issue_now(Invoice.objects.get(pk=draft.pk), msp_staff)
            outcomes.append("issued")
        except ValidationError as error:
            outcomes.append(error.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    assert sorted(outcomes) == ["This reload is no longer a draft: it was issued or discarded.", "issued"]
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.ISSUED, number(1))
    assert sorted(m.to[0] for m in mail.outbox) == CLIENT_RECIPIENTS


def test_the_admins_issue_action_issues_a_drafted_reload_as_its_review_page_does(
    make_low_agreement, superuser, client, django_capture_on_commit_callbacks
):
    make_low_agreement(left=120, topup_mode=TopupMode.DRAFT)
    sweep_now()
    draft = Invoice.objects.get()
    mail.outbox.clear()
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:billing_invoice_changelist"), {"action": "issue", "_selected_action": [draft.pk]}
        )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.ISSUED, number(1))
    assert sent() == [
        (to, f"Acme Dental: your support hours are running low — reload invoice {number(1)}")
        for to in CLIENT_RECIPIENTS
    ]
    assert AuditEvent.objects.filter(action=AuditAction.RELOAD_DRAFT_ISSUE, actor=superuser).count() == 1
