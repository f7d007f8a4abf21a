"""The portal names goodwill hours and hours moved from another agreement; another client sees neither."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from agreements import services
from agreements.tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db


def test_alice_sees_goodwill_and_moved_hours_named_as_such(client, alice, staff, funded):
    projects = AgreementFactory(client=funded.client, name="Projects")
    services.block_grant_goodwill(agreement=funded, minutes=90, reason="Sorry for the outage", actor=staff)
    services.block_hours_move(
        block=funded.blocks.get(is_goodwill=False), to_agreement=projects, minutes=60, reason="Move", actor=staff
    )
    client.force_login(alice)

    page = client.get(reverse("portal:agreement", args=[funded.public_id])).content.decode()
    assert "1 h 30 min of goodwill hours" in page
    assert "goodwill, free of charge" in page
    assert "Free" in page
    moved = client.get(reverse("portal:agreement", args=[projects.public_id])).content.decode()
    assert "moved from Prepaid support hours" in moved
    assert "1-hour support block" in moved


def test_charlie_sees_nothing_of_alices_goodwill_or_moved_hours(client, charlie, staff, funded):
    projects = AgreementFactory(client=funded.client, name="Projects")
    services.block_grant_goodwill(agreement=funded, minutes=90, reason="Goodwill", actor=staff)
    services.block_hours_move(
        block=funded.blocks.get(is_goodwill=False), to_agreement=projects, minutes=60, reason="Move", actor=staff
    )
    client.force_login(charlie)
    for agreement in (funded, projects):
        assert client.get(reverse("portal:agreement", args=[agreement.public_id])).status_code == HTTPStatus.NOT_FOUND
