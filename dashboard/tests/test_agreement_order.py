"""Staff set the order of a client's agreements and the work types each covers."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from agreements.models import Agreement
from agreements.tests.factories import AgreementFactory, work_type
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(client_a):
    return [AgreementFactory(client=client_a, name=name) for name in ("Support", "Office move", "Backups")]


def order(client) -> list[str]:
    return list(Agreement.objects.filter(client=client).order_by("position").values_list("name", flat=True))


def move(agreement) -> str:
    return reverse("dashboard:agreement_move", args=[agreement.public_id])


def test_the_client_page_lists_agreements_in_order_with_move_buttons(client, staff, client_a, three):
    client.force_login(staff)
    html = client.get(reverse("dashboard:client", args=[client_a.public_id])).content.decode()
    assert html.index("1.</span> Support") < html.index("2.</span> Office move") < html.index("3.</span> Backups")
    assert html.count('name="position"') == 6
    assert f'action="{move(three[1])}"' in html
    assert "Covers all work types" in html
    assert f'href="{reverse("timesheet:log")}?client={client_a.public_id}"' in html


def test_staff_move_an_agreement_up_and_down(client, staff, client_a, three):
    client.force_login(staff)
    response = client.post(move(three[1]), {"position": "1"}, follow=True)
    assert order(client_a) == ["Office move", "Support", "Backups"]
    assert "“Office move” is now number 1 in the order of Acme Dental." in response.content.decode()
    client.post(move(three[0]), {"position": "3"})
    assert order(client_a) == ["Office move", "Backups", "Support"]
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_ORDER).count() == 2


@pytest.mark.parametrize(
    ("position", "message"), [("4", "Choose a position from 1 to 3"), ("0", "greater than"), ("x", "whole number")]
)
def test_a_bad_place_is_refused_with_a_message_and_changes_nothing(client, staff, client_a, three, position, message):
    client.force_login(staff)
    response = client.post(move(three[0]), {"position": position}, follow=True)
    assert message in response.content.decode()
    assert order(client_a) == ["Support", "Office move", "Backups"]


def test_staff_set_the_work_types_an_agreement_covers(client, staff, client_a, three):
    client.force_login(staff)
    url = reverse("dashboard:agreement_work_types", args=[three[0].public_id])
    page = client.get(url)
    assert page.status_code == HTTPStatus.OK
    assert "Work types of Support" in page.content.decode()
    normal, after_hours = work_type("Normal"), work_type("After-hours")
    response = client.post(url, {"work_types": [normal.pk, after_hours.pk]})
    assert response.status_code == HTTPStatus.FOUND
    assert set(three[0].work_types.values_list("name", flat=True)) == {"Normal", "After-hours"}
    html = client.get(reverse("dashboard:client", args=[client_a.public_id])).content.decode()
    assert "Covers After-hours, Normal" in html or "Covers Normal, After-hours" in html
    client.post(url, {})
    assert not three[0].work_types.exists()


def test_only_staff_reorder_and_another_client_sees_nothing(client, technician, alice, charlie, client_a, three):
    url = reverse("dashboard:agreement_work_types", args=[three[0].public_id])
    for user in (technician, alice, charlie):
        client.force_login(user)
        assert client.post(move(three[1]), {"position": "1"}).status_code == HTTPStatus.NOT_FOUND
        assert client.post(url, {"work_types": [work_type("Normal").pk]}).status_code == HTTPStatus.NOT_FOUND
    assert order(client_a) == ["Support", "Office move", "Backups"]
    assert not three[0].work_types.exists()
