"""A renewal with a capped rollover in the revenue reports, to the cent: the
rolled-over hours stay deferred at the rate they were bought at, the rest
becomes breakage, and the move itself is neither a purchase nor breakage."""

import datetime
from decimal import Decimal

from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import LedgerKind, RolloverPolicy, TermEndAction
from agreements.tests.factories import TicketFactory, tier, work_type
from billing import services as billing_services
from reports import selectors

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def pay(invoice, staff) -> None:
    billing_services.payment_record(
        invoice=invoice,
        amount=invoice.total,
        method="ach",
        reference=f"ACH-{invoice.number}",
        paid_on=TODAY,
        actor=staff,
    )


def test_a_capped_rollover_stays_deferred_at_its_rate_and_the_rest_is_breakage(client_a, staff, technician, seller):
    agreement = agreement_services.agreement_create(
        client=client_a,
        starts_on=TODAY - 60 * DAY,
        ends_on=TODAY - DAY,
        billing_increment_minutes=1,
        term_end_action=TermEndAction.RENEW,
        renewal_tier=tier(10),
        renewal_invoice_days=30,
        rollover_policy=RolloverPolicy.CAPPED_HOURS,
        rollover_cap_minutes=300,
    )
    pay(
        billing_services.invoice_sell_block(
            agreement=agreement, actor=staff, tier=tier(20), starts_on=TODAY - 60 * DAY
        ),
        staff,
    )
    agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=client_a),
        work_date=TODAY - 50 * DAY,
        minutes=705,
        work_type=work_type("Normal"),
    )
    sale = billing_services.renewal_invoice_issue(agreement=agreement, today=TODAY - 30 * DAY)
    assert sale.invoice.total == Decimal("1000.00")
    pay(sale.invoice, staff)
    before = selectors.deferred_revenue(as_of=TODAY)
    assert [(r.minutes, r.amount) for r in before.rows] == [(495 + 600, Decimal("1742.50"))]

    closed = agreement_services.agreement_term_close(agreement=agreement, today=TODAY)
    assert (closed.rolled_minutes, closed.expired_minutes) == (300, 195)

    after = selectors.deferred_revenue(as_of=TODAY)
    assert [(r.minutes, r.amount) for r in after.rows] == [(300 + 600, Decimal("1450.00"))]  # 5 h × $90 + 10 h × $100
    (month,) = selectors.recognised_revenue(first=TODAY, last=TODAY)
    assert (month.opening, month.purchased, month.recognised, month.breakage, month.cancelled, month.closing) == (
        Decimal("0.00"),
        Decimal("2800.00"),  # the 20 h block and the renewal block; the carry-over bought nothing
        Decimal("1057.50"),  # 11 h 45 min × $90
        Decimal("292.50"),  # 3 h 15 min × $90 expired
        Decimal("0.00"),
        Decimal("1450.00"),
    )
    assert (month.transferred_minutes, month.transferred_cm) == (0, 0)
    assert (month.purchased_minutes, month.breakage_minutes, month.closing_minutes) == (1800, 195, 900)
    assert agreement.ledger.filter(kind=LedgerKind.ROLLOVER).count() == 2
