"""Settings from the environment: database URLs, booleans, and a deploy-ready production mode."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ConfigError, database_from_url, env_bool, env_int

BASE = Path(__file__).resolve().parent.parent


def test_sqlite_urls_relative_and_absolute(tmp_path):
    rel = database_from_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)
    assert rel["NAME"] == str(tmp_path / "var" / "x.sqlite3")
    assert rel["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in rel["OPTIONS"]["init_command"]
    absolute = database_from_url(f"sqlite:///{tmp_path}/y.db", base_dir=Path("/nowhere"))
    assert absolute["NAME"] == str(tmp_path / "y.db")


def test_postgres_url():
    db = database_from_url("postgres://shop:s%40cret@db.internal:6543/stock", base_dir=BASE)
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "stock",
        "shop",
        "s@cret",
        "db.internal",
        "6543",
    )
    assert db["OPTIONS"] == {"options": "-c jit=off"}  # see config/env.py


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "scheme 'mysql' is not supported"),
        ("postgres://u@h/", "needs a database name"),
        ("sqlite://", "needs a file path"),
    ],
)
def test_bad_database_urls_say_what_to_do(url, message):
    with pytest.raises(ConfigError, match=message):
        database_from_url(url, base_dir=BASE)


def test_env_bool_refuses_words_it_does_not_know(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ConfigError, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG")


@pytest.mark.parametrize(
    ("raw", "message"),
    [("thirty", "PUSH_RECORD_DAYS='thirty' is not a whole number"), ("0", "at least 1")],
)
def test_env_int_refuses_what_is_not_a_whole_number_it_can_use(monkeypatch, raw, message):
    monkeypatch.setenv("PUSH_RECORD_DAYS", raw)
    with pytest.raises(ConfigError, match=message):
        env_int("PUSH_RECORD_DAYS", default=30, minimum=1)


def test_env_int_reads_a_number_and_defaults_when_unset(monkeypatch):
    monkeypatch.setenv("PUSH_RECORD_DAYS", " 7 ")
    assert env_int("PUSH_RECORD_DAYS", default=30) == 7
    monkeypatch.delenv("PUSH_RECORD_DAYS")
    assert env_int("PUSH_RECORD_DAYS", default=30) == 30


def test_check_deploy_passes_with_debug_off_and_real_settings(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "k3y-" + "x7Qz9LmP2vRt8WnB4cYh6JdF1gKs5aEu0oIiUyTrEwQ" * 2,
        "CREDENTIALS_KEYS": "i6bhMyaF9kL0n3jqHF8Ho3o8iQd_wd-6y0j3n9t5bE8=",
        "ALLOWED_HOSTS": "stock.example.com",
        "VAR_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_the_scheduler_runs_the_sweepers_the_reconcile_and_the_upload_purge():
    import django_rq
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=django_rq.get_connection("sync"))
    scheduler.load_config_from_file("config.cron")
    jobs = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        "sweep_pending",
        "sweep_inbound",
        "reconcile_all",
        "job_purge",
        "purge_push_records",
    }
    assert jobs["sweep_pending"].interval == 30
    assert jobs["sweep_inbound"].interval == 30  # deliveries left waiting; polls when due
    assert jobs["job_purge"].queue_name == "imports"
    assert jobs["purge_push_records"].queue_name == "default"


WITHOUT_WERKZEUG = """
import sys
sys.modules["werkzeug"] = None  # as if the 'sandboxes' extra were not installed
import django
django.setup()
from django.core.management import call_command
from django.core.management.base import CommandError
import connectors.admin, connectors.receivers, connectors.tasks, config.cron
from config.management.commands.run import sandboxes_installed
call_command("check")
assert not sandboxes_installed()
try:
    call_command("sandbox")
except CommandError as exc:
    print("refused:", exc)
"""


def test_the_app_runs_without_the_sandboxes_extra(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_WERKZEUG],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: the sandboxes need the 'sandboxes' extra" in done.stdout
