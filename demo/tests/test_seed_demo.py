"""`manage.py seed_demo`: the demo is built through the services, shows every
scenario the product is about, and a second run changes nothing."""

import datetime
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import Role, User
from agreements.models import Agreement, Block, ClientContact, OveragePolicy, TimeEntry
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
    auto_reload = [a for a in agreements if a.auto_reload and a.reload_tier is not None]
    assert exhausted and low and near and auto_reload
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
    assert not Block.objects.filter(paid_at__isnull=True).exists()
    assert not Block.objects.filter(credited_at__isnull=True).exists()


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
    assert Agreement.objects.count() == len(seed_demo.CLIENTS)


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
    assert invoices.count() == Block.objects.count()
    assert set(invoices.values_list("status", flat=True)) == {InvoiceStatus.PAID}
    assert sorted(invoices.values_list("number_sequence", flat=True)) == list(range(1, invoices.count() + 1))
    for invoice in invoices.select_related("block"):
        assert invoice.total == invoice.block.amount
