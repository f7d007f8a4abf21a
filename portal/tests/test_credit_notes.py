"""Client contacts see their own credit notes beside their invoices; nobody else's."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from billing.credit_notes import block_unused_cancel
from billing.tests.test_credit_notes import paid_block

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(agreement, staff, seller):
    invoice = paid_block(agreement, staff, hours=2)
    return block_unused_cancel(block=invoice.block, disposition="refund", actor=staff, reason="Leaving").credit_notes[0]


def test_the_contact_sees_and_downloads_their_credit_note(client, alice, agreement, note):
    client.force_login(alice)
    pdf_url = reverse("billing:credit_note_pdf", args=[note.public_id])
    for page in (reverse("portal:home"), reverse("portal:agreement", args=[agreement.public_id])):
        html = client.get(page).content.decode()
        assert note.number in html and pdf_url in html and "$200.00" in html
    response = client.get(pdf_url)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="credit-note-{note.number}.pdf"'


def test_another_clients_contact_sees_nothing(client, charlie, technician, note):
    client.force_login(charlie)
    assert note.number not in client.get(reverse("portal:home")).content.decode()
    assert client.get(reverse("billing:credit_note_pdf", args=[note.public_id])).status_code == HTTPStatus.NOT_FOUND
    client.force_login(technician)
    assert client.get(reverse("billing:credit_note_pdf", args=[note.public_id])).status_code == HTTPStatus.NOT_FOUND
