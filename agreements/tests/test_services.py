import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, Block, Client, CreditPolicy, LedgerEntry, LedgerKind, OveragePolicy, TimeEntry
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, ClientFactory, TicketFactory, tier, work_type

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def paid_block(agreement, *, hours=10, staff=None, starts_on=None, expires_on=None) -> Block:
    block = services.block_sell(
        agreement=agreement, actor=staff, hours=hours, starts_on=starts_on or agreement.starts_on, expires_on=expires_on
    )
    return services.block_mark_paid(block=block, actor=staff)


def log(agreement, technician, ticket, minutes, *, kind="Normal", on=TODAY, **extra) -> TimeEntry:
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=ticket,
        work_date=on,
        minutes=minutes,
        work_type=work_type(kind),
        **extra,
    )


def balance(agreement) -> int:
    return assert_balance_is_ledger_sum(agreement)


def block_left(block) -> int:
    return sum(LedgerEntry.objects.filter(block=block).values_list("minutes", flat=True))


# --- selling and crediting ------------------------------------------------


def test_it_sells_a_tier_block_at_the_discounted_rate(agreement, staff):
    block = services.block_sell(agreement=agreement, tier=tier(20), actor=staff)
    assert (block.minutes, block.rate, block.amount, block.currency) == (
        1200,
        Decimal("90.00"),
        Decimal("1800.00"),
        "USD",
    )
    assert block.tier.name == "20-hour block"


def test_it_sells_custom_hours_at_the_clients_rate(staff):
    agreement = AgreementFactory(client=ClientFactory(name="Euro GmbH", hourly_rate=Decimal("85.50"), currency="EUR"))
    block = services.block_sell(agreement=agreement, hours=3, actor=staff)
    assert (block.minutes, block.rate, block.amount, block.currency) == (
        180,
        Decimal("85.50"),
        Decimal("256.50"),
        "EUR",
    )


def test_it_credits_hours_only_when_paid_under_the_paid_policy(agreement, staff):
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    assert balance(agreement) == 0
    services.block_mark_paid(block=block, actor=staff)
    assert balance(agreement) == 600
    services.block_mark_paid(block=block, actor=staff)  # a second click credits nothing more
    assert balance(agreement) == 600
    assert LedgerEntry.objects.filter(block=block, kind=LedgerKind.PURCHASE).count() == 1


def test_it_credits_hours_at_once_under_the_immediate_policy(staff):
    agreement = AgreementFactory(credit_policy=CreditPolicy.IMMEDIATE)
    services.block_sell(agreement=agreement, tier=tier(30), actor=staff)
    assert balance(agreement) == 1800


@pytest.mark.parametrize("hours", [0, -5, 2.5, "10", True, 10_001])
def test_it_refuses_bad_custom_hours_and_writes_nothing(agreement, staff, hours):
    with pytest.raises(ValidationError):
        services.block_sell(agreement=agreement, hours=hours, actor=staff)
    assert not Block.objects.exists()
    assert balance(agreement) == 0


def test_it_gives_yearly_blocks_the_terms_end_as_expiry(client_a, staff):
    agreement = AgreementFactory(client=client_a, starts_on=TODAY - 300 * DAY, ends_on=TODAY + 65 * DAY)
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    assert block.expires_on == TODAY + 65 * DAY


# --- logging time ---------------------------------------------------------


def test_it_charges_rounded_and_multiplied_minutes(agreement, technician, ticket, staff):
    paid_block(agreement, staff=staff)
    entry = log(agreement, technician, ticket, 7, kind="After-hours")
    assert (entry.minutes, entry.charged_minutes) == (7, 23)
    assert balance(agreement) == 600 - 23
    entry = log(agreement, technician, ticket, 20, kind="Emergency")  # 30 × 2
    assert entry.charged_minutes == 60
    assert balance(agreement) == 600 - 83


def test_it_keeps_non_billable_entries_without_charging(agreement, technician, ticket, staff):
    paid_block(agreement, staff=staff)
    entry = log(agreement, technician, ticket, 45, kind="Non-billable")
    assert entry.charged_minutes == 0
    assert TimeEntry.objects.filter(pk=entry.pk).exists()
    assert not entry.ledger.exists()
    assert balance(agreement) == 600


def test_it_consumes_the_oldest_block_first(agreement, technician, ticket, staff):
    older = paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 10 * DAY)
    newer = paid_block(agreement, hours=2, staff=staff, starts_on=TODAY - 5 * DAY)
    log(agreement, technician, ticket, 90)
    assert (block_left(older), block_left(newer)) == (0, 90)
    assert balance(agreement) == 90


def test_it_skips_unpaid_not_started_and_expired_blocks(agreement, technician, ticket, staff):
    expired = paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 30 * DAY, expires_on=TODAY - DAY)
    future = paid_block(agreement, hours=1, staff=staff, starts_on=TODAY + 7 * DAY)
    unpaid = services.block_sell(agreement=agreement, hours=5, actor=staff, starts_on=TODAY - 3 * DAY)
    usable = paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 2 * DAY)
    log(agreement, technician, ticket, 30)
    assert (block_left(expired), block_left(future), block_left(unpaid), block_left(usable)) == (60, 60, 0, 30)
    with pytest.raises(services.InsufficientBalance):
        log(agreement, technician, ticket, 45)  # 30 usable left; the future and expired hours don't count
    assert balance(agreement) == 150


def test_it_expires_unused_minutes_once(agreement, technician, ticket, staff):
    block = paid_block(agreement, hours=2, staff=staff, starts_on=TODAY - 30 * DAY, expires_on=TODAY - DAY)
    log(agreement, technician, ticket, 30, on=TODAY - 10 * DAY)
    assert services.blocks_expire(today=TODAY) == 90
    assert services.blocks_expire(today=TODAY) == 0
    expiry = LedgerEntry.objects.get(kind=LedgerKind.EXPIRY)
    assert (expiry.block, expiry.minutes) == (block, -90)
    assert balance(agreement) == 0


def test_it_does_not_expire_a_block_on_its_last_day(agreement, staff):
    paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 5 * DAY, expires_on=TODAY)
    assert services.blocks_expire(today=TODAY) == 0
    assert services.blocks_expire(today=TODAY + DAY) == 60


# --- overage policies ------------------------------------------------------


def test_reject_policy_refuses_time_beyond_the_balance_and_writes_nothing(agreement, technician, ticket, staff):
    paid_block(agreement, hours=1, staff=staff)
    log(agreement, technician, ticket, 45)
    with pytest.raises(services.InsufficientBalance) as error:
        log(agreement, technician, ticket, 30)
    assert "only 15 min can be charged" in error.value.messages[0]
    assert TimeEntry.objects.count() == 1
    assert balance(agreement) == 15


def test_allow_negative_policy_stops_at_its_limit(client_a, technician, ticket, staff):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=60)
    paid_block(agreement, hours=1, staff=staff)
    log(agreement, technician, ticket, 105)
    assert balance(agreement) == -45
    with pytest.raises(services.InsufficientBalance):
        log(agreement, technician, ticket, 30)
    log(agreement, technician, ticket, 15)
    assert balance(agreement) == -60


def test_a_new_block_repays_a_negative_balance(client_a, technician, ticket, staff):
    agreement = AgreementFactory(
        client=client_a, overage_policy=OveragePolicy.ALLOW_NEGATIVE, overage_limit_minutes=120
    )
    paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 10 * DAY)
    log(agreement, technician, ticket, 90)
    new = paid_block(agreement, hours=10, staff=staff, expires_on=TODAY + 30 * DAY)
    assert balance(agreement) == 570
    assert block_left(new) == 570  # the 30 overdrawn minutes came out of the new block
    services.blocks_expire(today=TODAY + 31 * DAY)
    assert balance(agreement) == 0


def test_bill_overage_policy_allows_any_overage_and_bills_it_separately(client_a, technician, ticket, staff):
    agreement = AgreementFactory(client=client_a, overage_policy=OveragePolicy.BILL_OVERAGE)
    paid_block(agreement, hours=1, staff=staff)
    log(agreement, technician, ticket, 240)
    assert balance(agreement) == -180
    assert services.overage_unbilled_minutes(agreement) == 180
    new = paid_block(agreement, hours=10, staff=staff)
    assert block_left(new) == 600  # billed overage is not repaid from the next block
    services.overage_mark_billed(agreement=agreement, minutes=180, reason="Invoice 2026-0007", actor=staff)
    assert services.overage_unbilled_minutes(agreement) == 0
    assert balance(agreement) == 600
    with pytest.raises(ValidationError):
        services.overage_mark_billed(agreement=agreement, minutes=1, reason="again", actor=staff)


# --- bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        (0, "more than zero"),
        (-30, "more than zero"),
        (24 * 60 + 1, "longer than 24 hours"),
        (10**9, "longer than 24 hours"),
        (1.5, "whole number"),
        ("90", "whole number"),
        (Decimal("90"), "whole number"),
        (None, "whole number"),
        (True, "whole number"),
    ],
)
def test_it_refuses_bad_durations_and_writes_nothing(agreement, technician, ticket, staff, minutes, message):
    paid_block(agreement, staff=staff)
    with pytest.raises(ValidationError) as error:
        log(agreement, technician, ticket, minutes)
    assert message in error.value.message_dict["minutes"][0]
    assert not TimeEntry.objects.exists()
    assert balance(agreement) == 600


def test_it_refuses_another_clients_ticket_a_future_date_and_an_uncovered_work_type(client_a, technician, staff):
    agreement = AgreementFactory(client=client_a)
    agreement.work_types.set([work_type("Normal")])
    paid_block(agreement, staff=staff)
    foreign_ticket = TicketFactory(client=ClientFactory(name="Other Co"))
    with pytest.raises(ValidationError) as error:
        log(agreement, technician, foreign_ticket, 30, kind="Emergency", on=TODAY + DAY)
    assert set(error.value.message_dict) == {"ticket", "work_type", "work_date"}
    assert not TimeEntry.objects.exists()
    assert balance(agreement) == 600


def test_it_refuses_time_on_an_ended_agreement(client_a, technician, ticket, staff):
    agreement = AgreementFactory(client=client_a)
    paid_block(agreement, staff=staff)
    Agreement.objects.filter(pk=agreement.pk).update(status="ended")
    agreement.refresh_from_db()
    with pytest.raises(ValidationError):
        log(agreement, technician, ticket, 30)
    assert balance(agreement) == 600


def test_client_contacts_cannot_log_time(agreement, alice, ticket, staff):
    paid_block(agreement, staff=staff)
    with pytest.raises(PermissionDenied):
        log(agreement, alice, ticket, 30)
    assert not TimeEntry.objects.exists()


def test_it_stores_html_in_notes_as_typed(agreement, technician, ticket, staff):
    paid_block(agreement, staff=staff)
    entry = log(agreement, technician, ticket, 30, notes='<script>alert("x")</script> fixed')
    entry.refresh_from_db()
    assert entry.notes == '<script>alert("x")</script> fixed'


def test_html_in_notes_is_escaped_when_shown(agreement, technician, ticket, staff, client):
    paid_block(agreement, staff=staff)
    entry = log(agreement, technician, ticket, 30, notes='<script>alert("x")</script>')
    admin = type(staff).objects.create_superuser("root", "root@example.com", "pw-for-root-123")
    client.force_login(admin)
    page = client.get(f"/admin/agreements/timeentry/{entry.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert '<script>alert("x")</script>' not in page


# --- idempotency -------------------------------------------------------------


def test_a_retry_with_the_same_key_charges_once(agreement, technician, ticket, staff):
    paid_block(agreement, staff=staff)
    first = log(agreement, technician, ticket, 30, idempotency_key="psa-123")
    again = log(agreement, technician, ticket, 30, idempotency_key="psa-123")
    assert again.pk == first.pk
    assert TimeEntry.objects.count() == 1
    assert balance(agreement) == 570


def test_a_key_reused_for_a_different_entry_is_refused(agreement, technician, ticket, staff):
    paid_block(agreement, staff=staff)
    log(agreement, technician, ticket, 30, idempotency_key="psa-123")
    with pytest.raises(services.IdempotencyConflict):
        log(agreement, technician, ticket, 45, idempotency_key="psa-123")
    assert balance(agreement) == 570


# --- void, correct, adjust ---------------------------------------------------


def test_voiding_writes_reversals_and_never_touches_the_debits(agreement, technician, ticket, staff):
    older = paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 3 * DAY)
    newer = paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 2 * DAY)
    entry = log(agreement, technician, ticket, 90)
    debits = list(entry.ledger.values_list("pk", "minutes"))
    services.time_entry_void(time_entry=entry, actor=technician, reason="Logged on the wrong client")
    assert list(entry.ledger.filter(kind=LedgerKind.DEBIT).values_list("pk", "minutes")) == debits
    assert sorted(entry.ledger.filter(kind=LedgerKind.REVERSAL).values_list("minutes", flat=True)) == [30, 60]
    assert (block_left(older), block_left(newer)) == (60, 60)
    assert balance(agreement) == 120
    with pytest.raises(ValidationError):
        services.time_entry_void(time_entry=entry, actor=technician, reason="twice")
    assert balance(agreement) == 120


def test_minutes_given_back_to_an_expired_block_expire_again(agreement, technician, ticket, staff):
    paid_block(agreement, hours=1, staff=staff, starts_on=TODAY - 10 * DAY, expires_on=TODAY - DAY)
    entry = log(agreement, technician, ticket, 60, on=TODAY - 5 * DAY)
    services.time_entry_void(time_entry=entry, actor=staff, reason="Duplicate")
    assert balance(agreement) == 0
    assert LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY).get().minutes == -60


def test_technicians_change_only_their_own_entries(agreement, technician, ticket, staff):
    from agreements.tests.factories import TechnicianFactory

    paid_block(agreement, staff=staff)
    entry = log(agreement, technician, ticket, 30)
    with pytest.raises(PermissionDenied):
        services.time_entry_void(time_entry=entry, actor=TechnicianFactory(username="other"), reason="no")
    with pytest.raises(ValidationError):
        services.time_entry_void(time_entry=entry, actor=technician, reason="  ")
    assert balance(agreement) == 570


def test_correcting_an_entry_voids_it_and_logs_the_replacement(agreement, technician, ticket, staff):
    paid_block(agreement, staff=staff)
    entry = log(agreement, technician, ticket, 30)
    fixed = services.time_entry_correct(time_entry=entry, actor=technician, reason="Was 1 hour", minutes=60)
    entry.refresh_from_db()
    assert entry.is_void and fixed.corrects == entry and fixed.charged_minutes == 60
    assert balance(agreement) == 540


def test_a_failed_correction_changes_nothing(agreement, technician, ticket, staff):
    paid_block(agreement, hours=1, staff=staff)
    entry = log(agreement, technician, ticket, 30)
    with pytest.raises(services.InsufficientBalance):
        services.time_entry_correct(time_entry=entry, actor=technician, reason="Was 2 hours", minutes=120)
    entry.refresh_from_db()
    assert not entry.is_void
    assert balance(agreement) == 30


def test_staff_adjust_with_a_reason(agreement, staff, technician):
    block = paid_block(agreement, hours=1, staff=staff)
    services.ledger_adjust(agreement=agreement, minutes=30, reason="Goodwill for the outage", author=staff)
    services.ledger_adjust(agreement=agreement, minutes=-45, reason="Unlogged onsite visit", author=staff)
    assert balance(agreement) == 45
    assert block_left(block) == 15  # a deduction is taken from the block first
    adjustment = LedgerEntry.objects.filter(kind=LedgerKind.ADJUSTMENT).first()
    assert (adjustment.author, adjustment.reason) == (staff, "Goodwill for the outage")


@pytest.mark.parametrize(("minutes", "reason"), [(30, ""), (30, "   "), (0, "x"), (1.5, "x"), ("30", "x")])
def test_adjustments_need_a_reason_and_whole_minutes(agreement, staff, minutes, reason):
    with pytest.raises(ValidationError):
        services.ledger_adjust(agreement=agreement, minutes=minutes, reason=reason, author=staff)
    assert balance(agreement) == 0


def test_only_staff_adjust(agreement, technician, alice):
    for user in (technician, alice):
        with pytest.raises(PermissionDenied):
            services.ledger_adjust(agreement=agreement, minutes=30, reason="Please", author=user)
    assert balance(agreement) == 0


# --- cancelling a sale ---------------------------------------------------------


def test_cancelling_an_unused_credited_block_takes_its_hours_back(agreement, staff):
    block = paid_block(agreement, hours=10, staff=staff)
    services.block_cancel(block=block, actor=staff, reason="Invoice voided")
    assert balance(agreement) == 0
    services.block_cancel(block=block, actor=staff, reason="again")  # no second entry
    assert LedgerEntry.objects.filter(kind=LedgerKind.CANCELLATION).count() == 1


def test_cancelling_a_partly_used_block_is_refused(agreement, technician, ticket, staff):
    block = paid_block(agreement, hours=10, staff=staff)
    log(agreement, technician, ticket, 30)
    with pytest.raises(ValidationError) as error:
        services.block_cancel(block=block, actor=staff, reason="Invoice voided")
    assert "30 of the block's 600 min" in error.value.messages[0]
    assert balance(agreement) == 570


def test_a_cancelled_unpaid_block_is_never_credited(agreement, staff):
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff)
    services.block_cancel(block=block, actor=staff, reason="Client changed their mind")
    with pytest.raises(ValidationError):
        services.block_mark_paid(block=block, actor=staff)
    assert balance(agreement) == 0


# --- the ledger itself -----------------------------------------------------------


def test_ledger_entries_cannot_be_updated_or_deleted(agreement, staff):
    paid_block(agreement, staff=staff)
    entry = LedgerEntry.objects.get()
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(minutes=1)
    with pytest.raises(TypeError):
        LedgerEntry.objects.all().delete()
    assert balance(agreement) == 600


def test_tickets_are_found_or_created_per_client(client_a, client_b):
    first = services.ticket_get_or_create(client=client_a, number="#4711", subject="VPN down")
    assert services.ticket_get_or_create(client=client_a, number="4711") == first
    other = services.ticket_get_or_create(client=client_b, number="4711", subject="Mail")
    assert other != first
    with pytest.raises(ValidationError):
        services.ticket_get_or_create(client=client_a, number="4712")  # new ticket without a subject


def test_client_names_are_unique_ignoring_case(db):
    services.client_create(name="Acme Dental")
    with pytest.raises(ValidationError) as error:
        services.client_create(name="ACME dental")
    assert "already exists" in error.value.message_dict["name"][0]


def test_a_duplicate_client_name_that_slips_past_the_check_is_still_refused(db, monkeypatch):
    from django.db.models import QuerySet

    services.client_create(name="Acme Dental")
    # As if a concurrent request created it between the service's check and its save.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    with pytest.raises(ValidationError):
        services.client_create(name="acme dental")
    assert Client.objects.count() == 1
