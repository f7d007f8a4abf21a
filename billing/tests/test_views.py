import datetime
from http import HTTPStatus

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from billing.selectors import invoices_for_user
from billing.tests.factories import draft_block_invoice, issued_block_invoice


@pytest.fixture
def invoice(agreement, staff, seller):
    """An issued invoice of Alice's client (client A); its PDF is not rendered yet."""
    return issued_block_invoice(agreement, staff)


def url(invoice) -> str:
    return reverse("billing:invoice_pdf", args=[invoice.public_id])


def test_it_serves_the_pdf_to_staff(client, staff, invoice):
    client.force_login(staff)
    response = client.get(url(invoice))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="invoice-{invoice.number}.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_it_serves_the_pdf_to_a_contact_of_the_invoices_client(client, alice, invoice):
    client.force_login(alice)
    response = client.get(url(invoice))
    assert response.status_code == HTTPStatus.OK
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_charlie_at_another_client_gets_404(client, charlie, invoice):
    client.force_login(charlie)
    assert client.get(url(invoice)).status_code == HTTPStatus.NOT_FOUND


def test_a_technician_gets_404(client, technician, invoice):
    client.force_login(technician)
    assert client.get(url(invoice)).status_code == HTTPStatus.NOT_FOUND


def test_anonymous_is_sent_to_sign_in(client, invoice):
    response = client.get(url(invoice))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_an_unknown_invoice_is_404(client, staff, invoice):
    client.force_login(staff)
    assert client.get("/invoices/00000000-0000-0000-0000-000000000000/pdf/").status_code == HTTPStatus.NOT_FOUND


def test_a_draft_is_previewed_for_staff_but_hidden_from_the_client(client, staff, alice, agreement, seller):
    draft = draft_block_invoice(agreement, staff, hours=10)
    client.force_login(staff)
    response = client.get(url(draft))
    assert response.status_code == HTTPStatus.OK and response.content.startswith(b"%PDF-")
    client.force_login(alice)
    assert client.get(url(draft)).status_code == HTTPStatus.NOT_FOUND


def test_the_pdf_is_never_at_a_public_media_url(client, staff, invoice):
    client.force_login(staff)
    client.get(url(invoice))
    invoice.refresh_from_db()
    assert invoice.pdf.name
    client.logout()
    assert client.get(f"/{settings.MEDIA_URL}{invoice.pdf.name}").status_code == HTTPStatus.NOT_FOUND


def test_invoices_are_scoped_per_user(staff, alice, bob, charlie, technician, invoice):
    assert list(invoices_for_user(staff)) == [invoice]
    assert list(invoices_for_user(alice)) == [invoice]
    assert list(invoices_for_user(bob)) == [invoice]
    assert list(invoices_for_user(charlie)) == []
    assert list(invoices_for_user(technician)) == []


def test_overdue_invoices_are_the_issued_ones_past_their_due_date(staff, invoice, agreement):
    from billing.selectors import invoice_is_overdue, invoices_overdue

    later = invoice.due_on + datetime.timedelta(days=1)
    assert list(invoices_overdue(invoices_for_user(staff), today=invoice.due_on)) == []
    assert list(invoices_overdue(invoices_for_user(staff), today=later)) == [invoice]
    assert (invoice_is_overdue(invoice, today=invoice.due_on), invoice_is_overdue(invoice, today=later)) == (
        False,
        True,
    )
