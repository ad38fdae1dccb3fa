"""The contract every platform connector fulfils.

A connector is a plain object: it gets plain values (base URL, credentials, settings, the
tokens it obtained before, and PushItems) and returns plain results (ItemOutcomes, levels
read, Exchanges to store). It never touches the ORM; `connectors.services` stores results.

What a platform can do is declared in `capabilities`; the push engine picks its strategy
from that (absolute targets or deltas, batch sizes, reads), never from the platform's name.
"""

import time
from dataclasses import dataclass, field

from connectors import http
from connectors.exceptions import (
    AuthError,
    ChannelError,
    ConfigError,
    RateLimited,
    TransientError,
)


@dataclass(frozen=True)
class Capabilities:
    writes: str  # "absolute": we send the target; "delta": we send target minus what it holds
    batch_max: int  # items per write request
    reads_levels: bool  # can tell what it currently shows
    rate_limit: tuple  # (requests, per seconds), as documented
    infinite: bool = False  # can express "untracked, never runs out" natively


@dataclass(frozen=True)
class PushItem:
    """One listing to bring to `quantity` (None: untracked, sell without limit)."""

    key: int  # our listing id
    remote_id: str
    remote_parent_id: str = ""
    quantity: int | None = 0
    allow_backorder: bool = False
    sku: str = ""


@dataclass
class ItemOutcome:
    key: int
    ok: bool
    quantity: int | None = None  # what the channel shows now, when known
    message: str = ""
    retry: bool = False  # not applied, but not the item's fault (e.g. a batch-mate was refused)


@dataclass
class Setting:
    """A platform setting or credential the admin asks for."""

    name: str
    label: str
    required: bool = True
    help: str = ""
    kind: str = "str"  # str | bool | int


class Connector:
    platform = ""
    capabilities: Capabilities
    credential_fields: tuple = ()
    setting_fields: tuple = ()
    uses_token = False  # tokens obtained from the credentials, kept in auth_state

    def __init__(
        self,
        *,
        base_url,
        credentials,
        settings=None,
        auth_state=None,
        timeout=None,
        on_auth_change=None,
        load_auth_state=None,
    ):
        self.base_url = base_url.rstrip("/")
        self.load_auth_state = load_auth_state
        # Called with the new auth_state as soon as a token is obtained: a rotated refresh
        # token must be kept even if the push that follows never finishes.
        self.on_auth_change = on_auth_change
        self.timeout = timeout or http.TIMEOUT
        self.credentials = dict(credentials or {})
        self.settings = dict(settings or {})
        self.auth_state = dict(auth_state or {})  # tokens; read back by the caller to keep
        self.exchanges = []  # every Exchange made by this connector, in order
        self.redactor = http.Redactor(v for v in self.credentials.values() if isinstance(v, str))
        self.redactor.add(*(v for v in self.auth_state.values() if isinstance(v, str)))
        self.check_config()

    # ------------------------------------------------------------------ configuration

    @classmethod
    def config_problems(cls, credentials, settings):
        """Human-readable problems with these credentials and settings ([] when fine)."""
        problems = []
        for f in cls.credential_fields:
            if f.required and not credentials.get(f.name):
                problems.append(f"credential '{f.label}' is required")
        for f in cls.setting_fields:
            if f.required and settings.get(f.name) in (None, ""):
                problems.append(f"setting '{f.label}' is required")
        return problems

    def check_config(self):
        problems = self.config_problems(self.credentials, self.settings)
        if problems:
            raise ConfigError(f"{self.platform} channel: " + "; ".join(problems))

    # ------------------------------------------------------------------ the contract

    def batches(self, items):
        """Split items into write requests of at most batch_max."""
        size = self.capabilities.batch_max
        return [items[i : i + size] for i in range(0, len(items), size)]

    def push_batch(self, items):
        """Bring each item to its quantity; return one ItemOutcome per item."""
        raise NotImplementedError

    def read_levels(self, items):
        """{item.key: quantity shown (None: infinite)} for items the channel knows."""
        raise NotImplementedError

    def test_connection(self, item=None):
        """Authenticate and, where the API can, read one level; return a short report."""
        self.authenticate(force=True)
        if item is not None and self.capabilities.reads_levels:
            level = self.read_levels([item]).get(item.key, "not found")
            return f"authenticated; {item.sku or item.remote_id} shows {level}"
        if self.uses_token:
            return "authenticated"  # the token grant itself proved the credentials
        return self.probe()

    def probe(self):
        """Prove static credentials with one cheap authenticated call (no listing needed)."""
        return "credentials stored; list a variant on this channel to check them with a read"

    # ------------------------------------------------------------------ tokens

    def authenticate(self, force=False):
        """Make sure a usable token is in auth_state (no-op for static tokens)."""
        if not self.uses_token:
            return
        if not force and not self._token_usable() and self.load_auth_state is not None:
            # Another worker may have renewed it meanwhile (and rotated a refresh token).
            self.auth_state.update(self.load_auth_state() or {})
            self.redactor.add(*(v for v in self.auth_state.values() if isinstance(v, str)))
        if force or not self._token_usable():
            token, lifetime = self.obtain_token()
            self.auth_state["access_token"] = token
            self.auth_state["expires_at"] = time.time() + lifetime
            self.redactor.add(token)
            if self.on_auth_change is not None:
                self.on_auth_change(dict(self.auth_state))

    def _token_usable(self):
        expires = self.auth_state.get("expires_at", 0)
        return bool(self.auth_state.get("access_token")) and expires - 60 > time.time()

    def obtain_token(self):
        """Ask the platform for a token: return (token, lifetime in seconds)."""
        raise NotImplementedError

    def auth_headers(self):
        return {"Authorization": f"Bearer {self.auth_state['access_token']}"}

    # ------------------------------------------------------------------ HTTP

    def request(self, method, path, *, purpose, keys=(), url=None, headers=None, **kwargs):
        """Send with our auth; on a 401 of a token platform, renew the token once and resend
        (a 401 means nothing was applied). Returns the response for 2xx and the 4xx the
        platform module interprets; raises the shared error kinds for the rest."""
        self.authenticate()
        target = url or self.base_url + path
        response = self._send(method, target, purpose, keys, headers, kwargs)
        if response.status_code == 401 and self.uses_token:
            self.exchanges[-1].outcome = "auth"
            self.authenticate(force=True)
            response = self._send(method, target, purpose, keys, headers, kwargs)
        return self.judge(response)

    def send_unauthenticated(self, method, url, *, purpose="auth", **kwargs):
        """A request without our auth headers (token endpoints); judged by the caller."""
        return http.send(
            method,
            url,
            purpose=purpose,
            redactor=self.redactor,
            exchanges=self.exchanges,
            timeout=self.timeout,
            **kwargs,
        )

    def _send(self, method, url, purpose, keys, headers, kwargs):
        return http.send(
            method,
            url,
            purpose=purpose,
            redactor=self.redactor,
            exchanges=self.exchanges,
            keys=keys,
            headers={**self.auth_headers(), **(headers or {})},
            timeout=self.timeout,
            **kwargs,
        )

    def judge(self, response):
        """Raise the shared error for statuses every platform means the same by."""
        status = response.status_code
        record = self.exchanges[-1]
        if status in (401, 403):
            record.outcome = "auth"
            raise AuthError(
                f"{self.platform} refused the credentials ({status}): {_short(response)}"
            )
        if status == 429:
            record.outcome = "rate_limited"
            wait, daily = self.retry_after(response)
            raise RateLimited(
                f"{self.platform} rate limit reached; retry in {wait:.0f} s",
                retry_after=wait,
                daily=daily,
            )
        if status >= 500:
            record.outcome = "transient"
            raise TransientError(f"{self.platform} answered {status}: {_short(response)}")
        return response

    def retry_after(self, response):
        """(seconds to wait, whether it is a daily quota) for a 429."""
        value = response.headers.get("Retry-After", "")
        try:
            return max(float(value), 1.0), False
        except ValueError:
            return 60.0, False

    def channel_error(self, response, what):
        self.exchanges[-1].outcome = "channel"
        raise ChannelError(f"{self.platform}: {what} ({response.status_code}: {_short(response)})")


def _short(response, limit=300):
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")


@dataclass
class Batch:
    """Items and their outcomes, for connectors that build the answer item by item."""

    items: list
    outcomes: dict = field(default_factory=dict)

    def ok(self, item, quantity, message=""):
        self.outcomes[item.key] = ItemOutcome(item.key, True, quantity, message)

    def rejected(self, item, message):
        self.outcomes[item.key] = ItemOutcome(item.key, False, None, message)

    def retry(self, item, message):
        self.outcomes[item.key] = ItemOutcome(item.key, False, None, message, retry=True)

    def result(self):
        return [
            self.outcomes.get(i.key, ItemOutcome(i.key, False, None, "no answer", retry=True))
            for i in self.items
        ]
