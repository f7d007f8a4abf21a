"""Staff see unbilled overage on the client page and bill it on request."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.tests.factories import bill_overage_agreement, tier
from billing.models import Invoice, InvoiceKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def overage_agreement(client_a, staff, technician):
    return bill_overage_agreement(client_a, actor=staff, technician=technician, logged=690)


def test_the_client_page_shows_the_unbilled_overage(client, staff, overage_agreement):
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[overage_agreement.client.public_id])).content.decode()
    assert "1 h 30 min of time beyond the blocks of “Prepaid support hours” is not billed yet" in page
    assert reverse("dashboard:overage_bill", args=[overage_agreement.public_id]) in page


def test_staff_confirm_and_the_overage_invoice_is_issued(client, staff, overage_agreement, seller):
    client.force_login(staff)
    url = reverse("dashboard:overage_bill", args=[overage_agreement.public_id])

    confirm = client.get(url)
    assert confirm.status_code == HTTPStatus.OK
    assert [str(line) for line in confirm.context["lines"]][1:] == [
        "Time beyond prepaid hours, not billed yet: 1 h 30 min",
        "Amount: $225.00 ($150.00/h)",
    ]
    assert not Invoice.objects.exists()

    response = client.post(url, {"confirm": "1"})

    invoice = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("billing:invoice", args=[invoice.public_id])
    assert (invoice.overage_minutes, invoice.total, invoice.issued_by) == (90, Decimal("225.00"), staff)
    # A second click bills nothing more.
    client.post(url, {"confirm": "1"})
    assert Invoice.objects.filter(kind=InvoiceKind.OVERAGE).count() == 1


def test_a_sale_on_the_client_page_says_it_billed_the_overage_too(client, staff, overage_agreement, seller):
    client.force_login(staff)
    url = reverse("dashboard:block_sell", args=[overage_agreement.public_id])
    data = {"tier": tier(10).pk, "starts_on": timezone.localdate().isoformat(), "confirm": "1"}

    response = client.post(url, data, follow=True)

    overage = Invoice.objects.get(kind=InvoiceKind.OVERAGE)
    shown = [str(m) for m in response.context["messages"]]
    assert (
        f"Overage of 1 h 30 min billed on invoice {overage.number} ($225.00); email it to the client from its page."
        in shown
    )


def test_nobody_but_msp_staff_reaches_the_overage_page(client, technician, alice, charlie, overage_agreement):
    url = reverse("dashboard:overage_bill", args=[overage_agreement.public_id])
    for user in (technician, alice, charlie):
        client.force_login(user)
        assert client.post(url, {"confirm": "1"}).status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
    assert not Invoice.objects.exists()


def test_the_void_box_of_an_overage_invoice_says_the_overage_is_written_off(client, staff, overage_agreement, seller):
    from billing.services import invoice_bill_overage

    invoice = invoice_bill_overage(agreement=overage_agreement, actor=staff)
    client.force_login(staff)

    page = client.get(reverse("billing:invoice", args=[invoice.public_id])).content.decode()

    assert "Its overage is written off: those minutes stay settled and are not billed again." in page
    assert "Its block is cancelled" not in page
