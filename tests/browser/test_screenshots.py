"""Every main page on the demo data, as a person sees it at 1280 px.

Always renders the pages (a broken page fails here); writes the PNGs to
docs/screenshots/ only with UPDATE_SCREENSHOTS=true, so an ordinary run does
not touch committed files.
"""

import datetime
import os
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Role, User
from agreements.models import Agreement, Timer
from billing.models import CreditNote, Invoice, InvoiceKind
from billing.pdf import credit_note_pdf_bytes, invoice_pdf_bytes
from tests.browser.test_faces import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def shots(tmp_path) -> Path:
    return DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "true" else tmp_path


MAX_HEIGHT = 1600  # long lists are cut here: the PNGs stay small


def snap(page: Page, folder: Path, name: str) -> None:
    expect(page.locator("main")).to_be_visible()
    width = page.viewport_size["width"]
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    page.screenshot(
        path=str(folder / f"{name}.png"), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
    )


def test_screenshots_of_every_main_page(live_server, page: Page, browser, shots: Path):
    from demo.management.commands.seed_demo import DEMO_PASSWORD

    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    # As beat does when it starts: the low clients get their reload invoices.
    call_command("sweep_low_balances", stdout=open(os.devnull, "w"))  # noqa: SIM115
    base = live_server.url
    staff = User.objects.filter(role=Role.STAFF, is_superuser=False).order_by("pk").first()
    technician = User.objects.filter(role=Role.TECHNICIAN, time_entries__isnull=False).order_by("pk").first()
    low = (
        Agreement.objects.filter(balance_minutes__gt=0, client__language="en")
        .order_by("balance_minutes")
        .select_related("client")
        .first()
    )
    contact = User.objects.filter(client_contact__client=low.client).order_by("pk").first()

    page.goto(f"{base}/login/")
    snap(page, shots, "01-login")
    sign_in(page, base, staff.username, DEMO_PASSWORD)
    snap(page, shots, "02-staff-dashboard")
    page.goto(f"{base}/dashboard/clients/{low.client.public_id}/")
    snap(page, shots, "03-staff-client-page")
    page.get_by_role("link", name="Sell a block").click()
    page.get_by_label("Tier").select_option(index=2)
    page.get_by_role("button", name="Review sale").click()
    snap(page, shots, "04-staff-sell-block-confirm")
    page.goto(f"{base}/dashboard/agreements/{low.public_id}/adjust/")
    snap(page, shots, "05-staff-adjustment")
    page.goto(f"{base}/dashboard/technicians/invite/")
    page.get_by_role("button", name="Send invitation").click()  # empty: inline errors
    snap(page, shots, "06-staff-invite-errors")

    tech = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(tech, base, technician.username, DEMO_PASSWORD)
    tech.get_by_label("Client / agreement").fill(f"{low.client.name} — {low.name}")
    tech.get_by_label("Ticket number").fill("30001")
    tech.get_by_label("Ticket subject").fill("Laptop will not dock")
    tech.get_by_label("Duration").fill("1:30")
    tech.get_by_role("button", name="Check", exact=True).click()
    expect(tech.get_by_test_id("charge")).to_be_visible()
    snap(tech, shots, "07-technician-log-time-preview")
    tech.goto(f"{base}/time/mine/")
    snap(tech, shots, "08-technician-my-time")
    tech.goto(f"{base}/time/")
    tech.get_by_label("Timer for: client or agreement").fill(f"{low.client.name} — {low.name}")
    tech.get_by_label("Timer: ticket no.").fill("30002")
    tech.get_by_label("Timer: subject if the ticket is new").fill("Backup job fails at night")
    tech.get_by_label("Timer: note").fill("Reading the backup logs")
    tech.get_by_role("button", name="Start timer").click()
    Timer.objects.filter(technician=technician).update(
        started_at=timezone.now() - datetime.timedelta(minutes=46, seconds=30)
    )
    tech.reload()
    expect(tech.get_by_test_id("timer-elapsed")).to_have_text("47 min")
    snap(tech, shots, "28-technician-running-timer")
    tech.context.close()

    client = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(client, base, contact.username, DEMO_PASSWORD)
    snap(client, shots, "09-portal-home")
    client.get_by_role("link", name="Usage and blocks").first.click()
    snap(client, shots, "10-portal-usage")
    client.get_by_role("link", name="Buy more hours").first.click()
    snap(client, shots, "11-portal-buy-hours")
    client.context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1).new_page()
    sign_in(phone, base, contact.username, DEMO_PASSWORD)
    snap(phone, shots, "12-portal-phone")
    phone.context.close()

    # The Italian client: its contact's browser asks for Italian; the low-balance
    # sweep raised its reload invoice, in Italian and in euros.
    italian = Agreement.objects.select_related("client").get(client__language="it")
    reload_invoice = Invoice.objects.filter(client=italian.client, kind=InvoiceKind.RELOAD).get()
    giulia = User.objects.filter(client_contact__client=italian.client).get()
    portal = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT").new_page()
    portal.goto(f"{base}/login/")
    snap(portal, shots, "17-login-italian")
    portal.get_by_label("Nome utente").fill(giulia.username)
    portal.get_by_label("Password").fill(DEMO_PASSWORD)
    portal.get_by_role("button", name="Accedi").click()
    expect(portal.get_by_role("link", name="Le mie ore")).to_be_visible()
    snap(portal, shots, "18-portal-italian")
    portal.get_by_role("link", name="Utilizzo e blocchi").first.click()
    snap(portal, shots, "19-portal-usage-italian")
    portal.context.close()
    pdf = shots / "20-reload-invoice-italian.pdf"
    pdf.write_bytes(invoice_pdf_bytes(reload_invoice))
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", str(pdf), str(pdf.with_suffix(""))], check=True)
    pdf.unlink()
    english = Invoice.objects.filter(kind=InvoiceKind.BLOCK, client=low.client).order_by("-pk").first()
    pdf = shots / "21-invoice-english.pdf"
    pdf.write_bytes(invoice_pdf_bytes(english))
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", str(pdf), str(pdf.with_suffix(""))], check=True)
    pdf.unlink()

    # A client with two agreements in a set order; a renewing term; cancelling with a refund.
    page.goto(f"{base}/dashboard/")
    two = Agreement.objects.filter(client__name="Cobalt Creek Realty").order_by("position").first()
    page.goto(f"{base}/dashboard/clients/{two.client.public_id}/")
    expect(page.get_by_text("Office move project — 30 h").first).to_be_visible()
    snap(page, shots, "22-staff-client-agreements-in-order")

    renewing = Agreement.objects.select_related("client").get(client__name="Riverbend Architects")
    renewing_contact = User.objects.filter(client_contact__client=renewing.client).order_by("pk").first()
    architect = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(architect, base, renewing_contact.username, DEMO_PASSWORD)
    architect.goto(f"{base}/portal/agreements/{renewing.public_id}/")
    expect(architect.get_by_text("rolled over").first).to_be_visible()
    snap(architect, shots, "23-portal-coming-renewal")
    architect.context.close()

    leaving = (
        Agreement.objects.filter(client__language="en", status="active", blocks__paid_at__isnull=False)
        .exclude(pk__in=[renewing.pk, low.pk])
        .exclude(client__name="Cobalt Creek Realty")
        .filter(blocks__minutes_left__gt=0)
        .select_related("client")
        .order_by("client__name")
        .first()
    )
    page.goto(f"{base}/dashboard/agreements/{leaving.public_id}/cancel/")
    page.locator("input[name=disposition][value=refund]").check()
    page.get_by_label("Reason").fill("Client moves to a flat-rate agreement")
    page.get_by_role("button", name="Review cancellation").click()
    expect(page.get_by_role("button", name="Cancel agreement")).to_be_visible()
    snap(page, shots, "24-staff-cancel-agreement-review")
    page.get_by_role("button", name="Cancel agreement").click()
    expect(page.get_by_text("cancelled.").first).to_be_visible()
    note = CreditNote.objects.get(agreement=leaving)
    pdf = shots / "25-credit-note.pdf"
    pdf.write_bytes(credit_note_pdf_bytes(note))
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", str(pdf), str(pdf.with_suffix(""))], check=True)
    pdf.unlink()

    # The settings pages staff use most, and the export to the accounting software.
    page.goto(f"{base}/dashboard/agreements/{low.public_id}/edit/")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    snap(page, shots, "30-staff-edit-agreement")
    page.goto(f"{base}/dashboard/business-hours/")
    snap(page, shots, "31-staff-business-hours")
    page.goto(f"{base}/reports/accounting/")
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()
    snap(page, shots, "32-staff-export-to-accounting")
