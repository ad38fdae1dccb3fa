"""Failure switches and the request log, shared by every sandbox.

Switches (POST /_sandbox/failures merges keys, DELETE restores these defaults):

    error_rate             fraction of in-scope requests answered with a 5xx (seeded RNG)
    error_next             the next N in-scope requests answered with a 5xx
    error_statuses         the 5xx statuses to pick from, e.g. [503] for a fixed one
    rate_limit_next        the next N in-scope requests answered with the platform's 429
    latency_ms             added to every in-scope request
    timeout_next/_rate     requests that sleep `timeout_seconds` and then answer normally
                           (a write is still applied: the client has usually given up by then)
    drop_next/_rate        the socket is closed with no answer; nothing is applied
    drop_after_apply_next  the next N writes (non-GET, answered 2xx) are applied, then the
                           socket is closed with no answer: the "response lost" case
    rate_limits            false turns the platform's own rate limits off (benchmarks)
    paths                  path prefixes the failures apply to; empty means every API path
    methods                HTTP methods they apply to, e.g. ["POST", "PATCH"] for writes
                           only; empty means every method
    include_auth           token endpoints are spared unless this is true, so "the next
                           request" means the API call and not the token fetch before it
    seed                   reseeds the RNG behind the rates

Counted switches are consumed in this order: timeout, drop, rate_limit, error.
"""

import json
import random
import threading
import time
from collections import Counter, deque
from urllib.parse import parse_qsl

from connectors.platforms.http import is_secret_header

DEFAULTS = {
    "error_rate": 0.0,
    "error_next": 0,
    "error_statuses": [500, 502, 503],
    "rate_limit_next": 0,
    "latency_ms": 0,
    "timeout_next": 0,
    "timeout_rate": 0.0,
    "timeout_seconds": 30.0,
    "drop_next": 0,
    "drop_rate": 0.0,
    "drop_after_apply_next": 0,
    "rate_limits": True,
    "paths": [],
    "methods": [],
    "include_auth": False,
    "seed": 0,
}
REDACTED = "[redacted]"
SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "password",
        "assertion",
        "refresh_token",
        "code",
        "access_token",
        "secret_key",
        "secretKey",
        "signingKey",
    }
)
MAX_LOGGED_BODY = 16_384


class Failures:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.switches = {k: list(v) if isinstance(v, list) else v for k, v in DEFAULTS.items()}
        self.rng = random.Random(self.switches["seed"])
        self.injected: Counter = Counter()

    def update(self, changes: dict) -> None:
        """Validate every key first, so a bad request changes nothing."""
        for key, value in changes.items():
            self._check(key, value)
        self.switches.update(changes)
        if "seed" in changes:
            self.rng = random.Random(changes["seed"])

    @staticmethod
    def _check(key: str, value) -> None:
        if key not in DEFAULTS:
            raise ValueError(f"unknown failure switch {key!r}; known: {sorted(DEFAULTS)}")
        default = DEFAULTS[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, list):
            kind = int if key == "error_statuses" else str
            ok = isinstance(value, list) and all(type(v) is kind for v in value)
            ok = ok and (key != "error_statuses" or bool(value))
        elif isinstance(default, float):
            ok = type(value) in (int, float) and value >= 0
            ok = ok and (not key.endswith("_rate") or value <= 1)
        else:
            ok = type(value) is int and value >= 0
        if not ok:
            raise ValueError(f"bad value for {key!r}: {value!r}")

    def applies(self, path: str, is_auth: bool, method: str = "GET") -> bool:
        if is_auth and not self.switches["include_auth"]:
            return False
        methods = self.switches["methods"]
        if methods and method not in methods:
            return False
        prefixes = self.switches["paths"]
        return not prefixes or path.startswith(tuple(prefixes))

    def take(self, key: str) -> bool:
        """Consume one unit of a "next N" switch."""
        if self.switches[key] > 0:
            self.switches[key] -= 1
            self.injected[key.removesuffix("_next")] += 1
            return True
        return False

    def _roll(self, key: str) -> bool:
        rate = self.switches[key]
        if rate and self.rng.random() < rate:
            self.injected[key.removesuffix("_rate")] += 1
            return True
        return False

    def plan(self, in_scope: bool):
        """(latency s, timeout s, fault) for one request; fault is "drop", "rate_limit",
        a 5xx status or None. Call under the sandbox lock."""
        if not in_scope:
            return 0.0, 0.0, None
        s = self.switches
        timeout = (
            s["timeout_seconds"] if self.take("timeout_next") or self._roll("timeout_rate") else 0
        )
        if self.take("drop_next") or self._roll("drop_rate"):
            fault = "drop"
        elif self.take("rate_limit_next"):
            fault = "rate_limit"
        elif self.take("error_next") or self._roll("error_rate"):
            fault = self.rng.choice(s["error_statuses"])
        else:
            fault = None
        return s["latency_ms"] / 1000, timeout, fault

    def to_json(self) -> dict:
        return {**self.switches, "injected": dict(self.injected)}


class RequestLog:
    """The last `maxlen` exchanges, stored raw and decoded only when read."""

    def __init__(self, maxlen: int = 10_000):
        self._entries: deque = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.total = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def add(self, request, status, fault, duration_ms: float) -> None:
        headers = {k: REDACTED if is_secret_header(k) else v for k, v in request.headers.items()}
        body = request.get_data(cache=True)
        if len(body) > MAX_LOGGED_BODY:
            body = body[:MAX_LOGGED_BODY]
        raw = (request.method, request.path, request.query_string, headers, body, request.mimetype)
        with self._lock:
            self.total += 1
            self._entries.append((self.total, time.time(), raw, status, fault, duration_ms))

    def to_json(self, since: int = 0, limit: int | None = None, path: str | None = None) -> dict:
        with self._lock:
            entries = [e for e in self._entries if e[0] > since]
        if path:
            entries = [e for e in entries if e[2][1].startswith(path)]
        if limit is not None:
            entries = entries[-limit:] if limit else []
        return {"total": self.total, "requests": [_entry_json(e) for e in entries]}


def _entry_json(entry) -> dict:
    seq, at, (method, path, query, headers, body, mimetype), status, fault, ms = entry
    return {
        "seq": seq,
        "time": at,
        "method": method,
        "path": path,
        "query": _redact(dict(parse_qsl(query.decode("latin-1")))),
        "headers": headers,
        "body": _decode_body(body, mimetype),
        "status": status,
        "fault": fault,
        "duration_ms": round(ms, 3),
    }


def _decode_body(body: bytes, mimetype: str):
    if not body:
        return None
    text = body.decode("utf-8", "replace")
    if mimetype == "application/x-www-form-urlencoded":
        return _redact(dict(parse_qsl(text)))
    try:
        return _redact(json.loads(text))
    except ValueError:
        return text


def _redact(value):
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_FIELDS else v for k, v in value.items()}
    return value
