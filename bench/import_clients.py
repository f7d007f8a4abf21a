#!/usr/bin/env python
"""Client import benchmark: a file of N rows imported (parse, dry-run check
against the database, write through the agreements services) against a bare
bulk insert of the same rows (clients, contacts, agreements, blocks, ledger
entries built in memory and inserted with bulk_create, no checks).

    .venv/bin/python bench/import_clients.py [--rows 10000] [--runs 3] [--database-url URL]

Each run times both, interleaved, each inside a transaction rolled back
afterwards, so every run starts from the same empty tables. Default database:
a throw-away `blockhours_bench_import` on BENCH_POSTGRES_URL
(postgres://postgres@127.0.0.1:5432), dropped at the end; `--database-url
sqlite:///path` works too. Results: bench/results/import_clients.json.
"""

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_IMPORT_DB", "blockhours_bench_import")


def setup_django(database_url: str, workdir: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "blockhours.settings",
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-not-for-production",
            "SITE_URL": "http://127.0.0.1:8000",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "CACHE_URL": "",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": "",
            "BLOCKHOURS_VAR_DIR": str(workdir),
            "LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "false",
            "IMPORT_MAX_ROWS": "1000000",
            "IMPORT_MAX_BYTES": str(1024**3),
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_file(rows: int) -> bytes:
    from imports.parsing import COLUMN_NAMES

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    for n in range(rows):
        writer.writerow(
            [
                f"BENCH-{n}",
                f"Bench client {n}",
                f"ap{n}@client{n}.example",
                f"Contact {n} <contact{n}@client{n}.example>",
                "USD",
                "en",
                "100.00",
                "Prepaid support hours",
                "2026-01-01",
                "none",
                "2:00",
                "reject",
                f"{n % 40 + 1}:{n % 60:02d}",
                "90.00",
                "",
            ]
        )
    return out.getvalue().encode()


def bare_insert(rows: int) -> None:
    """The same rows, built in memory and bulk-inserted without any check."""
    import datetime

    from django.utils import timezone

    from accounts.models import Role, User
    from agreements.models import Agreement, Block, Client, ClientContact, LedgerEntry, LedgerKind
    from imports.models import ImportKey

    now = timezone.now()
    clients = Client.objects.bulk_create(
        [
            Client(name=f"Bench client {n}", billing_email=f"ap{n}@client{n}.example", currency="USD", language="en")
            for n in range(rows)
        ],
        batch_size=1000,
    )
    users = []
    for n in range(rows):
        user = User(username=f"contact{n}@client{n}.example", email=f"contact{n}@client{n}.example", role=Role.CLIENT)
        user.set_unusable_password()
        users.append(user)
    users = User.objects.bulk_create(users, batch_size=1000)
    ClientContact.objects.bulk_create(
        [ClientContact(user=u, client=c) for u, c in zip(users, clients, strict=True)], batch_size=1000
    )
    minutes = [(n % 40 + 1) * 60 + n % 60 for n in range(rows)]
    agreements = Agreement.objects.bulk_create(
        [
            Agreement(client=c, starts_on=datetime.date(2026, 1, 1), position=1, balance_minutes=m)
            for c, m in zip(clients, minutes, strict=True)
        ],
        batch_size=1000,
    )
    ImportKey.objects.bulk_create(
        [ImportKey(external_id=f"BENCH-{n}", agreement=a) for n, a in enumerate(agreements)], batch_size=1000
    )
    blocks = Block.objects.bulk_create(
        [
            Block(
                agreement=a,
                minutes=m,
                minutes_left=m,
                rate=Decimal("90.00"),
                amount=(Decimal(90) * m / 60).quantize(Decimal("0.01")),
                currency="USD",
                starts_on=datetime.date(2026, 1, 1),
                paid_at=now,
                credited_at=now,
            )
            for a, m in zip(agreements, minutes, strict=True)
        ],
        batch_size=1000,
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(agreement=b.agreement, block=b, kind=LedgerKind.OPENING_BALANCE, minutes=b.minutes)
            for b in blocks
        ],
        batch_size=1000,
    )


def timed(function, *args) -> float:
    from django.db import transaction

    start = time.perf_counter()
    with transaction.atomic():
        function(*args)
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="")
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "bench" / "results"))
    parser.add_argument("--results", default=str(results_dir / "import_clients.json"))
    args = parser.parse_args()
    throwaway = not args.database_url
    if throwaway:
        import psycopg

        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    database_url = args.database_url or f"{SERVER_URL}/{DB_NAME}"
    try:
        with tempfile.TemporaryDirectory() as workdir:
            setup_django(database_url, Path(workdir))
            from django.db import connection

            from imports.services import import_apply

            data = make_file(args.rows)
            load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            print(f"{args.rows} rows, {len(data) / 1024 / 1024:.1f} MB, {connection.vendor}; load: {load}")
            runs = []
            for run in range(1, args.runs + 1):
                bare = timed(bare_insert, args.rows)
                imported = timed(lambda: import_apply(data=data, actor=None))
                ratio = imported / bare
                runs.append({"bare_s": round(bare, 3), "import_s": round(imported, 3), "ratio": round(ratio, 2)})
                print(
                    f"run {run}: import {imported:.2f} s ({imported / args.rows * 1000:.2f} ms/row), "
                    f"bare bulk insert {bare:.2f} s, ratio {ratio:.2f}"
                )
            median = statistics.median(r["ratio"] for r in runs)
            print(f"median ratio {median:.2f}")
            results = {
                "rows": args.rows,
                "database": connection.vendor,
                "load": load,
                "runs": runs,
                "median_ratio": median,
            }
            Path(args.results).parent.mkdir(parents=True, exist_ok=True)
            Path(args.results).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if throwaway:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
