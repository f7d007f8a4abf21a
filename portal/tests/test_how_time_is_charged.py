"""The portal says which block the client's time is taken from first."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from agreements.models import Agreement, BurnOrder

pytestmark = pytest.mark.django_db


def burn_order_text(response):
    return re.search(r'data-testid="burn-order">(.*?)</span>', response.content.decode(), re.S).group(1)


def test_alice_reads_how_time_is_charged(client, alice, agreement):
    client.force_login(alice)
    url = reverse("portal:agreement", args=[agreement.public_id])
    response = client.get(url)
    assert "How time is charged" in response.content.decode()
    assert burn_order_text(response) == "The oldest block first."
    Agreement.objects.filter(pk=agreement.pk).update(burn_order=BurnOrder.SOONEST_EXPIRING_FIRST)
    assert burn_order_text(client.get(url)) == (
        "The block that expires soonest, so hours are not lost to expiry; blocks that never expire are used last."
    )


def test_charlie_sees_nothing_of_it(client, charlie, agreement):
    client.force_login(charlie)
    response = client.get(reverse("portal:agreement", args=[agreement.public_id]))
    assert response.status_code == HTTPStatus.NOT_FOUND
