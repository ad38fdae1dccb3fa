"""Reading settings from environment variables: booleans, lists, database URLs and keys."""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured, ValueError):
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


def env_int(name, default, *, minimum=0, maximum=None):
    """A whole number from the environment, at least `minimum` (and at most `maximum`)."""
    return _env_number(name, default, int, "a whole number", minimum, maximum)


def env_float(name, default, *, minimum=0, maximum=None):
    """A number of seconds (or any decimal number) from the environment, at least `minimum`."""
    return _env_number(name, default, float, "a number", minimum, maximum)


def _env_number(name, default, kind, what, minimum, maximum):
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw.strip().replace("_", ""))
    except ValueError:
        value = None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}={raw!r} is not {what} (the default is {default})")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" + (f" and at most {maximum}" if maximum is not None else "")
        raise ConfigError(f"{name}={raw!r} is out of range: it must be {bounds}")
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
            "CONN_MAX_AGE": _conn_max_age(options.pop("conn_max_age", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
        return db
    raise ConfigError(
        f"DATABASE_URL scheme {scheme!r} is not supported: use sqlite:/// or postgres://"
    )


def _conn_max_age(raw):
    try:
        seconds = int(raw)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ConfigError(
            f"DATABASE_URL: conn_max_age={raw!r} is not a whole number of seconds (0 or more)"
        )
    return seconds


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


def credentials_keys(raw, *, debug, key_file):
    """The Fernet keys channel credentials are encrypted with (CREDENTIALS_KEYS: comma-separated,
    the first encrypts, all decrypt). Unset: with DEBUG on, one key made once in key_file and
    shared by every local process; with DEBUG off, an error (a key per machine would make one
    machine's credentials unreadable on the next)."""
    if raw is not None and raw.strip():
        keys = [key.strip() for key in raw.split(",") if key.strip()]
        for number, key in enumerate(keys, 1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ConfigError(
                    f"CREDENTIALS_KEYS: key {number} of {len(keys)} is not a Fernet key (32 "
                    "url-safe base64-encoded bytes; make one with `python -c 'from "
                    "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
                ) from None
        return keys
    if not debug:
        raise ConfigError(
            "CREDENTIALS_KEYS must be set when DEBUG is off: the key channel credentials are "
            "encrypted with, the same on every process (README: Operations, Credentials keys)"
        )
    return [_local_key(Path(key_file))]


def _local_key(path):
    """The local key in `path`, made (readable by its owner only) if there is none yet; two
    processes starting at once agree on the first one written."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(Fernet.generate_key().decode() + "\n")
    try:
        os.link(draft, path)  # fails if another process got there first: its key stands
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()
