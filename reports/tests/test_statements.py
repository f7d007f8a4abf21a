import datetime
import subprocess
import threading
from http import HTTPStatus

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, tier
from billing import services as billing_services
from billing.models import PaymentMethod
from notifications import services as notification_services
from notifications.models import EmailKind, EmailStatus, OutgoingEmail
from reports import statements

FEB = datetime.date(2026, 2, 1)


def pdf_text(data: bytes) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def test_it_builds_a_statement_that_adds_up(dataset):
    s = statements.statement_build(client=dataset.acme, month=FEB)
    assert (s.opening_minutes, s.purchased_minutes, s.charged_minutes, s.other_minutes, s.closing_minutes) == (
        480,  # A1 after January's 90 + 30 min
        1200,  # A2
        540,  # TE3: 360 min after-hours × 1.5 (480 from A1, 60 from A2)
        30,  # TE2 voided: its 30 min come back
        1170,
    )
    assert s.opening_minutes + s.purchased_minutes - s.charged_minutes + s.other_minutes == s.closing_minutes
    assert [(e.day, e.technician, e.work_type, e.worked_minutes, e.charged_minutes) for e in s.entries] == [
        (datetime.date(2026, 2, 15), "Tom Ode", "After-hours", 360, 540),
        (datetime.date(2026, 2, 16), "Tess Ng", "Non-billable", 45, 0),
    ]
    assert s.movements[0].description.startswith("Correction: entry of 25 Jan 2026")
    birch = statements.statement_build(client=dataset.birch, month=FEB)
    assert [(m.description, m.minutes) for m in birch.movements] == [
        ("Unused hours expired: Block expired on 2026-02-27", -480)
    ]
    assert birch.closing_minutes == 0


def test_it_renders_the_statement_pdf(dataset):
    text = pdf_text(statements.statement_pdf(statements.statement_build(client=dataset.acme, month=FEB)))
    squashed = "".join(text.split())  # pdftotext spaces letters and wraps cells as the layout falls
    assert "Acme Dental" in text and "Feb 1, 2026 – Feb 28, 2026" in text
    assert "Feb15,2026#T-" in squashed and "TomOdeAfter-hours6h9h" in squashed  # 360 min worked, 540 charged
    assert "8h20h9h19h30min" in squashed  # opening, bought, charged, closing (1,170 min)
    assert "20hofsupportFeb10,2026never20h$90.00/h$1,800.00" in squashed
    assert "voided+30min" in squashed


def test_it_emails_each_active_client_once_per_month(dataset, alice, django_capture_on_commit_callbacks):
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        first = statements.statements_send(month=FEB, send=queued.append)
    # Acme: its accounts-payable address and Alice; Birch: its address (its block expired in February).
    assert sorted(OutgoingEmail.objects.filter(kind=EmailKind.STATEMENT).values_list("recipient", flat=True)) == [
        "alice@example.com",
        "billing@acme-dental.example",
        "billing@birch-legal.example",
    ]
    assert (first.clients, len(queued)) == (2, 3)
    with django_capture_on_commit_callbacks(execute=True):
        again = statements.statements_send(month=FEB, send=queued.append)
    assert (again.recorded, len(queued)) == ([], 3)
    assert OutgoingEmail.objects.filter(kind=EmailKind.STATEMENT).count() == 3

    for email_id in queued:
        assert notification_services.email_send(email_id=email_id).outcome == "sent"
    for email_id in queued:  # a redelivered task sends nothing twice
        assert notification_services.email_send(email_id=email_id).outcome == "skipped"
    assert len(mail.outbox) == 3
    to_alice = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert to_alice.subject == "Acme Dental: your support hours statement for February 2026"
    assert "Closing balance: 19 h 30 min" in to_alice.body
    (name, content, mimetype) = to_alice.attachments[0]
    assert (name, mimetype) == ("Statement-2026-02.pdf", "application/pdf")
    assert "Tom Ode" in pdf_text(content)


def test_it_skips_months_without_activity_and_refuses_future_ones(dataset):
    run = statements.statements_send(month=datetime.date(2025, 6, 1), send=lambda _: None)
    assert run.recorded == []
    with pytest.raises(ValueError):
        statements.statements_send(month=datetime.date(2999, 1, 1), send=lambda _: None)


def test_the_command_sends_a_given_month(dataset, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_statements", "--month", "2026-02")
    assert "2026-02: 2 statement email(s) to 2 client(s)" in capsys.readouterr().out
    assert OutgoingEmail.objects.filter(kind=EmailKind.STATEMENT, status=EmailStatus.SENT).count() == 2


def test_the_beat_schedule_runs_statements_on_the_first(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["monthly-statements"]
    assert entry["task"] == "reports.tasks.send_monthly_statements"
    assert entry["schedule"].day_of_month == {1}
    assert entry["options"]["expires"] > 0


def test_a_client_contact_downloads_their_own_statements_only(client, dataset, alice, charlie, technician, staff):
    url = reverse("reports:statement", args=[dataset.acme.public_id])
    client.force_login(alice)
    response = client.get(url, {"month": "2026-02"})
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/pdf"
    assert "Tom Ode" in pdf_text(response.content)
    assert client.get(url, {"month": "2999-01"}).status_code == HTTPStatus.NOT_FOUND
    assert client.get(url, {"month": "feb"}).status_code == HTTPStatus.NOT_FOUND

    client.force_login(charlie)  # Birch Legal's contact asks for Acme's statement
    assert client.get(url, {"month": "2026-02"}).status_code == HTTPStatus.NOT_FOUND
    client.force_login(technician)
    assert client.get(url, {"month": "2026-02"}).status_code == HTTPStatus.NOT_FOUND
    client.force_login(staff)
    assert client.get(url, {"month": "2026-02"}).status_code == HTTPStatus.OK


def test_the_portal_offers_the_statements(client, dataset, alice):
    client.force_login(alice)
    response = client.get(reverse("portal:home"))
    assert reverse("reports:statement", args=[dataset.acme.public_id]).encode() in response.content


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_statement_once(dataset, alice):
    queued: list[int] = []
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            statements.statements_send(month=FEB, send=queued.append)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert OutgoingEmail.objects.filter(kind=EmailKind.STATEMENT).count() == 3
    assert sorted(queued) == sorted(OutgoingEmail.objects.filter(kind=EmailKind.STATEMENT).values_list("pk", flat=True))


def test_the_beat_task_sends_each_client_its_statement_once(dataset, django_capture_on_commit_callbacks):
    from reports.tasks import send_monthly_statements

    with django_capture_on_commit_callbacks(execute=True):
        assert send_monthly_statements.apply(args=["2026-02"]).get() == 2
    with django_capture_on_commit_callbacks(execute=True):
        send_monthly_statements.apply(args=["2026-02"]).get()
    assert OutgoingEmail.objects.filter(kind=EmailKind.STATEMENT, status=EmailStatus.SENT).count() == 2
    assert len(mail.outbox) == 2


# ---------------------------------------------------------------------------
# The balance per agreement: start and end of the period, and once open invoices are paid


@pytest.fixture
def march_sale(client_a, staff, seller):
    """Acme's main agreement gets 2 h on 2 March and a 10 h block invoiced on
    10 March, paid on 3 April; its project agreement holds 5 h from 2 March."""
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC), tick=False):
        main = AgreementFactory(client=client_a, starts_on=datetime.date(2026, 1, 1))
        project = AgreementFactory(client=client_a, name="Office move project", starts_on=datetime.date(2026, 2, 1))
        agreement_services.ledger_adjust(agreement=main, minutes=120, reason="Goodwill", author=staff)
        agreement_services.ledger_adjust(agreement=project, minutes=300, reason="Project hours", author=staff)
    with time_machine.travel(datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC), tick=False):
        invoice = billing_services.invoice_sell_block(agreement=main, tier=tier(10), actor=staff)
    with time_machine.travel(datetime.datetime(2026, 4, 3, 10, 0, tzinfo=datetime.UTC), tick=False):
        billing_services.payment_record(
            invoice=invoice,
            amount=invoice.total,
            method=PaymentMethod.ACH,
            reference="ACH-1",
            paid_on=datetime.date(2026, 4, 3),
            actor=staff,
        )
    return invoice


def balance_rows(statement) -> list[tuple[str, int, int, int, int]]:
    return [(b.agreement.name, b.opening, b.closing, b.pending, b.once_paid) for b in statement.balances]


def test_a_statement_gives_each_agreements_balance_and_what_open_invoices_will_add(client_a, march_sale):
    march = statements.statement_build(client=client_a, month=datetime.date(2026, 3, 1))

    assert balance_rows(march) == [
        ("Prepaid support hours", 0, 120, 600, 720),
        ("Office move project", 0, 300, 0, 300),
    ]
    assert [(line.number, line.agreement_name, line.minutes) for line in march.open_invoices] == [
        (march_sale.number, "Prepaid support hours", 600)
    ]
    assert (march.opening_minutes, march.closing_minutes) == (0, 420)

    april = statements.statement_build(client=client_a, month=datetime.date(2026, 4, 1))

    assert balance_rows(april) == [
        ("Prepaid support hours", 120, 720, 0, 720),
        ("Office move project", 300, 300, 0, 300),
    ]
    assert april.open_invoices == []


def test_a_voided_invoice_adds_nothing_once_paid(client_a, staff, seller):

    with time_machine.travel(datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC), tick=False):
        main = AgreementFactory(client=client_a, starts_on=datetime.date(2026, 1, 1))
        invoice = billing_services.invoice_sell_block(agreement=main, tier=tier(10), actor=staff)
        billing_services.invoice_void(invoice=invoice, actor=staff, reason="Sold by mistake")

    march = statements.statement_build(client=client_a, month=datetime.date(2026, 3, 1))

    assert balance_rows(march) == [("Prepaid support hours", 0, 0, 0, 0)]
    assert march.open_invoices == []


def test_the_statement_pdf_prints_the_balances(client_a, march_sale):
    text = pdf_text(
        statements.statement_pdf(statements.statement_build(client=client_a, month=datetime.date(2026, 3, 1)))
    )
    squashed = "".join(text.split())

    assert "BALANCE PER AGREEMENT" in text.upper()
    assert "".join("Agreement Start of period End of period Once open invoices are paid".upper().split()) in squashed
    assert "Prepaidsupporthours0min2h12h" in squashed
    assert "Officemoveproject0min5h5h" in squashed
    assert f"invoice{march_sale.number}(Prepaidsupporthours,+10honcepaid" in squashed
    assert "+10honcepaid" in squashed


def test_the_statement_pdf_renders_in_italian(client_a, march_sale):
    client_a.language = "it"
    client_a.save(update_fields=["language"])

    text = pdf_text(
        statements.statement_pdf(statements.statement_build(client=client_a, month=datetime.date(2026, 3, 1)))
    )

    assert "0min2h12h" in "".join(text.split())  # the name may wrap in the narrower Italian column


def test_refunds_and_forfeits_are_movements_on_the_statement(dataset):
    from agreements.models import LedgerKind
    from reports.tests.conftest import _ledger, at

    _ledger(dataset.acme_agreement, dataset.a2, LedgerKind.REFUND, -600, at(2026, 3, 20), reason="On CN-2026-0001")
    _ledger(dataset.acme_agreement, dataset.a2, LedgerKind.FORFEIT, -300, at(2026, 3, 21), reason="Given up")

    s = statements.statement_build(client=dataset.acme, month=datetime.date(2026, 3, 1))

    assert [(m.description, m.minutes) for m in s.movements][-2:] == [
        ("Unused hours refunded: On CN-2026-0001", -600),
        ("Unused hours forfeited: Given up", -300),
    ]
    assert s.opening_minutes + s.purchased_minutes - s.charged_minutes + s.other_minutes == s.closing_minutes == 240


def test_an_expiry_change_is_a_movement_of_no_minutes_on_the_statement(dataset):
    from agreements.models import LedgerKind
    from reports.tests.conftest import _ledger, at

    reason = "Expiry changed from 27 Feb 2026 to 30 Apr 2026: Project delayed"
    _ledger(dataset.birch_agreement, dataset.b1, LedgerKind.EXPIRY_CHANGE, 0, at(2026, 2, 12), reason=reason)

    s = statements.statement_build(client=dataset.birch, month=datetime.date(2026, 2, 1))

    assert [(m.day, m.description, m.minutes) for m in s.movements][0] == (
        datetime.date(2026, 2, 12),
        f"Expiry date changed: {reason}",
        0,
    )


def test_a_split_entry_shows_its_after_hours_part_on_the_statement(client_a, staff, technician, ticket):
    """Logged from 16:30 for 90 minutes on a weekday: 30 min normal + 60 min after-hours (90 charged)."""
    from agreements.tests.factories import work_type

    with time_machine.travel(datetime.datetime(2026, 3, 12, 12, 0, tzinfo=datetime.UTC), tick=False):
        agreement = AgreementFactory(client=client_a)
        agreement_services.ledger_adjust(agreement=agreement, minutes=600, reason="Opening", author=staff)
        agreement_services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=datetime.date(2026, 3, 11),
            started_at=datetime.time(16, 30),
            minutes=90,
            work_type=work_type("Normal"),
        )
        s = statements.statement_build(client=client_a, month=datetime.date(2026, 3, 1))
        text = pdf_text(statements.statement_pdf(s))
    assert [
        (e.worked_minutes, e.charged_minutes, e.after_hours_minutes, e.after_hours_charged_minutes) for e in s.entries
    ] == [(90, 120, 60, 90)]
    squashed = "".join(text.split())
    assert "tessNormal1h30min2h" in squashed  # worked 90, charged 120 (pdftotext wraps the cells)
    assert "1hafter-hours,charged1h30min" in squashed
