"""All HTTP to channels goes through here: one pooled session per process and thread, explicit
timeouts, and a record of every exchange with its secrets taken out."""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from connectors.exceptions import TransientError

USER_AGENT = "inventory-backoffice/0.1 (+stock sync)"
TIMEOUT = (3.05, 20)  # connect, read (seconds)
REDACTED = "[redacted]"
SECRET_HEADERS = {"authorization", "apikey", "x-api-key", "cookie"}
# Any header named like a credential is one, whatever the platform calls it
# (X-Shopify-Access-Token, X-Auth-Token, X-Client-Secret): a new platform needs no entry here.
SECRET_HEADER_WORDS = ("token", "secret", "password", "api-key", "apikey")
SECRET_FIELDS = {
    "password",
    "client_secret",
    "assertion",
    "refresh_token",
    "access_token",
    "accesstoken",
    "token",
    "code",
    "apikey",
    "api_key",
    "secret",
    "secret_key",
    "secretkey",
    "signingkey",
    "webhook_secret",
}
MAX_BODY = 20_000


def is_secret_header(name):
    """Whether a header carries a credential: a known name, or one named like a credential."""
    name = str(name).lower()
    return name in SECRET_HEADERS or any(word in name for word in SECRET_HEADER_WORDS)


_local = threading.local()


class _StripQueryStrings(logging.Filter):
    """urllib3 logs each request line at DEBUG, query string included: a token or password
    sent that way (Unicommerce's GET /authToken) would land in the logs. Keep the path only."""

    def filter(self, record):
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                a.split("?", 1)[0] + "?[query removed]" if isinstance(a, str) and "?" in a else a
                for a in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_StripQueryStrings())


def session():
    """This thread's pooled session (a forked worker builds its own on first use)."""
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        # No urllib3 retries: the sync decides what to retry, knowing what a write may have done.
        s.mount("http://", HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0))
        s.mount("https://", HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0))
        s.headers["User-Agent"] = USER_AGENT
        _local.session = s
    return s


@dataclass
class Exchange:
    """One request and its answer (or failure), ready to store: nothing secret is left in it."""

    purpose: str
    method: str
    url: str
    request_headers: dict
    request_body: str
    status: int | None = None
    response_body: str = ""
    duration_ms: int = 0
    outcome: str = "ok"
    error: str = ""
    keys: tuple = ()
    items: list = field(default_factory=list)


class Redactor:
    """Removes secrets: by field name, and any known secret value wherever it appears."""

    def __init__(self, secrets=()):
        self.values = set()
        self.add(*secrets)

    def add(self, *values):
        for value in values:
            if isinstance(value, str) and len(value) >= 4:
                self.values.add(value)

    def text(self, text):
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

    def url(self, url):
        parts = urlsplit(url)
        query = [
            (k, REDACTED if k.lower() in SECRET_FIELDS else v) for k, v in parse_qsl(parts.query)
        ]
        return self.text(urlunsplit(parts._replace(query=urlencode(query, safe="[]"))))

    def headers(self, headers):
        return {
            k: (REDACTED if is_secret_header(k) else self.text(str(v))) for k, v in headers.items()
        }

    def body(self, body):
        if body is None or body == b"" or body == "":
            return ""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if isinstance(body, dict):  # a form
            body = urlencode(
                {k: REDACTED if k.lower() in SECRET_FIELDS else v for k, v in body.items()}
            )
            return self.text(body)
        try:
            data = json.loads(body)
        except ValueError:
            return self.text(body[:MAX_BODY])
        return self.text(json.dumps(_scrub(data), ensure_ascii=False)[:MAX_BODY])


def _scrub(data):
    if isinstance(data, dict):
        return {k: REDACTED if k.lower() in SECRET_FIELDS else _scrub(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


def send(method, url, *, purpose, redactor, exchanges, keys=(), timeout=TIMEOUT, **kwargs):
    """Send one request; append its Exchange to `exchanges`; return the response.

    Timeouts and dropped connections raise TransientError (maybe_applied for a write that
    may have reached the channel); any HTTP status is returned for the connector to judge.
    """
    record = Exchange(
        purpose=purpose,
        method=method,
        url=redactor.url(url if not kwargs.get("params") else _with_params(url, kwargs["params"])),
        request_headers=redactor.headers(kwargs.get("headers") or {}),
        request_body=redactor.body(
            kwargs.get("data")
            if "data" in kwargs
            else json.dumps(kwargs["json"])
            if "json" in kwargs
            else None
        ),
        keys=tuple(keys),
    )
    exchanges.append(record)
    started = time.perf_counter()
    try:
        response = session().request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        record.outcome, record.error = "transient", f"timed out: {type(exc).__name__}"
        raise TransientError(
            f"{method} {record.url} timed out", maybe_applied=method != "GET"
        ) from exc
    except requests.ConnectionError as exc:
        record.outcome, record.error = "transient", "connection failed or dropped"
        raise TransientError(
            f"{method} {record.url}: connection failed or dropped", maybe_applied=method != "GET"
        ) from exc
    finally:
        record.duration_ms = int((time.perf_counter() - started) * 1000)
    record.status = response.status_code
    record.response_body = redactor.body(response.content)
    return response


def _with_params(url, params):
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items() if isinstance(params, dict) else params)
    return urlunsplit(parts._replace(query=urlencode(query)))
