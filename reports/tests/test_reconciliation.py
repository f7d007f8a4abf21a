"""On generated data, written through the real services, the revenue
reports reconcile exactly with the ledger, the blocks' cached balances and
the issued invoices."""

import datetime
import random
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import Block, LedgerEntry, TimeEntry
from agreements.tests.factories import AgreementFactory, ClientFactory, TicketFactory, tier, work_type
from billing import credit_notes
from billing import services as billing_services
from billing.models import CreditNote, Invoice, InvoiceStatus
from reports import selectors

DAYS = 150


def _generate(staff, technician, seed: int = 7) -> None:
    rng = random.Random(seed)
    # Its own stream, so the figures the other steps assert do not depend on these draws.
    refund_rng = random.Random(f"{seed}-refunds")
    today = timezone.localdate()
    start = today - datetime.timedelta(days=DAYS)
    types = [work_type("Normal"), work_type("After-hours"), work_type("Emergency"), work_type("Non-billable")]
    for c in range(6):
        client = ClientFactory(name=f"Gen {c}", hourly_rate=Decimal(rng.choice(["95.55", "100.00", "137.35"])))
        # The last one is a term that ended yesterday and renews with a capped rollover.
        renewing = (
            {
                "ends_on": today - datetime.timedelta(days=1),
                "term_end_action": "renew",
                "renewal_tier": tier(10),
                "renewal_invoice_days": 30,
                "rollover_policy": "capped_hours",
                "rollover_cap_minutes": 120,
            }
            if c == 5
            else {}
        )
        agreement = AgreementFactory(
            client=client,
            starts_on=start,
            billing_increment_minutes=rng.choice([1, 6, 15]),
            credit_policy="immediate" if c % 2 == 0 else "on_payment",
            **renewing,
        )
        ticket = TicketFactory(client=client)
        unpaid = []
        for b in range(3):
            invoice = billing_services.invoice_sell_block(
                agreement=agreement, actor=staff, tier=tier(rng.choice([10, 20, 30])), starts_on=start
            )
            if b == 2 and c % 2 == 0:
                unpaid.append(invoice)
            else:
                billing_services.payment_record(
                    invoice=invoice,
                    amount=invoice.total,
                    method="ach",
                    reference=f"ACH-{c}-{b}",
                    paid_on=today,
                    actor=staff,
                )
        entries = []
        for _ in range(rng.randint(5, 25)):
            try:
                entries.append(
                    agreement_services.time_entry_log(
                        agreement=agreement,
                        technician=technician,
                        ticket=ticket,
                        work_date=start + datetime.timedelta(days=rng.randint(0, DAYS)),
                        minutes=rng.randint(1, 240),
                        work_type=rng.choice(types),
                    )
                )
            except ValidationError:
                pass  # beyond the balance: refused, changes nothing
        for entry in rng.sample(entries, k=len(entries) // 4):
            agreement_services.time_entry_void(time_entry=entry, actor=staff, reason="Logged twice")
        if entries:
            agreement_services.ledger_adjust(
                agreement=agreement, minutes=-rng.randint(1, 30), reason="Goodwill", author=staff
            )
        for invoice in unpaid:  # an unpaid (credited at once) block sale cancelled: its invoice is voided
            try:
                billing_services.invoice_void(invoice=invoice, actor=staff, reason="Client changed their mind")
            except ValidationError:
                pass  # some of its hours are used already: refused, changes nothing
        if renewing:
            sale = billing_services.renewal_invoice_issue(agreement=agreement, today=today)
            billing_services.payment_record(
                invoice=sale.invoice,
                amount=sale.invoice.total,
                method="ach",
                reference="ACH-renewal",
                paid_on=today,
                actor=staff,
            )
            closed = agreement_services.agreement_term_close(agreement=agreement, today=today)
            assert (closed.rolled_minutes, closed.expired_minutes) == (120, 208)
        # Unused hours of paid blocks refunded on a credit note (some minutes, or all) or forfeited.
        for block in Block.objects.filter(agreement=agreement, paid_at__isnull=False, minutes_left__gt=0):
            choice = refund_rng.choice(["refund-some", "refund-all", "forfeit", "keep"])
            if choice == "keep":
                continue
            cancel = {"block": block, "actor": staff, "reason": "Client leaves"}
            if choice == "refund-some":
                cancel["minutes"] = refund_rng.randint(1, block.minutes_left)
            credit_notes.block_unused_cancel(disposition=choice.split("-")[0], **cancel)
    # One block with hours left expires.
    expiring = Block.objects.filter(minutes_left__gt=0).order_by("pk").first()
    Block.objects.filter(pk=expiring.pk).update(expires_on=expiring.starts_on)
    agreement_services.blocks_expire(today=today)
    # The services stamp every row "now": spread the ledger over five months,
    # keeping its order, so the roll-forward crosses month ends.
    ids = list(LedgerEntry.objects.order_by("pk").values_list("pk", flat=True))
    first = timezone.now() - datetime.timedelta(days=DAYS)
    with connection.cursor() as cursor:
        for n, pk in enumerate(ids):
            moment = first + datetime.timedelta(days=DAYS * n / len(ids))
            cursor.execute(f"UPDATE {LedgerEntry._meta.db_table} SET created_at = %s WHERE id = %s", [moment, pk])


def test_it_reconciles_with_the_ledger_blocks_and_invoices(staff, technician, seller):
    _generate(staff, technician)
    today = timezone.localdate()
    first = today - datetime.timedelta(days=DAYS + 31)
    months = selectors.recognised_revenue(first=first, last=today)
    assert len(months) >= 6 and {m.currency for m in months} == {"USD"}

    # 1. Every month's closing balance is deferred revenue as of that month's end,
    #    and the next month opens with it — exactly, in cent-minutes and in minutes.
    for month, following in zip(months, months[1:] + [None], strict=True):
        end = min(selectors.add_months(month.month, 1) - datetime.timedelta(days=1), today)
        deferred = selectors.deferred_revenue(as_of=end)
        assert month.closing_cm == sum(r.cent_minutes for r in deferred.rows)
        assert month.closing_minutes == deferred.total_minutes
        if following:
            assert (following.opening_cm, following.opening_minutes) == (month.closing_cm, month.closing_minutes)

    # 2. Today's deferred revenue is what the blocks' cached balances say, block by block.
    deferred = selectors.deferred_revenue(as_of=today)
    per_client: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for block in Block.objects.select_related("agreement"):
        per_client[block.agreement.client_id][0] += block.minutes_left
        per_client[block.agreement.client_id][1] += block.minutes_left * int(block.rate * 100)
    assert {r.client_id: [r.minutes, r.cent_minutes] for r in deferred.rows} == {
        k: v for k, v in per_client.items() if v[0]
    }

    # 3. Blocks credited less sales cancelled = the issued invoices of credited blocks, to the cent.
    purchased = sum(m.purchased_cm for m in months) - sum(m.cancelled_cm for m in months)
    invoiced = Invoice.objects.filter(
        status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID], block__credited_at__isnull=False
    ).values_list("subtotal", flat=True)
    assert selectors.value_of(purchased) == sum(invoiced, Decimal("0.00"))
    assert purchased % 60 == 0  # whole-hour blocks are worth whole cents: nothing rounded away

    # 4. Minutes recognised = charged minutes of non-void time + block adjustments, minus nothing.
    charged = sum(TimeEntry.objects.filter(voided_at__isnull=True).values_list("charged_minutes", flat=True))
    adjusted = -sum(
        LedgerEntry.objects.filter(kind="adjustment", block__isnull=False).values_list("minutes", flat=True)
    )
    settled = -sum(LedgerEntry.objects.filter(kind="settlement", block__isnull=False).values_list("minutes", flat=True))
    assert sum(m.recognised_minutes for m in months) == charged + adjusted + settled
    assert sum(m.breakage_minutes for m in months) > 0
    assert sum(m.cancelled_minutes for m in months) > 0
    refunds = LedgerEntry.objects.filter(kind="refund")
    forfeits = LedgerEntry.objects.filter(kind="forfeit")
    assert refunds.exists() and forfeits.exists()
    assert sum(m.refunded_minutes for m in months) == -sum(refunds.values_list("minutes", flat=True))
    expired = LedgerEntry.objects.filter(kind__in=["expiry", "forfeit"]).values_list("minutes", flat=True)
    assert sum(m.breakage_minutes for m in months) == -sum(expired)

    # 4b. The renewal's rollover moved minutes inside deferred revenue: no purchase, no breakage, net zero.
    assert sorted(LedgerEntry.objects.filter(kind="rollover").values_list("minutes", flat=True)) == [-68, -52, 52, 68]
    assert (sum(m.transferred_minutes for m in months), sum(m.transferred_cm for m in months)) == (0, 0)

    # 5. Everything bought is accounted for: recognised + breakage + cancelled + refunded + still deferred.
    total = months[-1]
    assert sum(m.purchased_cm for m in months) == (
        sum(m.recognised_cm + m.breakage_cm + m.cancelled_cm + m.refunded_cm for m in months) + total.closing_cm
    )

    # 6. Money refunded per block is what its credit notes say, to the cent (before tax).
    for block in Block.objects.filter(credit_notes__isnull=False).distinct():
        refunded = -sum(refunds.filter(block=block).values_list("minutes", flat=True))
        noted = sum(CreditNote.objects.filter(block=block).values_list("subtotal", flat=True), Decimal("0"))
        assert selectors.value_of(refunded * int(block.rate * 100)) == noted
        assert refunded == sum(CreditNote.objects.filter(block=block).values_list("minutes", flat=True))
