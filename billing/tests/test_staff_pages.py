"""Staff pages for invoices: list and filters, one invoice, payments, voids,
emailing an invoice — each through the services, each refused to anyone else."""

import datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from agreements.models import LedgerEntry
from agreements.tests.assertions import assert_balance_is_ledger_sum
from billing.models import Invoice, InvoiceStatus, Payment
from billing.tests.factories import issued_block_invoice
from notifications.models import EmailKind, OutgoingEmail


@pytest.fixture
def invoice(agreement, staff, seller):
    return issued_block_invoice(agreement, staff)  # 20 h at $90: $1,800.00


def test_staff_see_and_filter_the_invoice_list(client, staff, invoice, client_b, seller):
    from agreements.tests.factories import AgreementFactory

    other = issued_block_invoice(AgreementFactory(client=client_b), staff, hours=10)
    client.force_login(staff)
    page = client.get(reverse("billing:invoices")).content.decode()
    assert invoice.number in page and other.number in page and "$1,800.00" in page

    page = client.get(reverse("billing:invoices"), {"client": "acme"}).content.decode()
    assert invoice.number in page and other.number not in page

    last_month = timezone.localdate() - datetime.timedelta(days=30)
    Invoice.objects.filter(pk=other.pk).update(issued_on=last_month, due_on=last_month + datetime.timedelta(days=15))
    page = client.get(reverse("billing:invoices"), {"overdue": "on"}).content.decode()
    assert other.number in page and invoice.number not in page and "Overdue" in page


def test_the_list_runs_the_same_queries_for_5_and_for_50_invoices(
    client, staff, agreement, seller, django_assert_max_num_queries
):
    client.force_login(staff)
    for _ in range(5):
        issued_block_invoice(agreement, staff, hours=10)
    with django_assert_max_num_queries(12) as small:
        client.get(reverse("billing:invoices"))
    for _ in range(45):
        issued_block_invoice(agreement, staff, hours=10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("billing:invoices"))


def test_recording_full_payment_marks_paid_and_credits_the_hours(client, staff, invoice, agreement):
    client.force_login(staff)
    response = client.post(
        reverse("billing:invoice_payment", args=[invoice.public_id]),
        {"amount": "1800.00", "method": "ach", "reference": "ACH-5521", "paid_on": timezone.localdate().isoformat()},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert "Payment ACH-5521 of $1,800.00 recorded. The invoice is paid in full." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert assert_balance_is_ledger_sum(agreement) == 1200


def test_italian_staff_type_amounts_with_a_decimal_comma(client, staff, invoice, agreement):
    staff.language = "it"
    staff.save()
    client.force_login(staff)
    page = client.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()
    assert 'value="1800,00"' in page  # the amount due, as an Italian reads it
    response = client.post(
        reverse("billing:invoice_payment", args=[invoice.public_id]),
        {"amount": "1000,50", "method": "ach", "reference": "BON-1", "paid_on": timezone.localdate().isoformat()},
        follow=True,
    )
    assert "Pagamento BON-1 di 1.000,50 USD registrato" in response.content.decode().replace("\xa0", " ")
    assert Payment.objects.get().amount == Decimal("1000.50")
    # In English the comma is not a decimal separator: refused, nothing recorded twice.
    staff.language = "en"
    staff.save()
    response = client.post(
        reverse("billing:invoice_payment", args=[invoice.public_id]),
        {"amount": "799,50", "method": "ach", "reference": "BON-2", "paid_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-5", "more than zero"), ("abc", "number"), ("1800.001", "cents"), ("5000", "more than the")],
)
def test_bad_payments_show_a_clear_error_and_change_nothing(client, staff, invoice, agreement, amount, message):
    client.force_login(staff)
    response = client.post(
        reverse("billing:invoice_payment", args=[invoice.public_id]),
        {"amount": amount, "method": "ach", "reference": "X-1", "paid_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    assert not Payment.objects.exists()
    assert assert_balance_is_ledger_sum(agreement) == 0


def test_voiding_keeps_the_number_and_needs_a_reason(client, staff, invoice):
    client.force_login(staff)
    response = client.post(reverse("billing:invoice_void", args=[invoice.public_id]), {"reason": ""})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    response = client.post(
        reverse("billing:invoice_void", args=[invoice.public_id]), {"reason": "Sold twice by mistake"}, follow=True
    )
    assert f"Invoice {invoice.number} is void." in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason) == (InvoiceStatus.VOID, "Sold twice by mistake")


def test_emailing_an_invoice_sends_the_pdf_once_per_click(client, staff, invoice, alice):
    client.force_login(staff)
    url = reverse("notifications:invoice_send", args=[invoice.public_id])
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, follow=True)
        client.post(url)  # a double click in the same minute
    assert "is on its way to" in response.content.decode()
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "billing@acme-dental.example"]
    message = mail.outbox[0]
    assert message.subject == f"Invoice {invoice.number} from Northwind IT Services — $1,800.00"
    assert message.attachments[0][0] == f"Invoice-{invoice.number}.pdf"
    assert OutgoingEmail.objects.filter(kind=EmailKind.INVOICE).count() == 2


@pytest.mark.parametrize("who", ["technician", "alice", "charlie"])
def test_nobody_but_staff_opens_the_invoice_pages(client, request, invoice, who):
    client.force_login(request.getfixturevalue(who))
    for name in ("billing:invoices",):
        assert client.get(reverse(name)).status_code == HTTPStatus.NOT_FOUND
    assert client.get(reverse("billing:invoice", args=[invoice.public_id])).status_code == HTTPStatus.NOT_FOUND
    data = {"amount": "1800", "method": "ach", "reference": "R", "paid_on": timezone.localdate().isoformat()}
    assert (
        client.post(reverse("billing:invoice_payment", args=[invoice.public_id]), data).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert (
        client.post(reverse("notifications:invoice_send", args=[invoice.public_id])).status_code == HTTPStatus.NOT_FOUND
    )
    assert not Payment.objects.exists() and not OutgoingEmail.objects.exists()
    assert LedgerEntry.objects.count() == 0


def test_an_unknown_invoice_is_404_for_staff(client, staff, seller):
    client.force_login(staff)
    assert client.get(reverse("billing:invoice", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404
    assert client.get(reverse("billing:invoice", args=["not-a-uuid"])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, invoice):
    response = client.get(reverse("billing:invoice", args=[invoice.public_id]))
    assert response.status_code == HTTPStatus.FOUND and "/login/" in response["Location"]
    assert Decimal(invoice.total) == Decimal("1800.00")
