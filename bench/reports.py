#!/usr/bin/env python
"""Reports benchmark (PostgreSQL): deferred revenue and usage at scale.

    .venv/bin/python bench/reports.py [--agreements 100000] [--rounds 7] [--database-url URL]

Builds `--agreements` clients, each with one agreement, two blocks (30 h at
$90, 10 h at $100), 18 time entries spread over the last year (normal,
after-hours, emergency and non-billable work by 20 technicians) and 20
ledger rows (2 purchases, 18 debits tied to their time entries): 2,000,000
ledger rows at 100,000 agreements. Written in SQL with generate_series.

Then times, interleaved in one run, each report's selector (the ORM code the
pages call, Python objects included) against the same figures written by
hand in SQL (rows fetched into Python tuples):
- deferred revenue per client as of today (one row per client),
- usage by client for one month, and by work type for twelve months.
Target: ORM ≤ 2× the SQL. Both must return the same figures.

Uses a throw-away database `blockhours_bench_reports` on the server of
BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432), dropped at
the end. Results: printed and written to bench/results/reports.json.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "blockhours_bench_reports"


def recreate_database() -> None:
    import psycopg

    sys.path.insert(0, str(ROOT))
    from bench.seed import create_database_sql

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(create_database_sql(DB_NAME))


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def setup_django(workdir: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "blockhours.settings",
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-not-for-production",
            "SITE_URL": "http://127.0.0.1:8000",
            "DATABASE_URL": f"{SERVER_URL}/{DB_NAME}",
            "BLOCKHOURS_VAR_DIR": str(workdir),
            "LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "false",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate(total: int) -> dict[str, int]:
    from django.db import connection

    from accounts.models import User
    from agreements.models import Agreement, Block, Client, LedgerEntry, Ticket, TimeEntry
    from bench.seed import insert_select

    with connection.cursor() as cursor:
        params = {"total": total}
        insert_select(
            cursor,
            User,
            {
                "password": "'!'",
                "username": "'tech' || n",
                "first_name": "'Tech'",
                "last_name": "'No ' || n",
                "email": "'tech' || n || '@msp.example'",
                "date_joined": "now()",
                "role": "'technician'",
            },
            "FROM generate_series(1, 20) AS n",
        )
        insert_select(
            cursor,
            Client,
            {
                "name": "'Bench client ' || lpad(n::text, 7, '0')",
                "hourly_rate": "100",
                "currency": "'USD'",
                "created_at": "now()",
            },
            "FROM generate_series(1, %(total)s) AS n",
            params,
        )
        insert_select(
            cursor,
            Agreement,
            {"client_id": "c.id", "starts_on": "current_date - 400", "balance_minutes": "0", "created_at": "now()"},
            "FROM agreements_client c",
        )
        insert_select(
            cursor,
            Ticket,
            {"client_id": "c.id", "number": "'T-1'", "subject": "'Bench ticket'", "created_at": "now()"},
            "FROM agreements_client c",
        )
        # Two blocks each: 1,800 min at $90 (a year ago), 600 min at $100 (half a year ago).
        insert_select(
            cursor,
            Block,
            {
                "agreement_id": "a.id",
                "minutes": "s.minutes",
                "minutes_left": "0",
                "rate": "s.rate",
                "amount": "s.rate * s.minutes / 60",
                "currency": "'USD'",
                "starts_on": "current_date - s.age",
                "paid_at": "now() - s.age * interval '1 day'",
                "credited_at": "now() - s.age * interval '1 day'",
                "created_at": "now() - s.age * interval '1 day'",
            },
            "FROM agreements_agreement a "
            "CROSS JOIN (VALUES (1800, 90.00, 365), (600, 100.00, 182)) AS s(minutes, rate, age)",
        )
        insert_select(
            cursor,
            LedgerEntry,
            {
                "agreement_id": "b.agreement_id",
                "block_id": "b.id",
                "kind": "'purchase'",
                "minutes": "b.minutes",
                "created_at": "b.credited_at",
            },
            "FROM agreements_block b",
        )
        # 18 entries a client, every 20 days back from today; work types in turn.
        insert_select(
            cursor,
            TimeEntry,
            {
                "agreement_id": "a.id",
                "ticket_id": "t.id",
                "technician_id": "(SELECT min(id) FROM accounts_user WHERE role = 'technician') + (a.id + k) %% 20",
                "work_date": "current_date - k * 20",
                "minutes": "60",
                "work_type_id": "w.id",
                "charged_minutes": "(60 * w.multiplier)::int",
                "created_at": "now() - k * 20 * interval '1 day'",
            },
            """FROM agreements_agreement a
            JOIN agreements_ticket t ON t.client_id = a.client_id
            CROSS JOIN generate_series(0, 17) AS k
            JOIN LATERAL (
                SELECT id, multiplier FROM agreements_worktype ORDER BY multiplier, name
                OFFSET (a.id + k) %% 4 LIMIT 1
            ) w ON true""",
            params,
        )
        # One debit per entry (the non-billable ones charge nothing, so a purchase-sized debit stands in
        # to keep 20 rows an agreement): older entries from the first block, newer from the second.
        insert_select(
            cursor,
            LedgerEntry,
            {
                "agreement_id": "e.agreement_id",
                "block_id": "b.id",
                "kind": "'debit'",
                "minutes": "-greatest(e.charged_minutes, 1)",
                "time_entry_id": "e.id",
                "created_at": "e.created_at",
            },
            """FROM agreements_timeentry e
            JOIN agreements_block b ON b.agreement_id = e.agreement_id
                AND b.minutes = CASE WHEN e.work_date < current_date - 182 THEN 1800 ELSE 600 END""",
            params,
        )
        cursor.execute("ANALYZE")
        counts = {}
        for table in ("agreements_agreement", "agreements_ledgerentry", "agreements_timeentry"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608  # nosec B608
            counts[table] = cursor.fetchone()[0]
    return counts


DEFERRED_SQL = """
    SELECT c.id, c.name, b.currency, sum(l.minutes),
           sum(l.minutes * round(b.rate * 100))::bigint
    FROM agreements_ledgerentry l
    JOIN agreements_block b ON b.id = l.block_id
    JOIN agreements_agreement a ON a.id = l.agreement_id
    JOIN agreements_client c ON c.id = a.client_id
    WHERE l.created_at < %(end)s
    GROUP BY c.id, c.name, b.currency
    HAVING sum(l.minutes) <> 0
    ORDER BY c.name, b.currency
"""

USAGE_BY_CLIENT_SQL = """
    SELECT date_trunc('month', t.work_date)::date, c.id, c.name, count(*),
           coalesce(sum(t.minutes) FILTER (WHERE w.multiplier > 0), 0),
           coalesce(sum(t.charged_minutes), 0),
           coalesce(sum(t.minutes) FILTER (WHERE w.multiplier <= 0), 0)
    FROM agreements_timeentry t
    JOIN agreements_agreement a ON a.id = t.agreement_id
    JOIN agreements_client c ON c.id = a.client_id
    JOIN agreements_worktype w ON w.id = t.work_type_id
    WHERE t.voided_at IS NULL AND t.work_date BETWEEN %(first)s AND %(last)s
    GROUP BY 1, c.id, c.name
    ORDER BY 1, c.name
"""

USAGE_BY_TYPE_SQL = """
    SELECT date_trunc('month', t.work_date)::date, w.id, w.name, count(*),
           coalesce(sum(t.minutes) FILTER (WHERE w.multiplier > 0), 0),
           coalesce(sum(t.charged_minutes), 0),
           coalesce(sum(t.minutes) FILTER (WHERE w.multiplier <= 0), 0)
    FROM agreements_timeentry t
    JOIN agreements_worktype w ON w.id = t.work_type_id
    WHERE t.voided_at IS NULL AND t.work_date BETWEEN %(first)s AND %(last)s
    GROUP BY 1, w.id, w.name
    ORDER BY 1, w.name
"""


def _sql(query: str, params: dict) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def compare(name: str, orm, sql, same, rounds: int) -> dict[str, object]:
    orm_rows, sql_rows = orm(), sql()
    assert same(orm_rows, sql_rows), f"{name}: the ORM and the SQL disagree"
    timings: dict[str, list[float]] = {"orm": [], "sql": []}
    for _ in range(rounds):  # interleaved, so noise hits both alike
        for label, query in (("orm", orm), ("sql", sql)):
            started = time.perf_counter()
            query()
            timings[label].append((time.perf_counter() - started) * 1000)
    orm_ms, sql_ms = statistics.median(timings["orm"]), statistics.median(timings["sql"])
    result = {"rows": len(sql_rows), "orm_ms": round(orm_ms, 1), "sql_ms": round(sql_ms, 1)}
    result["ratio"] = round(orm_ms / sql_ms, 2)
    print(f"  {name:<28} {result['rows']:>8} rows   ORM {orm_ms:8.1f} ms   SQL {sql_ms:8.1f} ms   × {result['ratio']}")
    return result


def run(rounds: int) -> dict[str, object]:
    from django.utils import timezone

    from reports import selectors

    today = timezone.localdate()
    end = selectors.day_end(today)
    month_first = selectors.add_months(today, -1)
    month_last = selectors.add_months(today, 0) - datetime.timedelta(days=1)
    year_first = selectors.add_months(today, -11)
    results = {}
    results["deferred_revenue"] = compare(
        "deferred revenue, per client",
        lambda: selectors.deferred_revenue(as_of=today).rows,
        lambda: _sql(DEFERRED_SQL, {"end": end}),
        lambda o, s: [(r.client_id, r.minutes, r.cent_minutes) for r in o] == [(x[0], x[3], x[4]) for x in s],
        rounds,
    )
    results["usage_by_client_month"] = compare(
        "usage by client, one month",
        lambda: selectors.usage(first=month_first, last=month_last, by="client"),
        lambda: _sql(USAGE_BY_CLIENT_SQL, {"first": month_first, "last": month_last}),
        lambda o, s: (
            [(r.label, r.charged_minutes, r.non_billable_minutes) for r in o] == [(x[2], x[5], x[6]) for x in s]
        ),
        rounds,
    )
    results["usage_by_work_type_year"] = compare(
        "usage by work type, 12 months",
        lambda: selectors.usage(first=year_first, last=today, by="work_type"),
        lambda: _sql(USAGE_BY_TYPE_SQL, {"first": year_first, "last": today}),
        lambda o, s: [(r.label, r.charged_minutes, r.worked_minutes) for r in o] == [(x[2], x[5], x[4]) for x in s],
        rounds,
    )
    return results


def main() -> None:
    global SERVER_URL, DB_NAME
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--database-url",
        default=f"{SERVER_URL}/{DB_NAME}",
        help="a throw-away database: dropped, re-created and dropped again",
    )
    args = parser.parse_args()
    SERVER_URL, DB_NAME = args.database_url.rsplit("/", 1)
    import tempfile

    recreate_database()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            setup_django(Path(workdir))
            started = time.perf_counter()
            counts = generate(args.agreements)
            print(f"generated {counts} in {time.perf_counter() - started:.0f} s")
            results = {"counts": counts, **run(args.rounds)}
    finally:
        drop_database()
    from bench.seed import results_dir

    out = results_dir() / "reports.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
