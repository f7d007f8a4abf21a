"""The charge preview names the block(s) the minutes would come from, in the agreement's burn order."""

import datetime
import re

import pytest
from django.utils import timezone

from agreements import services
from agreements.models import Agreement, BurnOrder, TimeEntry
from agreements.selectors import ledger_balance
from agreements.tests.factories import AgreementFactory
from timesheet.tests.test_views import LOG, form_data

pytestmark = pytest.mark.django_db


def day(n):
    return timezone.localdate() + datetime.timedelta(days=n)


def d(value):
    return value.strftime("%d %b %Y")


def sell(agreement, hours, starts, expires=None):
    block = services.block_sell(agreement=agreement, actor=None, hours=hours, starts_on=day(starts), expires_on=expires)
    return services.block_credit(block=block)


def taken_from(response):
    html = response.content.decode()
    cell = re.search(r'data-testid="taken-from">(.*?)</dd>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", part).strip() for part in re.findall(r"<div[^>]*>(.*?)</div>", cell, re.S)]


@pytest.mark.parametrize(
    ("burn_order", "expected"),
    [
        (
            BurnOrder.OLDEST_FIRST,
            lambda old, soon: [
                f"1 h from the 1-hour support block of {d(old.starts_on)}",
                f"30 min from the 2-hour support block of {d(soon.starts_on)} (expires {d(soon.expires_on)})",
                "Oldest block first",
            ],
        ),
        (
            BurnOrder.SOONEST_EXPIRING_FIRST,
            lambda old, soon: [
                f"1 h 30 min from the 2-hour support block of {d(soon.starts_on)} (expires {d(soon.expires_on)})",
                "Soonest-expiring block first",
            ],
        ),
    ],
)
def test_the_preview_says_which_blocks_pay(client, technician, client_a, burn_order, expected):
    agreement = AgreementFactory(client=client_a, burn_order=burn_order)
    old = sell(agreement, 1, -30)  # never expires
    soon = sell(agreement, 2, -10, expires=day(15))
    client.force_login(technician)
    response = client.post(LOG, form_data(agreement, check="1"))
    assert taken_from(response) == expected(old, soon)
    assert not TimeEntry.objects.exists()
    assert ledger_balance(agreement) == 180


def test_time_beyond_every_block_is_named_as_such(client, technician, client_a):
    agreement = AgreementFactory(client=client_a, overage_policy="bill_overage")
    block = sell(agreement, 1, -30)
    client.force_login(technician)
    response = client.post(LOG, form_data(agreement, check="1"))
    assert taken_from(response) == [
        f"1 h from the 1-hour support block of {d(block.starts_on)}",
        "30 min not from a block (adjustments or overage)",
        "Oldest block first",
    ]
    assert Agreement.objects.get(pk=agreement.pk).balance_minutes == 60
