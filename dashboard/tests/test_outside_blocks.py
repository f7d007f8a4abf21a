"""Staff see the same line under the client page's Blocks table."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from agreements import services
from agreements.tests.factories import bill_overage_agreement
from portal.tests.test_outside_blocks import outside_line

pytestmark = pytest.mark.django_db


def staff_page(client, agreement):
    response = client.get(reverse("dashboard:client", args=[agreement.client.public_id]))
    assert response.status_code == HTTPStatus.OK
    return response


def test_it_explains_minutes_credited_outside_blocks(client, staff, entry):
    services.ledger_adjust(agreement=entry.agreement, minutes=-20, reason="Duplicate entry", author=staff)
    services.ledger_adjust(agreement=entry.agreement, minutes=45, reason="Travel is on us", author=staff)
    client.force_login(staff)
    assert outside_line(staff_page(client, entry.agreement)) == (
        "Credited outside blocks: 45 min · part of the balance that no block holds: charges credited back, "
        "adjustments. Balance 8 h 55 min = 8 h 10 min left in blocks + 45 min."
    )


def test_it_says_bill_overage_is_billed_at_the_hourly_rate(client, staff, client_a, technician):
    agreement = bill_overage_agreement(client_a, actor=staff, technician=technician, logged=690)
    client.force_login(staff)
    response = staff_page(client, agreement)
    assert outside_line(response) == (
        "Overage: 1 h 30 min · time charged beyond the hours in blocks; it is billed at the hourly rate. "
        "Balance −1 h 30 min = 0 min left in blocks − 1 h 30 min."
    )
    assert response.context["unbilled_overage"] == 90
