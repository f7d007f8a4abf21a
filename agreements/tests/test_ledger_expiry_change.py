"""Staff move a block's expiry date after the sale: a ledger entry of no
minutes and an audit event; the runway and the expiry sweep follow the new date."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, Block, LedgerEntry, LedgerKind
from agreements.runway import Expiring, runway_of, with_runway
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, TicketFactory, work_type
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def day(n):
    return today() + datetime.timedelta(days=n)


def sell(agreement, *, hours, starts_in=-30, expires_in=None):
    block = services.block_sell(
        agreement=agreement,
        actor=None,
        hours=hours,
        starts_on=day(starts_in),
        expires_on=None if expires_in is None else day(expires_in),
    )
    return services.block_credit(block=block)


def log(agreement, technician, minutes, on=0):
    return services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=day(on),
        minutes=minutes,
        work_type=work_type(),
    )


@pytest.fixture
def block(agreement):
    return sell(agreement, hours=10, expires_in=20)


def snapshot(agreement):
    return (
        list(Block.objects.filter(agreement=agreement).order_by("pk").values_list("expires_on", "minutes_left")),
        LedgerEntry.objects.filter(agreement=agreement).count(),
        AuditEvent.objects.filter(action=AuditAction.BLOCK_EXPIRY_CHANGE).count(),
        Agreement.objects.get(pk=agreement.pk).balance_minutes,
    )


def test_extending_writes_a_zero_minute_entry_and_an_audit_event(agreement, block, staff):
    entry = services.block_expiry_change(block=block, expires_on=day(50), actor=staff, reason="Client on holiday")
    block.refresh_from_db()
    assert block.expires_on == day(50) and block.minutes_left == 600
    assert (entry.kind, entry.minutes, entry.block_id, entry.author) == (LedgerKind.EXPIRY_CHANGE, 0, block.pk, staff)
    assert entry.reason == f"Expiry changed from {day(20):%Y-%m-%d} to {day(50):%Y-%m-%d}: Client on holiday"
    assert assert_balance_is_ledger_sum(agreement) == 600
    event = AuditEvent.objects.get(action=AuditAction.BLOCK_EXPIRY_CHANGE)
    assert (event.actor, event.client, event.target_id) == (staff, agreement.client, str(block.public_id))
    assert event.before == {"expires_on": f"{day(20):%Y-%m-%d}"}
    assert event.after == {"expires_on": f"{day(50):%Y-%m-%d}", "reason": "Client on holiday"}
    assert event.summary == (
        f"Changed the expiry of a 10 h block of {agreement.client.name} ({agreement.name}) "
        f"from {day(20):%Y-%m-%d} to {day(50):%Y-%m-%d}: Client on holiday"
    )


def test_no_expiry_extends_indefinitely_and_back_again(agreement, block, staff):
    entry = services.block_expiry_change(block=block, expires_on=None, actor=staff, reason="Goodwill")
    assert entry.reason == f"Expiry changed from {day(20):%Y-%m-%d} to no expiry: Goodwill"
    block.refresh_from_db()
    assert block.expires_on is None
    again = services.block_expiry_change(block=block, expires_on=day(5), actor=staff, reason="Agreed end")
    assert again.reason == f"Expiry changed from no expiry to {day(5):%Y-%m-%d}: Agreed end"
    block.refresh_from_db()
    assert block.expires_on == day(5)


def test_shortening_to_today_is_allowed(agreement, block, staff):
    services.block_expiry_change(block=block, expires_on=today(), actor=staff, reason="Contract ends")
    block.refresh_from_db()
    assert block.expires_on == today()


@pytest.mark.parametrize(
    ("expires_in", "reason", "field", "message"),
    [
        (-1, "Typo", "expires_on", "A block's expiry date cannot be before today."),
        (50, "", "reason", "Say why the expiry date changes."),
        (50, "   ", "reason", "Say why the expiry date changes."),
        (20, "Same", "expires_on", "The block already has this expiry date."),
        (365 * 11, "Far", "expires_on", None),
    ],
)
def test_bad_input_is_refused_by_field_and_changes_nothing(agreement, block, staff, expires_in, reason, field, message):
    before = snapshot(agreement)
    with pytest.raises(ValidationError) as error:
        services.block_expiry_change(block=block, expires_on=day(expires_in), actor=staff, reason=reason)
    assert field in error.value.message_dict
    if message:
        assert error.value.message_dict[field] == [message]
    assert snapshot(agreement) == before


def test_a_reason_on_two_lines_or_too_long_is_refused(agreement, block, staff):
    for reason in ("one\ntwo", "x" * 401):
        with pytest.raises(ValidationError) as error:
            services.block_expiry_change(block=block, expires_on=day(30), actor=staff, reason=reason)
        assert "reason" in error.value.message_dict


def test_never_before_the_block_starts(agreement, staff):
    future = sell(agreement, hours=1, starts_in=10, expires_in=40)
    with pytest.raises(ValidationError) as error:
        services.block_expiry_change(block=future, expires_on=day(5), actor=staff, reason="Oops")
    assert error.value.message_dict == {
        "expires_on": [f"The block starts on {day(10):%Y-%m-%d}; it cannot expire before that."]
    }


def test_an_expired_or_cancelled_block_keeps_its_date(agreement, staff):
    lapsed = sell(agreement, hours=1, starts_in=-30, expires_in=-1)
    swept = sell(agreement, hours=1, starts_in=-30, expires_in=-2)
    services.blocks_expire(today=today())
    assert LedgerEntry.objects.filter(block=swept, kind=LedgerKind.EXPIRY).exists()
    cancelled = sell(agreement, hours=1, expires_in=30)
    services.block_cancel(block=cancelled, actor=staff, reason="Invoice voided")
    before = snapshot(agreement)
    for target, message in [
        (lapsed, "This block has expired already; its expiry date cannot change."),
        (swept, "This block has expired already; its expiry date cannot change."),
        (cancelled, "This block sale was cancelled; its dates cannot change."),
    ]:
        with pytest.raises(ValidationError) as error:
            services.block_expiry_change(block=target, expires_on=None, actor=staff, reason="Revive")
        assert error.value.message_dict == {"expires_on": [message]}
    assert snapshot(agreement) == before


def test_the_runway_and_the_sweep_follow_the_new_date(client_a, staff, technician):
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=1)
    sell(agreement, hours=20, starts_in=-90)  # never expires
    log(agreement, technician, 560, on=-3)  # 10 min a day; 640 left in it
    block = sell(agreement, hours=10, starts_in=-1, expires_in=20)

    def runway():
        return runway_of(with_runway(Agreement.objects.filter(pk=agreement.pk), today=today()).get(), today=today())

    assert (runway().days, runway().expiring) == (64, (Expiring(on=day(20), minutes=600),))
    # Oldest first: the 640 last to day 64, then the 600 from day 64 to day 100 (37 days × 10 = 370):
    # 230 expire on day 100, which takes the last of the balance.
    services.block_expiry_change(block=block, expires_on=day(100), actor=staff, reason="Extended")
    assert (runway().days, runway().expiring) == (100, (Expiring(on=day(100), minutes=230),))
    services.block_expiry_change(block=block, expires_on=None, actor=staff, reason="Never")
    assert (runway().days, runway().expiring) == (124, ())
    # The nightly sweep after the old date expires nothing.
    assert services.blocks_expire(today=day(21)) == 0
    services.block_expiry_change(block=block, expires_on=day(1), actor=staff, reason="Shortened")
    assert runway().expiring == (Expiring(on=day(1), minutes=600),)
    assert services.blocks_expire(today=day(2)) == 600
    assert assert_balance_is_ledger_sum(agreement) == 640


def test_a_zero_minute_entry_is_only_an_expiry_change(agreement, block):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(agreement=agreement, block=block, kind=LedgerKind.ADJUSTMENT, minutes=0, reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            agreement=agreement, block=block, kind=LedgerKind.EXPIRY_CHANGE, minutes=5, reason="x"
        )


def test_the_revenue_books_are_unmoved_by_a_new_date(agreement, block, staff):
    from reports.selectors import recognised_revenue

    month = today().replace(day=1)
    before = recognised_revenue(first=month, last=today())
    services.block_expiry_change(block=block, expires_on=None, actor=staff, reason="Goodwill")
    assert recognised_revenue(first=month, last=today()) == before
    assert before[0].purchased_minutes == 600


def test_a_block_of_a_term_that_ends_cannot_outlast_it(client_a, staff):
    agreement = AgreementFactory(client=client_a, ends_on=day(30), grace_days=5)
    block = sell(agreement, hours=2, expires_in=30)
    message = f"The agreement ends on {day(30):%Y-%m-%d}; its blocks cannot expire after {day(35):%Y-%m-%d}."
    for expires_on in (None, day(36)):
        with pytest.raises(ValidationError) as error:
            services.block_expiry_change(block=block, expires_on=expires_on, actor=staff, reason="Longer")
        assert error.value.message_dict == {"expires_on": [message]}
    services.block_expiry_change(block=block, expires_on=day(35), actor=staff, reason="Through the grace days")
    block.refresh_from_db()
    assert block.expires_on == day(35)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_to_one_date_queue_on_the_agreement_lock():
    from agreements.tests.factories import ClientFactory, StaffFactory
    from agreements.tests.test_concurrency import run_in_threads

    staff = StaffFactory(username="expiry-staff")
    agreement = AgreementFactory(client=ClientFactory(name="Concurrent Co"))
    block = sell(agreement, hours=10, expires_in=20)
    errors = run_in_threads(
        8,
        lambda index: services.block_expiry_change(
            block=block, expires_on=day(60), actor=staff, reason=f"Staff member {index}"
        ),
    )
    # One change; each of the others, queued behind it, finds the date already moved.
    assert len(errors) == 7
    assert all(error.message_dict == {"expires_on": ["The block already has this expiry date."]} for error in errors)
    assert LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY_CHANGE).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.BLOCK_EXPIRY_CHANGE).count() == 1
