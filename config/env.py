"""Reading settings from environment variables: booleans, lists and database URLs."""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """An environment variable holds something the app cannot use."""


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(
        f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off"
    )


def env_int(name, default, minimum=None):
    """A whole number from the environment; anything else stops the app, naming the variable."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r}: it must be at least {minimum}")
    return value


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url, *, base_dir):
    """Turn DATABASE_URL (sqlite:///path, postgres://user:pw@host:port/name) into DATABASES."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    options = dict(parse_qsl(parts.query))
    if scheme == "sqlite":
        # sqlite:///relative/path, sqlite:////absolute/path
        raw_path = unquote(parts.path)[1:] if parts.path.startswith("/") else unquote(parts.path)
        if not raw_path:
            raise ConfigError(
                "DATABASE_URL: a sqlite URL needs a file path, e.g. sqlite:///var/db.sqlite3"
            )
        path = Path(raw_path)
        if not path.is_absolute():
            path = base_dir / path
        return sqlite_database(path)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError(
                "DATABASE_URL: a postgres URL needs a database name, e.g. postgres://u@host/db"
            )
        # No JIT compilation: PostgreSQL compiles a query whose estimated cost is high, and
        # the admin's estimates often are (a filter on sums it cannot estimate): 0.2-0.5 s of
        # compiling for queries that run in 0.1 s. A URL's own `options` replace this.
        options.setdefault("options", "-c jit=off")
        db = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", 60)),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
        return db
    raise ConfigError(
        f"DATABASE_URL scheme {scheme!r} is not supported: use sqlite:/// or postgres://"
    )


def sqlite_database(path):
    """SQLite tuned for a multi-process app: WAL, and IMMEDIATE transactions so writers wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": str(path.with_name(path.stem + "-test" + path.suffix))},
    }
