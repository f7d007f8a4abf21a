"""`manage.py seed_demo`: the demo is built through the services, shows every
scenario the product is about, and a second run changes nothing."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import Role, User
from agreements.models import Agreement, Block, ClientContact, OveragePolicy, TimeEntry, TopupMode
from agreements.selectors import ledger_balance
from agreements.tests.factories import ClientFactory, StaffFactory
from demo.management.commands import seed_demo

pytestmark = pytest.mark.django_db


def run_seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def model_counts() -> dict[str, int]:
    """Rows of every model with a table (a model whose migration is still being written has none yet)."""
    tables = set(connection.introspection.table_names())
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.db_table in tables
    }


@pytest.fixture
def demo() -> str:
    return run_seed()


def test_it_changes_nothing_when_run_twice(demo):
    before = model_counts()

    output = run_seed()

    assert model_counts() == before
    assert "Demo data already present" in output
    assert before["agreements.Client"] >= 6
    assert before["agreements.TimeEntry"] > 100


def test_it_keeps_every_cached_balance_equal_to_the_ledger(demo):
    for agreement in Agreement.objects.all():
        assert agreement.balance_minutes == ledger_balance(agreement), agreement


def test_it_shows_every_balance_scenario(demo):
    agreements = list(Agreement.objects.all())

    exhausted = [a for a in agreements if a.balance_minutes == 0 and a.overage_policy == OveragePolicy.REJECT]
    low = [a for a in agreements if 0 < a.balance_minutes <= a.low_balance_threshold_minutes]
    near = [
        a
        for a in agreements
        if a.low_balance_threshold_minutes < a.balance_minutes <= a.low_balance_threshold_minutes + 180
    ]
    charged = [a for a in agreements if a.topup_mode == TopupMode.CHARGE and a.reload_tier is not None]
    assert exhausted and low and near and charged
    assert Block.objects.filter(tier__hours=30, agreement__balance_minutes__gt=10 * 60).exists()


def test_it_sells_a_yearly_block_that_expires_with_its_term_within_30_days(demo):
    today = timezone.localdate()

    yearly = Block.objects.get(expires_on__gte=today, expires_on__lte=today + datetime.timedelta(days=30))

    assert yearly.expires_on == yearly.agreement.ends_on
    assert yearly.agreement.balance_minutes > 0


def test_it_logs_months_of_every_work_type_before_today(demo):
    today = timezone.localdate()
    entries = TimeEntry.objects.select_related("work_type")

    assert {e.work_type.name for e in entries} == {"Normal", "After-hours", "Emergency", "Non-billable"}
    assert entries.filter(work_type__name="Emergency").count() == 1
    assert max(e.work_date for e in entries) <= today
    assert min(e.work_date for e in entries) <= today - datetime.timedelta(days=90)
    normal = entries.filter(work_type__name="Normal").count()
    assert normal > entries.count() * 0.7


def test_it_credits_only_paid_blocks(demo):
    # The one block not paid yet: the yearly client's renewal, invoiced and still open.
    (unpaid,) = Block.objects.filter(paid_at__isnull=True)
    assert unpaid.renewal.agreement.client.name == "Summit Ridge Credit Union"
    assert list(Block.objects.filter(credited_at__isnull=True)) == [unpaid]


def test_demo_logins_authenticate_with_the_documented_password(demo):
    request = RequestFactory().post("/login/")

    for username in seed_demo.demo_usernames():
        assert authenticate(request, username=username, password=seed_demo.DEMO_PASSWORD) is not None, username


def test_it_makes_admin_a_superuser_with_the_staff_role(demo):
    admin = User.objects.get(username="admin")

    assert admin.is_superuser and admin.role == Role.STAFF


def test_it_ties_one_or_two_contacts_to_each_client(demo):
    for spec in seed_demo.CLIENTS:
        contacts = ClientContact.objects.filter(client__name=spec.name).select_related("user")

        assert {c.user.username for c in contacts} == {p.username for p in spec.contacts}
        assert 1 <= len(contacts) <= 2
        assert all(c.user.role == Role.CLIENT for c in contacts)


def test_it_leaves_an_existing_admin_and_its_password_alone():
    StaffFactory(username="admin", password="the-owners-own-password", is_superuser=True)

    output = run_seed()

    request = RequestFactory().post("/login/")
    assert authenticate(request, username="admin", password="the-owners-own-password") is not None
    assert "superuser, own password" in output
    # One agreement a client, and a project agreement before one client's.
    assert Agreement.objects.count() == len(seed_demo.CLIENTS) + 1


def test_it_refuses_to_mix_with_real_data_of_the_same_name_and_writes_nothing():
    ClientFactory(name="Harbor Veterinary Clinic")
    before = model_counts()

    with pytest.raises(CommandError, match="Harbor Veterinary Clinic"):
        run_seed()

    assert model_counts() == before


def test_it_prints_the_url_and_every_login(demo, settings):
    assert settings.SITE_URL in demo
    assert seed_demo.DEMO_PASSWORD in demo
    for username in seed_demo.demo_usernames():
        assert username in demo


def test_it_plans_the_same_history_every_run():
    tiers, work_types = seed_demo.load_price_list()
    today = timezone.localdate()

    def plan() -> list:
        planner = seed_demo.Planner(today=today, tiers=tiers, work_types=work_types)
        return [event for spec in seed_demo.CLIENTS for event in planner.plan(spec)]

    assert plan() == plan()


def test_every_demo_block_was_sold_on_a_paid_invoice(demo):
    from billing.models import Invoice, InvoiceStatus, SellerProfile

    assert SellerProfile.objects.get().name == "Northwind Managed IT"
    invoices = Invoice.objects.all()
    # Every block but the carry-over of a renewal (it moved hours, sold nothing).
    assert invoices.count() == Block.objects.filter(rolled_over_from__isnull=True).count()
    # All paid but the yearly client's renewal, invoiced 30 days before its term ends.
    assert list(invoices.exclude(status=InvoiceStatus.PAID).values_list("client__name", "status")) == [
        ("Summit Ridge Credit Union", InvoiceStatus.ISSUED)
    ]
    for year in set(invoices.values_list("number_year", flat=True)):
        numbers = sorted(invoices.filter(number_year=year).values_list("number_sequence", flat=True))
        assert numbers == list(range(1, len(numbers) + 1))  # gapless each year
    for invoice in invoices.select_related("block"):
        assert invoice.total == invoice.block.amount


# ---------------------------------------------------------------------------
# A history with real dates


def test_each_invoice_is_issued_on_its_sale_day_and_paid_days_later_as_planned(demo):
    from billing.models import Invoice

    pays_after = {spec.name: spec.pays_after_days for spec in seed_demo.CLIENTS}
    renewal_pays_after = {spec.name: spec.renewal_pays_after_days for spec in seed_demo.CLIENTS}
    invoices = Invoice.objects.select_related("block", "client").prefetch_related("payments")
    for invoice in invoices.filter(block__renewal__isnull=True):
        (payment,) = invoice.payments.all()
        assert invoice.issued_on == invoice.block.starts_on, invoice
        assert payment.paid_on == invoice.issued_on + datetime.timedelta(days=pays_after[invoice.client.name])
        assert timezone.localdate(invoice.paid_at) == payment.paid_on
        assert invoice.block.paid_at == invoice.paid_at
    # A renewal's invoice is issued by the renewal run 30 days before its block's term starts.
    renewals = invoices.filter(block__renewal__isnull=False)
    assert sorted(invoice.client.name for invoice in renewals) == ["Riverbend Architects", "Summit Ridge Credit Union"]
    for invoice in renewals:
        assert invoice.issued_on == invoice.block.starts_on - datetime.timedelta(days=31)
        paid_on = [payment.paid_on for payment in invoice.payments.all()]
        days = renewal_pays_after[invoice.client.name]
        assert paid_on == ([] if days is None else [invoice.issued_on + datetime.timedelta(days=days)])
    assert len({invoice.issued_on.replace(day=1) for invoice in invoices}) >= 5
    assert min(invoice.issued_on for invoice in invoices) < timezone.localdate() - datetime.timedelta(days=300)


def test_a_clients_first_block_is_a_purchase_and_the_later_ones_reloads(demo):
    from billing.models import Invoice, InvoiceKind

    for spec in seed_demo.CLIENTS:
        kinds = list(
            Invoice.objects.filter(client__name=spec.name, block__agreement__position=2 if spec.first else 1)
            .exclude(block__renewal__isnull=False)
            .order_by("issued_on", "pk")
            .values_list("kind", flat=True)
        )
        assert kinds == [InvoiceKind.BLOCK] + [InvoiceKind.RELOAD] * (len(spec.blocks) - 1), spec.name


def test_invoice_numbers_have_no_gaps_and_follow_the_issue_dates_each_year(demo):
    from billing.models import Invoice

    years = set(Invoice.objects.values_list("number_year", flat=True))
    assert len(years) >= 2  # the yearly clients' blocks were sold in an earlier year
    for year in years:
        rows = list(Invoice.objects.filter(number_year=year).order_by("number_sequence"))
        assert [invoice.number_sequence for invoice in rows] == list(range(1, len(rows) + 1))
        assert [invoice.issued_on for invoice in rows] == sorted(invoice.issued_on for invoice in rows)
        assert {invoice.issued_on.year for invoice in rows} == {year}
        assert [invoice.number for invoice in rows] == [f"{year}-{n:04d}" for n in range(1, len(rows) + 1)]


def test_the_ledger_is_dated_when_each_thing_happened(demo):
    from agreements.models import CreditPolicy, LedgerEntry, LedgerKind

    debits = LedgerEntry.objects.filter(kind=LedgerKind.DEBIT).select_related("time_entry")
    assert debits.count() > 100
    for entry in debits:
        assert timezone.localdate(entry.created_at) == entry.time_entry.work_date
    for block in Block.objects.filter(credited_at__isnull=False, rolled_over_from__isnull=True).select_related(
        "agreement"
    ):
        purchase = LedgerEntry.objects.get(kind=LedgerKind.PURCHASE, block=block)
        assert purchase.created_at == block.credited_at
        if block.agreement.credit_policy == CreditPolicy.IMMEDIATE and not hasattr(block, "renewal"):
            assert timezone.localdate(block.credited_at) == block.starts_on  # usable from the sale
        else:
            assert block.credited_at == block.paid_at  # usable once paid
    # No time is charged to a block sold "usable when paid" before it is paid.
    for entry in LedgerEntry.objects.filter(kind=LedgerKind.DEBIT, block__isnull=False).select_related("block"):
        assert entry.created_at >= entry.block.credited_at


def test_revenue_cash_and_the_msa_view_show_months_of_history(demo):
    from reports import selectors as reports

    today = timezone.localdate()
    first = today - datetime.timedelta(days=seed_demo.HISTORY_DAYS)

    revenue = reports.recognised_revenue(first=first, last=today)
    assert len([month for month in revenue if month.recognised_minutes > 0]) >= 4
    cash = reports.cash(first=first, last=today)
    assert len([month for month in cash if month.invoiced > 0]) >= 4
    assert len([month for month in cash if month.collected > 0]) >= 4

    msa = reports.msa_candidates(today=today)
    candidates = [row for row in msa.rows if row.is_candidate]
    assert [(row.client.name, row.seats) for row in candidates] == [("Pinecrest Family Dental", 7)]
    (pinecrest,) = candidates
    # Its 20 h reloads of 70 and 23 days ago at $90/h, over the three trailing months; 7 seats at $150.
    assert (pinecrest.spend, pinecrest.monthly_spend, pinecrest.msa_monthly) == (
        Decimal("3600.00"),
        Decimal("1200.00"),
        Decimal("1050.00"),
    )
    assert {row.client.name: row.seats for row in msa.rows if row.seats} == {
        "Pinecrest Family Dental": 7,
        "Oakridge Law Group": 15,
    }
