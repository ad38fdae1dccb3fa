"""Errors by kind, shared by every connector: what went wrong decides what happens next."""


class ConnectorError(Exception):
    """Base of every connector failure. `kind` is stored on the push record; `outcomes` are
    the items a push decided before it failed (the engine keeps them)."""

    kind = "error"
    outcomes = ()


class AuthError(ConnectorError):
    """The channel refused our credentials (or their scope): pause the channel, tell staff."""

    kind = "auth"


class RateLimited(ConnectorError):
    """The channel asked us to wait `retry_after` seconds (`daily`: a quota, not a burst).
    `paced`: our own pacing held the request back before anything was sent."""

    kind = "rate_limited"

    def __init__(self, message, *, retry_after, daily=False, paced=False):
        super().__init__(message)
        self.retry_after = retry_after
        self.daily = daily
        self.paced = paced


class TransientError(ConnectorError):
    """5xx, timeout or dropped connection: retry with backoff. `maybe_applied` is True when
    the request may have reached the channel (a write whose answer was lost)."""

    kind = "transient"

    def __init__(self, message, *, maybe_applied=False):
        super().__init__(message)
        self.maybe_applied = maybe_applied


class ChannelError(ConnectorError):
    """The channel cannot take any change as configured (e.g. ecommerce not enabled, a
    location it does not know): needs a person, like bad credentials."""

    kind = "channel"


class ConfigError(ConnectorError):
    """Our own channel settings are incomplete or wrong for the platform."""

    kind = "config"
