#!/usr/bin/env python
"""REST API benchmark (issue 6): time entries over HTTP against the raw transaction.

    .venv/bin/python bench/api_throughput.py [--seconds 8] [--clients 16] [--agreements 100]
        [--workers N] [--threads N] [--database-url postgres://postgres@127.0.0.1:5432/bh_api_bench]

Makes a throw-away PostgreSQL database (dropped and re-created), migrates it,
seeds --agreements (100) funded agreements and 16 technicians with a token each, starts
gunicorn on a free port with the project's settings file (blockhours/gunicorn_conf.py;
--workers and --threads override it), and then, in the same run:

- raw:  16 threads doing the ledger's transaction by hand with psycopg —
        lock the agreement row, update its balance, insert a ledger row —
        on one hot agreement (the ceiling any HTTP path can reach);
- hot:  16 clients POSTing /api/v1/time-entries/ (each with its own
        Idempotency-Key) to the same agreement;
- bare: the same POSTs to a minimal DRF APIView (bench/api_urls.py) that
        claims the key, locks the agreement row and writes the same rows
        with plain ORM calls and no checks (raw, hot and bare take turns,
        --slices times, so a load that changes during the run touches all three);
- spread: the same POSTs spread over all the agreements;
- detail: GET /api/v1/agreements/{id}/ next to a bare DRF RetrieveAPIView
        (bench/api_urls.py) over the same rows with the same token auth.

Prints throughput and p50/p99 latency for each and the ratios the issues set
targets for (issue 20: hot POST ≥ 0.5× the bare POST and ≥ 0.15× raw, p99 ≤
250 ms; issue 6: detail ≥ 0.5× bare), then
checks every agreement's cached balance against its ledger and the number of
entries against the 201s received: lost updates must be 0. Results also go
to bench/results/.
"""

import argparse
import datetime
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-not-for-production",
        "SITE_URL": "http://127.0.0.1:8000",
        "SECURE_SSL_REDIRECT": "false",
        "BLOCKHOURS_VAR_DIR": str(workdir),
        "API_THROTTLE_RATE": "1000000/min",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": "filesystem://",
        "LOG_LEVEL": "WARNING",
        "AXES_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    env.pop("CELERY_RESULT_BACKEND", None)
    return env


def recreate_database(database_url: str) -> None:
    import psycopg

    sys.path.insert(0, str(ROOT))
    from bench.seed import create_database_sql

    url = urllib.parse.urlsplit(database_url)
    name = url.path.lstrip("/")
    admin = urllib.parse.urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(create_database_sql(name))


SEED = r"""
import json
from django.utils import timezone
from agreements import services
from agreements.models import Agreement, Client, Ticket
from agreements.tests.factories import StaffFactory, TechnicianFactory
from agreements.models import LedgerEntry
from api.services import token_create
from bench.seed import insert_select_sql

# The raw baseline's ledger INSERT, its column list from the model like every seed (a new NOT NULL column broke it).
raw_params = {}
raw_ledger_insert = insert_select_sql(
    LedgerEntry,
    {"agreement_id": "%(agreement)s", "kind": "'adjustment'", "minutes": "-1", "reason": "'raw benchmark'",
     "created_at": "now()"},
    "",
    raw_params,
)
staff = StaffFactory(username="bench-staff")
techs = [TechnicianFactory(username=f"bench-tech-{n}") for n in range(CLIENTS)]
agreements = []
for n in range(AGREEMENTS):
    client = services.client_create(name=f"Bench client {n:03d}")
    agreement = services.agreement_create(client=client, credit_policy="immediate",
                                          starts_on=timezone.localdate() - timezone.timedelta(days=30))
    services.block_sell(agreement=agreement, hours=10000, actor=staff)
    ticket = services.ticket_get_or_create(client=client, number="1", subject="Bench")
    agreements.append({"id": str(agreement.public_id), "pk": agreement.pk, "ticket": str(ticket.public_id)})
tokens = [token_create(user=t, name="bench", actor=staff).key for t in techs]
print(json.dumps({"agreements": agreements, "tokens": tokens, "staff_token": token_create(user=staff, name="bench", actor=staff).key,
                  "raw_ledger_insert": [raw_ledger_insert, raw_params]}, default=str))
"""


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Load:
    """N threads, each with its own keep-alive connection, running `request` until time is up."""

    def __init__(self, port: int, clients: int, seconds: float) -> None:
        self.port, self.clients, self.seconds = port, clients, seconds

    def run(self, make_request) -> dict:  # make_request(client_index, n) -> (method, path, body, headers)
        return summarise(*self.sample(make_request, self.seconds))

    def sample(self, make_request, seconds: float) -> tuple[list[float], float, dict[int, int]]:  # noqa: ANN001
        """The latencies, the time taken and the statuses of `seconds` of load."""
        latencies: list[list[float]] = [[] for _ in range(self.clients)]
        statuses: list[dict[int, int]] = [{} for _ in range(self.clients)]
        barrier = threading.Barrier(self.clients + 1)
        deadline = [0.0]

        def worker(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            barrier.wait()
            n = 0
            while time.perf_counter() < deadline[0]:
                method, path, body, headers = make_request(index, n)
                started = time.perf_counter()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    status = 0
                latencies[index].append(time.perf_counter() - started)
                statuses[index][status] = statuses[index].get(status, 0) + 1
                n += 1
            conn.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        deadline[0] = time.perf_counter() + seconds
        started = time.perf_counter()
        barrier.wait()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        return [x for per in latencies for x in per], elapsed, merge(statuses)


def interleaved(phases: dict, seconds: float, slices: int) -> dict[str, dict]:
    """Run each phase (name -> sample(seconds)) in turn, `slices` times for
    seconds / slices each, and sum each phase's slices: a machine that gets
    busier or quieter during the run slows every phase alike, so their
    ratios hold where figures taken one after another would not."""
    parts: dict[str, list] = {name: [] for name in phases}
    for _ in range(slices):
        for name, sample in phases.items():
            parts[name].append(sample(seconds / slices))
    return {
        name: summarise(
            [x for latencies, _, _ in got for x in latencies],
            sum(elapsed for _, elapsed, _ in got),
            merge([statuses for _, _, statuses in got]),
        )
        for name, got in parts.items()
    }


def merge(parts: list[dict[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for part in parts:
        for status, count in part.items():
            total[status] = total.get(status, 0) + count
    return total


def summarise(latencies: list[float], elapsed: float, statuses: dict[int, int]) -> dict:
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pick(0.50), 1),
        "p99_ms": round(pick(0.99), 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def raw_transactions(
    database_url: str, agreement_pk: int, clients: int, seconds: float, ledger_insert: tuple[str, dict]
) -> tuple[list[float], float, dict[int, int]]:
    """The ledger's lock-update-insert transaction with plain psycopg, on one hot row.

    `ledger_insert` is the seed's INSERT of one ledger row (SQL with named parameters, and their values
    but `agreement`), built from the model so that it names every NOT NULL column."""
    import psycopg

    insert_sql, insert_params = ledger_insert[0], {**ledger_insert[1], "agreement": agreement_pk}
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        with psycopg.connect(database_url) as conn:
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                started = time.perf_counter()
                with conn.transaction():
                    conn.execute(
                        "SELECT balance_minutes FROM agreements_agreement WHERE id = %s FOR NO KEY UPDATE",
                        (agreement_pk,),
                    )
                    conn.execute(
                        "UPDATE agreements_agreement SET balance_minutes = balance_minutes - 1 WHERE id = %s",
                        (agreement_pk,),
                    )
                    conn.execute(insert_sql, insert_params)
                latencies[index].append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    return flat, elapsed, {0: len(flat)}


def verify(database_url: str, created: int) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        mismatched = conn.execute(
            """SELECT count(*) FROM agreements_agreement a
               WHERE a.balance_minutes <> COALESCE((SELECT sum(minutes) FROM agreements_ledgerentry l
                                                   WHERE l.agreement_id = a.id), 0)"""
        ).fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM agreements_timeentry").fetchone()[0]
        debits = conn.execute(
            "SELECT count(DISTINCT time_entry_id) FROM agreements_ledgerentry WHERE kind = 'debit'"
        ).fetchone()[0]
    return {
        "agreements_whose_balance_differs_from_ledger": mismatched,
        "time_entries": entries,
        "time_entries_answered_201": created,
        "entries_without_debit": entries - debits,
        "lost_updates": mismatched + abs(entries - created) + (entries - debits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--slices", type=int, default=4, help="the hot phases (raw, POST, bare POST) take turns this many times"
    )
    parser.add_argument("--agreements", type=int, default=100, help="funded agreements the spread POSTs use")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: blockhours/gunicorn_conf.py)")
    parser.add_argument("--threads", type=int, help="threads per gunicorn worker (default: the settings file's)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bh_api_bench")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bh-api-bench-"))
    env = server_env(args.database_url, workdir)
    print(f"==> database {args.database_url.rsplit('/', 1)[-1]} (re-created), migrating and seeding…", flush=True)
    recreate_database(args.database_url)
    manage(env, "migrate", "-v0")
    seeded = json.loads(
        manage(
            env, "shell", stdin=SEED.replace("CLIENTS", str(args.clients)).replace("AGREEMENTS", str(args.agreements))
        )
        .strip()
        .splitlines()[-1]
    )
    agreements, tokens = seeded["agreements"], seeded["tokens"]

    port = free_port()
    sys.path.insert(0, str(ROOT))
    from blockhours import gunicorn_conf

    workers = args.workers or gunicorn_conf.workers
    threads = args.threads or gunicorn_conf.threads
    server = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("gunicorn")),
            "blockhours.wsgi",
            "--config",
            "python:blockhours.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "bench.api_settings"},
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        load = Load(port, args.clients, args.seconds)
        today = datetime.date.today().isoformat()
        results: dict = {
            "clients": args.clients,
            "seconds": args.seconds,
            "gunicorn": f"{workers} workers × {threads} threads",
            "cpus": os.cpu_count(),
        }

        def auth(index: int) -> dict[str, str]:
            return {"Authorization": f"Token {tokens[index]}", "Content-Type": "application/json"}

        def post_entry(pick_agreement, path: str = "/api/v1/time-entries/"):  # noqa: ANN001, ANN202
            def make(index: int, n: int):  # noqa: ANN202
                agreement = pick_agreement(index, n)
                body = json.dumps(
                    {
                        "agreement": agreement["id"],
                        "ticket": agreement["ticket"],
                        "work_date": today,
                        "minutes": 15,
                        "work_type": 1,
                    }
                )
                return "POST", path, body, {**auth(index), "Idempotency-Key": str(uuid.uuid4())}

            return make

        # Warm every worker's connections and imports.
        Load(port, args.clients, 1.0).run(
            lambda i, n: ("GET", f"/api/v1/agreements/{agreements[1]['id']}/", None, auth(i))
        )

        print(
            f"==> one hot agreement, {args.slices} times in turn: the raw psycopg transaction (on another "
            "agreement), POST time entries, POST to the bare DRF view",
            flush=True,
        )
        results.update(
            interleaved(
                {
                    "raw_hot_transaction": lambda seconds: raw_transactions(
                        args.database_url, agreements[-1]["pk"], args.clients, seconds, seeded["raw_ledger_insert"]
                    ),
                    "post_hot": lambda seconds: load.sample(post_entry(lambda i, n: agreements[0]), seconds),
                    "post_hot_bare_drf": lambda seconds: load.sample(
                        post_entry(lambda i, n: agreements[0], "/bench/bare-time-entries/"), seconds
                    ),
                },
                args.seconds,
                args.slices,
            )
        )
        print(f"==> POST time entries, {len(agreements)} agreements", flush=True)
        results["post_spread"] = load.run(post_entry(lambda i, n: agreements[(i * 7 + n) % len(agreements)]))
        print("==> GET agreement detail vs bare DRF view", flush=True)
        results["get_detail"] = load.run(
            lambda i, n: ("GET", f"/api/v1/agreements/{agreements[(i + n) % len(agreements)]['id']}/", None, auth(i))
        )
        results["get_bare_drf"] = load.run(
            lambda i, n: (
                "GET",
                f"/bench/bare-agreements/{agreements[(i + n) % len(agreements)]['id']}/",
                None,
                auth(i),
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=20)

    created = sum(results[k]["statuses"].get("201", 0) for k in ("post_hot", "post_hot_bare_drf", "post_spread"))
    results["verify"] = verify(args.database_url, created)
    results["ratios"] = {
        "post_hot_vs_raw": round(results["post_hot"]["per_second"] / results["raw_hot_transaction"]["per_second"], 3),
        "post_hot_vs_bare": round(results["post_hot"]["per_second"] / results["post_hot_bare_drf"]["per_second"], 3),
        "get_detail_vs_bare": round(results["get_detail"]["per_second"] / results["get_bare_drf"]["per_second"], 3),
    }
    results["targets_met"] = {
        "post_hot_ge_0.5x_bare": results["ratios"]["post_hot_vs_bare"] >= 0.5,
        "post_hot_ge_0.15x_raw": results["ratios"]["post_hot_vs_raw"] >= 0.15,
        "post_hot_p99_le_250ms": results["post_hot"]["p99_ms"] <= 250,
        "get_detail_ge_0.5x_bare": results["ratios"]["get_detail_vs_bare"] >= 0.5,
        "zero_lost_updates": results["verify"]["lost_updates"] == 0,
    }

    print()
    print(f"{'phase':<22}{'req':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for key in ("raw_hot_transaction", "post_hot", "post_hot_bare_drf", "post_spread", "get_detail", "get_bare_drf"):
        r = results[key]
        print(f"{key:<22}{r['requests']:>8}{r['per_second']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}  {r['statuses']}")
    print(f"ratios: {results['ratios']}")
    print(f"verify: {results['verify']}")
    print(f"targets: {results['targets_met']}")
    sys.path.insert(0, str(ROOT))
    from bench.seed import results_dir

    out = results_dir()
    (out / f"api_throughput-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
