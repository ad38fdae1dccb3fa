"""The contract every platform connector fulfils.

A connector is a plain object: it gets plain values (base URL, credentials, settings, the
tokens it obtained before, PushItems) and returns plain results (Levels read, ItemOutcomes,
Exchanges to store). It never touches the ORM; `connectors.services` stores what it returns.

A platform says what it can do in `capabilities`, and the push engine's write step
(`strategy.push`) chooses from that, never from the platform's name:

- ABSOLUTE writes are sent the target itself (HighLevel, Webflow, Unicommerce);
- DELTA writes are sent target minus what the channel holds, which the engine reads right
  before writing (Elastic Path's transactions, Zettle's movements): a delta whose answer was
  lost is never resent blindly, the channel is read again first;
- COMPARE_AND_SET writes carry the quantity the channel is believed to hold, and the channel
  refuses the write if it moved (a sale): the engine then reads and tries again.

A connector implements `read` (what the channel shows, per item) and `write` (one request's
worth of Writes, each with its target and, where read, what the channel held). What the
base does once for all: requests with auth, token renewal, the error kinds of shared HTTP
statuses, Retry-After in both its forms, pacing to the declared rate limit and to what the
answers say, the quantity an untracked variant is shown as, and settings checked by kind.
"""

import email.utils
import time
from dataclasses import dataclass, field
from types import MappingProxyType

from connectors.exceptions import (
    AuthError,
    ChannelError,
    ConfigError,
    RateLimited,
    TransientError,
)
from connectors.platforms import http
from connectors.platforms.inbound import Unreadable, Verdict
from connectors.platforms.pacing import Pacer

ABSOLUTE, DELTA, COMPARE_AND_SET = "absolute", "delta", "compare_and_set"
WRITE_MODES = (ABSOLUTE, DELTA, COMPARE_AND_SET)
UNTRACKED_DEFAULT = 9999
SPENT = 2  # requests left in a quota window that count as none
RETRY_AFTER_CAP = 3600.0  # a Retry-After beyond an hour is read as an hour (a daily quota)


@dataclass(frozen=True)
class Capabilities:
    writes: str  # ABSOLUTE, DELTA or COMPARE_AND_SET
    batch_max: int  # items per write request
    reads_levels: bool  # can tell what it currently shows
    rate_limit: tuple  # (requests, per seconds), as documented
    infinite: bool = False  # expresses "untracked, never runs out" natively
    read_max: int = 100  # items per read request, where reads are batched
    # An absolute write that needs what the channel holds (Elastic Path's multi-location
    # `set` adds what the location has allocated): read first, like a delta.
    read_before_write: bool = False

    def __post_init__(self):
        if self.writes not in WRITE_MODES:
            raise ValueError(f"writes must be one of {WRITE_MODES}, not {self.writes!r}")

    @property
    def reads_first(self):
        """The engine reads before every write (the write starts from what it read)."""
        return self.writes == DELTA or self.read_before_write


@dataclass(frozen=True)
class PushItem:
    """One listing to bring to `quantity` (None: untracked, sell without limit)."""

    key: int  # our listing id
    remote_id: str
    remote_parent_id: str = ""
    quantity: int | None = 0
    allow_backorder: bool = False
    sku: str = ""
    ledger_entry: int | None = None  # the newest ledger entry `quantity` reflects
    # Compare-and-set: the number the channel last confirmed holding (None: not known, read).
    expected: int | None = None


@dataclass(frozen=True)
class Level:
    """What a channel holds for one item, as read."""

    shown: int | None  # as compared with a target (None: unlimited)
    raw: int | None = None  # the number itself, which deltas start from (None: none kept)
    detail: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, eq=False)  # each Write is its own (compared and hashed by identity)
class Write:
    """One item of a write request: bring it to `target` (None: the platform's unlimited)."""

    item: PushItem
    target: int | None
    current: Level | None = None  # what the channel held, where the engine read it
    expected: int | None = None  # compare-and-set: the number the write replaces

    @property
    def key(self):
        return self.item.key

    @property
    def change(self):
        """Target minus what the channel holds (delta writes)."""
        held = self.current.raw if self.current is not None and self.current.raw else 0
        return (self.target or 0) - held


@dataclass
class ItemOutcome:
    key: int
    ok: bool
    quantity: int | None = None  # what the channel shows now, when known
    message: str = ""
    retry: bool = False  # not applied, but not the item's fault (e.g. a batch-mate was refused)
    stale: bool = False  # the channel moved since it was read: read again and retry at once


@dataclass(frozen=True)
class Setting:
    """A platform setting or credential the admin asks for, checked by kind."""

    name: str
    label: str
    required: bool = True
    help: str = ""
    kind: str = "str"  # str | bool | int | choice
    minimum: int | None = None  # int: the least value
    maximum: int = 2**31 - 1  # int: the most (a number a platform's 32-bit field can take)
    choices: tuple = ()  # choice: the values allowed

    def problem(self, value):
        """What is wrong with a given value, or "" (a blank optional value is fine)."""
        if value in (None, ""):
            return f"'{self.label}' is required" if self.required else ""
        if self.kind == "int":
            text = str(value).strip()
            if isinstance(value, bool) or not text.lstrip("-").isdigit():
                return f"'{self.label}' must be a whole number"
            if self.minimum is not None and int(text) < self.minimum:
                return f"'{self.label}' must be at least {self.minimum}"
            if int(text) > self.maximum:
                return f"'{self.label}' must be at most {self.maximum:,}"
        elif self.kind == "bool":
            if str(value).strip().lower() not in BOOL_WORDS:
                return f"'{self.label}' must be true or false"
        elif self.kind == "choice":
            if str(value).strip().upper() not in {c.upper() for c in self.choices}:
                return f"'{self.label}' must be one of {', '.join(self.choices)}"
        elif len(str(value)) > 2000:
            return f"'{self.label}' is at most 2,000 characters"
        return ""


BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True}
BOOL_WORDS.update({"0": False, "false": False, "no": False, "off": False})


def untracked_setting():
    """The setting of platforms with no "unlimited": the quantity an untracked variant shows."""
    return Setting(
        "untracked_quantity",
        "Quantity shown for untracked variants",
        required=False,
        kind="int",
        minimum=1,
        help=f"The platform has no unlimited stock; {UNTRACKED_DEFAULT} by default.",
    )


class Connector:
    platform = ""
    capabilities: Capabilities
    credential_fields: tuple = ()
    setting_fields: tuple = ()
    uses_token = False  # tokens obtained from the credentials, kept in auth_state
    default_retry_after = 60.0  # a 429 without a usable Retry-After waits this long
    unknown_item = "the channel does not know this item"  # an item a read does not find

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
        pacer=None,
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
        # `pacer`: a callable(rate) -> Pacer (the services' shares its state between workers);
        # by default this connector paces alone.
        self.pacer = (pacer or Pacer)(self.capabilities.rate_limit)
        self._window = None  # (when the platform's current quota window began, remaining)

    # ------------------------------------------------------------------ configuration

    @classmethod
    def config_problems(cls, credentials, settings):
        """Human-readable problems with these credentials and settings ([] when fine)."""
        problems = []
        for f in cls.credential_fields:
            problem = f.problem(credentials.get(f.name))
            if problem:
                problems.append(f"credential {problem}")
        for f in cls.setting_fields:
            problem = f.problem(settings.get(f.name))
            if problem:
                problems.append(f"setting {problem}")
        return problems

    def check_config(self):
        problems = self.config_problems(self.credentials, self.settings)
        if problems:
            raise ConfigError(f"{self.platform} channel: " + "; ".join(problems))

    def setting(self, name, default=None):
        """A setting as its kind: int, bool or str (the default when blank)."""
        value = self.settings.get(name)
        if value in (None, ""):
            return default
        kind = next((f.kind for f in self.setting_fields if f.name == name), "str")
        if kind == "int":
            return int(str(value).strip())
        if kind == "bool":
            return BOOL_WORDS.get(str(value).strip().lower(), False)
        return str(value).strip()

    # ------------------------------------------------------------------ quantities

    @property
    def untracked_quantity(self):
        """What an untracked variant is sent as where the platform has no unlimited stock."""
        return self.setting("untracked_quantity", UNTRACKED_DEFAULT)

    def wire_target(self, item):
        """The number (or None: unlimited, on a platform that has it) an item is sent as.
        Quantities below 0 go out as 0: no platform takes a negative level."""
        if item.quantity is None:
            return None if self.capabilities.infinite else self.untracked_quantity
        return max(item.quantity, 0)

    def shown(self, item, raw):
        """What a held number means for the item: an untracked variant holding at least the
        untracked quantity shows as unlimited (None)."""
        if raw is None:
            return None
        if item.quantity is None and not self.capabilities.infinite:
            return None if raw >= self.untracked_quantity else raw
        return raw

    # ------------------------------------------------------------------ the contract

    def batches(self, items):
        """The engine's units of work: one read's worth where it reads first, else one
        write request's."""
        caps = self.capabilities
        size = max(caps.read_max, caps.batch_max) if caps.reads_first else caps.batch_max
        return [items[i : i + size] for i in range(0, len(items), size)]

    def problem(self, item):
        """Why an item cannot be sent at all (missing ids), or ""."""
        return "" if item.remote_id else "the listing has no remote id"

    def read(self, items):
        """{item.key: Level} for the items the channel knows (all it is asked, at most
        read_max a request)."""
        raise NotImplementedError

    def write(self, writes):
        """Send one request's worth of Writes; return one ItemOutcome per Write."""
        raise NotImplementedError

    def read_levels(self, items):
        """{item.key: quantity shown (None: unlimited)} for the items the channel knows."""
        levels = {}
        size = self.capabilities.read_max
        for start in range(0, len(items), size):
            levels.update(self.read(items[start : start + size]))
        return {key: level.shown for key, level in levels.items()}

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
            self.keep_auth_state()

    def keep_auth_state(self):
        if self.on_auth_change is not None:
            self.on_auth_change(dict(self.auth_state))

    def _token_usable(self):
        expires = self.auth_state.get("expires_at", 0)
        return bool(self.auth_state.get("access_token")) and expires - 60 > time.time()

    def obtain_token(self):
        """Ask the platform for a token: return (token, lifetime in seconds)."""
        raise NotImplementedError

    def token_refused(self, response, what):
        """Raise for a token endpoint's answer that carries no token, by what it means.

        A 429 is the platform's rate limit (its Retry-After waited for) and a 5xx or 408 a
        passing failure, retried with backoff: neither says anything of the credentials, and
        pausing the channel for them would wait for a person with nothing to fix. Only a 401
        or 403, or a 400 that names the credentials (refuses_credentials), is an AuthError
        (`what` says whose); any other answer is a ChannelError (a wrong URL, a request the
        endpoint does not take)."""
        status = response.status_code
        if status == 429 or status >= 500:
            self.judge(response)
        record = self.exchanges[-1]
        if status == 408:
            record.outcome = "transient"
            raise TransientError(f"{self.platform}: the token endpoint timed out ({status})")
        if status in (401, 403) or (status == 400 and refuses_credentials(response.text)):
            record.outcome = "auth"
            # Its words, in case they quote a secret we sent, without it.
            reason = self.redactor.text(_short(response))
            raise AuthError(f"{self.platform} refused {what} ({status}): {reason}")
        self.channel_error(response, "token endpoint gave no token")

    def token_body(self, response, *fields):
        """The token endpoint's JSON answer, which must hold each of `fields` as text
        (a ChannelError where it does not: a proxy's page, a wrong URL answering 200)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(f), str) and body[f] for f in fields
        ):
            self.channel_error(response, f"answered without {' and '.join(fields)}")
        return body

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
        return self._paced(
            method,
            url,
            purpose=purpose,
            redactor=self.redactor,
            exchanges=self.exchanges,
            timeout=self.timeout,
            **kwargs,
        )

    def _send(self, method, url, purpose, keys, headers, kwargs):
        return self._paced(
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

    def _paced(self, method, url, **kwargs):
        """Every request waits its turn at the channel's rate (shared by every worker pushing
        to it), and its answer tells the pacer what the channel has left."""
        self.pacer.wait()
        response = http.send(method, url, **kwargs)
        hold = self.rate_hold(response)
        if hold:
            self.pacer.hold(hold, drain=response.status_code == 429)
        return response

    def rate_hold(self, response):
        """Seconds nobody should send to this channel, from what an answer says (0: none):
        a 429's wait, or a quota the headers say is spent."""
        if response.status_code == 429:
            return self.retry_after(response)[0]
        remaining = _seconds(response.headers.get("X-RateLimit-Remaining", ""))
        if remaining is None:
            return 0.0
        now = time.monotonic()
        if self._window is None or remaining > self._window[1]:
            # The first answer seen, or the quota grew back since the last: a window began
            # (no later than now, so a wait counted from here is never too short).
            self._window = (now, remaining)
        self._window = (self._window[0], remaining)
        # Within SPENT of empty counts as spent: another worker's request may be in flight.
        return self.reset_after(response, self._window[0]) if remaining < SPENT else 0.0

    def reset_after(self, response, window_began):
        """Seconds until a spent quota comes back: the answer's reset header, else a whole
        window of the documented rate from when the current one began."""
        for header in ("X-RateLimit-Reset-After", "RateLimit-Reset"):
            seconds = _seconds(response.headers.get(header, ""))
            if seconds is not None:
                return seconds
        per = self.capabilities.rate_limit[1]
        return max(per - (time.monotonic() - window_began), 0.0) + 0.25

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
        """(seconds to wait, whether it is a daily quota) for a 429: its Retry-After, in
        seconds or as an HTTP date, else the platform's default wait."""
        wait = parse_retry_after(response.headers.get("Retry-After", ""))
        if wait is None:
            return self.default_retry_after, False
        return min(max(wait, 1.0), RETRY_AFTER_CAP), wait >= RETRY_AFTER_CAP

    def channel_error(self, response, what):
        self.exchanges[-1].outcome = "channel"
        raise ChannelError(f"{self.platform}: {what} ({response.status_code}: {_short(response)})")

    # ------------------------------------------------------------------ sales coming back
    #
    # What a platform tells us (connectors.platforms.inbound). The web process calls the two
    # class methods on every delivery, before anything is stored: they must never raise
    # anything but Unreadable, whatever the bytes. The worker reads the stored delivery with
    # `read_webhook`, polls with `poll_orders`, and staff register our URL with
    # `register_webhooks`.

    webhooks = False  # the platform delivers webhooks (verify_webhook, read_webhook)
    # Its webhooks say what a level became when it changes on the platform's side (staff
    # editing it there): read_webhook gives StockChanges (Elastic Path's say only the move).
    stock_events = False
    polls_orders = False  # poll_orders lists orders (the safety net; Unicommerce's only way)
    registers_webhooks = False  # register_webhooks can subscribe our URL through the API
    # What the webhook endpoint answers when it could not store a delivery: a status the
    # platform retries (HighLevel retries only a 429; most retry any non-2xx).
    store_failed_status = 503
    # The credential holding the webhook signing secret (a write-only credential, like the
    # others); the platform's credential_fields list it where it has one.
    webhook_secret_field = "webhook_secret"

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        """Verdict on one delivery: `headers` a mapping with lower-case names, `body` the raw
        bytes, `secret` the channel's signing secret ("" when none is set), `now` epoch
        seconds. Constant-time comparisons; a timestamp outside the platform's tolerance is
        invalid."""
        return Verdict(False, f"{cls.platform} delivers no webhooks")

    @classmethod
    def webhook_envelope(cls, headers, body):
        """(delivery id, topic) of a verified delivery, cheaply; "" where the platform sends
        none. Raises Unreadable for a body that is not the platform's envelope."""
        raise Unreadable(f"{cls.platform} delivers no webhooks")

    def read_webhook(self, headers, body):
        """The stored delivery as an inbound.Event (orders and stock changes); raises
        Unreadable, with the reason, for one that cannot be read."""
        raise Unreadable(f"{self.platform} delivers no webhooks")

    def poll_orders(self, cursor, since=None):
        """One page of orders changed since `cursor` (a dict this method returned before; {}
        the first time) or since `since` (a datetime: catching up after an outage), as an
        inbound.OrderPage whose cursor the next poll starts from."""
        raise NotImplementedError(f"{self.platform} cannot list orders")

    def register_webhooks(self, url):
        """Subscribe `url` to the order and stock events; an inbound.Registration. Raises
        ChannelError with the platform's words when it refuses."""
        raise NotImplementedError(f"{self.platform} has no API to register webhooks")


OAUTH_REFUSALS = ("invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope")
CREDENTIAL_WORDS = ("grant", "client", "credential", "token", "secret", "key")


def refuses_credentials(text):
    """Whether a token endpoint's 400 body refuses the credentials (RFC 6749's error codes,
    or "invalid" said of a grant, client, token...), not the request's shape."""
    words = text.lower()
    if any(code in words for code in OAUTH_REFUSALS):
        return True
    return "invalid" in words and any(word in words for word in CREDENTIAL_WORDS)


def parse_retry_after(value, now=None):
    """Seconds from a Retry-After value, delay-seconds or HTTP-date (RFC 9110 §10.2.3);
    None when it is neither."""
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(str(value).strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _seconds(value):
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None


def _short(response, limit=300):
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")


@dataclass
class Batch:
    """Writes and their outcomes, for connectors that build the answer item by item."""

    writes: list
    outcomes: dict = field(default_factory=dict)

    def ok(self, write, quantity, message=""):
        self.outcomes[write.key] = ItemOutcome(write.key, True, quantity, message)

    def rejected(self, write, message):
        self.outcomes[write.key] = ItemOutcome(write.key, False, None, message)

    def retry(self, write, message):
        self.outcomes[write.key] = ItemOutcome(write.key, False, None, message, retry=True)

    def stale(self, write, message):
        self.outcomes[write.key] = ItemOutcome(
            write.key, False, None, message, retry=True, stale=True
        )

    def result(self):
        return [
            self.outcomes.get(w.key, ItemOutcome(w.key, False, None, "no answer", retry=True))
            for w in self.writes
        ]

    def record(self, exchange, writes=None):
        """Keep the outcomes of these writes (default: all) on the exchange that carried them."""
        keys = {w.key for w in (self.writes if writes is None else writes)}
        exchange.items = [o.__dict__ for o in self.result() if o.key in keys]
