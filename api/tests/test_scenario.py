"""End to end through the API only, as an integration would use it: create a
client and agreement, buy a 20-hour block, pay it, post time with retries
(some requests "lost" and sent again), read the ledger, and check the balance
to the minute."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from agreements.models import Agreement, TimeEntry
from agreements.selectors import ledger_balance
from api.tests.helpers import api_as

pytestmark = pytest.mark.django_db


def test_sell_pay_log_with_retries_and_balance_to_the_minute(staff, technician, seller):
    boss, tech = api_as(staff), api_as(technician)
    today = timezone.localdate().isoformat()

    client = boss.post("/api/v1/clients/", {"name": "Harbor Dental", "hourly_rate": "100.00"}, format="json")
    assert client.status_code == HTTPStatus.CREATED
    agreement = boss.post(
        "/api/v1/agreements/", {"client": client.json()["id"], "billing_increment_minutes": 15}, format="json"
    )
    assert agreement.status_code == HTTPStatus.CREATED
    agreement_id = agreement.json()["id"]

    tiers = {t["hours"]: t["id"] for t in boss.get("/api/v1/tiers/").json()["results"]}
    sale = boss.post(
        f"/api/v1/agreements/{agreement_id}/purchases/",
        {"tier": tiers[20]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="sale-1",
    )
    assert sale.status_code == HTTPStatus.CREATED
    invoice = sale.json()["invoice"]
    assert (invoice["total"], invoice["currency"]) == ("1800.00", "USD")
    assert sale.json()["balance_minutes"] == 0  # usable once paid

    payment = {"amount": invoice["total"], "method": "ach", "reference": "ACH-778899", "paid_on": today}
    for _ in range(2):  # the accounting sync retries
        paid = boss.post(
            f"/api/v1/invoices/{invoice['id']}/payments/", payment, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
        )
        assert paid.status_code == HTTPStatus.CREATED
    assert boss.get(f"/api/v1/invoices/{invoice['id']}/").json()["status"] == "paid"
    assert boss.get(f"/api/v1/agreements/{agreement_id}/").json()["balance_minutes"] == 1200

    work_types = {w["name"]: w["id"] for w in tech.get("/api/v1/work-types/").json()["results"]}
    # (key, minutes, work type, how many times the PSA sends it) → charged minutes
    posts = [
        ("psa-1", 7, "Normal", 3, 15),  # 7 → 15 (rounded up)
        ("psa-2", 60, "After-hours", 2, 90),  # 60 × 1.5
        ("psa-3", 5, "Emergency", 1, 30),  # 5 → 15 × 2
        ("psa-4", 45, "Non-billable", 2, 0),
        ("psa-5", 125, "Normal", 4, 135),  # 125 → 135
    ]
    for key, minutes, kind, sends, _charged in posts:
        bodies = []
        for _ in range(sends):
            response = tech.post(
                "/api/v1/time-entries/",
                {
                    "agreement": agreement_id,
                    "ticket_number": f"T-{key}",
                    "ticket_subject": "Support call",
                    "work_date": today,
                    "minutes": minutes,
                    "work_type": work_types[kind],
                    "notes": f"{kind} work",
                },
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
            assert response.status_code == HTTPStatus.CREATED
            bodies.append(response.json())
        assert all(body == bodies[0] for body in bodies)
    charged = sum(p[4] for p in posts)
    assert charged == 270

    assert TimeEntry.objects.count() == len(posts)
    ledger = boss.get(f"/api/v1/agreements/{agreement_id}/ledger/").json()
    assert ledger["count"] == 1 + 4  # the purchase, and a debit per charged entry
    assert ledger["results"][0]["kind"] == "purchase"
    assert ledger["results"][-1]["balance_after_minutes"] == 1200 - charged == 930

    body = tech.get(f"/api/v1/agreements/{agreement_id}/").json()
    assert body["balance_minutes"] == 930
    assert body["runway"]["burn_per_week_minutes"] == charged // 8
    agreement_row = Agreement.objects.get(public_id=agreement_id)
    assert ledger_balance(agreement_row) == agreement_row.balance_minutes == 930
