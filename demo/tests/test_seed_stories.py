"""The demo's clients whose story is more than one balance: two agreements in
a set order, a yearly term renewed with a capped rollover inside the history,
and a yearly term whose renewal is invoiced and still to come. Their figures
are exact: the services must have written exactly these rows."""

import datetime

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from agreements.models import Agreement, AgreementStatus, Block, LedgerEntry, LedgerKind, Renewal, TimeEntry
from agreements.services import term_end_preview
from billing.models import Invoice, InvoiceStatus
from notifications.models import OutgoingEmail

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def demo() -> None:
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115 - the output is not under test here


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def charged_by_work_type(agreement: Agreement) -> dict[str, int]:
    rows = (
        TimeEntry.objects.filter(agreement=agreement).values("work_type__name").annotate(total=Sum("charged_minutes"))
    )
    return {row["work_type__name"]: row["total"] for row in rows}


def test_the_project_agreement_comes_first_and_takes_its_work_until_spent_then_general_support_takes_over(demo):
    project, support = Agreement.objects.filter(client__name="Cobalt Creek Realty").order_by("position")

    assert [(project.position, project.name), (support.position, support.name)] == [
        (1, "Office move project — 30 h"),
        (2, "General support"),
    ]
    assert sorted(project.work_types.values_list("name", flat=True)) == ["After-hours", "Normal"]
    assert not support.work_types.exists()  # covers every work type
    # The project's 30 h: 1260 min of office work and 360 min worked after hours (x1.5).
    assert (project.balance_minutes, support.balance_minutes) == (0, 240)
    assert charged_by_work_type(project) == {"Normal": 1260, "After-hours": 540}
    assert TimeEntry.objects.filter(agreement=project).count() == 8
    project_work = TimeEntry.objects.filter(agreement=project)
    last_project_day = max(project_work.values_list("work_date", flat=True))
    assert last_project_day == days_ago(56)
    # The no-charge site visit, during the move, is not the project's work type: general support took it.
    visit = TimeEntry.objects.get(ticket__subject="Pre-move site visit with the landlord")
    assert (visit.agreement, visit.work_date, visit.charged_minutes) == (support, days_ago(80), 0)
    # Once the project was spent, general support took over: 360 min of its 10 h block.
    later = TimeEntry.objects.filter(agreement=support).exclude(pk=visit.pk)
    assert later.aggregate(total=Sum("charged_minutes"))["total"] == 360
    assert min(later.values_list("work_date", flat=True)) >= days_ago(47)  # from its block's payment on
    assert not TimeEntry.objects.filter(agreement=project, work_date__gt=last_project_day).exists()
    # One block each, each on its own paid invoice: the project's 30 h, then general support's 10 h.
    assert [
        (b.agreement_id, b.minutes, b.minutes_left, b.starts_on)
        for b in Block.objects.filter(agreement__client__name="Cobalt Creek Realty").order_by("starts_on")
    ] == [(project.pk, 1800, 0, days_ago(100)), (support.pk, 600, 240, days_ago(50))]


def test_the_yearly_agreement_renewed_in_the_history_with_a_capped_rollover(demo):
    agreement = Agreement.objects.get(client__name="Riverbend Architects")
    old_end = days_ago(61)
    renewal = Renewal.objects.select_related("block").get(agreement=agreement)

    # 30 h sold with the term, 22 h used in it: 4 h (the cap) rolled over, 4 h expired.
    assert (renewal.term_starts_on, renewal.term_ends_on) == (days_ago(425), old_end)
    assert (renewal.rolled_over_minutes, renewal.expired_minutes) == (240, 240)
    assert timezone.localdate(renewal.renewed_at) == old_end + DAY  # by the run the morning after the end
    assert agreement.status == AgreementStatus.ACTIVE
    assert agreement.ends_on == renewal.new_term_ends_on > timezone.localdate() + datetime.timedelta(days=300)
    assert (
        TimeEntry.objects.filter(agreement=agreement, work_date__lte=old_end).aggregate(total=Sum("charged_minutes"))[
            "total"
        ]
        == 1320
    )

    old, carry, new = Block.objects.filter(agreement=agreement).order_by("starts_on", "pk")
    assert (old.minutes, old.minutes_left, old.expires_on) == (1800, 0, old_end)
    # The carry-over keeps the old block's start and rate, so it is spent first: 3 h of new-term work left 1 h.
    assert (carry.rolled_over_from, carry.minutes, carry.minutes_left, carry.amount) == (old, 240, 60, 0)
    assert carry.expires_on == agreement.ends_on
    assert (new, new.minutes, new.minutes_left, new.starts_on) == (renewal.block, 1200, 1200, old_end + DAY)
    assert agreement.balance_minutes == 1260
    moves = LedgerEntry.objects.filter(agreement=agreement, kind__in=(LedgerKind.ROLLOVER, LedgerKind.EXPIRY))
    assert sorted((e.kind, e.block_id, e.minutes) for e in moves) == sorted(
        [(LedgerKind.EXPIRY, old.pk, -240), (LedgerKind.ROLLOVER, old.pk, -240), (LedgerKind.ROLLOVER, carry.pk, 240)]
    )
    assert {timezone.localdate(e.created_at) for e in moves} == {old_end + DAY}

    # The renewal invoice: issued by the run 30 days before the end, paid 5 days later.
    invoice = Invoice.objects.get(block=renewal.block)
    assert (invoice.issued_on, invoice.status, timezone.localdate(invoice.paid_at)) == (
        old_end - datetime.timedelta(days=30),
        InvoiceStatus.PAID,
        old_end - datetime.timedelta(days=25),
    )
    # The renewal notice, sent on the day of the run (not left for a running demo to send today).
    notices = OutgoingEmail.objects.filter(topic=f"renewal:{renewal.block.public_id}")
    assert notices.exists()
    issued_on = renewal.block.invoices.get().issued_on
    assert {(n.status, timezone.localdate(n.sent_at)) for n in notices} == {("sent", issued_on)}

    # The next term's coming renewal, at today's unused hours: only the new block's may roll (4 h cap).
    coming = term_end_preview(agreement)
    assert (coming.term_ends_on, coming.renewal_minutes) == (agreement.ends_on, 1200)
    assert (coming.rolled_minutes, coming.expiring_minutes) == (240, 1020)


def test_the_yearly_client_whose_term_ends_soon_has_its_renewal_invoiced_and_open(demo):
    agreement = Agreement.objects.get(client__name="Summit Ridge Credit Union")
    ends_on = timezone.localdate() + datetime.timedelta(days=24)
    renewal = Renewal.objects.select_related("block").get(agreement=agreement)

    assert (agreement.ends_on, renewal.term_ends_on, renewal.renewed_at) == (ends_on, ends_on, None)
    assert (renewal.block.minutes, renewal.block.starts_on, renewal.block.credited_at) == (1800, ends_on + DAY, None)
    invoice = Invoice.objects.get(block=renewal.block)
    assert (invoice.issued_on, invoice.status) == (ends_on - datetime.timedelta(days=30), InvoiceStatus.ISSUED)
    coming = term_end_preview(agreement)
    # No rollover: the 9 h left expire at the end, and a new 30 h block starts the next term.
    assert (coming.renews, coming.renewal_minutes, coming.rolled_minutes, coming.expiring_minutes) == (
        True,
        1800,
        0,
        540,
    )
