"""The system checks that refuse an SQLite set-up the app cannot run on correctly."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config.checks import sqlite_problems
from config.env import sqlite_database

POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "inventory"}


def ids(errors):
    return [e.id for e in errors]


def test_the_sqlite_the_app_configures_passes(tmp_path):
    assert sqlite_problems({"default": sqlite_database(tmp_path / "db.sqlite3")}, (3, 46, 1)) == []


@pytest.mark.parametrize("options", [{}, {"transaction_mode": "DEFERRED"}, {"timeout": 30}])
def test_sqlite_without_immediate_transactions_is_an_error(options):
    db = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3", "OPTIONS": options}
    errors = sqlite_problems({"default": POSTGRES, "reports": db}, (3, 46, 1))
    assert ids(errors) == ["config.E001"]
    assert errors[0].level == checks.ERROR
    assert "'reports'" in errors[0].msg
    assert "IMMEDIATE" in errors[0].hint


def test_an_sqlite_older_than_3_35_is_an_error(tmp_path):
    errors = sqlite_problems({"default": sqlite_database(tmp_path / "db.sqlite3")}, (3, 34, 1))
    assert ids(errors) == ["config.E002"]
    assert "SQLite 3.34.1 is older than 3.35" in errors[0].msg


def test_postgresql_alone_is_not_concerned():
    assert sqlite_problems({"default": POSTGRES}, (3, 7, 0)) == []


# Only the check reads the added alias; no connection to it is ever opened.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_manage_py_check_runs_them_and_fails_loudly(settings, tmp_path):
    call_command("check")  # the test settings' SQLite (or PostgreSQL) passes
    bad = sqlite_database(tmp_path / "db.sqlite3")
    del bad["OPTIONS"]["transaction_mode"]
    settings.DATABASES = {**settings.DATABASES, "other": bad}
    with pytest.raises(SystemCheckError, match=r"config\.E001"):
        call_command("check")
