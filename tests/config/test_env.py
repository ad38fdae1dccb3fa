"""Numeric settings from the environment: a typo is a start-up error naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given, settings
from hypothesis import strategies as st

from config.env import database_from_url, env_float, env_int

BASE = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("SYNC_MAX_ATTEMPTS", "six", "SYNC_MAX_ATTEMPTS='six' is not a whole number"),
        ("IMPORT_MAX_ROWS", "250,000", "IMPORT_MAX_ROWS='250,000' is not a whole number"),
        ("SYNC_COALESCE", "0.5s", "SYNC_COALESCE='0.5s' is not a number"),
        ("SYNC_COALESCE", "nan", "SYNC_COALESCE='nan' is not a number"),
        ("IMPORT_KEEP_DAYS", "-3", "IMPORT_KEEP_DAYS='-3' is out of range: it must be at least 0"),
        ("STOCK_MAX_QUANTITY", "0", "STOCK_MAX_QUANTITY='0' is out of range"),
        ("STOCK_MAX_QUANTITY", "99999999999", "at most 1000000000"),
    ],
)
def test_a_typo_in_a_numeric_setting_stops_the_start_naming_variable_and_value(name, raw, message):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        name: raw,
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith("manage.py: configuration error: "), proc.stderr[-2000:]
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "invalid literal" not in proc.stderr


def test_numbers_read_with_their_defaults_and_underscores(monkeypatch):
    monkeypatch.delenv("SYNC_BURST_RATE", raising=False)
    assert env_float("SYNC_BURST_RATE", 100) == 100
    monkeypatch.setenv("IMPORT_MAX_ROWS", " 1_000 ")
    assert env_int("IMPORT_MAX_ROWS", 5) == 1000


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=20))
def test_any_value_is_a_number_or_a_configuration_error(raw):
    os.environ["INVENTORY_TEST_NUMBER"] = raw.replace("\x00", "")
    try:
        for read in (env_int, env_float):
            try:
                value = read("INVENTORY_TEST_NUMBER", 1)
            except ImproperlyConfigured as exc:
                message = str(exc)
            else:
                message = "INVENTORY_TEST_NUMBER=" if value >= 0 else "negative"
            assert message.startswith("INVENTORY_TEST_NUMBER=")
    finally:
        del os.environ["INVENTORY_TEST_NUMBER"]


def test_a_database_url_with_a_bad_conn_max_age_names_it():
    with pytest.raises(ImproperlyConfigured, match="conn_max_age='soon' is not a whole number"):
        database_from_url("postgres://u@h/db?conn_max_age=soon", base_dir=BASE)
