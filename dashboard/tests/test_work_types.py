"""The Work types page: staff add and change the rates time is charged at,
audited, and the time logged afterwards follows them; nobody else finds it."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import WorkType
from agreements.services.calendar import after_hours_work_type
from agreements.tests.factories import TicketFactory, work_type
from audit.models import AuditAction, AuditEvent
from timesheet.forms import work_types as offered_work_types

pytestmark = pytest.mark.django_db
LIST = reverse("dashboard:work_types")
NEW = reverse("dashboard:work_type_new")


def edit(name: str) -> str:
    return reverse("dashboard:work_type_edit", args=[work_type(name).pk])


def form(**changes) -> dict:
    return {"name": "Project work", "multiplier": "1.25", "is_active": "on", **changes}


def log(agreement, technician, minutes: int, type_name: str):
    return agreement_services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=agreement.client),
        work_date=timezone.localdate(),
        minutes=minutes,
        work_type=work_type(type_name),
    )


def test_staff_see_every_work_type_with_its_rate(client, staff):
    client.force_login(staff)
    page = client.get(LIST).content.decode()
    for name, multiplier in (("Normal", "1.00×"), ("After-hours", "1.50×"), ("Non-billable", "0.00×")):
        assert name in page and multiplier in page
    assert "After-hours rate" in page


def test_a_new_work_type_is_offered_and_charges_its_rate(client, staff, funded, technician):
    client.force_login(staff)
    response = client.post(NEW, form())
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == LIST
    project = WorkType.objects.get(name="Project work")
    assert (project.multiplier, project.is_active, project.is_after_hours) == (Decimal("1.25"), True, False)
    assert project in offered_work_types()
    event = AuditEvent.objects.get(action=AuditAction.WORK_TYPE_SAVE)
    assert (event.actor, event.before, event.after["multiplier"]) == (staff, {}, "1.25")

    entry = log(funded, technician, 60, "Project work")
    assert entry.charged_minutes == 75
    funded.refresh_from_db()
    assert funded.balance_minutes == 525


def test_a_new_multiplier_charges_time_logged_from_then_on_only(client, staff, funded, technician):
    agreement = funded
    before = log(agreement, technician, 60, "Normal")
    client.force_login(staff)
    client.post(edit("Normal"), form(name="Normal", multiplier="1.2"))
    after = log(agreement, technician, 60, "Normal")
    before.refresh_from_db()
    assert (before.charged_minutes, after.charged_minutes) == (60, 72)
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 600 - 60 - 72
    event = AuditEvent.objects.get(action=AuditAction.WORK_TYPE_SAVE)
    assert (event.before["multiplier"], event.after["multiplier"]) == ("1.00", "1.20")


def test_flagging_another_after_hours_rate_takes_the_flag_from_the_old_one(client, staff):
    client.force_login(staff)
    client.post(edit("Emergency"), form(name="Emergency", multiplier="2", is_after_hours="on"))
    assert after_hours_work_type() == work_type("Emergency")
    assert not work_type("After-hours").is_after_hours
    event = AuditEvent.objects.get(action=AuditAction.WORK_TYPE_SAVE)
    assert event.after["after_hours_taken_from"] == "After-hours"


def test_a_work_type_out_of_use_is_no_longer_offered(client, staff):
    client.force_login(staff)
    client.post(edit("Emergency"), {"name": "Emergency", "multiplier": "2"})
    assert not work_type("Emergency").is_active
    assert work_type("Emergency") not in offered_work_types()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "normal"}, "name", "A work type with this name exists already."),
        ({"multiplier": "11"}, "multiplier", "Give a multiplier from 0 to 10, e.g. 1.5."),
        ({"multiplier": "-1"}, "multiplier", "Give a multiplier from 0 to 10, e.g. 1.5."),
        ({"multiplier": "1.234"}, "multiplier", "Ensure that there are no more than 2 decimal places."),
        ({"multiplier": "abc"}, "multiplier", "Enter a number."),
        (
            {"is_active": "", "is_after_hours": "on"},
            "is_after_hours",
            "The after-hours rate must be a work type in use.",
        ),
    ],
)
def test_bad_input_is_refused_clearly_and_changes_nothing(client, staff, data, field, message):
    client.force_login(staff)
    before = list(WorkType.objects.order_by("pk").values())
    response = client.post(NEW, {key: value for key, value in form(**data).items() if value != ""})
    assert response.status_code == HTTPStatus.OK
    assert message in response.context["form"].errors[field]
    assert list(WorkType.objects.order_by("pk").values()) == before
    assert not AuditEvent.objects.filter(action=AuditAction.WORK_TYPE_SAVE).exists()


def test_saving_unchanged_records_nothing(client, staff):
    client.force_login(staff)
    client.post(edit("Normal"), form(name="Normal", multiplier="1"))
    assert not AuditEvent.objects.filter(action=AuditAction.WORK_TYPE_SAVE).exists()


def test_technicians_and_client_contacts_find_no_work_type_pages(client, technician, alice):
    for user in (technician, alice):
        client.force_login(user)
        for url in (LIST, NEW, edit("Normal")):
            assert client.get(url).status_code == HTTPStatus.NOT_FOUND
        assert client.post(edit("Normal"), form(name="Normal", multiplier="5")).status_code == HTTPStatus.NOT_FOUND
    assert work_type("Normal").multiplier == Decimal("1.00")


def test_an_unknown_work_type_is_a_404(client, staff):
    client.force_login(staff)
    assert client.get(reverse("dashboard:work_type_edit", args=[999999])).status_code == HTTPStatus.NOT_FOUND


def test_the_admin_shows_work_types_read_only(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("admin:agreements_worktype_changelist")).status_code == HTTPStatus.OK
    page = client.get(reverse("admin:agreements_worktype_change", args=[work_type("Normal").pk]))
    assert page.status_code == HTTPStatus.OK and b'name="multiplier"' not in page.content
    assert client.get(reverse("admin:agreements_worktype_add")).status_code == HTTPStatus.FORBIDDEN
