"""Sell → issue → PDF → pay → hours usable, end to end through the services and the download view."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import tier, work_type
from billing import services
from billing.models import Invoice, InvoiceStatus, PaymentMethod


def test_sell_issue_pdf_pay_then_log_time(
    client, agreement, staff, seller, alice, technician, ticket, django_capture_on_commit_callbacks
):
    def log(minutes):
        return agreement_services.time_entry_log(
            agreement=agreement,
            technician=technician,
            ticket=ticket,
            work_date=timezone.localdate(),
            minutes=minutes,
            work_type=work_type(),
        )

    with django_capture_on_commit_callbacks(execute=True):
        invoice = services.invoice_sell_block(agreement=agreement, tier=tier(20), actor=staff)
    assert Invoice.objects.get(pk=invoice.pk).pdf_status == InvoiceStatus.ISSUED

    with pytest.raises(ValidationError):  # not paid yet: no hours to spend
        log(60)

    client.force_login(alice)
    response = client.get(reverse("billing:invoice_pdf", args=[invoice.public_id]))
    assert response.status_code == HTTPStatus.OK

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_record(
            invoice=invoice,
            amount=Decimal("1800.00"),
            method=PaymentMethod.BANK_TRANSFER,
            reference="WIRE-2026-11-23",
            paid_on=timezone.localdate(),
            actor=staff,
        )
    assert Invoice.objects.get(pk=invoice.pk).pdf_status == InvoiceStatus.PAID
    log(60)
    assert assert_balance_is_ledger_sum(agreement) == 1140
