from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing import services, tasks
from billing.models import SellerProfile
from billing.tests.factories import draft_block_invoice, issued_block_invoice


def test_the_admin_shows_invoices_read_only(client, superuser, agreement, staff, seller):
    invoice = issued_block_invoice(agreement, staff)
    client.force_login(superuser)
    assert client.get(reverse("admin:billing_invoice_changelist")).status_code == HTTPStatus.OK
    page = client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert page.status_code == HTTPStatus.OK
    content = page.content.decode()
    assert "20-hour support block" in content
    squashed = "".join(content.split())
    assert "Invoicebalances" in squashed
    assert '<tdclass="field-minutes_before"><p>0</p></td><tdclass="field-minutes_after"><p>1200</p></td>' in squashed
    assert reverse("billing:invoice_pdf", args=[invoice.public_id]) in content
    assert "/media/" not in content
    assert client.get(reverse("admin:billing_invoice_add")).status_code == HTTPStatus.FORBIDDEN


def test_the_admin_edits_the_one_seller_profile(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:billing_sellerprofile_add"),
        {"name": "Northwind IT", "address": "1 Road", "payment_terms_days": "30", "payment_instructions": "ACH"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert SellerProfile.objects.get().pk == 1
    assert client.get(reverse("admin:billing_sellerprofile_add")).status_code == HTTPStatus.FORBIDDEN


def test_the_render_task_has_limits_and_bounded_retries():
    task = tasks.render_invoice_pdf
    assert (task.name, task.max_retries, task.soft_time_limit, task.time_limit) == (
        "billing.tasks.render_invoice_pdf",
        3,
        60,
        90,
    )
    assert task.acks_late and task.reject_on_worker_lost  # a lost worker's render is redone


def test_a_draft_has_no_stored_pdf(agreement, staff, seller):
    with pytest.raises(ValidationError, match="draft has no stored PDF"):
        services.invoice_render_pdf(invoice=draft_block_invoice(agreement, staff))
