import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement, Ticket, TimeEntry
from agreements.selectors import ledger_balance
from agreements.tests.factories import AgreementFactory, work_type
from timesheet.forms import agreement_label

pytestmark = pytest.mark.django_db
LOG = reverse("timesheet:log")


def form_data(chosen, **overrides):
    data = {
        "agreement": agreement_label(chosen),
        "ticket": "4711",
        "subject": "Mail server down",
        "work_date": timezone.localdate().isoformat(),
        "duration": "1:30",
        "work_type": work_type().pk,
        "notes": "Restarted the mail queue",
        "idempotency_key": "k-1",
    }
    data.update(overrides)
    return data


def test_it_shows_the_form_with_the_agreements_for_type_ahead(client, technician, funded):
    client.force_login(technician)
    response = client.get(LOG)
    assert response.status_code == HTTPStatus.OK
    assert f'<option value="{agreement_label(funded)}">' in response.content.decode()
    assert 'list="agreement-options"' in response.content.decode()


def test_it_previews_the_charge_and_changes_nothing(client, technician, funded):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, duration="1h30m", work_type=work_type("After-hours").pk, check="1"))
    assert response.status_code == HTTPStatus.OK
    preview = response.context["preview"]
    assert preview.balance_before == 600
    assert preview.entry.charged_minutes == 135
    assert preview.balance_after == 465
    assert "2 h 15 min" in response.content.decode()
    assert not TimeEntry.objects.exists()
    assert not Ticket.objects.filter(number="4711").exists()
    funded.refresh_from_db()
    assert funded.balance_minutes == 600 == ledger_balance(funded)


def test_it_saves_a_new_ticket_inline_and_charges_once(client, technician, funded):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, save="1"))
    assert response.status_code == HTTPStatus.FOUND
    # A double click posts the same form (same idempotency key) again.
    client.post(LOG, form_data(funded, save="1"))
    entry = TimeEntry.objects.get()
    assert entry.minutes == 90 and entry.ticket.subject == "Mail server down"
    funded.refresh_from_db()
    assert funded.balance_minutes == 510 == ledger_balance(funded)
    page = client.get(LOG).content.decode()
    assert "balance now 8 h 30 min" in page


@pytest.mark.parametrize("duration", ["90", "1:30", "1.5h", "1h30m"])
def test_it_accepts_every_duration_format(client, technician, funded, duration):
    client.force_login(technician)
    client.post(LOG, form_data(funded, duration=duration, save="1"))
    assert TimeEntry.objects.get().minutes == 90


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration", "-5", "is not a duration"),
        ("duration", "banana", "is not a duration"),
        ("duration", "25h", "24 hours"),
        ("agreement", "Nobody Ltd — Support", "Choose an active agreement"),
        ("subject", "", "is new: give it a subject"),
        ("work_date", (timezone.localdate() + datetime.timedelta(days=2)).isoformat(), "future date"),
    ],
)
def test_it_shows_inline_errors_and_changes_nothing(client, technician, funded, field, value, message):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, save="1", **{field: value}))
    assert response.status_code == HTTPStatus.OK
    assert message in response.content.decode()
    assert "is-invalid" in response.content.decode()
    assert not TimeEntry.objects.exists()
    funded.refresh_from_db()
    assert funded.balance_minutes == 600


def test_it_escapes_html_in_notes(client, technician, funded):
    client.force_login(technician)
    client.post(LOG, form_data(funded, notes="<script>alert(1)</script>", save="1"))
    page = client.get(reverse("timesheet:mine")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_it_warns_at_or_below_the_threshold(client, technician, funded):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, duration="8h", check="1"))
    assert response.context["preview"].low
    assert "to or below its low-balance threshold" in response.content.decode()
    response = client.post(LOG, form_data(funded, duration="8h", save="1"), follow=True)
    assert "at or below its low-balance threshold" in response.content.decode()


def test_it_refuses_with_the_reason_under_the_reject_policy(client, technician, funded):
    client.force_login(technician)
    response = client.post(LOG, form_data(funded, duration="11h", check="1"))
    assert response.status_code == HTTPStatus.OK
    assert response.context["preview"] is None
    assert "only 600 min can be charged" in response.content.decode()
    assert not TimeEntry.objects.exists()


def test_charlie_cannot_log_time(client, charlie, funded):
    client.force_login(charlie)
    assert client.get(LOG).status_code == HTTPStatus.NOT_FOUND
    assert client.post(LOG, form_data(funded, save="1")).status_code == HTTPStatus.NOT_FOUND
    assert not TimeEntry.objects.exists()


def test_it_needs_a_login(client):
    response = client.get(LOG)
    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith(reverse("login"))


def test_an_ended_agreement_is_not_offered(client, technician, client_a):
    ended = AgreementFactory(client=client_a, name="Old agreement", status="ended")
    client.force_login(technician)
    response = client.post(LOG, form_data(ended, save="1"))
    assert "Choose an active agreement" in response.content.decode()


# --- My time -----------------------------------------------------------------


def test_my_time_lists_only_my_entries(client, technician, entry, charlies_entry):
    other = charlies_entry.technician
    assert other == technician  # same technician in the fixture: use another one
    from agreements.tests.factories import TechnicianFactory

    someone = TechnicianFactory(username="otto")
    client.force_login(someone)
    page = client.get(reverse("timesheet:mine")).content.decode()
    assert "You have not logged any time yet" in page
    client.force_login(technician)
    page = client.get(reverse("timesheet:mine")).content.decode()
    assert f"#{entry.ticket.number}" in page


def test_a_technician_voids_their_entry_with_a_reason(client, technician, entry):
    client.force_login(technician)
    url = reverse("timesheet:void", args=[entry.public_id])
    response = client.post(url, {"reason": ""})
    assert "This field is required" in response.content.decode()
    entry.refresh_from_db()
    assert not entry.is_void
    response = client.post(url, {"reason": "Wrong ticket"})
    assert response.status_code == HTTPStatus.FOUND
    entry.refresh_from_db()
    assert entry.is_void
    entry.agreement.refresh_from_db()
    assert entry.agreement.balance_minutes == 600 == ledger_balance(entry.agreement)


def test_a_technician_corrects_their_entry(client, technician, entry):
    client.force_login(technician)
    url = reverse("timesheet:correct", args=[entry.public_id])
    assert client.get(url).status_code == HTTPStatus.OK
    response = client.post(
        url,
        {
            "work_date": entry.work_date.isoformat(),
            "duration": "45",
            "work_type": work_type().pk,
            "notes": "shorter",
            "reason": "Typo",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    new = TimeEntry.objects.get(corrects=entry)
    assert new.minutes == 45
    agreement = Agreement.objects.get(pk=entry.agreement_id)
    assert agreement.balance_minutes == 600 - 45 == ledger_balance(agreement)


def test_a_bad_correction_changes_nothing(client, technician, entry):
    client.force_login(technician)
    url = reverse("timesheet:correct", args=[entry.public_id])
    response = client.post(
        url, {"work_date": entry.work_date.isoformat(), "duration": "0:75", "work_type": work_type().pk, "reason": "x"}
    )
    assert "is not a duration" in response.content.decode()
    entry.refresh_from_db()
    assert not entry.is_void


def test_another_technician_gets_404_on_my_entry(client, entry):
    from agreements.tests.factories import TechnicianFactory

    client.force_login(TechnicianFactory(username="otto"))
    for name in ("timesheet:void", "timesheet:correct"):
        url = reverse(name, args=[entry.public_id])
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND
        assert client.post(url, {"reason": "mine now"}).status_code == HTTPStatus.NOT_FOUND
    entry.refresh_from_db()
    assert not entry.is_void


def test_charlie_sees_nothing_of_time_entries(client, charlie, entry):
    client.force_login(charlie)
    for name in ("timesheet:void", "timesheet:correct", "timesheet:mine"):
        args = [entry.public_id] if name != "timesheet:mine" else []
        assert client.get(reverse(name, args=args)).status_code == HTTPStatus.NOT_FOUND


def test_my_time_query_count_does_not_grow(client, technician, funded, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ui.tests.fixtures import log_entries

    client.force_login(technician)
    log_entries(funded, technician, 5)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("timesheet:mine"))
        client.get(LOG)
    log_entries(funded, technician, 200, minutes=1)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("timesheet:mine"))
        client.get(LOG)
    assert len(many) == len(few)


def test_the_void_page_ignores_a_foreign_next(client, technician, entry):
    client.force_login(technician)
    url = reverse("timesheet:void", args=[entry.public_id])
    page = client.get(url, {"next": "javascript:alert(1)"}).content.decode()
    assert "javascript:" not in page
    response = client.post(url, {"reason": "dup", "next": "https://evil.example/"})
    assert response.url == reverse("timesheet:mine")


# --- logging for a client: its agreements in their order ---------------------


@pytest.fixture
def two_agreements(client_a, staff, funded):
    """Client A: "Office move project" (1 h) first, then the funded agreement (10 h)."""
    from agreements import services

    project = AgreementFactory(client=client_a, name="Office move project")
    block = services.block_sell(agreement=project, hours=1, actor=staff)
    services.block_mark_paid(block=block, actor=staff)
    services.agreement_reorder(agreement=project, position=1, actor=staff)
    funded.refresh_from_db()
    return project, funded


def test_it_offers_each_client_before_its_agreements(client, technician, two_agreements, client_a):
    project, support = two_agreements
    client.force_login(technician)
    html = client.get(LOG).content.decode()
    options = [
        f'<option value="{label}">' for label in ("Acme Dental", agreement_label(project), agreement_label(support))
    ]
    assert all(option in html for option in options)
    assert html.index(options[0]) < html.index(options[1]) < html.index(options[2])
    assert 'value="Acme Dental"' in client.get(LOG + f"?client={client_a.public_id}").content.decode()


def test_the_preview_names_the_agreement_the_clients_order_chooses(client, technician, two_agreements):
    project, support = two_agreements
    client.force_login(technician)
    data = form_data(project, agreement="Acme Dental", check="1")
    response = client.post(LOG, {**data, "duration": "0:45"})
    preview = response.context["preview"]
    assert preview.agreement == project
    assert (preview.balance_before, preview.entry.charged_minutes, preview.balance_after) == (60, 45, 15)
    html = response.content.decode()
    assert '<dd class="col-6" data-testid="agreement">Office move project' in html
    assert "the first in the client's order that can take it" in html
    # 1:30 does not fit in the project's hour under its reject policy: the next one is named.
    response = client.post(LOG, data)
    assert response.context["preview"].agreement == support
    assert '<dd class="col-6" data-testid="agreement">Prepaid support hours' in response.content.decode()
    assert not TimeEntry.objects.exists()
    assert [ledger_balance(project), ledger_balance(support)] == [60, 600]


def test_it_saves_by_client_on_the_agreement_chosen_and_says_which(client, technician, two_agreements):
    project, support = two_agreements
    client.force_login(technician)
    response = client.post(LOG, form_data(project, agreement="Acme Dental", save="1"), follow=True)
    entry = TimeEntry.objects.get()
    assert entry.agreement == support
    assert "charged 1 h 30 min to “Prepaid support hours”, balance now 8 h 30 min." in response.content.decode()
    assert [ledger_balance(project), ledger_balance(support)] == [60, 510]


def test_when_no_agreement_of_the_client_can_take_it_the_form_says_why(client, technician, two_agreements):
    project, support = two_agreements
    client.force_login(technician)
    response = client.post(LOG, form_data(project, agreement="Acme Dental", duration="12:00", save="1"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "No agreement of Acme Dental can take this entry" in html
    assert "“Office move project”: 720 min to charge, only 60 min allowed" in html
    assert not TimeEntry.objects.exists()
    assert [ledger_balance(project), ledger_balance(support)] == [60, 600]


def test_charlie_can_neither_see_nor_log_for_a_client(client, charlie, two_agreements, client_a):
    project, _ = two_agreements
    client.force_login(charlie)
    assert client.get(LOG + f"?client={client_a.public_id}").status_code == HTTPStatus.NOT_FOUND
    response = client.post(LOG, form_data(project, agreement="Acme Dental", check="1"))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not TimeEntry.objects.exists()
