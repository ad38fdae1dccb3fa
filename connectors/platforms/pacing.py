"""Spacing requests to a channel so that it never has to refuse one for its rate.

Two things decide when the next request to a channel may go:

- the rate the platform documents, (requests, per seconds): a token bucket of that size,
  kept as a GCRA (one number, the theoretical arrival time), run a little under the rate so
  clocks and network jitter stay on the right side of the platform's own count;
- what the platform's answers say: a 429's Retry-After, or a quota the headers say is spent
  (`hold`): nobody sends until then.

The state lives in a store shared by every worker pushing to the channel (Redis, given by the
services), or in this process when none is given (a connector used on its own, or Redis
unreachable: each process then paces alone, which still keeps one process within the rate).
A wait longer than `max_wait` is not slept: `wait` raises RateLimited before anything is sent,
so a worker is not held up and the sync comes back when the channel is ready.
"""

import logging
import threading
import time

from connectors.exceptions import RateLimited

log = logging.getLogger(__name__)

MARGIN = 0.97  # of the documented rate
MAX_WAIT = 5.0  # seconds a request may wait for its turn; longer, and the job comes back later
DAILY = 3600.0  # a wait over half this is a quota spent for the day, not a burst


class LocalStore:
    """Pacing state in this process (threads share it)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tat = {}
        self.holds = {}

    def reserve(self, key, interval, tolerance, max_wait):
        """Take the next slot: seconds to wait for it, or (without taking it) a longer wait."""
        now = time.time()
        with self.lock:
            hold = self.holds.get(key, 0.0)
            start = max(self.tat.get(key, now), now, hold)
            wait = max(start - tolerance - now, hold - now, 0.0)
            if wait > max_wait:
                return wait
            self.tat[key] = start + interval
            return wait

    def hold(self, key, seconds, drain):
        """Nobody sends for `seconds`; then, with `drain` (the bucket's tolerance), the
        requests go at the rate, not in a burst."""
        until = time.time() + seconds
        with self.lock:
            self.holds[key] = max(self.holds.get(key, 0.0), until)
            if drain:
                self.tat[key] = max(self.tat.get(key, 0.0), until + drain)


class RedisStore:
    """Pacing state in Redis, one key per channel, updated atomically by scripts that read
    Redis's own clock (the workers' clocks may differ; the channel counts by one)."""

    NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
    # KEYS[1] the arrival time, KEYS[2] the hold; ARGV interval, tolerance, max wait.
    RESERVE = (
        NOW
        + """
    local interval = tonumber(ARGV[1])
    local tolerance = tonumber(ARGV[2])
    local hold = tonumber(redis.call('GET', KEYS[2]) or '0')
    local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
    local start = math.max(tat, now, hold)
    local wait = math.max(start - tolerance - now, hold - now, 0)
    if wait > tonumber(ARGV[3]) then return tostring(wait) end
    local ttl = math.ceil((start + interval - now) * 1000) + 1000
    redis.call('SET', KEYS[1], tostring(start + interval), 'PX', ttl)
    return tostring(wait)
    """
    )
    # KEYS[1] the arrival time, KEYS[2] the hold; ARGV seconds, drain.
    HOLD = (
        NOW
        + """
    local ends = now + tonumber(ARGV[1])
    local ttl = math.ceil(tonumber(ARGV[1]) * 1000) + 1000
    local held = tonumber(redis.call('GET', KEYS[2]) or '0')
    if ends > held then redis.call('SET', KEYS[2], tostring(ends), 'PX', ttl) end
    local drain = tonumber(ARGV[2])
    if drain > 0 then
        local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
        if ends + drain > tat then
            redis.call('SET', KEYS[1], tostring(ends + drain), 'PX', ttl + math.ceil(drain * 1000))
        end
    end
    return 1
    """
    )

    def __init__(self, client, prefix="inventory:pace:"):
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(self.RESERVE)
        self._hold = client.register_script(self.HOLD)

    def _keys(self, key):
        return [f"{self.prefix}{key}:tat", f"{self.prefix}{key}:hold"]

    def reserve(self, key, interval, tolerance, max_wait):
        return float(self._reserve(keys=self._keys(key), args=[interval, tolerance, max_wait]))

    def hold(self, key, seconds, drain):
        self._hold(keys=self._keys(key), args=[seconds, drain])


class Pacer:
    """Waits for each request's turn at `rate` = (requests, per seconds); None: no limit."""

    def __init__(self, rate, *, key="local", store=None, fallback=None, max_wait=MAX_WAIT):
        self.key = key
        self.max_wait = max_wait
        self.store = store or LocalStore()
        # Where the shared store fails (Redis gone mid-push), pacing goes on in the process.
        self.fallback = fallback or (LocalStore() if store is not None else None)
        self.interval = self.tolerance = 0.0
        if rate:
            requests, per = rate
            self.interval = per / (requests * MARGIN)
            # Nearly a full bucket may go at once: two short of it, for the jitter between
            # our clock and the platform's count.
            self.tolerance = self.interval * max(requests - 3, 0)
        self.waited = 0.0  # seconds this pacer slept, for the record

    def wait(self):
        """Sleep until this request's turn; RateLimited (nothing sent) if that is too far."""
        if not self.interval:
            return
        wait = self._call("reserve", self.key, self.interval, self.tolerance, self.max_wait)
        if wait > self.max_wait:
            raise RateLimited(
                f"the channel's rate limit leaves no room for {wait:.0f} s",
                retry_after=wait,
                daily=wait >= DAILY / 2,
                paced=True,
            )
        if wait > 0:
            time.sleep(wait)
            self.waited += wait

    def hold(self, seconds, *, drain=False):
        """Nobody sends to this channel for `seconds` (a 429's wait, a quota spent). With
        `drain` (after a 429, whose wait may mean one request's room, not a whole bucket's),
        the requests that follow go at the rate, not in a burst."""
        if seconds > 0:
            self._call("hold", self.key, seconds, self.tolerance if drain else 0.0)

    def _call(self, name, *args):
        try:
            return getattr(self.store, name)(*args)
        except Exception as exc:  # the shared store is unreachable: pace in this process
            if self.fallback is None:
                raise
            log.warning("pacing %s in this process only: %s", self.key, exc)
            # From now on, all of it here: a hold kept in one store and slots taken in
            # the other would not see each other.
            self.store, self.fallback = self.fallback, None
            return getattr(self.store, name)(*args)
