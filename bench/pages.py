#!/usr/bin/env python
"""Page benchmark: the staff dashboard, the client portal and the API's lists at 10k clients.

    .venv/bin/python bench/pages.py [--clients 10000] [--requests 40] [--database-url URL]
                                    [--jit on] [--without-list-indexes] [--keep] [--reuse]

Builds a throw-away PostgreSQL database `blockhours_bench_pages` (dropped at
the end) with N clients, each with an agreement, a credited 30-h block,
a ticket and time entries over the last 8 weeks (so every runway is known),
then requests, in one process and interleaved so noise hits all alike:
a trivial Django view (the baseline), the staff dashboard, one client's
portal home and, as staff, the first page (50 rows) of each API list the
seed fills: time entries, tickets, agreements, clients. Prints p50/p95 per
page, their ratio to the baseline and each page's query count. Results go
to bench/results/pages.json.

Two switches measure the state before two changes in the same code:
`--jit on` turns PostgreSQL's JIT back on for the app's connections (the
settings turn it off), `--without-list-indexes` drops the indexes matching
the API lists' order (migrations `*_list_ordering_indexes`) after migrating.

`--keep` leaves the database in place at the end (to EXPLAIN the pages'
queries by hand, or to measure again); `--reuse` measures a database kept
that way without seeding it again (it is migrated first, so a "before" seed
measures an "after" branch too). The client count printed is the one given.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "blockhours_bench_pages"


def database(action: str) -> bool:
    """Drop the database, and with "create" make it afresh; "exists" only asks whether it is there."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    from bench.seed import create_database_sql

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if action == "exists":
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is not None
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if action == "create":
            conn.execute(create_database_sql(DB_NAME))
    return True


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
        API_THROTTLE_RATE="1000000/min",  # one token makes every API request here; the limit is not measured
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Production pages use hashed static names, so the manifest storage; the compressed copies
    # WhiteNoise also writes (most of collectstatic's time) play no part in rendering a page.
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)


LIST_ORDER_INDEXES = [
    "timeentry_list_order_idx",
    "ticket_list_order_idx",
    "invoice_list_order_idx",
    "creditnote_list_order_idx",
]


def toggle(*, jit: str, list_indexes: bool) -> None:
    """The "before" switches: JIT back on for the app's connections, the list-order indexes dropped."""
    from django.db import connection

    if jit == "on":
        # Each request closes the connection (CONN_MAX_AGE 0); the next one opens with these options.
        connection.settings_dict["OPTIONS"]["options"] = "-c jit=on"
        connection.close()
    if not list_indexes:
        with connection.cursor() as cursor:
            for name in LIST_ORDER_INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


# Agreements differ as they do in life: blocks of 30 to 126 hours, 15 to 120
# minutes logged a week (so balances and runways spread instead of 10,000
# ties, which a list ordered by runway, then client name, must read in full).
# Both from the client's id, which every seeded row can reach.
BLOCK = "(1800 + 60 * mod({client}, 97))"
HOURLY = "(15 * (1 + mod({client}, 8)))"


def build(clients: int) -> tuple[object, object]:
    """SQL with generate_series for the bulk; the ORM for the two users who sign in."""
    from django.db import connection

    from accounts.models import Role, User
    from agreements.models import Agreement, Block, Client, ClientContact, LedgerEntry, Ticket, TimeEntry
    from agreements.runway import burn_recompute
    from bench.seed import insert_select

    technician = User.objects.create(username="bench-tech", role=Role.TECHNICIAN)
    params = {"n": clients, "tech": technician.pk}
    with connection.cursor() as cursor:
        insert_select(
            cursor,
            Client,
            {"name": "'Client ' || n", "hourly_rate": "100", "currency": "'USD'", "created_at": "now()"},
            "FROM generate_series(1, %(n)s) AS n",
            params,
        )
        insert_select(
            cursor,
            Agreement,
            {
                "client_id": "c.id",
                "starts_on": "current_date - 365",
                "balance_minutes": f"{BLOCK} - 8 * {HOURLY}".format(client="c.id"),
            },
            "FROM agreements_client c",
        )
        insert_select(
            cursor,
            Block,
            {
                "agreement_id": "a.id",
                "minutes": BLOCK.format(client="a.client_id"),
                "minutes_left": f"{BLOCK} - 8 * {HOURLY}".format(client="a.client_id"),
                "rate": "90",
                "amount": "2700",
                "currency": "'USD'",
                "starts_on": "current_date - 365",
                "paid_at": "now()",
                "credited_at": "now()",
                "created_at": "now()",
            },
            "FROM agreements_agreement a",
        )
        insert_select(
            cursor,
            Ticket,
            {"client_id": "c.id", "number": "'1'", "subject": "'Bench ticket'", "created_at": "now()"},
            "FROM agreements_client c",
        )
        insert_select(
            cursor,
            TimeEntry,
            {
                "agreement_id": "a.id",
                "ticket_id": "t.id",
                "technician_id": "%(tech)s",
                "work_date": "current_date - 7 * w",
                "minutes": HOURLY.format(client="a.client_id"),
                "work_type_id": "(SELECT id FROM agreements_worktype WHERE name = 'Normal')",
                "charged_minutes": HOURLY.format(client="a.client_id"),
                "created_at": "now()",
            },
            "FROM agreements_agreement a JOIN agreements_ticket t ON t.client_id = a.client_id "
            "CROSS JOIN generate_series(0, 7) AS w",
            params,
        )
        insert_select(
            cursor,
            LedgerEntry,
            {"agreement_id": "b.agreement_id", "block_id": "b.id", "kind": "'purchase'", "minutes": "b.minutes"},
            "FROM agreements_block b",
        )
        insert_select(
            cursor,
            LedgerEntry,
            {
                "agreement_id": "e.agreement_id",
                "block_id": "b.id",
                "kind": "'debit'",
                "minutes": "-e.charged_minutes",
                "time_entry_id": "e.id",
            },
            "FROM agreements_timeentry e JOIN agreements_block b ON b.agreement_id = e.agreement_id",
        )
    # The nightly recount of the cached burn rates (agreements.runway), as beat runs it.
    burn_recompute()
    # VACUUM as autovacuum would after a bulk load: the recount above leaves a
    # dead row version (and index entry, burn_computed_on NULL) for every agreement, which
    # `burn_refresh_stale`'s index lookup would read on every page until then.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    staff = User.objects.create(username="bench-staff", role=Role.STAFF)
    contact = User.objects.create(username="bench-contact", role=Role.CLIENT)
    ClientContact.objects.create(user=contact, client=Client.objects.get(name="Client 1"))
    return staff, contact


def measure(staff, contact, rounds: int) -> dict[str, dict[str, float]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from api.services import token_create

    staff_client, contact_client, anonymous = Client(), Client(), Client()
    staff_client.force_login(staff)
    contact_client.force_login(contact)
    # The API as integrations call it: with a token (a session would also ask for CSRF on writes).
    api = Client(headers={"Authorization": f"Token {token_create(user=staff, name='bench', actor=staff).key}"})
    pages = {
        "trivial view": (anonymous, "/bench/trivial/"),
        "staff dashboard": (staff_client, "/dashboard/"),
        "client portal": (contact_client, "/portal/"),
        "API time entries": (api, "/api/v1/time-entries/"),
        "API tickets": (api, "/api/v1/tickets/"),
        "API agreements": (api, "/api/v1/agreements/"),
        "API clients": (api, "/api/v1/clients/"),
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
                response = client.get(url)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, name
    with connection.cursor() as cursor:  # what the app's connections ran with, as the switches left them
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = ANY(%s)", [LIST_ORDER_INDEXES])
        list_indexes = cursor.fetchone()[0]
    print(f"jit {jit}, {list_indexes} of {len(LIST_ORDER_INDEXES)} list-order indexes", flush=True)
    results = {}
    for name, values in timings.items():
        values.sort()
        results[name] = {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(values[math.ceil(len(values) * 0.95) - 1], 2),  # nearest rank
            "queries": queries[name],
        }
    return results


def main() -> None:
    global SERVER_URL, DB_NAME
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--jit", choices=["off", "on"], default="off", help="on: as before jit=off was set")
    parser.add_argument(
        "--without-list-indexes", action="store_true", help="drop the list-order indexes: as before they existed"
    )
    parser.add_argument(
        "--database-url",
        default=f"{SERVER_URL}/{DB_NAME}",
        help="a throw-away database: dropped, re-created and dropped again (unless --keep or --reuse)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the database in place at the end")
    parser.add_argument("--reuse", action="store_true", help="measure a database left by --keep, without seeding")
    args = parser.parse_args()
    SERVER_URL, DB_NAME = args.database_url.rsplit("/", 1)
    reuse = args.reuse and database("exists")
    if not reuse:
        database("create")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            setup_django(Path(tmp))
            toggle(jit=args.jit, list_indexes=not args.without_list_indexes)
            if reuse:
                from accounts.models import User

                staff, contact = User.objects.get(username="bench-staff"), User.objects.get(username="bench-contact")
            else:
                staff, contact = build(args.clients)
            results = measure(staff, contact, args.requests)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep or args.reuse):
            database("drop")
    base = results["trivial view"]["p50_ms"]
    for name, figures in results.items():
        print(
            f"{name:<18} p50 {figures['p50_ms']:>8.2f} ms  p95 {figures['p95_ms']:>8.2f} ms  "
            f"{figures['p50_ms'] / base:>6.1f}× the trivial view  {figures['queries']} queries"
        )
    from bench.seed import results_dir

    out = results_dir()
    settings = {"jit": args.jit, "list_order_indexes": not args.without_list_indexes}
    (out / "pages.json").write_text(
        json.dumps({"clients": args.clients, "requests": args.requests, **settings, "pages": results}, indent=2)
    )


if __name__ == "__main__":
    main()
