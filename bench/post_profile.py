#!/usr/bin/env python
"""CPU per time-entry POST (issue 20), in one process: no server, no HTTP, no other clients.

    .venv/bin/python bench/post_profile.py [--posts 300] [--warmup 30] [--rounds 3] [--profile]
        [--top 40] [--database-url postgres://postgres@127.0.0.1:5432/bh_post_profile]

Makes a throw-away PostgreSQL database (dropped and re-created), migrates it,
seeds one agreement with 10,000 hours, a ticket and a staff token, and POSTs
/api/v1/time-entries/ through Django's test Client (each POST with its own
Idempotency-Key, the staff token, `DEBUG` off, the throttle on but never
reached, the low-balance check queued to a filesystem broker), as
`api_throughput.py`'s hot POST does over HTTP.

Prints, for each round, the CPU of one POST (`time.process_time()` around
--posts POSTs, after --warmup POSTs), the median of the rounds and the
statements one POST runs. CPU time of this process only: far less sensitive
to other work on the machine than req/s, which is why it is the figure to
compare two versions of the code with (run each on its own database, taking
turns). With --profile, one more batch of --posts POSTs runs under cProfile
with `time.process_time` as its clock and the --top functions by cumulative
and by own time are printed. Results also go to bench/results/.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database_url: str, workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.api_throughput import recreate_database, server_env

    recreate_database(database_url)
    # The same settings as the HTTP benchmark's gunicorn, in this process.
    env = {**server_env(database_url, workdir), "DJANGO_SETTINGS_MODULE": "blockhours.settings"}
    env["ALLOWED_HOSTS"] = "testserver"
    env.pop("CACHE_URL", None)
    os.environ.clear()  # server_env leaves out the servers it must not use (Redis)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)


def seed() -> dict[str, str]:
    from django.utils import timezone

    from agreements import services
    from agreements.models import WorkType
    from agreements.tests.factories import StaffFactory
    from api.services import token_create

    staff = StaffFactory(username="profile-staff")
    client = services.client_create(name="Profile client")
    agreement = services.agreement_create(
        client=client, credit_policy="immediate", starts_on=timezone.localdate() - timezone.timedelta(days=30)
    )
    services.block_sell(agreement=agreement, hours=10000, actor=staff)
    ticket = services.ticket_get_or_create(client=client, number="1", subject="Profile")
    return {
        "agreement": str(agreement.public_id),
        "ticket": str(ticket.public_id),
        "work_type": WorkType.objects.order_by("pk").values_list("pk", flat=True).first(),
        "token": token_create(user=staff, name="profile", actor=staff).key,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300, help="POSTs per round (and under the profiler)")
    parser.add_argument("--warmup", type=int, default=30, help="POSTs before the first round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="one more batch of --posts under cProfile")
    parser.add_argument("--top", type=int, default=40, help="functions the profile prints")
    parser.add_argument(
        "--gc",
        choices=["default", "tuned"],
        default="default",
        help="tuned: what blockhours/gunicorn_conf.py does in each worker (gc.freeze() and a higher gen0 threshold)",
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bh_post_profile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bh-post-profile-") as tmp:
        setup_django(args.database_url, Path(tmp))
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from agreements.models import Agreement, LedgerEntry, TimeEntry
        from bench.seed import results_dir

        seeded = seed()
        http = Client(HTTP_AUTHORIZATION=f"Token {seeded['token']}")
        body = json.dumps(
            {
                "agreement": seeded["agreement"],
                "ticket": seeded["ticket"],
                "work_date": timezone.localdate().isoformat(),
                "minutes": 15,
                "work_type": seeded["work_type"],
            }
        )

        def post() -> None:
            response = http.post(
                "/api/v1/time-entries/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
            )
            if response.status_code != 201:
                raise SystemExit(f"POST answered {response.status_code}: {response.content[:500]!r}")

        if args.gc == "tuned":
            from blockhours.gunicorn_conf import tune_gc

            tune_gc()
        for _ in range(args.warmup):
            post()
        with CaptureQueriesContext(connection) as captured:
            post()
        statements = len(captured.captured_queries)

        rounds = []
        for n in range(args.rounds):
            load = os.getloadavg()[0]
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.posts):
                post()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            rounds.append({"cpu_ms": round(cpu / args.posts * 1000, 2), "wall_ms": round(wall / args.posts * 1000, 2)})
            print(
                f"round {n + 1}: {rounds[-1]['cpu_ms']:.2f} ms CPU, {rounds[-1]['wall_ms']:.2f} ms wall per POST, "
                f"load {load:.2f}",
                flush=True,
            )
        median = statistics.median(r["cpu_ms"] for r in rounds)
        print(
            f"per POST: {median:.2f} ms CPU (median of {args.rounds} rounds of {args.posts}), {statements} statements"
        )

        profile_text = ""
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(args.posts):
                post()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            profile_text = out.getvalue()
            print(profile_text)

        # Every POST charged once and the balance is its ledger's sum.
        agreement = Agreement.objects.get(public_id=seeded["agreement"])
        entries = TimeEntry.objects.filter(agreement=agreement).count()
        ledger = sum(LedgerEntry.objects.filter(agreement=agreement).values_list("minutes", flat=True))
        posted = args.warmup + 1 + args.rounds * args.posts + (args.posts if args.profile else 0)
        ok = entries == posted and agreement.balance_minutes == ledger
        print(f"verify: {entries} entries for {posted} POSTs, balance equals ledger: {ok}")
        results = {
            "posts": args.posts,
            "rounds": rounds,
            "median_cpu_ms": median,
            "gc": args.gc,
            "statements": statements,
            "verify_ok": ok,
            "profile": profile_text,
        }
        (results_dir() / f"post_profile-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
            json.dumps(results, indent=2)
        )
        if not ok:
            raise SystemExit("verify failed")


if __name__ == "__main__":
    main()
