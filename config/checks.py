"""The project's system checks (`manage.py check`, and before migrate, runserver and the
workers start): settings the app's correctness rests on, refused loudly, with ids."""

from django.conf import settings
from django.core import checks
from django.db.backends.sqlite3.base import Database as sqlite

SQLITE = "django.db.backends.sqlite3"
# RETURNING, which the stock service's and the listing state's statements use.
SQLITE_LEAST = (3, 35, 0)


def sqlite_problems(databases, version):
    """checks.Errors for SQLite databases the app cannot run on correctly: transactions that
    are not IMMEDIATE (two writers would each read, then one fail at its first write instead
    of waiting: 'database is locked' in the middle of a stock change), or a library older
    than 3.35."""
    errors = []
    used = [alias for alias, db in databases.items() if db.get("ENGINE") == SQLITE]
    for alias in used:
        mode = (databases[alias].get("OPTIONS") or {}).get("transaction_mode")
        if str(mode or "").upper() != "IMMEDIATE":
            errors.append(
                checks.Error(
                    f"SQLite database '{alias}' runs DEFERRED transactions "
                    f"(OPTIONS['transaction_mode'] is {mode!r}): concurrent stock changes would "
                    "fail with 'database is locked' instead of waiting their turn.",
                    hint="Set OPTIONS['transaction_mode'] = 'IMMEDIATE' (config.env's "
                    "sqlite_database does), or use PostgreSQL.",
                    id="config.E001",
                )
            )
    if used and tuple(version) < SQLITE_LEAST:
        errors.append(
            checks.Error(
                f"SQLite {'.'.join(map(str, version))} is older than 3.35: the stock service's "
                "statements need RETURNING.",
                hint="Run Python with a newer SQLite library (3.35 or later), or use PostgreSQL.",
                id="config.E002",
            )
        )
    return errors


def sqlite_settings(app_configs=None, **kwargs):
    return sqlite_problems(settings.DATABASES, sqlite.sqlite_version_info)
