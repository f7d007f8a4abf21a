"""Every audited action, through its service: exactly one event, with the
exact before and after values; a refused action records nothing; and an
event lives and dies with the change it describes."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.services import invitation_send, technician_create
from agreements import services
from agreements.models import Agreement, Block, LedgerEntry
from agreements.tests.factories import AgreementFactory, TechnicianFactory, TicketFactory, tier, work_type
from api.models import ApiToken
from api.services import token_create, token_revoke
from audit.admin import AuditEventAdmin
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus, Payment

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def mark() -> int:
    """The newest event's id: what a test's action adds comes after it."""
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def events_since(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=since).order_by("pk"))


def only_event_since(since: int) -> AuditEvent:
    events = events_since(since)
    assert len(events) == 1, [(e.action, e.summary) for e in events]
    return events[0]


@pytest.fixture
def immediate(client_a):
    """An agreement whose blocks are usable at once (credited at sale)."""
    return AgreementFactory(client=client_a, credit_policy="immediate")


@pytest.fixture
def invoice(agreement, staff, seller):
    """An issued 10-hour invoice ($1,000.00) of Alice's client; credited when paid."""
    return billing_services.invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))


# --- selling blocks ------------------------------------------------------------


def test_it_records_a_block_sale_with_the_balance_before_and_after(immediate, staff, client_a):
    since = mark()
    block = services.block_sell(agreement=immediate, actor=staff, tier=tier(10))
    event = only_event_since(since)
    assert (event.action, event.actor, event.client) == (AuditAction.BLOCK_SELL, staff, client_a)
    assert (event.target_type, event.target_id) == ("block", str(block.public_id))
    assert event.before == {"balance_minutes": 0}
    assert event.after == {
        "balance_minutes": 600,
        "tier": "10-hour block",
        "minutes": 600,
        "rate": "100.00",
        "amount": "1000.00",
        "currency": "USD",
        "starts_on": TODAY.isoformat(),
        "expires_on": None,
        "credited": True,
    }
    assert event.summary == "Sold a 10 h block to Acme Dental (Prepaid support hours) for 1000.00 USD."
    event.refresh_from_db()  # what was stored reads back the same
    assert event.after["amount"] == "1000.00" and event.before == {"balance_minutes": 0}


def test_selling_and_invoicing_a_block_is_one_event(agreement, staff, seller):
    since = mark()
    invoice = billing_services.invoice_sell_block(agreement=agreement, actor=staff, hours=3)
    event = only_event_since(since)
    assert (event.action, event.target_id) == (AuditAction.BLOCK_SELL, str(invoice.block.public_id))
    assert event.before == {"balance_minutes": 0}
    assert event.after["balance_minutes"] == 0  # credited when paid
    assert (event.after["tier"], event.after["minutes"], event.after["amount"]) == (None, 180, "300.00")
    assert event.after["credited"] is False


def test_a_sale_whose_invoice_cannot_be_issued_leaves_no_event(agreement, staff):
    """No seller profile: issuing fails after the block was sold and its event
    written; the whole sale rolls back, the event with it."""
    since = mark()
    with pytest.raises(ValidationError):
        billing_services.invoice_sell_block(agreement=agreement, actor=staff, tier=tier(10))
    assert not Block.objects.exists()
    assert events_since(since) == []


def test_a_refused_sale_records_nothing(agreement, staff):
    since = mark()
    with pytest.raises(ValidationError):
        services.block_sell(agreement=agreement, actor=staff, hours=0)
    with pytest.raises(ValidationError):
        services.block_sell(agreement=agreement, actor=staff, tier=tier(10), hours=3)
    assert events_since(since) == []


# --- adjustments -------------------------------------------------------------------


def test_it_records_an_adjustment(funded, staff, client_a):
    since = mark()
    services.ledger_adjust(agreement=funded, minutes=-90, reason="  Duplicate ticket  ", author=staff)
    event = only_event_since(since)
    assert (event.action, event.actor, event.client) == (AuditAction.LEDGER_ADJUST, staff, client_a)
    assert (event.target_type, event.target_id) == ("agreement", str(funded.public_id))
    assert event.before == {"balance_minutes": 600}
    assert event.after == {"balance_minutes": 510, "minutes": -90, "reason": "Duplicate ticket"}
    assert (
        event.summary == "Adjusted the balance of Acme Dental (Prepaid support hours) by −1 h 30 min: Duplicate ticket"
    )


@pytest.mark.parametrize(
    ("minutes", "reason"), [(0, "Goodwill"), (60, "   "), (True, "Goodwill"), (100_001 * 60, "Goodwill")]
)
def test_a_refused_adjustment_records_nothing(funded, staff, minutes, reason):
    since = mark()
    with pytest.raises(ValidationError):
        services.ledger_adjust(agreement=funded, minutes=minutes, reason=reason, author=staff)
    assert events_since(since) == []


def test_a_technician_adjusting_is_refused_and_records_nothing(funded, technician):
    since = mark()
    with pytest.raises(PermissionDenied):
        services.ledger_adjust(agreement=funded, minutes=60, reason="Please", author=technician)
    assert events_since(since) == []


# --- time entries ----------------------------------------------------------------------


def test_it_records_a_void_of_a_time_entry(entry, technician, staff, client_a):
    since = mark()
    services.time_entry_void(time_entry=entry, actor=staff, reason="Logged on the wrong client")
    event = only_event_since(since)
    assert (event.action, event.actor, event.client) == (AuditAction.TIME_ENTRY_VOID, staff, client_a)
    assert (event.target_type, event.target_id) == ("timeentry", str(entry.public_id))
    assert event.before == {"balance_minutes": 510, "charged_minutes": 90, "voided": False}
    assert event.after == {"balance_minutes": 600, "voided": True, "reason": "Logged on the wrong client"}
    assert event.summary == (
        f"Voided tess's 1 h 30 min on ticket #{entry.ticket.number} ({entry.work_date.isoformat()}) "
        "for Acme Dental: Logged on the wrong client"
    )


def test_voiding_twice_records_one_event(entry, staff):
    since = mark()
    services.time_entry_void(time_entry=entry, actor=staff, reason="Duplicate")
    with pytest.raises(ValidationError):
        services.time_entry_void(time_entry=entry, actor=staff, reason="Duplicate")
    with pytest.raises(ValidationError):
        services.time_entry_void(time_entry=entry, actor=staff, reason="")
    assert [e.action for e in events_since(since)] == [AuditAction.TIME_ENTRY_VOID]


def test_another_technician_may_not_void_and_nothing_is_recorded(entry):
    since = mark()
    with pytest.raises(PermissionDenied):
        services.time_entry_void(time_entry=entry, actor=TechnicianFactory(username="otto"), reason="Mine now")
    assert events_since(since) == []


def test_a_correction_is_one_event_with_the_old_and_new_entry(entry, staff, client_a):
    since = mark()
    new = services.time_entry_correct(time_entry=entry, actor=staff, reason="Was 30 minutes", minutes=30)
    event = only_event_since(since)  # the void inside the correction is not a second event
    assert (event.action, event.actor, event.client) == (AuditAction.TIME_ENTRY_CORRECT, staff, client_a)
    assert event.target_id == str(entry.public_id)
    day = entry.work_date.isoformat()
    assert event.before == {
        "balance_minutes": 510,
        "minutes": 90,
        "charged_minutes": 90,
        "work_type": "Normal",
        "work_date": day,
        "started_at": None,
        "notes": "",
    }
    assert event.after == {
        "balance_minutes": 570,
        "minutes": 30,
        "charged_minutes": 30,
        "work_type": "Normal",
        "work_date": day,
        "started_at": None,
        "notes": "",
        "replacement": str(new.public_id),
        "reason": "Was 30 minutes",
    }


def test_a_refused_correction_leaves_no_event_and_no_void(entry, staff):
    since = mark()
    with pytest.raises(ValidationError):
        services.time_entry_correct(time_entry=entry, actor=staff, reason="Typo", minutes=-5)
    entry.refresh_from_db()
    assert not entry.is_void
    assert events_since(since) == []


# --- invoices and blocks: voiding and cancelling ------------------------------------------------


def test_it_records_a_void_of_an_invoice(invoice, staff, client_a):
    since = mark()
    billing_services.invoice_void(invoice=invoice, actor=staff, reason="Sold twice by mistake")
    event = only_event_since(since)  # the block's cancellation is part of it, not a second event
    assert (event.action, event.actor, event.client) == (AuditAction.INVOICE_VOID, staff, client_a)
    assert (event.target_type, event.target_id) == ("invoice", str(invoice.public_id))
    assert event.before == {"status": "issued", "balance_minutes": 0}
    assert event.after == {
        "status": "void",
        "balance_minutes": 0,
        "block_cancelled": True,
        "reason": "Sold twice by mistake",
    }
    assert event.summary == f"Voided invoice {invoice.number} of Acme Dental: Sold twice by mistake"


def test_voiding_an_invoice_of_credited_hours_records_them_taken_back(immediate, staff, seller):
    invoice = billing_services.invoice_sell_block(agreement=immediate, actor=staff, tier=tier(10))
    since = mark()
    billing_services.invoice_void(invoice=invoice, actor=staff, reason="Wrong client")
    event = only_event_since(since)
    assert (event.before["balance_minutes"], event.after["balance_minutes"]) == (600, 0)


def test_a_refused_void_records_nothing(invoice, staff):
    since = mark()
    with pytest.raises(ValidationError):
        billing_services.invoice_void(invoice=invoice, actor=staff, reason=" ")
    billing_services.payment_record(
        invoice=invoice, amount="100.00", method="ach", reference="ACH-1", paid_on=TODAY, actor=staff
    )
    since = mark()
    with pytest.raises(ValidationError):  # money is recorded against it
        billing_services.invoice_void(invoice=invoice, actor=staff, reason="Changed our mind")
    assert events_since(since) == []
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED


def test_it_records_a_block_cancellation(immediate, staff, client_a):
    block = services.block_sell(agreement=immediate, actor=staff, tier=tier(10))
    since = mark()
    services.block_cancel(block=block, actor=staff, reason="Client changed their mind")
    event = only_event_since(since)
    assert (event.action, event.actor, event.client) == (AuditAction.BLOCK_CANCEL, staff, client_a)
    assert event.target_id == str(block.public_id)
    assert event.before == {"balance_minutes": 600, "cancelled": False}
    assert event.after == {"balance_minutes": 0, "cancelled": True, "reason": "Client changed their mind"}


def test_a_refused_cancellation_records_nothing(immediate, staff, technician):
    block = services.block_sell(agreement=immediate, actor=staff, tier=tier(10))
    services.time_entry_log(
        agreement=immediate,
        technician=technician,
        ticket=TicketFactory(client=immediate.client),
        work_date=TODAY,
        minutes=30,
        work_type=work_type(),
    )
    since = mark()
    with pytest.raises(ValidationError):  # 30 of its minutes are used
        services.block_cancel(block=block, actor=staff, reason="Too late")
    assert events_since(since) == []


# --- payments ------------------------------------------------------------------------------------


def test_it_records_a_payment_that_completes_the_invoice(invoice, staff, client_a):
    billing_services.payment_record(
        invoice=invoice, amount="400.00", method="ach", reference="ACH-1", paid_on=TODAY, actor=staff
    )
    since = mark()
    day = TODAY  # the invoice was issued today: a payment cannot be dated earlier
    billing_services.payment_record(
        invoice=invoice, amount=Decimal("600.00"), method="card", reference="CARD-2", paid_on=day, actor=staff
    )
    event = only_event_since(since)
    assert (event.action, event.actor, event.client) == (AuditAction.PAYMENT_RECORD, staff, client_a)
    assert (event.target_type, event.target_id) == ("invoice", str(invoice.public_id))
    assert event.before == {"status": "issued", "amount_paid": "400.00", "balance_minutes": 0}
    assert event.after == {
        "status": "paid",
        "amount_paid": "1000.00",
        "balance_minutes": 600,  # the hours are credited by the payment
        "amount": "600.00",
        "method": "card",
        "reference": "CARD-2",
        "paid_on": day.isoformat(),
    }
    assert event.summary == f"Recorded payment CARD-2 of 600.00 USD on invoice {invoice.number} for Acme Dental."


def test_a_partial_payment_keeps_the_invoice_issued(invoice, staff):
    since = mark()
    billing_services.payment_record(
        invoice=invoice, amount="250", method="ach", reference="ACH-1", paid_on=TODAY, actor=staff
    )
    event = only_event_since(since)
    assert event.before == {"status": "issued", "amount_paid": "0.00", "balance_minutes": 0}
    assert (event.after["status"], event.after["amount_paid"], event.after["amount"]) == ("issued", "250.00", "250.00")


def test_a_refused_or_repeated_payment_records_nothing(invoice, staff):
    since = mark()
    for amount in ["1000.01", "-5", "12.345", 10.5]:
        with pytest.raises(ValidationError):
            billing_services.payment_record(
                invoice=invoice, amount=amount, method="ach", reference="ACH-1", paid_on=TODAY, actor=staff
            )
    assert events_since(since) == []
    billing_services.payment_record(
        invoice=invoice, amount="100.00", method="ach", reference="ACH-1", paid_on=TODAY, actor=staff
    )
    # The same payment recorded again changes nothing, so it adds no event.
    billing_services.payment_record(
        invoice=invoice, amount="100.00", method="ach", reference="ACH-1", paid_on=TODAY, actor=staff
    )
    assert [e.action for e in events_since(since)] == [AuditAction.PAYMENT_RECORD]
    assert Payment.objects.count() == 1


# --- API tokens and invitations ------------------------------------------------------------------


def test_it_records_creating_and_revoking_an_api_token(alice, staff, client_a):
    since = mark()
    new = token_create(user=alice, name="  PSA sync ", actor=staff)
    created = only_event_since(since)
    assert (created.action, created.actor, created.client) == (AuditAction.API_TOKEN_CREATE, staff, client_a)
    assert (created.target_type, created.target_id) == ("apitoken", str(new.token.public_id))
    assert created.before == {}
    assert created.after == {"user": "alice", "name": "PSA sync", "prefix": new.key[:10]}
    assert new.key not in str(created.after) + created.summary  # never the secret itself
    since = mark()
    token_revoke(token=new.token, actor=staff)
    token_revoke(token=new.token, actor=staff)  # the second changes nothing
    revoked = only_event_since(since)
    assert (revoked.action, revoked.before, revoked.after) == (
        AuditAction.API_TOKEN_REVOKE,
        {"revoked": False},
        {"revoked": True},
    )


def test_a_token_for_msp_people_concerns_no_client(technician, staff):
    since = mark()
    token_create(user=technician, name="RMM", actor=staff)
    assert only_event_since(since).client is None


def test_a_refused_token_records_nothing(alice, technician, staff):
    since = mark()
    with pytest.raises(PermissionDenied):
        token_create(user=alice, name="Sneaky", actor=technician)
    with pytest.raises(ValidationError):
        token_create(user=alice, name=" ", actor=staff)
    assert events_since(since) == []
    assert not ApiToken.objects.exists()


def test_it_records_an_invitation(alice, staff, client_a):
    since = mark()
    invitation = invitation_send(user=alice, invited_by=staff)
    event = only_event_since(since)
    assert (event.action, event.actor, event.client) == (AuditAction.INVITATION_SEND, staff, client_a)
    assert (event.target_type, event.target_id) == ("user", str(alice.pk))
    assert event.after == {
        "user": "alice",
        "email": "alice@example.com",
        "role": "client",
        "expires_at": DjangoJSONEncoder().default(invitation.expires_at),
    }


def test_an_invitation_without_email_records_nothing(staff):
    technician = technician_create(username="nomail", email="")
    since = mark()
    with pytest.raises(ValidationError):
        invitation_send(user=technician, invited_by=staff)
    assert events_since(since) == []


# --- one transaction with the change ---------------------------------------------------------------


def test_a_rolled_back_action_leaves_no_event(funded, staff):
    since = mark()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ledger_adjust(agreement=funded, minutes=60, reason="Goodwill", author=staff)
        assert len(events_since(since)) == 1  # written inside the transaction…
        raise RuntimeError("the request failed after the service returned")
    assert events_since(since) == []  # …and gone with it
    assert Agreement.objects.get(pk=funded.pk).balance_minutes == 600


def test_an_action_whose_event_cannot_be_written_does_not_happen(funded, staff, monkeypatch):
    def fail(self, *args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(AuditEvent, "save", fail)
    entries = LedgerEntry.objects.count()
    with pytest.raises(DatabaseError):
        services.ledger_adjust(agreement=funded, minutes=60, reason="Goodwill", author=staff)
    assert LedgerEntry.objects.count() == entries
    assert Agreement.objects.get(pk=funded.pk).balance_minutes == 600


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused(client_a, staff):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(
            actor=staff, action=AuditAction.LEDGER_ADJUST, target=client_a, client=client_a, before={}, after={},
            summary="x",
        )  # fmt: skip
    assert not AuditEvent.objects.exists()


# --- append-only -----------------------------------------------------------------------------------


def test_events_cannot_be_changed_or_deleted(funded, staff):
    services.ledger_adjust(agreement=funded, minutes=60, reason="Goodwill", author=staff)
    event = AuditEvent.objects.get(action=AuditAction.LEDGER_ADJUST)
    event.summary = "Nothing happened"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="Nothing happened")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).summary.startswith("Adjusted the balance")


def test_the_admin_is_read_only(rf, staff):
    from django.contrib import admin

    model_admin = AuditEventAdmin(AuditEvent, admin.site)
    request = rf.get("/admin/audit/auditevent/")
    request.user = staff
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
