#!/usr/bin/env python
"""Low-balance sweep benchmark (PostgreSQL and Redis).

    .venv/bin/python bench/low_balance_sweep.py [--sizes 10000,100000] [--flagged 200] [--database-url URL]

1. Selection: builds agreements with ~20 ledger rows each, 1 % at or below
   their threshold, and times the sweep's candidate query (the ORM queryset
   `notifications.services.low_balance_candidates`) against the same
   selection written by hand in SQL, interleaved in one run, at each size.
   Reported as absolute times (target ≤ 5 ms at 100,000 agreements), with
   the query's execution time inside PostgreSQL and the same selection in
   SQL as the baseline; flat as the total grows (the partial indexes
   `agreement_low_balance_idx` and `block_on_the_way_idx` mean only low
   agreements and unpaid blocks are read).
2. End to end: `--flagged` agreements under their threshold, swept once;
   real Celery workers on Redis raise each reload invoice, render its PDF and
   email it to a local SMTP server (aiosmtpd). Timed with one worker process
   and with two; every recipient must receive exactly one email.

Uses a throw-away database (--database-url; default `blockhours_bench` on the
server of BENCH_POSTGRES_URL, postgres://postgres@127.0.0.1:5432), dropped at the end.
Results are printed and written to bench/results/low_balance_sweep.json.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "blockhours_bench"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


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


def setup_django(workdir: Path) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "blockhours.settings",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-not-for-production",
        "SITE_URL": "http://127.0.0.1:8000",
        "DATABASE_URL": f"{SERVER_URL}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "BLOCKHOURS_VAR_DIR": str(workdir),
        "MEDIA_ROOT": str(workdir / "media"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


# ---------------------------------------------------------------------------
# 1. Selection


def grow_to(total: int) -> None:
    """Add agreements (one client and one 30-h block each, 20 ledger rows) up to `total`.

    Written in SQL with generate_series: the point is the query on a big
    table, not how fast Python makes rows. Every 100th agreement ends at or
    below its threshold; the cached balance equals the ledger sum.
    """
    from django.db import connection

    from agreements.models import Agreement, Block, Client, LedgerEntry
    from bench.seed import insert_select

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM agreements_agreement")
        start = cursor.fetchone()[0]
        if start >= total:
            return
        params = {"start": start, "total": total}
        insert_select(
            cursor,
            Client,
            {"name": "'Bench client ' || n", "hourly_rate": "100", "currency": "'USD'", "created_at": "now()"},
            "FROM generate_series(%(start)s + 1, %(total)s) AS n",
            params,
        )
        insert_select(
            cursor,
            Agreement,
            {
                "client_id": "c.id",
                "starts_on": "current_date - 365",
                "balance_minutes": "CASE WHEN c.id %% 100 = 0 THEN 1800 - 19 * 90 ELSE 1800 - 19 * 30 END",
                # Each gets a credited block below: it has had hours (the services set this).
                "has_had_hours": "true",
                "created_at": "now()",
            },
            "FROM agreements_client c WHERE c.name LIKE 'Bench client %%' AND c.id > ("
            "SELECT coalesce(max(client_id), 0) FROM agreements_agreement)",
            params,
        )
        insert_select(
            cursor,
            Block,
            {
                "agreement_id": "a.id",
                "minutes": "1800",
                "minutes_left": "a.balance_minutes",
                "rate": "90",
                "amount": "2700",
                "currency": "'USD'",
                "starts_on": "current_date - 365",
                "paid_at": "now()",
                "credited_at": "now()",
                "created_at": "now()",
            },
            "FROM agreements_agreement a "
            "WHERE NOT EXISTS (SELECT 1 FROM agreements_block b WHERE b.agreement_id = a.id)",
            params,
        )
        insert_select(
            cursor,
            LedgerEntry,
            {
                "agreement_id": "b.agreement_id",
                "block_id": "b.id",
                "kind": "'purchase'",
                "minutes": "1800",
                "created_at": "now()",
            },
            "FROM agreements_block b WHERE NOT EXISTS (SELECT 1 FROM agreements_ledgerentry l WHERE l.block_id = b.id)",
            params,
        )
        insert_select(
            cursor,
            LedgerEntry,
            {
                "agreement_id": "b.agreement_id",
                "block_id": "b.id",
                "kind": "'debit'",
                "minutes": "CASE WHEN a.client_id %% 100 = 0 THEN -90 ELSE -30 END",
                "created_at": "now()",
            },
            # The blocks not debited yet (those added above). NOT EXISTS plans as
            # one anti-join; a count per block ran a scan of the ledger for each
            # of the 1,900,000 rows (over 30 minutes at 100,000 agreements).
            "FROM agreements_block b JOIN agreements_agreement a ON a.id = b.agreement_id "
            "CROSS JOIN generate_series(1, 19) "
            "WHERE NOT EXISTS (SELECT 1 FROM agreements_ledgerentry l WHERE l.block_id = b.id AND l.kind = 'debit')",
            params,
        )
        cursor.execute("ANALYZE")


# The same selection as the ORM's (has had hours, none on the way, no open
# episode), so the two differ only by Django's query building.
HAND_WRITTEN_SQL = """
    SELECT a.id FROM agreements_agreement a
    WHERE a.status = 'active' AND a.has_had_hours AND a.balance_minutes <= a.low_balance_threshold_minutes
      AND NOT EXISTS (SELECT 1 FROM agreements_block b
                      WHERE b.agreement_id = a.id AND b.credited_at IS NULL AND b.cancelled_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM notifications_episode e
                      WHERE e.agreement_id = a.id AND e.kind = 'low_balance' AND e.closed_at IS NULL)
    ORDER BY a.id
"""


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def time_selection(rounds: int = 25) -> dict[str, float]:
    from django.db import connection

    from notifications.services import low_balance_candidates

    def orm() -> list[int]:
        return list(low_balance_candidates().values_list("pk", flat=True))

    def sql() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(HAND_WRITTEN_SQL)
            return [row[0] for row in cursor.fetchall()]

    def server_ms() -> float:
        """The ORM query's execution time inside PostgreSQL (EXPLAIN ANALYZE)."""
        query, params = low_balance_candidates().values_list("pk", flat=True).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params)
            return cursor.fetchone()[0][0]["Execution Time"]

    assert orm() == sql(), "the ORM and the SQL must select the same agreements"
    timings: dict[str, list[float]] = {"orm": [], "sql": []}
    for _ in range(rounds):  # interleaved, so noise hits both alike
        for name, query in (("orm", orm), ("sql", sql)):
            started = time.perf_counter()
            query()
            timings[name].append((time.perf_counter() - started) * 1000)
    # Whether the query can use the partial indexes (its filter implies their
    # conditions): asked with sequential scans off, because at a tiny size the
    # planner rightly reads a table of 100 rows instead.
    from django.db import transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = low_balance_candidates().values("pk").explain()
    return {
        "selected": len(orm()),
        "orm_ms": statistics.median(timings["orm"]),
        "sql_ms": statistics.median(timings["sql"]),
        "server_ms": statistics.median(server_ms() for _ in range(5)),
        "uses_partial_index": "agreement_low_balance_idx" in plan,
        "uses_on_the_way_index": "block_on_the_way_idx" in plan,
        "load_average": load_average(),
    }


# ---------------------------------------------------------------------------
# 2. End to end with real workers


def make_flagged(count: int) -> None:
    """`count` clients each with a billing address and an agreement at 1 h left."""
    from django.utils import timezone

    from accounts.models import Role, User
    from agreements import services as agreement_services
    from agreements.models import Agreement, Client, Tier, WorkType
    from billing.models import SellerProfile

    SellerProfile.objects.update_or_create(
        pk=1, defaults={"name": "Bench MSP", "email": "billing@bench-msp.example", "payment_terms_days": 15}
    )
    technician, _ = User.objects.get_or_create(username="bench-tech", defaults={"role": Role.TECHNICIAN})
    User.objects.get_or_create(
        username="bench-owner", defaults={"role": Role.STAFF, "email": "owner@bench-msp.example"}
    )
    normal = WorkType.objects.get(name="Normal")
    ten_hours = Tier.objects.get(hours=10)
    today = timezone.localdate()
    for n in range(count):
        client = Client.objects.create(name=f"Flagged {n}", billing_email=f"ap{n}@flagged.example")
        agreement = Agreement.objects.create(client=client, starts_on=today, reload_tier=ten_hours)
        block = agreement_services.block_sell(agreement=agreement, tier=ten_hours, actor=None)
        agreement_services.block_credit(block=block)
        ticket = agreement_services.ticket_get_or_create(client=client, number="1", subject="Bench")
        agreement_services.time_entry_log(
            agreement=agreement, technician=technician, ticket=ticket, work_date=today, minutes=540, work_type=normal
        )


def run_end_to_end(env: dict[str, str], workdir: Path, processes: int, flagged: int) -> dict[str, object]:
    import socket

    from aiosmtpd.controller import Controller

    from notifications import services
    from notifications.models import EmailStatus, Episode, OutgoingEmail
    from notifications.tasks import process_episode, send_email

    received: list[str] = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.extend(envelope.rcpt_tos)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    smtp = Controller(Inbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    worker_env = {
        **os.environ,
        **env,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
    }
    log = open(workdir / f"worker-{processes}.log", "w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "blockhours",
            "worker",
            "--pool=prefork",
            f"--concurrency={processes}",
            "-Q",
            env["CELERY_TASK_DEFAULT_QUEUE"],
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(4)  # let the worker connect before the clock starts
        started = time.perf_counter()
        services.sweep(process=lambda pk: process_episode.delay(pk), send=lambda pk: send_email.delay(pk))
        expected = flagged * 2  # the client's billing address and the MSP owner
        while OutgoingEmail.objects.filter(status=EmailStatus.SENT).count() < expected:
            if time.perf_counter() - started > 600:
                raise TimeoutError("the workers did not finish within 10 minutes")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()
        smtp.stop()
    per_client = [r for r in received if r.startswith("ap")]
    return {
        "processes": processes,
        "seconds": round(elapsed, 2),
        "episodes": Episode.objects.count(),
        "emails_received": len(received),
        "every_client_once": sorted(per_client) == sorted(set(per_client)) and len(per_client) == flagged,
        "owner_emails": received.count("owner@bench-msp.example"),
    }


def main() -> None:
    global SERVER_URL, DB_NAME
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--flagged", type=int, default=200, help="0 skips the end-to-end part")
    parser.add_argument(
        "--database-url",
        default=f"{SERVER_URL}/{DB_NAME}",
        help="a throw-away database: dropped, re-created and dropped again",
    )
    args = parser.parse_args()
    SERVER_URL, DB_NAME = args.database_url.rsplit("/", 1)
    sizes = [int(size) for size in args.sizes.split(",")]

    recreate_database()
    results: dict[str, object] = {"selection": [], "end_to_end": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = setup_django(workdir)
        try:
            for size in sizes:
                grow_to(size)
                figures = time_selection()
                figures["agreements"] = size
                figures["ratio"] = round(figures["orm_ms"] / figures["sql_ms"], 2)
                results["selection"].append(figures)
                print(
                    f"selection at {size:>7} agreements ({figures['selected']} low): ORM {figures['orm_ms']:.2f} ms "
                    f"(of which {figures['server_ms']:.2f} ms in PostgreSQL), "
                    f"same selection in SQL {figures['sql_ms']:.2f} ms, ratio {figures['ratio']}, "
                    f"partial indexes used: {figures['uses_partial_index']}/{figures['uses_on_the_way_index']}, "
                    f"load {figures['load_average']}"
                )
            # End to end on a fresh database holding only the flagged agreements.
            from django.db import connections

            connections.close_all()
            for processes in (1, 2) if args.flagged else ():
                recreate_database()
                connections.close_all()
                from django.core.management import call_command

                call_command("migrate", verbosity=0)
                make_flagged(args.flagged)
                figures = run_end_to_end(env, workdir, processes, args.flagged)
                results["end_to_end"].append(figures)
                figures["load_average"] = load_average()
                print(
                    f"end to end, {args.flagged} flagged agreements, {processes} worker process(es): "
                    f"{figures['seconds']} s; emails received {figures['emails_received']}, "
                    f"every client exactly once: {figures['every_client_once']}, load {figures['load_average']}"
                )
                connections.close_all()
        finally:
            drop_database()
    if results["end_to_end"]:
        one, two = (run["seconds"] for run in results["end_to_end"])
        results["two_workers_speedup"] = round(one / two, 2)
        print(f"two worker processes vs one: {results['two_workers_speedup']}× faster")
    from bench.seed import results_dir

    out = results_dir()
    (out / "low_balance_sweep.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
