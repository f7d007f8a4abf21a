"""The technician's form with a start time: the preview shows the business-hours
and after-hours parts, saving writes a debit for each, corrections keep it."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement, LedgerEntry, LedgerKind, TimeEntry
from agreements.selectors import ledger_balance
from agreements.tests.factories import AgreementFactory, work_type
from timesheet.forms import agreement_label

pytestmark = pytest.mark.django_db
LOG = reverse("timesheet:log")
TODAY = timezone.localdate()
WEDNESDAY = TODAY - datetime.timedelta(days=(TODAY.weekday() - 2) % 7 or 7)


def form_data(chosen, **overrides):
    data = {
        "agreement": agreement_label(chosen),
        "ticket": "4711",
        "subject": "Mail server down",
        "work_date": WEDNESDAY.isoformat(),
        "started_at": "16:30",
        "duration": "1:30",
        "work_type": work_type().pk,
        "notes": "Restarted the mail queue",
        "idempotency_key": "k-1",
    }
    data.update(overrides)
    return data


def test_the_preview_shows_the_two_parts_and_changes_nothing(client, technician, funded):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, check="1"))
    assert response.status_code == HTTPStatus.OK
    preview = response.context["preview"]
    assert (preview.entry.business_charged_minutes, preview.entry.after_hours_charged_minutes) == (30, 90)
    assert (preview.entry.charged_minutes, preview.balance_after) == (120, 480)
    page = response.content.decode()
    assert '<dd class="col-6" data-testid="charge-business">30 min</dd>' in page
    assert '<dd class="col-6" data-testid="charge-after-hours">1 h → 1 h 30 min</dd>' in page
    assert '<dd class="col-6 fw-semibold" data-testid="charge">2 h</dd>' in page
    assert not TimeEntry.objects.exists()


def test_saving_writes_a_debit_per_part_and_my_time_shows_the_split(client, technician, funded):
    client.force_login(technician)
    assert client.post(LOG, form_data(funded, save="1")).status_code == HTTPStatus.FOUND
    entry = TimeEntry.objects.get()
    assert (entry.started_at, entry.charged_minutes) == (datetime.time(16, 30), 120)
    debits = LedgerEntry.objects.filter(time_entry=entry, kind=LedgerKind.DEBIT).order_by("after_hours")
    assert [(d.after_hours, d.minutes) for d in debits] == [(False, -30), (True, -90)]
    funded.refresh_from_db()
    assert funded.balance_minutes == 480 == ledger_balance(funded)
    page = client.get(reverse("timesheet:mine")).content.decode()
    assert "from 16:30: 30 min business hours + 1 h after-hours, charged 1 h 30 min" in page


def test_without_a_start_time_nothing_changes(client, technician, funded):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, started_at="", check="1"))
    assert response.context["preview"].entry.charged_minutes == 90
    assert 'data-testid="charge-after-hours"' not in response.content.decode()


@pytest.mark.parametrize("value", ["25:00", "16:30:15", "half past four", "１６:３０"])
def test_a_bad_start_time_is_refused_on_its_field(client, technician, funded, value):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, started_at=value, save="1"))
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["started_at"]
    assert not TimeEntry.objects.exists()


def test_the_minimum_shows_in_the_preview(client, technician, client_a, staff):
    from agreements import services

    agreement = AgreementFactory(client=client_a, billing_increment_minutes=6, minimum_billable_minutes=15)
    services.ledger_adjust(agreement=agreement, minutes=600, reason="Start", author=staff)
    client.force_login(technician)
    response = client.post(LOG, form_data(agreement, started_at="", duration="5", check="1"))
    assert response.context["preview"].entry.charged_minutes == 15
    assert '<dd class="col-6 fw-semibold" data-testid="charge">15 min</dd>' in response.content.decode()


def test_a_correction_sets_the_start_time(client, technician, entry):
    client.force_login(technician)
    url = reverse("timesheet:correct", args=[entry.public_id])
    assert 'name="started_at"' in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "work_date": WEDNESDAY.isoformat(),
            "started_at": "16:30",
            "duration": "1:30",
            "work_type": work_type().pk,
            "notes": "late call",
            "reason": "Forgot the start time",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    new = TimeEntry.objects.get(corrects=entry)
    assert (new.started_at, new.charged_minutes, new.after_hours_charged_minutes) == (datetime.time(16, 30), 120, 90)
    agreement = Agreement.objects.get(pk=entry.agreement_id)
    assert agreement.balance_minutes == 600 - 120 == ledger_balance(agreement)
