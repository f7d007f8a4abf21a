import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agreements.models import Agreement, Block, Client, ClientContact, LedgerEntry, LedgerKind
from agreements.services.opening_balances import OpeningBalance, opening_balances_credit
from agreements.tests.factories import AgreementFactory, ClientFactory
from audit.models import AuditAction, AuditEvent
from billing.models import Invoice
from imports.models import ImportKey
from imports.parsing import parse
from imports.services import ImportFailed, import_apply, import_plan
from imports.tests.helpers import csv_bytes, row
from reports.selectors import deferred_revenue, recognised_revenue

pytestmark = pytest.mark.django_db


def _import(data: bytes, actor=None):
    with transaction.atomic():
        return import_apply(data=data, actor=actor)


def test_it_creates_client_contacts_agreement_and_opening_balance(staff):
    result = _import(csv_bytes(row(external_id="PSA-1", opening_expires_on="2026-12-31")), staff)

    assert result.counts["create"] == 1
    client = Client.objects.get(name="Harbor Vet")
    assert (client.billing_email, client.currency, client.language, client.hourly_rate) == (
        "ap@harbor.example",
        "USD",
        "en",
        Decimal("100.00"),
    )
    contact = ClientContact.objects.get(client=client)
    assert (contact.user.username, contact.user.email, contact.user.first_name, contact.user.last_name) == (
        "nora@harbor.example",
        "nora@harbor.example",
        "Nora",
        "Fox",
    )
    assert not contact.user.has_usable_password()
    agreement = Agreement.objects.get(client=client)
    assert (agreement.name, agreement.starts_on, agreement.ends_on, agreement.position) == (
        "Prepaid support hours",
        datetime.date(2026, 1, 1),
        None,
        1,
    )
    assert agreement.low_balance_threshold_minutes == 120
    assert agreement.balance_minutes == 750
    block = Block.objects.get(agreement=agreement)
    assert (block.minutes, block.minutes_left, block.rate, block.amount, block.currency) == (
        750,
        750,
        Decimal("90.00"),
        Decimal("1125.00"),
        "USD",
    )
    assert block.expires_on == datetime.date(2026, 12, 31)
    assert block.is_paid and block.credited_at is not None
    entry = LedgerEntry.objects.get(agreement=agreement)
    assert (entry.kind, entry.minutes, entry.block_id, entry.author) == (
        LedgerKind.OPENING_BALANCE,
        750,
        block.pk,
        staff,
    )
    assert ImportKey.objects.get(external_id="PSA-1").agreement == agreement
    # Never invoiced: the hours were paid before Blockhours.
    assert not Invoice.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.CLIENTS_IMPORT)
    assert event.actor == staff and event.after["opening_minutes"] == 750


def test_reimporting_the_same_file_changes_nothing(staff):
    data = csv_bytes(
        row(external_id="PSA-1"),
        row(
            client_name="Birch Legal",
            contacts="",
            agreement_name="Yearly",
            opening_balance="4h15m",
            opening_rate="95.50",
        ),
    )
    _import(data, staff)
    counts = (Client.objects.count(), Agreement.objects.count(), Block.objects.count(), LedgerEntry.objects.count())
    events = AuditEvent.objects.count()

    plan = import_plan(parse(data))
    assert plan.errors == []
    assert [p.action for p in plan.rows] == ["unchanged", "unchanged"]
    result = _import(data, staff)

    assert result.counts["unchanged"] == 2
    assert (
        Client.objects.count(),
        Agreement.objects.count(),
        Block.objects.count(),
        LedgerEntry.objects.count(),
    ) == counts
    assert AuditEvent.objects.count() == events  # nothing changed, nothing to audit
    assert Agreement.objects.get(name="Yearly").balance_minutes == 255


def test_a_changed_detail_updates_through_the_services(staff):
    _import(csv_bytes(row(external_id="PSA-1")), staff)
    plan = import_plan(parse(csv_bytes(row(external_id="PSA-1", hourly_rate="110.00", threshold="3:00"))))
    assert plan.errors == []
    assert plan.rows[0].action == "update"
    assert plan.rows[0].client_changes == {"hourly_rate": Decimal("110.00")}
    assert plan.rows[0].agreement_changes == {"low_balance_threshold_minutes": 180}

    _import(csv_bytes(row(external_id="PSA-1", hourly_rate="110.00", threshold="3:00")), staff)

    assert Client.objects.get().hourly_rate == Decimal("110.00")
    assert Agreement.objects.get().low_balance_threshold_minutes == 180
    assert LedgerEntry.objects.count() == 1
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        AuditAction.CLIENTS_IMPORT,
        AuditAction.CLIENT_UPDATE,
        AuditAction.AGREEMENT_UPDATE,
    }


def test_rows_match_existing_agreements_by_client_and_name_ignoring_case(staff):
    client = ClientFactory(name="Harbor Vet", billing_email="ap@harbor.example", currency="USD")
    agreement = AgreementFactory(client=client, name="Prepaid Support Hours", starts_on=datetime.date(2026, 1, 1))

    plan = import_plan(
        parse(csv_bytes(row(client_name="HARBOR VET", agreement_name="prepaid support hours", contacts="")))
    )

    assert plan.errors == []
    assert plan.rows[0].agreement == agreement
    assert plan.rows[0].opening is True
    _import(csv_bytes(row(client_name="HARBOR VET", agreement_name="Prepaid Support Hours", contacts="")), staff)
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 750
    assert Client.objects.count() == 1


def test_a_second_opening_balance_is_refused(staff):
    _import(csv_bytes(row(external_id="PSA-1")), staff)

    plan = import_plan(parse(csv_bytes(row(external_id="PSA-1", opening_balance="13:00"))))

    assert [str(e) for e in plan.errors] == [
        "row 2, opening_balance: the agreement already has an opening balance of 12 h 30 min at 90.00; "
        "correct it with an adjustment, not by import"
    ]
    with pytest.raises(ImportFailed):
        _import(csv_bytes(row(external_id="PSA-1", opening_balance="13:00")), staff)
    assert Agreement.objects.get().balance_minutes == 750


def test_the_database_allows_one_opening_balance_per_agreement(staff):
    agreement = AgreementFactory()
    with transaction.atomic():
        opening_balances_credit(items=[OpeningBalance(agreement, 60, Decimal("80.00"))], actor=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            agreement=agreement, block=Block.objects.get(), kind=LedgerKind.OPENING_BALANCE, minutes=60
        )


def test_an_opening_balance_repays_earlier_overage_of_an_existing_agreement(staff):
    from agreements.services import ledger_adjust

    agreement = AgreementFactory(overage_policy="allow_negative", overage_limit_minutes=600)
    ledger_adjust(agreement=agreement, minutes=-90, reason="Work before the import", author=staff)
    with transaction.atomic():
        opening_balances_credit(items=[OpeningBalance(agreement, 600, Decimal("100.00"))], actor=staff)
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 510
    assert agreement.balance_minutes == sum(
        LedgerEntry.objects.filter(agreement=agreement).values_list("minutes", flat=True)
    )
    assert Block.objects.get().minutes_left == 510


def test_deferred_revenue_includes_the_opening_balance(staff):
    _import(
        csv_bytes(
            row(external_id="PSA-1", opening_balance="12:30", opening_rate="90.00"),
            row(external_id="PSA-2", agreement_name="Second", opening_balance="0:20", opening_rate="100.00"),
        ),
        staff,
    )
    today = datetime.date.today()

    report = deferred_revenue(as_of=today)

    # 750 min × 90/h = 1125.00; 20 min × 100/h = 33.333… → one rounding of the exact sum: 1158.33
    assert [(r.client_name, r.minutes, r.amount) for r in report.rows] == [("Harbor Vet", 770, Decimal("1158.33"))]
    assert report.totals == {"USD": Decimal("1158.33")}
    month = recognised_revenue(first=today, last=today)[-1]
    assert (month.purchased_minutes, month.closing_minutes, month.closing) == (770, 770, Decimal("1158.33"))


def test_a_file_with_any_error_writes_nothing(staff):
    data = csv_bytes(row(external_id="PSA-1"), row(external_id="PSA-2", client_name="Birch", opening_balance="1,5h"))

    plan = import_plan(parse(data))

    assert [str(e) for e in plan.errors] == ["row 3, opening_balance: “1,5h” is not a duration (use 12:30 or 12h30m)"]
    with pytest.raises(ImportFailed):
        _import(data, staff)
    assert not Client.objects.exists() and not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"hourly_rate": "1,5"}, "row 2, hourly_rate: “1,5” is not an amount (use 100.00)"),
        ({"currency": "dollars"}, "row 2, currency: “dollars” is not a three-letter currency code"),
        ({"client_name": ""}, "row 2, client_name: required"),
        ({"term_start": "01/02/2026"}, "row 2, term_start: “01/02/2026” is not a date (use YYYY-MM-DD)"),
        ({"term_end": "2025-12-31"}, "row 2, term_end: The agreement cannot end before it starts."),
        (
            {"overage_policy": "sometimes"},
            "row 2, overage_policy: “sometimes” is not one of reject, allow_negative, bill_overage",
        ),
        ({"opening_rate": ""}, "row 2, opening_rate: required with an opening balance"),
        ({"contacts": "Nora nora@harbor.example"}, "row 2, contacts: “Nora nora@harbor.example” is not Name <email>"),
        ({"billing_email": "ap at harbor"}, "row 2, billing_email: “ap at harbor” is not an email address"),
        ({"threshold": "99999:00"}, "row 2, threshold: At most 10000 hours"),
    ],
)
def test_each_error_names_its_row_and_column(cells, expected):
    plan = import_plan(parse(csv_bytes(row(**cells))))
    assert [str(e) for e in plan.errors] == [expected]


def test_two_rows_for_one_agreement_are_refused():
    plan = import_plan(parse(csv_bytes(row(), row(agreement_name="PREPAID support hours"))))
    assert [str(e) for e in plan.errors] == ["row 3, agreement_name: the same agreement as row 2 (duplicate row)"]


def test_rows_of_one_client_must_agree_on_its_details():
    plan = import_plan(parse(csv_bytes(row(), row(agreement_name="Other", hourly_rate="120.00"))))
    assert [e.column for e in plan.errors] == ["client_name"]
    assert "differ from row 2" in plan.errors[0].message


def test_a_contact_who_is_someone_else_is_refused(alice):
    alice.username = "alice@acme.example"
    alice.save()
    plan = import_plan(parse(csv_bytes(row(contacts="Alice <alice@acme.example>"))))
    assert [str(e) for e in plan.errors] == [
        "row 2, contacts: alice@acme.example already signs in to Blockhours for someone else"
    ]


def test_a_client_with_blocks_keeps_its_currency(staff):
    _import(csv_bytes(row()), staff)
    plan = import_plan(parse(csv_bytes(row(currency="EUR"))))
    assert [e.column for e in plan.errors] == ["currency"]


def test_a_new_client_over_several_rows_is_created_once(staff):
    rows = [row(agreement_name=f"Agreement {n}", contacts="" if n else row()["contacts"]) for n in range(3)]
    _import(csv_bytes(*rows), staff)
    client = Client.objects.get()
    assert list(client.agreements.order_by("position").values_list("name", "position")) == [
        ("Agreement 0", 1),
        ("Agreement 1", 2),
        ("Agreement 2", 3),
    ]


def test_an_opening_balance_cannot_expire_before_the_agreement_starts():
    plan = import_plan(parse(csv_bytes(row(opening_expires_on="2025-06-30"))))
    assert [e.column for e in plan.errors] == ["opening_expires_on"]
    with pytest.raises(ValidationError), transaction.atomic():
        opening_balances_credit(items=[OpeningBalance(AgreementFactory(), 0, Decimal("1"))], actor=None)


def test_empty_optional_cells_leave_an_existing_client_and_agreement_as_they_are(staff):
    _import(csv_bytes(row(external_id="PSA-1", language="it", threshold="3:00", overage_policy="bill_overage")), staff)

    plan = import_plan(parse(csv_bytes(row(external_id="PSA-1", language="", threshold="", overage_policy=""))))

    assert plan.errors == []
    assert [p.action for p in plan.rows] == ["unchanged"]


def test_empty_optional_cells_take_the_defaults_for_a_new_agreement(staff, settings):
    _import(csv_bytes(row(language="", threshold="", overage_policy="")), staff)
    agreement = Agreement.objects.select_related("client").get()
    assert (agreement.client.language, agreement.low_balance_threshold_minutes, agreement.overage_policy) == (
        settings.LANGUAGE_CODE,
        120,
        "reject",
    )


def test_the_monthly_statement_shows_the_opening_balance(staff):
    from reports.statements import statement_build

    _import(csv_bytes(row()), staff)
    client = Client.objects.get()
    statement = statement_build(client=client, month=datetime.date.today().replace(day=1))
    assert [(line.description, line.minutes) for line in statement.movements] == [("Opening balance brought over", 750)]
    assert statement.closing_minutes == 750
