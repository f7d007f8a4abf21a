"""Every benchmark under bench/ still runs: each one, at a tiny size, as its own process on PostgreSQL
(and invoice_pdf.py, which can, on SQLite too).

A schema change (a new NOT NULL column, a dropped one) used to break the
benchmarks' SQL seeds silently; here each script runs end to end against a
throw-away database of its own, `<test database>_bench_smoke` (copied from a
template migrated once, so that no script spends its time migrating), and must exit
0 and print its ratio lines. No timing is asserted: the figures are the
benchmarks' business, not the suite's.
"""

import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

# script, its options at a tiny size, the lines it must print, the results file it must write
BENCHMARKS = [
    (
        "import_clients.py",
        ["--rows", "20", "--runs", "1"],
        [
            r"^run 1: import [\d.]+ s \([\d.]+ ms/row\), bare bulk insert [\d.]+ s, ratio [\d.]+$",
            r"^median ratio [\d.]+$",
        ],
        "import_clients.json",
    ),
    (
        "pages.py",
        ["--clients", "5", "--requests", "2"],
        [
            r"^trivial view +p50 +[\d.]+ ms +p95 +[\d.]+ ms +1\.0× the trivial view +0 queries$",
            r"^staff dashboard +p50 +[\d.]+ ms +p95 +[\d.]+ ms +[\d.]+× the trivial view +\d+ queries$",
            r"^client portal +p50 +[\d.]+ ms +p95 +[\d.]+ ms +[\d.]+× the trivial view +\d+ queries$",
            *(
                rf"^API {name} +p50 +[\d.]+ ms +p95 +[\d.]+ ms +[\d.]+× the trivial view +\d+ queries$"
                for name in ("time entries", "tickets", "agreements", "clients")
            ),
            # the app's settings, and every index its --without-list-indexes would drop still exists
            r"^jit off, 4 of 4 list-order indexes$",
        ],
        "pages.json",
    ),
    (
        "low_balance_sweep.py",
        ["--sizes", "100,200", "--flagged", "0"],
        [
            r"^selection at +100 agreements \(1 low\): ORM [\d.]+ ms \(of which [\d.]+ ms in PostgreSQL\), "
            r"same selection in SQL [\d.]+ ms, ratio [\d.]+, partial indexes used: True/(True|False), load .+$",
            r"^selection at +200 agreements \(2 low\): ORM [\d.]+ ms \(of which [\d.]+ ms in PostgreSQL\), "
            r"same selection in SQL [\d.]+ ms, ratio [\d.]+, partial indexes used: True/(True|False), load .+$",
        ],
        "low_balance_sweep.json",
    ),
    (
        "reports.py",
        ["--agreements", "10", "--rounds", "1"],
        [
            r"^generated \{'agreements_agreement': 10, 'agreements_ledgerentry': 200, "
            r"'agreements_timeentry': 180\} in \d+ s$",
            r"^  deferred revenue, per client +10 rows +ORM +[\d.]+ ms +SQL +[\d.]+ ms +× [\d.]+$",
            r"^  usage by client, one month +\d+ rows +ORM +[\d.]+ ms +SQL +[\d.]+ ms +× [\d.]+$",
            r"^  usage by work type, 12 months +\d+ rows +ORM +[\d.]+ ms +SQL +[\d.]+ ms +× [\d.]+$",
        ],
        "reports.json",
    ),
    (
        "api_throughput.py",
        ["--seconds", "0.3", "--clients", "2", "--agreements", "2", "--workers", "1", "--threads", "2"],
        [
            r"^ratios: \{'post_hot_vs_raw': [\d.]+, 'post_hot_vs_bare': [\d.]+, 'get_detail_vs_bare': [\d.]+\}$",
            r"^verify: \{.*'lost_updates': 0\}$",
        ],
        "api_throughput-*.json",
    ),
    (
        "post_profile.py",
        ["--posts", "3", "--warmup", "1", "--rounds", "1", "--profile", "--top", "5"],
        [
            r"^per POST: [\d.]+ ms CPU \(median of 1 rounds of 3\), \d+ statements$",
            r"^verify: 8 entries for 8 POSTs, balance equals ledger: True$",
        ],
        "post_profile-*.json",
    ),
    (
        "invoice_pdf.py",
        ["--invoices", "2", "--warmup", "0"],
        [
            r"^2 invoices on postgresql, WeasyPrint ",
            r"^ratio real/bare: [\d.]+ \(mean\), [\d.]+ \(median\); target <= 1\.3$",
        ],
        "invoice_pdf-*.json",
    ),
]


def _clean_env() -> dict[str, str]:
    """The environment without the suite's servers and settings: the scripts configure Django themselves
    (an invoice render queued to the suite's Redis would reach its workers)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "DATABASE_", "REDIS_", "CACHE_", "BLOCKHOURS_", "BENCH_"))
        and key not in {"SECRET_KEY", "SITE_URL", "DEBUG", "MEDIA_ROOT"}
    }


class Server:
    def __init__(self) -> None:
        self.url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
        # One per test worker (pytest-xdist), as the test databases are.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        self.name = f"{self.url.path.lstrip('/')}_bench_smoke{'_' + worker if worker else ''}"

    def database_url(self, name: str) -> str:
        return urllib.parse.urlunsplit(self.url._replace(path=f"/{name}"))

    def execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.database_url("postgres"), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)


@pytest.fixture(scope="module")
def _bench_template_holder():
    """Drops the template after the module, if a test made one (nothing happens on SQLite)."""
    holder: dict[str, str] = {}
    yield holder
    if "name" in holder:
        Server().execute(f'DROP DATABASE IF EXISTS "{holder["name"]}" WITH (FORCE)')


@pytest.fixture
def bench_template(_bench_template_holder, tmp_path_factory):
    """One migrated database, made by the first test that needs it, the scripts' databases are copied from
    (BENCH_TEMPLATE_DATABASE). Function-scoped, so that conftest's postgres check runs first."""
    if "name" not in _bench_template_holder:
        server = Server()
        template = f"{server.name}_template"
        server.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)', f'CREATE DATABASE "{template}"')
        _bench_template_holder["name"] = template
        env = {
            **_clean_env(),
            "DATABASE_URL": server.database_url(template),
            "SECRET_KEY": "benchmark-only-secret-key-not-for-production",
            "SITE_URL": "http://127.0.0.1:8000",
            "DEBUG": "false",
            "BLOCKHOURS_VAR_DIR": str(tmp_path_factory.mktemp("bench-template")),
        }
        migrated = subprocess.run(  # noqa: S603 - manage.py, fixed arguments
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stderr
    return _bench_template_holder["name"]


@pytest.fixture
def bench_database_url(bench_template):
    """A database of the test's own next to DATABASE_URL's, fresh for each script, dropped after it."""
    server = Server()
    server.execute(
        f'DROP DATABASE IF EXISTS "{server.name}" WITH (FORCE)',
        f'CREATE DATABASE "{server.name}" TEMPLATE "{bench_template}"',
    )
    yield server.database_url(server.name)
    server.execute(f'DROP DATABASE IF EXISTS "{server.name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("script", "options", "expected_lines", "results_file"), BENCHMARKS, ids=[b[0] for b in BENCHMARKS]
)
def test_the_benchmark_runs_at_a_tiny_size(
    script, options, expected_lines, results_file, bench_template, bench_database_url, tmp_path
):
    env = {**_clean_env(), "BENCH_TEMPLATE_DATABASE": bench_template}
    env["BENCH_RESULTS_DIR"] = str(tmp_path)
    result = subprocess.run(  # noqa: S603 - our own scripts, fixed arguments
        [sys.executable, str(ROOT / "bench" / script), *options, "--database-url", bench_database_url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    lines = result.stdout.splitlines()
    for pattern in expected_lines:
        assert any(re.search(pattern, line) for line in lines), f"{script} printed no line like {pattern!r}:\n" + (
            result.stdout
        )
    assert list(tmp_path.glob(results_file)), f"{script} wrote no {results_file}"


def test_the_invoice_pdf_benchmark_runs_on_sqlite_too(tmp_path):
    """Without --database-url it makes its own SQLite file: the way to run it with no server at hand."""
    env = {**_clean_env(), "BENCH_RESULTS_DIR": str(tmp_path)}
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "bench" / "invoice_pdf.py"), "--invoices", "2", "--warmup", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"invoice_pdf.py exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert re.search(r"^2 invoices on sqlite, WeasyPrint ", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^ratio real/bare: [\d.]+ \(mean\)", result.stdout, re.MULTILINE), result.stdout
    assert list(tmp_path.glob("invoice_pdf-*.json")), "invoice_pdf.py wrote no results file"
