"""Refunds by credit note, forfeits and agreement cancellation, with exact minutes and amounts."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import AgreementStatus, Block, LedgerEntry, LedgerKind
from agreements.tests.factories import AgreementFactory, TicketFactory, tier, work_type
from audit.models import AuditAction, AuditEvent
from billing import services
from billing.credit_notes import Disposition, agreement_cancel, block_unused_cancel
from billing.models import CreditNote, CreditNoteNumberCounter, Invoice, InvoiceStatus
from notifications.services import exhausted_candidates, low_balance_candidates

YEAR = timezone.localdate().year


def paid_block(agreement, staff, *, hours: int = 20, tier_hours: int | None = None, ref: str = "ACH-1") -> Invoice:
    if tier_hours is not None:
        invoice = services.invoice_sell_block(agreement=agreement, tier=tier(tier_hours), actor=staff)
    else:
        invoice = services.invoice_sell_block(agreement=agreement, hours=hours, actor=staff)
    services.payment_record(
        invoice=invoice, amount=invoice.total, method="ach", reference=ref, paid_on=timezone.localdate(), actor=staff
    )
    invoice.refresh_from_db()
    return invoice


def log(agreement, technician, minutes: int):
    return agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate(),
        minutes=minutes,
        work_type=work_type(),
    )


def ledger_sum(agreement) -> int:
    return LedgerEntry.objects.filter(agreement=agreement).aggregate(s=Sum("minutes"))["s"] or 0


def state(agreement) -> tuple:
    """What a refused call must leave as it was."""
    agreement.refresh_from_db()
    return (
        agreement.balance_minutes,
        agreement.status,
        LedgerEntry.objects.count(),
        CreditNote.objects.count(),
        list(CreditNoteNumberCounter.objects.values_list("year", "last_number")),
        list(Block.objects.order_by("pk").values_list("minutes_left", flat=True)),
        AuditEvent.objects.count(),
    )


def test_it_refunds_the_unused_hours_of_a_partly_used_block(agreement, staff, technician, seller):
    invoice = paid_block(agreement, staff, tier_hours=20)  # 20 h at $90.00 = $1,800.00
    log(agreement, technician, 435)  # 7 h 15 min used

    result = block_unused_cancel(
        block=invoice.block, disposition=Disposition.REFUND, actor=staff, reason="Client leaves"
    )

    [note] = result.credit_notes
    assert (result.refunded_minutes, result.forfeited_minutes) == (765, 0)
    assert note.number == f"CN-{YEAR}-0001"
    assert (note.minutes, note.subtotal, note.tax_amount, note.total) == (
        765,
        Decimal("1147.50"),  # 765 min × $90/h
        Decimal("0.00"),
        Decimal("1147.50"),
    )
    assert (note.invoice, note.block, note.client_name, note.seller_name) == (
        invoice,
        invoice.block,
        "Acme Dental",
        "Northwind IT Services",
    )
    [line] = note.lines.all()
    assert (line.invoice, line.minutes, line.unit_price, line.amount) == (
        invoice,
        765,
        Decimal("90.00"),
        Decimal("1147.50"),
    )
    assert line.description == "Unused hours refunded — 20-hour support block"
    refund = LedgerEntry.objects.get(kind=LedgerKind.REFUND)
    assert (refund.minutes, refund.block_id, refund.author) == (-765, invoice.block_id, staff)
    assert refund.reason == f"Refunded on credit note CN-{YEAR}-0001: Client leaves"
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 0 == ledger_sum(agreement)
    assert Block.objects.get(pk=invoice.block_id).minutes_left == 0
    event = AuditEvent.objects.get(action=AuditAction.BLOCK_REFUND)
    assert event.after["refunded_minutes"] == 765
    assert event.after["credit_note"] == note.number
    assert event.after["total"] == "1147.50"


def test_partial_refunds_are_priced_on_the_whole_so_cents_never_drift(client_a, staff, seller):
    client_a.hourly_rate = Decimal("95.55")
    client_a.save()
    agreement = AgreementFactory(client=client_a)
    invoice = paid_block(agreement, staff, hours=1)  # 60 min at $95.55

    first = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="Part", minutes=1)
    second = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="Part", minutes=1)
    rest = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="Rest")

    totals = [r.credit_notes[0].total for r in (first, second, rest)]
    # 1 min = $1.5925 → $1.59; 2 min = $3.185 → $3.19, so the second is $1.60; all 60 = the invoice.
    assert totals == [Decimal("1.59"), Decimal("1.60"), Decimal("92.36")]
    assert sum(totals) == invoice.total == Decimal("95.55")
    assert [r.credit_notes[0].number for r in (first, second, rest)] == [f"CN-{YEAR}-{n:04d}" for n in (1, 2, 3)]
    assert [r.credit_notes[0].minutes for r in (first, second, rest)] == [1, 1, 58]


def test_tax_is_credited_at_the_invoice_rate(agreement, staff, seller, settings):
    settings.INVOICE_TAX_RATE = Decimal("8.25")
    invoice = paid_block(agreement, staff, hours=10)  # $1,000.00 + $82.50
    settings.INVOICE_TAX_RATE = Decimal("20")  # a later change of rate does not reach old invoices' refunds

    note = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x").credit_notes[0]

    assert (note.subtotal, note.tax_rate, note.tax_amount, note.total) == (
        Decimal("1000.00"),
        Decimal("8.25"),
        Decimal("82.50"),
        Decimal("1082.50"),
    )
    assert note.total == invoice.total


@pytest.mark.parametrize("minutes", [766, 0, -5, 10_000, True, 1.5])
def test_a_refund_beyond_the_unused_hours_changes_nothing(agreement, staff, technician, seller, minutes):
    invoice = paid_block(agreement, staff, tier_hours=20)
    log(agreement, technician, 435)
    before = state(agreement)

    with pytest.raises(ValidationError) as error:
        block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x", minutes=minutes)

    assert error.value.message_dict["minutes"] == [
        "Only 765 min of this block are unused (435 min are used, expired or taken back already): "
        "refund between 1 and 765 min."
    ]
    assert state(agreement) == before


def test_a_block_with_nothing_unused_cannot_be_refunded_twice(agreement, staff, technician, seller):
    invoice = paid_block(agreement, staff, hours=2)
    block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="Leaving")
    before = state(agreement)

    for disposition in ("refund", "forfeit"):
        with pytest.raises(ValidationError) as error:
            block_unused_cancel(block=invoice.block, disposition=disposition, actor=staff, reason="Again")
        assert error.value.messages == [
            "The block has no unused hours left: all 2 h are used, expired or taken back already."
        ]
    assert state(agreement) == before


def test_an_unpaid_block_is_not_refunded_but_voided(agreement, staff, seller):
    agreement.credit_policy = "immediate"
    agreement.save()
    invoice = services.invoice_sell_block(agreement=agreement, hours=5, actor=staff)
    before = state(agreement)

    with pytest.raises(ValidationError) as error:
        block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x")

    assert error.value.messages == [
        f"Invoice {invoice.number} of this block is not paid, so there is nothing to refund: void it to cancel "
        "the sale, or forfeit the unused hours."
    ]
    assert state(agreement) == before


def test_expired_hours_are_breakage_not_refundable(agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=5)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Block.objects.filter(pk=invoice.block_id).update(starts_on=yesterday, expires_on=yesterday)

    with pytest.raises(ValidationError):
        block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x")

    assert not LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY).exists()  # rolled back with the refusal
    assert CreditNote.objects.count() == 0


def test_it_forfeits_unused_hours_as_breakage_with_a_reason(agreement, staff, technician, seller):
    invoice = paid_block(agreement, staff, tier_hours=10)
    log(agreement, technician, 50)  # 60 after the 15-minute increment

    result = block_unused_cancel(block=invoice.block, disposition="forfeit", actor=staff, reason="Unused at exit")

    assert (result.refunded_minutes, result.forfeited_minutes, result.credit_notes) == (0, 540, [])
    entry = LedgerEntry.objects.get(kind=LedgerKind.FORFEIT)
    assert (entry.minutes, entry.reason, entry.author) == (-540, "Unused at exit", staff)
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 0 == ledger_sum(agreement)
    event = AuditEvent.objects.get(action=AuditAction.BLOCK_FORFEIT)
    assert (event.before["minutes_left"], event.after["minutes_left"], event.after["forfeited_minutes"]) == (
        540,
        0,
        540,
    )
    assert CreditNoteNumberCounter.objects.count() == 0


@pytest.mark.parametrize(
    ("disposition", "reason", "field"),
    [("refund", "", "reason"), ("refund", "two\nlines", "reason"), ("keep", "x", "disposition")],
)
def test_it_refuses_bad_input_and_changes_nothing(agreement, staff, seller, disposition, reason, field):
    invoice = paid_block(agreement, staff, hours=2)
    before = state(agreement)

    with pytest.raises(ValidationError) as error:
        block_unused_cancel(block=invoice.block, disposition=disposition, actor=staff, reason=reason)

    assert field in error.value.message_dict
    assert state(agreement) == before


def test_cancelling_an_agreement_refunds_every_block_and_ends_it(agreement, staff, technician, seller):
    first = paid_block(agreement, staff, tier_hours=10, ref="ACH-1")  # $1,000.00 at $100/h
    second = paid_block(agreement, staff, tier_hours=20, ref="ACH-2")  # $1,800.00 at $90/h
    log(agreement, technician, 660)  # all 600 of the first block, 60 of the second

    result = agreement_cancel(agreement=agreement, disposition="refund", actor=staff, reason="Client leaves")

    assert result.changed is True
    assert [(n.number, n.invoice, n.minutes, n.total) for n in result.credit_notes] == [
        (f"CN-{YEAR}-0001", second, 1140, Decimal("1710.00"))
    ]
    assert result.refunded_minutes == 1140
    assert first.block.credit_notes.count() == 0  # nothing unused on it
    agreement.refresh_from_db()
    assert (agreement.status, agreement.balance_minutes) == (AgreementStatus.ENDED, 0)
    assert ledger_sum(agreement) == 0
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_CANCEL).count() == 1

    # Ended: no more time, sales or reload sweeps on it.
    with pytest.raises(ValidationError):
        log(agreement, technician, 15)
    with pytest.raises(ValidationError):
        services.invoice_sell_block(agreement=agreement, hours=1, actor=staff)
    assert agreement not in low_balance_candidates()
    assert agreement not in exhausted_candidates()

    # A retry or a double click changes nothing.
    before = state(agreement)
    again = agreement_cancel(agreement=agreement, disposition="refund", actor=staff, reason="Client leaves")
    assert (again.changed, again.credit_notes) == (False, [])
    assert state(agreement) == before


def test_cancelling_an_agreement_can_forfeit_instead(agreement, staff, technician, seller):
    paid_block(agreement, staff, tier_hours=10, ref="ACH-1")
    paid_block(agreement, staff, hours=3, ref="ACH-2")
    log(agreement, technician, 30)

    result = agreement_cancel(agreement=agreement, disposition="forfeit", actor=staff, reason="Contract ended")

    assert (result.refunded_minutes, result.forfeited_minutes, result.credit_notes) == (0, 570 + 180, [])
    assert sorted(LedgerEntry.objects.filter(kind=LedgerKind.FORFEIT).values_list("minutes", flat=True)) == [-570, -180]
    agreement.refresh_from_db()
    assert (agreement.status, agreement.balance_minutes) == (AgreementStatus.ENDED, 0)


def test_an_agreement_with_an_unpaid_block_is_not_cancelled(agreement, staff, seller):
    paid_block(agreement, staff, hours=5)
    unpaid = services.invoice_sell_block(agreement=agreement, hours=2, actor=staff)
    before = state(agreement)

    with pytest.raises(ValidationError) as error:
        agreement_cancel(agreement=agreement, disposition="refund", actor=staff, reason="Leaving")

    assert error.value.messages == [
        f"Invoice {unpaid.number} of this agreement is not paid: void it (which cancels that block's sale) "
        "or record its payment before cancelling the agreement."
    ]
    assert state(agreement) == before

    # Voided, the sale is cancelled and the agreement can go.
    services.invoice_void(invoice=unpaid, actor=staff, reason="Leaving")
    result = agreement_cancel(agreement=agreement, disposition="refund", actor=staff, reason="Leaving")
    assert [n.total for n in result.credit_notes] == [Decimal("500.00")]
    assert Invoice.objects.get(pk=unpaid.pk).status == InvoiceStatus.VOID


def test_a_refund_needs_the_seller_profile(agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)
    seller.name = ""
    seller.save()
    before = state(agreement)

    with pytest.raises(ValidationError, match="seller profile"):
        block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x")

    assert state(agreement) == before


def test_the_admin_shows_credit_notes_read_only(client, agreement, staff, seller):
    from http import HTTPStatus

    from django.urls import reverse

    from agreements.tests.factories import UserFactory

    invoice = paid_block(agreement, staff, hours=2)
    note = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x").credit_notes[0]
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True, role="staff"))

    assert note.number in client.get(reverse("admin:billing_creditnote_changelist")).content.decode()
    page = client.get(reverse("admin:billing_creditnote_change", args=[note.pk]))
    assert page.status_code == HTTPStatus.OK
    assert reverse("billing:credit_note_pdf", args=[note.public_id]) in page.content.decode()
    squashed = "".join(page.content.decode().split())
    assert "Creditnotebalances" in squashed
    assert '<tdclass="field-minutes_before"><p>120</p></td><tdclass="field-minutes_after"><p>0</p></td>' in squashed
    assert client.post(reverse("admin:billing_creditnote_change", args=[note.pk]), {}).status_code == 403
    assert client.get(reverse("admin:billing_creditnote_add")).status_code == HTTPStatus.FORBIDDEN


def test_a_credit_note_is_an_immutable_snapshot(agreement, client_a, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)
    note = block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="x").credit_notes[0]
    client_a.name, client_a.billing_address = "Acme Dental Group", "2 New Street"
    client_a.save()
    seller.name = "Northwind Holdings"
    seller.save()

    note = CreditNote.objects.get(pk=note.pk)
    assert (note.client_name, note.client_address, note.seller_name) == (
        "Acme Dental",
        "1 Main Street\nSpringfield",
        "Northwind IT Services",
    )
    note.reason = "changed"
    with pytest.raises(TypeError):
        note.save()
    with pytest.raises(TypeError):
        CreditNote.objects.filter(pk=note.pk).update(total=Decimal("1.00"))
    with pytest.raises(TypeError):
        note.delete()


def test_refunding_rolled_over_hours_credits_the_invoice_that_sold_them(staff, technician, seller):
    from agreements.models import RolloverPolicy, TermEndAction
    from agreements.tests.factories import ClientFactory

    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    agreement = agreement_services.agreement_create(
        client=ClientFactory(name="Rollover Co"),
        starts_on=today - 60 * day,
        ends_on=today - day,
        billing_increment_minutes=1,
        term_end_action=TermEndAction.RENEW,
        renewal_tier=tier(10),
        renewal_invoice_days=30,
        rollover_policy=RolloverPolicy.ALL,
    )
    sold = services.invoice_sell_block(agreement=agreement, tier=tier(20), actor=staff, starts_on=today - 60 * day)
    services.payment_record(
        invoice=sold, amount=sold.total, method="ach", reference="ACH-1", paid_on=today, actor=staff
    )
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=today - 10 * day,
        minutes=500,
        work_type=work_type(),
    )
    assert services.renewal_invoice_issue(agreement=agreement, today=today) is not None
    closed = agreement_services.agreement_term_close(agreement=agreement, today=today)
    assert closed.rolled_minutes == 700  # 20 h − 8 h 20 min, all of it
    carried = Block.objects.get(rolled_over_from=sold.block)

    result = block_unused_cancel(block=carried, disposition=Disposition.REFUND, actor=staff, reason="Client leaves")

    [note] = result.credit_notes
    assert note.invoice == sold  # the hours were paid on the original sale
    assert (note.minutes, note.subtotal) == (700, Decimal("1050.00"))  # 700 min at the original $90/h
    carried.refresh_from_db()
    assert carried.minutes_left == 0
    assert ledger_sum(agreement) == agreement.__class__.objects.get(pk=agreement.pk).balance_minutes
