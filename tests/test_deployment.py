"""The deployment files agree with the settings.

There is no Docker engine on the development machines, so docker-compose.yml
is checked here instead: its services exist, the app containers set only
variables that blockhours/settings.py reads and agree on where the database
and broker are, and .env.example documents exactly what settings.py reads.
Settings are also started in a clean subprocess, the way a server starts them.
"""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "blockhours" / "settings.py"
APP_SERVICES = ("web", "worker", "beat")

# env_str("NAME", ...), env_bool("NAME", ...) etc. in settings.py.
_ENV_CALL = re.compile(r"""\benv_(str|bool|int|list|crontab)\(\s*["']([A-Z][A-Z0-9_]*)["']""")
# env_str and the helpers built on it also accept NAME_FILE (a secret mounted as a file).
_FILE_CAPABLE = {"str", "list", "crontab"}
# "NAME=value" or "# NAME=value" at the start of a line of .env.example.
_EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def settings_variables() -> dict[str, str]:
    """Every environment variable settings.py reads, with the helper that reads it."""
    found = {name: kind for kind, name in _ENV_CALL.findall(SETTINGS.read_text())}
    assert found, "no env_*() calls found in settings.py: has the helper been renamed?"
    return found


def example_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = _EXAMPLE_LINE.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2).strip()
    return values


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "- NAME=value" form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: str(value) for name, value in env.items()}


def command(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def test_it_has_the_services(compose):
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "mailpit"} <= services.keys()
    assert "gunicorn blockhours.wsgi" in command(services["web"])
    assert "celery -A blockhours worker" in command(services["worker"])
    assert "celery -A blockhours beat" in command(services["beat"])
    # One beat only: a second one would enqueue every periodic job twice.
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    for name in APP_SERVICES:
        assert services[name].get("build") in (".", {"context": "."}), name
    assert (ROOT / "Dockerfile").is_file()


def test_app_containers_set_only_variables_settings_read(compose):
    readable = set()
    for name, kind in settings_variables().items():
        readable.add(name)
        if kind in _FILE_CAPABLE:
            readable.add(f"{name}_FILE")
    for service in APP_SERVICES:
        unknown = environment(compose["services"][service]).keys() - readable
        assert not unknown, f"{service} sets variables settings.py never reads: {sorted(unknown)}"


def test_web_worker_and_beat_share_database_and_broker(compose):
    envs = {name: environment(compose["services"][name]) for name in APP_SERVICES}
    for variable in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "EMAIL_HOST"):
        values = {name: env.get(variable) for name, env in envs.items()}
        assert len(set(values.values())) == 1, f"{variable} differs: {values}"
        assert None not in values.values(), f"{variable} missing: {values}"


def test_urls_point_at_the_compose_servers(compose):
    services = compose["services"]
    env = environment(services["web"])
    database = urlsplit(env["DATABASE_URL"])
    postgres = environment(services["postgres"])
    assert database.scheme in ("postgres", "postgresql")
    assert database.hostname == "postgres"
    assert (database.username, database.password, database.path.lstrip("/")) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert env["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (env["EMAIL_HOST"], env["EMAIL_PORT"]) == ("mailpit", "1025")


def test_cache_and_broker_use_separate_redis_databases(compose):
    """Clearing the cache empties its database, and a full cache must not
    evict queued tasks: the cache never shares a Redis database with Celery."""
    env = environment(compose["services"]["web"])
    broker = urlsplit(env.get("CELERY_BROKER_URL") or env["REDIS_URL"])
    cache = urlsplit(env["CACHE_URL"])
    assert cache.scheme == broker.scheme == "redis"
    assert (cache.hostname, cache.port or 6379, cache.path.lstrip("/") or "0") != (
        broker.hostname,
        broker.port or 6379,
        broker.path.lstrip("/") or "0",
    ), f"cache {env['CACHE_URL']} and broker share one Redis database"
    for name in APP_SERVICES:
        assert environment(compose["services"][name]).get("CACHE_URL") == env["CACHE_URL"], name


def healthcheck(service: dict) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else test


def test_every_service_has_a_healthcheck(compose):
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "postgres", "redis", "mailpit"}
    checks = {name: healthcheck(service) for name, service in services.items()}
    assert "http://127.0.0.1:8000/healthz" in checks["web"]
    assert "127.0.0.1" in environment(services["web"])["ALLOWED_HOSTS"].split(",")
    assert "celery -A blockhours inspect ping --destination celery@$$HOSTNAME" in checks["worker"]
    assert "/app/var/celerybeat-schedule" in checks["beat"]
    assert checks["postgres"] == "CMD pg_isready -U blockhours -d blockhours"
    assert checks["redis"] == "CMD redis-cli ping"
    assert checks["mailpit"] == "CMD /mailpit readyz"
    # The app starts once its servers answer, not merely once their containers run.
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert {server: depends[server]["condition"] for server in depends} == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "mailpit": "service_healthy",
        }, name


def test_beat_healthcheck_reads_the_schedule_file_settings_write(compose):
    """The beat check looks for the schedule file where settings put it in the image."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "BLOCKHOURS_VAR_DIR=/app/var" in dockerfile
    assert 'CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")' in SETTINGS.read_text()


def test_metrics_add_up_every_process_in_web_and_worker(compose):
    services = compose["services"]
    for name in ("web", "worker"):
        folder = environment(services[name])["PROMETHEUS_MULTIPROC_DIR"]
        # Emptied before the server starts: stale files of another run would add up too.
        assert command(services[name]).startswith(f'sh -c "rm -rf {folder} && mkdir -p {folder}'), name
    assert "--config python:blockhours.gunicorn_conf" in command(services["web"])
    assert environment(services["worker"])["WORKER_METRICS_PORT"] == "9808"
    assert "9808" not in str(services["worker"].get("ports", [])), "the worker's metrics stay inside the network"


def test_compose_is_production_shaped(compose):
    env = environment(compose["services"]["web"])
    assert env["DEBUG"] == "false"
    # The secret comes from outside (shell or .env), never written into the file.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", env["SECRET_KEY"]), env["SECRET_KEY"]


def test_env_example_documents_every_setting():
    read = settings_variables().keys()
    documented = example_values().keys()
    assert not read - documented, f"add to .env.example: {sorted(read - documented)}"
    assert not documented - read, f".env.example documents unread variables: {sorted(documented - read)}"


def _start_settings(env: dict[str, str], tmp_path: Path, code: str = "") -> subprocess.CompletedProcess:
    """Import the settings the way a server does, in a clean environment.

    Variables that a developer's .env could supply are pinned here (python-dotenv
    never overrides a variable that is set, even to ""), so .env cannot change
    the outcome.
    """
    clean = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "blockhours.settings",
        "BLOCKHOURS_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_RESULT_BACKEND": "",
        "DEBUG": "false",
        "SECRET_KEY": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = _start_settings({}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_settings_start_with_a_secret_key(tmp_path):
    result = _start_settings(
        {"SECRET_KEY": "a-real-secret-" + "x" * 40, "SITE_URL": "https://hours.example.com"}, tmp_path
    )
    assert result.returncode == 0, result.stderr


def test_settings_refuse_to_start_without_a_site_url_when_debug_is_off(tmp_path):
    result = _start_settings({"SECRET_KEY": "a-real-secret-" + "x" * 40}, tmp_path)
    assert result.returncode != 0
    assert "SITE_URL must be set when DEBUG is off" in result.stderr


def test_the_embedded_default_links_to_the_address_scripts_run_serves(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "site_url").write_text("http://127.0.0.1:8765\n")
    result = _start_settings(
        {"DEBUG": "true"}, tmp_path, code="from django.conf import settings; print(settings.SITE_URL)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:8765"


def test_settings_start_in_debug_without_a_secret_key(tmp_path):
    result = _start_settings({"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_settings_accept_every_example_value(tmp_path):
    values = {name: value for name, value in example_values().items() if value}
    values.pop("BLOCKHOURS_VAR_DIR", None)  # keep the run inside tmp_path
    values.pop("MEDIA_ROOT", None)
    result = _start_settings(
        {"SITE_URL": "https://hours.example.com", **values, "SECRET_KEY": "a-real-secret-" + "x" * 40}, tmp_path
    )
    assert result.returncode == 0, result.stderr


def test_production_settings_pass_the_deploy_checks(tmp_path):
    """`manage.py check --deploy` with production-like settings: no warning at all."""
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "x9-" + "production-like-secret-key-for-the-check" * 2,
        "ALLOWED_HOSTS": "hours.example.com",
        "SITE_URL": "https://hours.example.com",
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "blockhours.settings",
        "BLOCKHOURS_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
