"""The coming renewal on the client's agreement page and on the staff client
page: the date, what would roll over and what would expire, at today's hours."""

import datetime
import re
from http import HTTPStatus

from django.urls import reverse
from django.utils import timezone

from agreements import services
from agreements.domain import add_months, next_term_ends_on
from agreements.models import RolloverPolicy, TermEndAction
from agreements.tests.factories import TicketFactory, tier, work_type

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def renewing_agreement(client_a, technician, **fields):
    """Acme Dental's term ends in 20 days and renews with a 10 h block; up to
    25 % of it (2 h 30 min) rolls over, usable for 1 month. Of a 20 h block,
    11 h 45 min are used: 8 h 15 min unused."""
    settings = {
        "starts_on": TODAY - 40 * DAY,
        "ends_on": TODAY + 20 * DAY,
        "credit_policy": "immediate",
        "billing_increment_minutes": 1,
        "term_end_action": TermEndAction.RENEW,
        "renewal_tier": tier(10),
        "renewal_invoice_days": 10,
        "rollover_policy": RolloverPolicy.CAPPED_PERCENT,
        "rollover_cap_percent": 25,
        "rollover_grace_months": 1,
        "grace_days": 5,
    }
    settings.update(fields)
    agreement = services.agreement_create(client=client_a, **settings)
    services.block_sell(agreement=agreement, actor=None, tier=tier(20), starts_on=TODAY - 40 * DAY)
    services.time_entry_log(
        agreement=agreement,
        technician=technician,
        ticket=TicketFactory(client=client_a),
        work_date=TODAY - DAY,
        minutes=705,
        work_type=work_type("Normal"),
    )
    return agreement


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_alice_sees_her_coming_renewal_with_exact_figures(client, alice, technician):
    agreement = renewing_agreement(alice.client_contact.client, technician)
    client.force_login(alice)
    response = client.get(reverse("portal:agreement", args=[agreement.public_id]))
    assert response.status_code == HTTPStatus.OK
    text = text_of(response)
    # The term's length decides the next one (whole months or days: tested in agreements).
    renews_on, new_end = TODAY + 21 * DAY, next_term_ends_on(TODAY - 40 * DAY, TODAY + 20 * DAY)
    assert (
        f"Coming renewal Renews on {renews_on:%d %b %Y} for a new term until {new_end:%d %b %Y}, "
        "with a 10-hour support block." in text
    )
    rolled_until = min(add_months(TODAY + 20 * DAY, 1), new_end)
    assert (
        f"Rolls over into the new term 2 h 30 min usable until {rolled_until:%d %b %Y} "
        "Expires unused at the end of the term 5 h 45 min" in text
    )
    assert f"Time worked until {TODAY + 25 * DAY:%d %b %Y} still uses this term's hours." in text


def test_an_ending_agreement_says_what_will_expire(client, alice, technician):
    agreement = renewing_agreement(
        alice.client_contact.client,
        technician,
        term_end_action=TermEndAction.END,
        renewal_tier=None,
        renewal_invoice_days=None,
        rollover_policy=RolloverPolicy.NONE,
        rollover_cap_percent=None,
        rollover_grace_months=0,
        grace_days=0,
    )
    client.force_login(alice)
    text = text_of(client.get(reverse("portal:agreement", args=[agreement.public_id])))
    assert f"This agreement ends on {TODAY + 20 * DAY:%d %b %Y} and does not renew." in text
    assert "Expires unused at the end of the term 8 h 15 min" in text
    assert "Coming renewal" not in text and "still uses this term" not in text


def test_staff_see_the_coming_renewal_on_the_client_page(client, staff, alice, technician):
    agreement = renewing_agreement(alice.client_contact.client, technician)
    client.force_login(staff)
    text = text_of(client.get(reverse("dashboard:client", args=[agreement.client.public_id])))
    assert "Rolls over into the new term 2 h 30 min" in text
    assert "Expires unused at the end of the term 5 h 45 min" in text


def test_charlie_sees_nothing_of_alices_renewal(client, alice, charlie, technician):
    agreement = renewing_agreement(alice.client_contact.client, technician)
    client.force_login(charlie)
    response = client.get(reverse("portal:agreement", args=[agreement.public_id]))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "2 h 30 min" not in response.content.decode() and "Coming renewal" not in response.content.decode()
    assert "Coming renewal" not in client.get(reverse("portal:home")).content.decode()
