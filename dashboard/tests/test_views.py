import datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Role, User
from agreements import services
from agreements.models import Agreement, Block, Client, ClientContact, LedgerEntry, LedgerKind
from agreements.selectors import ledger_balance
from agreements.summaries import dashboard_figures_refresh
from agreements.tests.factories import (
    AgreementFactory,
    ClientFactory,
    TechnicianFactory,
    TicketFactory,
    tier,
    work_type,
)
from ui.tests.fixtures import expiry_sentence, log_entries

pytestmark = pytest.mark.django_db
HOME = reverse("dashboard:home")


def test_staff_see_headline_figures(client, staff, entry, charlies_agreement):
    client.force_login(staff)
    response = client.get(HOME)
    assert response.status_code == HTTPStatus.OK
    figures = response.context["figures"]
    assert figures["outstanding_minutes"] == 510 + 600
    assert figures["low"] == 0 and figures["exhausted"] == 0 and figures["active"] == 2
    # 510 unused minutes at $100/h + 600 at $100/h.
    assert response.context["deferred"] == {"USD": Decimal("1850.00")}
    page = response.content.decode()
    assert "$1,850.00" in page and "18 h 30 min" in page


def test_the_table_sorts_by_runway_with_unknown_last(client, staff, funded, technician, client_b):
    fast = AgreementFactory(client=client_b)
    idle = AgreementFactory(client=ClientFactory(name="Cedar Clinic"))
    log_entries(funded, technician, 2)  # slow burn
    log_entries(fast, technician, 20)  # fast burn
    client.force_login(staff)
    rows = [c.agreement for c in client.get(HOME, {"sort": "runway"}).context["cards"]]
    assert rows == [fast, funded, idle]
    rows = [c.agreement for c in client.get(HOME, {"sort": "-runway"}).context["cards"]]
    assert rows == [funded, fast, idle]
    rows = [c.agreement for c in client.get(HOME, {"sort": "-balance"}).context["cards"]]
    assert rows[0] == fast  # 20 h credited − 5 h


def test_the_table_filters(client, staff, funded, client_b):
    low = AgreementFactory(client=client_b)
    services.ledger_adjust(agreement=low, minutes=60, reason="Goodwill", author=staff)
    AgreementFactory(client=ClientFactory(name="Cedar Clinic"), status="ended")
    client.force_login(staff)
    cards = lambda **q: [c.agreement.client.name for c in client.get(HOME, q).context["cards"]]  # noqa: E731
    assert cards() == ["Birch Legal", "Acme Dental"] or set(cards()) == {"Acme Dental", "Birch Legal"}
    assert cards(flag="low") == ["Birch Legal"]
    assert cards(q="acme") == ["Acme Dental"]
    assert cards(status="ended") == ["Cedar Clinic"]
    assert cards(flag="exhausted") == []


def test_dashboard_query_count_does_not_grow(client, staff, technician):
    client.force_login(staff)

    def make(count):
        for n in range(count):
            agreement = AgreementFactory(client=ClientFactory(name=f"Client {count}-{n}"))
            if n % 3 == 0:
                log_entries(agreement, technician, 1)

    def count(**params):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(HOME, params).status_code == HTTPStatus.OK
        return len(queries)

    client.get(HOME)  # the first request after signing in starts the idle clock (a session write)
    make(5)
    few = [count(), count(sort="-burn", status="all")]
    make(200)
    assert [count(), count(sort="-burn", status="all")] == few


def test_client_page_shows_everything(client, staff, entry, alice):
    client.force_login(staff)
    url = reverse("dashboard:client", args=[entry.agreement.client.public_id])
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert alice.email in page
    assert "10-hour block" in page and "$1,000.00" in page
    ledger = list(response.context["ledger"])
    assert [row.running_balance for row in ledger] == [510, 600]
    assert f"#{entry.ticket.number}" in page
    assert "<svg" in page


def test_client_page_query_count_does_not_grow(client, staff, funded, technician):
    client.force_login(staff)
    url = reverse("dashboard:client", args=[funded.client.public_id])
    log_entries(funded, technician, 5)
    client.get(HOME)  # the first request after signing in starts the idle clock (a session write)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    log_entries(funded, technician, 200, minutes=1)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_staff_create_a_client_then_an_agreement(client, staff):
    client.force_login(staff)
    response = client.post(
        reverse("dashboard:client_new"), {"name": "Delta Dental", "hourly_rate": "120", "currency": "eur"}
    )
    new = Client.objects.get(name="Delta Dental")
    assert new.currency == "EUR" and new.hourly_rate == Decimal("120.00")
    assert response.url == reverse("dashboard:agreement_new", args=[new.public_id])
    response = client.post(
        response.url,
        {
            "name": "Support 2027",
            "starts_on": timezone.localdate().isoformat(),
            "low_balance_threshold": "3:00",
            "billing_increment_minutes": "15",
            "rounding_mode": "up",
            "overage_policy": "reject",
            "overage_limit_minutes": "0",
            "credit_policy": "on_payment",
        },
    )
    agreement = Agreement.objects.get(client=new)
    assert agreement.low_balance_threshold_minutes == 180
    assert response.url == reverse("dashboard:block_sell", args=[agreement.public_id])


def test_bad_client_and_agreement_input_changes_nothing(client, staff, client_a):
    client.force_login(staff)
    response = client.post(reverse("dashboard:client_new"), {"name": "acme dental", "hourly_rate": "-1"})
    assert response.status_code == HTTPStatus.OK
    assert "Ensure this value is greater than or equal to 0" in response.content.decode()
    response = client.post(reverse("dashboard:client_new"), {"name": "acme dental", "hourly_rate": "100"})
    assert "already exists" in response.content.decode()
    assert Client.objects.count() == 1
    response = client.post(
        reverse("dashboard:agreement_new", args=[client_a.public_id]),
        {
            "name": "X",
            "starts_on": "2026-05-01",
            "ends_on": "2026-01-01",
            "low_balance_threshold": "2h",
            "billing_increment_minutes": "15",
            "rounding_mode": "up",
            "overage_policy": "reject",
            "overage_limit_minutes": "0",
            "credit_policy": "on_payment",
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert "is-invalid" in response.content.decode() or "alert-danger" in response.content.decode()
    assert not Agreement.objects.exists()


def test_staff_sell_a_block_after_confirming(client, staff, agreement, seller):
    client.force_login(staff)
    url = reverse("dashboard:block_sell", args=[agreement.public_id])
    data = {"tier": tier(20).pk, "starts_on": timezone.localdate().isoformat()}
    response = client.post(url, data)
    assert response.status_code == HTTPStatus.OK
    assert "Amount: $1,800.00" in response.content.decode()
    assert not Block.objects.exists()
    response = client.post(url, {**data, "confirm": "1"}, follow=True)
    block = Block.objects.get()
    invoice = block.invoices.get()
    assert block.minutes == 1200 and block.amount == Decimal("1800.00") == invoice.total
    assert (
        f"Sold 20 h to Acme Dental (credited when paid); invoice {invoice.number} issued" in response.content.decode()
    )
    # The block's row links to its invoice, where the payment is recorded: the hours are credited.
    page = response.content.decode()
    assert reverse("billing:invoice", args=[invoice.public_id]) in page
    client.post(
        reverse("billing:invoice_payment", args=[invoice.public_id]),
        {"amount": "1800.00", "method": "ach", "reference": "ACH-1", "paid_on": timezone.localdate().isoformat()},
    )
    agreement.refresh_from_db()
    assert agreement.balance_minutes == 1200 == ledger_balance(agreement)


def test_a_bad_sale_changes_nothing(client, staff, agreement):
    client.force_login(staff)
    url = reverse("dashboard:block_sell", args=[agreement.public_id])
    for data in (
        {"starts_on": "2026-01-01"},
        {"tier": tier(10).pk, "hours": "5", "starts_on": "2026-01-01"},
        {"hours": "-3", "starts_on": "2026-01-01", "confirm": "1"},
    ):
        response = client.post(url, data)
        assert response.status_code == HTTPStatus.OK
        assert "alert-danger" in response.content.decode()
    assert not Block.objects.exists()


def test_staff_record_an_adjustment_with_a_reason(client, staff, funded):
    client.force_login(staff)
    url = reverse("dashboard:adjust", args=[funded.public_id])
    response = client.post(url, {"direction": "deduct", "duration": "1:30", "reason": ""})
    assert "This field is required" in response.content.decode()
    response = client.post(url, {"direction": "deduct", "duration": "1:30", "reason": "Duplicate ticket"})
    assert "10 h → 8 h 30 min" in response.content.decode()
    assert funded.ledger.filter(kind=LedgerKind.ADJUSTMENT).count() == 0
    client.post(url, {"direction": "deduct", "duration": "1:30", "reason": "Duplicate ticket", "confirm": "1"})
    funded.refresh_from_db()
    assert funded.balance_minutes == 510 == ledger_balance(funded)
    assert LedgerEntry.objects.get(kind=LedgerKind.ADJUSTMENT).reason == "Duplicate ticket"


def test_staff_void_a_time_entry(client, staff, entry):
    client.force_login(staff)
    back = reverse("dashboard:client", args=[entry.agreement.client.public_id])
    response = client.post(reverse("timesheet:void", args=[entry.public_id]), {"reason": "Not billable", "next": back})
    assert response.url == back
    entry.refresh_from_db()
    assert entry.is_void and entry.voided_by == staff


def test_staff_invite_a_contact_who_sets_a_password_once(client, staff, client_a, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dashboard:contact_invite", args=[client_a.public_id]),
            {
                "first_name": "Dana",
                "last_name": "Ortiz",
                "email": "dana@acme.example",
                "username": "dana",
                "receives_invoices": "on",
            },
        )
    assert response.status_code == HTTPStatus.FOUND
    dana = User.objects.get(username="dana")
    assert dana.role == Role.CLIENT and not dana.has_usable_password()
    assert ClientContact.objects.get(user=dana).client == client_a
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "dana" in body and "password" in body.lower()
    link = next(line for line in body.splitlines() if "/invitation/" in line)
    path = link[link.index("/invitation/") :]
    client.logout()
    assert "Set password and sign in" in client.get(path).content.decode()
    response = client.post(path, {"new_password1": "short", "new_password2": "short"})
    assert "This password is too short" in response.content.decode()
    response = client.post(path, {"new_password1": "a-Long-new-pass-92", "new_password2": "a-Long-new-pass-92"})
    assert response.status_code == HTTPStatus.FOUND
    dana.refresh_from_db()
    assert dana.check_password("a-Long-new-pass-92")
    client.logout()
    assert client.get(path).status_code == HTTPStatus.NOT_FOUND  # single use


def test_a_contact_of_an_italian_client_is_invited_in_italian(
    client, staff, client_a, django_capture_on_commit_callbacks
):
    client_a.language = "it"
    client_a.save()
    client.force_login(staff)  # staff read English
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("dashboard:contact_invite", args=[client_a.public_id]),
            {"first_name": "Lia", "last_name": "Neri", "email": "lia@acme.example", "username": "lia"},
        )
    assert mail.outbox[0].subject == "Invito a Blockhours"


def test_an_expired_invitation_does_not_work(client, staff, client_a, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dashboard:technician_invite"), {"email": "tim@msp.example", "username": "tim"})
    body = mail.outbox[0].body
    path = body[body.index("/invitation/") :].split()[0]
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    client.logout()
    response = client.post(path, {"new_password1": "a-Long-new-pass-92", "new_password2": "a-Long-new-pass-92"})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not User.objects.get(username="tim").has_usable_password()


def test_a_bad_invitation_changes_nothing(client, staff, client_a, alice, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dashboard:contact_invite", args=[client_a.public_id]),
            {"email": "x@y.example", "username": "alice"},
        )
        assert response.status_code == HTTPStatus.OK
        assert "already exists" in response.content.decode()
        response = client.post(reverse("dashboard:technician_invite"), {"email": "not-an-email", "username": "z"})
    assert "Enter a valid email address" in response.content.decode()
    assert len(mail.outbox) == 0
    assert not User.objects.filter(username="z").exists()


def test_staff_mark_a_request_handled(client, staff, alice, funded):
    from portal import services as portal_services

    request = portal_services.hours_request_create(agreement=funded, tier=tier(10), requested_by=alice)
    client.force_login(staff)
    client.post(reverse("dashboard:request_handled", args=[request.public_id]))
    request.refresh_from_db()
    assert request.status == "handled" and request.handled_by == staff


@pytest.mark.parametrize("user", ["technician", "alice", "charlie"])
def test_only_staff_use_the_dashboard(client, request, user, funded, entry):
    client.force_login(request.getfixturevalue(user))
    urls = [
        HOME,
        reverse("dashboard:client_new"),
        reverse("dashboard:technician_invite"),
        reverse("dashboard:client", args=[funded.client.public_id]),
        reverse("dashboard:agreement_new", args=[funded.client.public_id]),
        reverse("dashboard:contact_invite", args=[funded.client.public_id]),
        reverse("dashboard:block_sell", args=[funded.public_id]),
        reverse("dashboard:adjust", args=[funded.public_id]),
    ]
    for url in urls:
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND, url
        assert (
            client.post(url, {"reason": "x", "direction": "add", "duration": "9h"}).status_code == HTTPStatus.NOT_FOUND
        )
    funded.refresh_from_db()
    assert funded.balance_minutes == 510


def test_unknown_objects_are_404_for_staff(client, staff):
    client.force_login(staff)
    import uuid

    for name in ("dashboard:client", "dashboard:block_sell", "dashboard:adjust"):
        assert client.get(reverse(name, args=[uuid.uuid4()])).status_code == HTTPStatus.NOT_FOUND
        assert client.get(reverse(name, args=["12"])).status_code == HTTPStatus.NOT_FOUND


def test_technicians_cannot_see_the_invite_page(client):
    client.force_login(TechnicianFactory(username="otto"))
    assert client.get(reverse("dashboard:technician_invite")).status_code == HTTPStatus.NOT_FOUND


def test_the_table_shows_hours_expiring_unused_and_ranks_by_the_expiry(client, staff, expiring, technician, client_b):
    steady = AgreementFactory(client=client_b)
    services.ledger_adjust(agreement=steady, minutes=700, reason="Opening balance", author=staff)
    entry = services.time_entry_log(
        agreement=steady,
        technician=technician,
        ticket=TicketFactory(client=client_b),
        work_date=timezone.localdate(),
        minutes=420,
        work_type=work_type(),
    )
    assert entry.charged_minutes == 420  # 280 left at 420 per 8 weeks: 37 days, no expiry
    client.force_login(staff)
    response = client.get(HOME)
    cards = response.context["cards"]
    # Blind to expiry the yearly hours would last 64 days and rank last; they run out in 20.
    assert [(c.agreement, c.runway.days, c.runway.expiring_unused_minutes) for c in cards] == [
        (expiring, 20, 645),
        (steady, 37, 0),
    ]
    assert cards[0].runway.runs_out_on == timezone.localdate() + datetime.timedelta(days=20)
    page = response.content.decode()
    assert 'data-expiring-minutes="645"' in page and "10 h 45 min" in page
    assert 'data-expiring-minutes="0"' in page
    descending = client.get(HOME, {"sort": "-runway"}).context["cards"]
    assert [c.agreement for c in descending] == [steady, expiring]


def test_the_client_page_tells_staff_what_will_expire(client, staff, expiring):
    client.force_login(staff)
    page = client.get(reverse("dashboard:client", args=[expiring.client.public_id])).content.decode()
    assert expiry_sentence("10 h 45 min", timezone.localdate() + datetime.timedelta(days=20)) in page


def test_dashboard_query_count_with_expiring_hours_does_not_grow(client, staff, technician):
    client.force_login(staff)
    today = timezone.localdate()

    def make(count):
        for n in range(count):
            agreement = AgreementFactory(client=ClientFactory(name=f"Yearly {count}-{n}"))
            block = services.block_sell(
                agreement=agreement,
                hours=10,
                actor=staff,
                starts_on=today - datetime.timedelta(days=30),
                expires_on=today + datetime.timedelta(days=10 + n),
            )
            services.block_credit(block=block)
            if n % 2 == 0:
                log_entries(agreement, technician, 1)

    def count(**params):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(HOME, params)
        assert response.status_code == HTTPStatus.OK
        assert all(card.runway.expiring for card in response.context["cards"])
        return len(queries)

    client.get(HOME)  # the first request after signing in starts the idle clock (a session write)
    make(3)
    # Page 2 of 3 agreements is past the end: it counts them (one query) to
    # answer the last page; page 2 of 63 is read with the headline figures' total.
    few = [count(), count(sort="-runway", page=2) - 1, count(sort="-burn")]
    make(60)
    dashboard_figures_refresh()  # as the beat entry does every minute
    assert [count(), count(sort="-runway", page=2), count(sort="-burn")] == few


def test_staff_create_a_renewing_agreement_with_every_end_of_term_setting(client, staff, client_a):
    client.force_login(staff)
    url = reverse("dashboard:agreement_new", args=[client_a.public_id])
    form = client.get(url).content.decode()
    for name in (
        "term_end_action",
        "renewal_tier",
        "renewal_invoice_days",
        "rollover_policy",
        "rollover_cap",
        "rollover_cap_percent",
        "rollover_grace_months",
        "grace_days",
    ):
        assert f'name="{name}"' in form, name
    data = {
        "name": "Yearly support",
        "starts_on": (timezone.localdate() - datetime.timedelta(days=10)).isoformat(),
        "ends_on": (timezone.localdate() + datetime.timedelta(days=355)).isoformat(),
        "low_balance_threshold": "2:00",
        "billing_increment_minutes": "15",
        "rounding_mode": "up",
        "overage_policy": "reject",
        "overage_limit_minutes": "0",
        "credit_policy": "on_payment",
        "term_end_action": "renew",
        "renewal_tier": str(tier(20).pk),
        "renewal_invoice_days": "30",
        "rollover_policy": "capped_hours",
        "rollover_cap": "7:30",
        "rollover_grace_months": "3",
        "grace_days": "14",
    }
    response = client.post(url, {**data, "rollover_cap_percent": "50"})
    assert response.status_code == HTTPStatus.OK
    assert "A rollover cap in percent applies only to the capped-share rollover" in response.content.decode()
    assert not Agreement.objects.exists()

    response = client.post(url, data)
    agreement = Agreement.objects.get()
    assert response.url == reverse("dashboard:block_sell", args=[agreement.public_id])
    assert (
        agreement.term_end_action,
        agreement.renewal_tier,
        agreement.renewal_invoice_days,
        agreement.rollover_policy,
        agreement.rollover_cap_minutes,
        agreement.rollover_cap_percent,
        agreement.rollover_grace_months,
        agreement.grace_days,
    ) == ("renew", tier(20), 30, "capped_hours", 450, None, 3, 14)


def test_dashboard_costs_the_same_queries_at_5_and_at_500_clients(client, staff, technician):
    """Issue 20: the default page (ranked by runway), its headline figures
    included, reads a fixed number of rows' worth of queries at any size."""
    client.force_login(staff)
    today = timezone.localdate()

    def make(count, start):
        clients = Client.objects.bulk_create(ClientFactory.build(name=f"Bulk {start + n:04}") for n in range(count))
        Agreement.objects.bulk_create(
            Agreement(
                client=c,
                balance_minutes=600 + 7 * n,
                burn_minutes=(n % 5) * 60,  # some idle (no burn), the rest burning
                burn_computed_on=today,
            )
            for n, c in enumerate(clients)
        )

    def count(**params):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(HOME, params).status_code == HTTPStatus.OK
        return len(queries)

    client.get(HOME)  # the first request after signing in starts the idle clock (a session write)
    make(5, 0)
    few = [count(), count(sort="-runway"), count(flag="low"), count(sort="balance")]
    make(495, 5)
    dashboard_figures_refresh()  # as the beat entry does every minute
    many = [count(), count(sort="-runway"), count(flag="low"), count(sort="balance")]
    assert many == few
    with CaptureQueriesContext(connection) as queries:
        response = client.get(HOME)
    assert len(response.context["cards"]) == 50
    # Soonest run-out first: the least balance per minute of burn, idle ones last.
    days = [card.runway.days for card in response.context["cards"]]
    assert days == sorted(days) and None not in days
    # Nothing on the page reads every agreement: the total is the headline figure.
    assert not [q["sql"] for q in queries if "COUNT(*)" in q["sql"] and '"agreements_agreement"' in q["sql"]]
    assert (response.context["page"].paginator.count, response.context["page"].paginator.num_pages) == (500, 10)


def test_the_dashboard_pages_stay_right_while_the_total_is_a_minute_old(client, staff, settings):
    """The page total comes from the cached figures; agreements added or
    ended since still appear on the right page, and a page beyond the end
    answers the last one."""
    settings.DASHBOARD_FIGURES_SECONDS = 60
    client.force_login(staff)
    today = timezone.localdate()

    def make(count, start):
        clients = Client.objects.bulk_create(ClientFactory.build(name=f"Bulk {start + n:04}") for n in range(count))
        return Agreement.objects.bulk_create(
            Agreement(client=c, balance_minutes=600, burn_minutes=60, burn_computed_on=today) for c in clients
        )

    make(100, 0)
    assert client.get(HOME).context["page"].paginator.count == 100  # counted: the cache was empty
    make(10, 100)  # the cached total still says 100
    second = client.get(HOME, {"page": 2}).context["page"]
    assert second.has_next() and len(second.object_list) == 50
    third = client.get(HOME, {"page": 3}).context["page"]
    assert (third.number, len(third.object_list), third.paginator.count, third.has_next()) == (3, 10, 110, False)
    assert client.get(HOME, {"page": 3, "sort": "client"}).context["page"].paginator.count == 110
    # Every agreement once across the pages.
    shown = [a.pk for n in (1, 2, 3) for a in client.get(HOME, {"page": n}).context["page"].object_list]
    assert sorted(shown) == sorted(Agreement.objects.values_list("pk", flat=True))

    Agreement.objects.filter(client__name__gte="Bulk 0040").update(status="ended")  # 70 gone, total says 100
    beyond = client.get(HOME, {"page": 2}).context["page"]  # 40 left: one page
    assert (beyond.number, len(beyond.object_list), beyond.paginator.count, beyond.has_next()) == (1, 40, 40, False)
    assert client.get(HOME, {"page": "x"}).context["page"].number == 1
    # A search counts its own total.
    assert client.get(HOME, {"q": "Bulk 000"}).context["page"].paginator.count == 10


def test_the_totals_refreshed_off_the_request_path_equal_a_recount(client, staff, funded, entry, settings):
    from agreements.summaries import deferred_revenue, headline_figures
    from agreements.tasks import refresh_dashboard_figures

    settings.DASHBOARD_FIGURES_SECONDS = 60
    client.force_login(staff)
    before = client.get(HOME).context["figures"]
    services.ledger_adjust(agreement=funded, minutes=90, reason="Goodwill", author=staff)
    assert client.get(HOME).context["figures"] == before  # cached, a minute old at most
    refresh_dashboard_figures()  # the beat entry
    today = timezone.localdate()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(HOME)
    assert response.context["figures"] == headline_figures(Agreement.objects.all(), today=today)
    assert response.context["deferred"] == deferred_revenue(Agreement.objects.all())
    assert response.context["figures"]["outstanding_minutes"] == before["outstanding_minutes"] + 90
    totals = ('AS "outstanding_minutes"', 'SUM("agreements_block"."minutes_left")')
    assert not [q for q in queries if any(part in q["sql"] for part in totals)]  # read, not counted
    from django.core.cache import cache

    cache.clear()  # nothing cached (no beat yet, or the cache emptied): the page counts them
    with CaptureQueriesContext(connection) as queries:
        client.get(HOME)
    assert len([q for q in queries if any(part in q["sql"] for part in totals)]) == 2
    entry = settings.CELERY_BEAT_SCHEDULE["dashboard-figures"]
    assert (entry["task"], entry["schedule"], entry["options"]) == (
        "agreements.tasks.refresh_dashboard_figures",
        60,
        {"expires": 59},
    )


def test_the_dashboard_totals_are_cached_for_a_minute(client, staff, funded, settings, monkeypatch):
    settings.DASHBOARD_FIGURES_SECONDS = 60
    client.force_login(staff)
    first = client.get(HOME).context["figures"]["outstanding_minutes"]
    services.ledger_adjust(agreement=funded, minutes=60, reason="Goodwill", author=staff)
    assert client.get(HOME).context["figures"]["outstanding_minutes"] == first  # cached
    from django.core.cache import cache

    cache.clear()
    assert client.get(HOME).context["figures"]["outstanding_minutes"] == first + 60
    settings.DASHBOARD_FIGURES_SECONDS = 0
    services.ledger_adjust(agreement=funded, minutes=60, reason="Goodwill", author=staff)
    assert client.get(HOME).context["figures"]["outstanding_minutes"] == first + 120


def test_the_dashboard_answers_with_the_cache_down(client, staff, funded, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    client.force_login(staff)
    response = client.get(HOME)
    assert response.status_code == HTTPStatus.OK
    assert response.context["figures"]["outstanding_minutes"] == funded.balance_minutes
