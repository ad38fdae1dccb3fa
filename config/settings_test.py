"""Test settings: the same app, with a per-run test database, and a per-run embedded Redis
when REDIS_URL is unset."""

import os
import tempfile
from pathlib import Path

if not os.environ.get("REDIS_URL"):
    # One embedded Valkey per test run, owned by tests/conftest.py; child processes
    # (workers, commands) inherit REDIS_URL and share it.
    _sock = Path(tempfile.gettempdir()) / f"inventory-tests-{os.getpid()}" / "valkey.sock"
    os.environ["REDIS_URL"] = f"unix://{_sock}?db=0"
    os.environ["INVENTORY_TEST_REDIS_SOCKET"] = str(_sock)

os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: F403
from config.settings import VAR_DIR

# Each run has its own test database, so two runs on one machine never share one; child
# processes (workers, commands) are given the test database's URL by the tests that start them.
_run = os.environ.setdefault("INVENTORY_TEST_RUN", str(os.getpid()))
if not os.environ.get("DATABASE_URL"):
    from config.env import sqlite_database

    DATABASES = {"default": sqlite_database(VAR_DIR / f"test-{_run}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_run}"}
    # The live server answers each request in a new thread: a connection kept for reuse
    # outlives its thread and keeps the test database from being dropped at the end.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A throwaway database: a commit need not wait for its WAL to reach the disk (the many
    # small transactions of the transactional tests, and their flushes, wait on it otherwise).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=off".strip()

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False

# The test-only platforms (tests/platforms/) join the real ones in the registry.
CHANNEL_PLATFORM_PACKAGES = ("connectors.platforms", "tests.platforms")

# The test client's login() authenticates without a request, which django-axes refuses; the
# lock-out's own tests (tests/config/test_security.py) turn it on and log in through the page.
AXES_ENABLED = False
