#!/usr/bin/env python
"""Page benchmark: the staff dashboard and the client portal at 10k clients.

    .venv/bin/python bench/pages.py [--clients 10000] [--requests 40]

Builds a throw-away PostgreSQL database `blockhours_bench_pages` (dropped at
the end) with N clients, each with an agreement, a credited 30-h block,
a ticket and time entries over the last 8 weeks (so every runway is known),
then requests, in one process and interleaved so noise hits all alike:
a trivial Django view (the baseline), the staff dashboard, and one client's
portal home. Prints p50/p95 per page, their ratio to the baseline and each
page's query count. Results go to bench/results/pages.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "blockhours_bench_pages"


def database(action: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if action == "create":
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def setup_django(workdir: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="blockhours.settings",
        DEBUG="false",
        SECRET_KEY="benchmark-only-secret-key-not-for-production",
        SITE_URL="http://127.0.0.1:8000",
        DATABASE_URL=f"{SERVER_URL}/{DB_NAME}",
        BLOCKHOURS_VAR_DIR=str(workdir),
        SECURE_SSL_REDIRECT="false",
        AXES_ENABLED="false",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # production pages use hashed static names


def build(clients: int) -> tuple[object, object]:
    """SQL with generate_series for the bulk; the ORM for the two users who sign in."""
    from django.db import connection

    from accounts.models import Role, User
    from agreements.models import ClientContact

    technician = User.objects.create(username="bench-tech", role=Role.TECHNICIAN)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO agreements_client (public_id, name, billing_name, billing_address, billing_email,
                                           hourly_rate, currency, is_active, created_at)
            SELECT gen_random_uuid(), 'Client ' || n, '', '', '', 100, 'USD', true, now()
            FROM generate_series(1, %(n)s) AS n;

            INSERT INTO agreements_agreement (public_id, client_id, name, status, starts_on, ends_on,
                low_balance_threshold_minutes, billing_increment_minutes, rounding_mode, overage_policy,
                overage_limit_minutes, credit_policy, auto_reload, reload_tier_id, usage_alert_percent,
                balance_minutes, created_at)
            SELECT gen_random_uuid(), c.id, 'Prepaid support hours', 'active', current_date - 365, NULL,
                120, 15, 'up', 'reject', 0, 'on_payment', false, NULL, NULL, 1800 - 8 * 60, now()
            FROM agreements_client c;

            INSERT INTO agreements_block (public_id, agreement_id, tier_id, minutes, minutes_left, rate, amount,
                currency, starts_on, expires_on, paid_at, cancelled_at, credited_at, created_at, created_by_id)
            SELECT gen_random_uuid(), a.id, NULL, 1800, 1800 - 8 * 60, 90, 2700, 'USD', current_date - 365, NULL,
                now(), NULL, now(), now(), NULL
            FROM agreements_agreement a;

            INSERT INTO agreements_ticket (public_id, client_id, number, subject, status, created_at)
            SELECT gen_random_uuid(), c.id, '1', 'Bench ticket', 'open', now() FROM agreements_client c;

            INSERT INTO agreements_timeentry (public_id, agreement_id, ticket_id, technician_id, work_date, minutes,
                work_type_id, charged_minutes, notes, idempotency_key, corrects_id, voided_at, voided_by_id,
                void_reason, created_at)
            SELECT gen_random_uuid(), a.id, t.id, %(tech)s, current_date - 7 * w, 60,
                (SELECT id FROM agreements_worktype WHERE name = 'Normal'), 60, '', NULL, NULL, NULL, NULL, '', now()
            FROM agreements_agreement a JOIN agreements_ticket t ON t.client_id = a.client_id
            CROSS JOIN generate_series(0, 7) AS w;

            INSERT INTO agreements_ledgerentry (agreement_id, block_id, kind, minutes, time_entry_id, reverses_id,
                reason, author_id, created_at)
            SELECT b.agreement_id, b.id, 'purchase', 1800, NULL, NULL, '', NULL, now() FROM agreements_block b;

            INSERT INTO agreements_ledgerentry (agreement_id, block_id, kind, minutes, time_entry_id, reverses_id,
                reason, author_id, created_at)
            SELECT e.agreement_id, b.id, 'debit', -60, e.id, NULL, '', NULL, now()
            FROM agreements_timeentry e JOIN agreements_block b ON b.agreement_id = e.agreement_id;
            ANALYZE;
            """,
            {"n": clients, "tech": technician.pk},
        )
    staff = User.objects.create(username="bench-staff", role=Role.STAFF)
    contact = User.objects.create(username="bench-contact", role=Role.CLIENT)
    from agreements.models import Client

    ClientContact.objects.create(user=contact, client=Client.objects.get(name="Client 1"))
    return staff, contact


def measure(staff, contact, rounds: int) -> dict[str, dict[str, float]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    staff_client, contact_client, anonymous = Client(), Client(), Client()
    staff_client.force_login(staff)
    contact_client.force_login(contact)
    pages = {
        "trivial view": (anonymous, "/bench/trivial/"),
        "staff dashboard": (staff_client, "/dashboard/"),
        "client portal": (contact_client, "/portal/"),
    }
    timings: dict[str, list[float]] = {name: [] for name in pages}
    queries: dict[str, int] = {}
    with override_settings(ROOT_URLCONF="bench.pages_urls"):
        for name, (client, url) in pages.items():  # warm up, and count queries once
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200, name
            queries[name] = len(captured.captured_queries)
        for _ in range(rounds):
            for name, (client, url) in pages.items():
                started = time.perf_counter()
                client.get(url)
                timings[name].append((time.perf_counter() - started) * 1000)
    results = {}
    for name, values in timings.items():
        values.sort()
        results[name] = {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(values[int(len(values) * 0.95) - 1], 2),
            "queries": queries[name],
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    database("create")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            setup_django(Path(tmp))
            staff, contact = build(args.clients)
            results = measure(staff, contact, args.requests)
    finally:
        from django.db import connections

        connections.close_all()
        database("drop")
    base = results["trivial view"]["p50_ms"]
    for name, figures in results.items():
        print(
            f"{name:<16} p50 {figures['p50_ms']:>8.2f} ms  p95 {figures['p95_ms']:>8.2f} ms  "
            f"{figures['p50_ms'] / base:>6.1f}× the trivial view  {figures['queries']} queries"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pages.json").write_text(json.dumps({"clients": args.clients, "pages": results}, indent=2))


if __name__ == "__main__":
    main()
