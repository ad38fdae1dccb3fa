"""Rate limiters and the token store of the sandboxes. Callers hold the sandbox lock."""

import secrets
import time


class TokenBucket:
    """`capacity` requests (or points) at once, refilled at `rate` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float):
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, cost: float = 1) -> bool:
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    @property
    def remaining(self) -> int:
        return int(self.tokens)

    @property
    def retry_after(self) -> float:
        """Seconds until one request is allowed again."""
        return max(0.0, (1 - self.tokens) / self.rate) if self.rate else float("inf")


class FixedWindow:
    """At most `limit` requests per window of `size` seconds, counted from its first request."""

    __slots__ = ("count", "limit", "size", "start")

    def __init__(self, limit: int, size: float):
        self.limit = limit
        self.size = size
        self.start = time.monotonic()
        self.count = 0

    def _roll(self) -> None:
        now = time.monotonic()
        if now - self.start >= self.size:
            self.start = now
            self.count = 0

    def take(self) -> bool:
        self._roll()
        if self.count < self.limit:
            self.count += 1
            return True
        return False

    @property
    def remaining(self) -> int:
        self._roll()
        return max(0, self.limit - self.count)

    @property
    def reset_in(self) -> float:
        return max(0.0, self.start + self.size - time.monotonic())


class TokenStore:
    """Issued and seeded tokens. An expired token is kept, so a platform can tell
    "expired" from "never issued" where its API does (Zettle)."""

    def __init__(self):
        self._tokens: dict[str, dict] = {}

    def issue(self, ttl: float | None, prefix: str = "", **claims) -> tuple[str, dict]:
        token = prefix + secrets.token_urlsafe(24)
        return token, self.add(token, ttl, **claims)

    def add(self, token: str, ttl: float | None = None, **claims) -> dict:
        """Register a token; ttl None means it lasts until expire_all()."""
        record = {
            "claims": claims,
            "issued_at": time.time(),
            "expires_at": None if ttl is None else time.time() + ttl,
            "revoked": False,
        }
        self._tokens[token] = record
        return record

    def check(self, token: str | None) -> tuple[dict | None, str]:
        """(claims, status) with status "ok", "expired" or "unknown"."""
        record = self._tokens.get(token) if token else None
        if record is None:
            return None, "unknown"
        expires_at = record["expires_at"]
        if record["revoked"] or (expires_at is not None and expires_at <= time.time()):
            return None, "expired"
        return record["claims"], "ok"

    def revoke(self, token: str) -> None:
        if token in self._tokens:
            self._tokens[token]["revoked"] = True

    def expire_all(self) -> int:
        live = [r for r in self._tokens.values() if not r["revoked"]]
        for record in live:
            record["revoked"] = True
        return len(live)

    def to_json(self) -> list[dict]:
        """Token values stay secret: only a prefix is shown."""
        now = time.time()
        return [
            {
                "token": token[:8] + "…",
                "claims": record["claims"],
                "expires_in": None
                if record["expires_at"] is None
                else round(record["expires_at"] - now),
                "valid": not record["revoked"]
                and (record["expires_at"] is None or record["expires_at"] > now),
            }
            for token, record in self._tokens.items()
        ]
