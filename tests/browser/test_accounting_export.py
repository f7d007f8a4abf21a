"""The export to the accounting software in Chromium: staff pick Xero's
journal for a month and the browser downloads the file the import reads."""

import csv
import datetime
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements import services
from agreements.tests.factories import AgreementFactory, ClientFactory, TicketFactory, tier, work_type
from tests.browser.test_faces import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_download_a_months_journal_for_xero(live_server, page, staff, technician):
    agreement = AgreementFactory(client=ClientFactory(name="Acme Dental"))
    block = services.block_sell(agreement=agreement, tier=tier(10), actor=staff, starts_on=agreement.starts_on)
    services.block_mark_paid(block=block, actor=staff)
    today = timezone.localdate()
    services.time_entry_log(
        agreement=agreement, technician=technician, ticket=TicketFactory(client=agreement.client), work_date=today,
        minutes=90, work_type=work_type(),
    )  # fmt: skip
    first = today.replace(day=1)
    rate = block.rate  # the 10-hour tier's rate per hour

    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/reports/")
    page.get_by_role("link", name="Export to accounting").first.click()
    page.get_by_label("For", exact=True).select_option("xero")
    page.get_by_label("Export", exact=True).select_option("journal")
    page.get_by_label("From", exact=True).fill(first.isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename == f"xero-journal-{first:%Y-%m-%d}-{today:%Y-%m-%d}.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[0][:6] == ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount"]
    month_end = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    earned = f"{rate * 90 / 60:.2f}"
    assert [(row[1], row[3], row[5]) for row in rows[1:]] == [
        (f"{month_end:%d/%m/%Y}", "835", earned),
        (f"{month_end:%d/%m/%Y}", "200", f"-{earned}"),
    ]

    # A range backwards: the page says why, and nothing is downloaded.
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill((first - datetime.timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Download CSV").click()
    expect(page.get_by_text("The first day must not be after the last one.")).to_be_visible()
