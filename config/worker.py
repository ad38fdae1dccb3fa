"""The rq workers the app runs (settings.RQ["WORKER_CLASS"]): rq's own, made to outlive a
Redis outage and to take up a dead worker's scheduler soon.

rq 3.0's worker quits on the first Redis error of its loop (a job's status read while Redis
is gone ends it with "found an unhandled exception, quitting"), and a worker that did not get
the scheduler lock at start tries again only at its maintenance, every 10 minutes: with the
lock holder SIGKILLed, every delayed push (and every push is delayed a little, to gather a
burst) waits that long. Here a worker whose loop ended on an error waits for Redis with a
backoff and starts its loop again; its maintenance, scheduler lock included, runs every
MAINTENANCE_INTERVAL seconds. A stop asked for (SIGTERM, SIGINT) still stops it.
"""

import contextlib
import logging
import signal
import time

import redis
from django.conf import settings
from rq import SimpleWorker as RqSimpleWorker
from rq import Worker as RqWorker
from rq.exceptions import StopRequested

log = logging.getLogger(__name__)

# A SIGKILLed worker's scheduler lock expires 61 s after its last refresh (rq: interval +
# 60); another worker takes it at its next maintenance after that.
MAINTENANCE_INTERVAL = 30
BACKOFF_MAX = 30.0


class RidesOutRedis:
    """The mixin: the loop again after Redis comes back, the scheduler lock tried often."""

    def __init__(self, *args, maintenance_interval=MAINTENANCE_INTERVAL, **kwargs):
        # A heartbeat for the running job every RQ_JOB_HEARTBEAT seconds: the sweepers tell
        # a job of a killed worker by its silence (connectors.queue._alive).
        kwargs.setdefault("job_monitoring_interval", settings.RQ_JOB_HEARTBEAT)
        super().__init__(*args, maintenance_interval=maintenance_interval, **kwargs)

    def work(self, burst=False, **kwargs):
        pause = 1.0
        while True:
            started = time.monotonic()
            try:
                worked = super().work(burst=burst, **kwargs)
                failed = None
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                worked, failed = False, exc  # its teardown could not reach Redis
            except StopRequested:  # a signal between two of rq's own checks
                return False
            if burst or self._stopping() or _ended_on_purpose(kwargs):
                return worked
            log.warning(
                "worker %s: its loop ended (%s); starting it again once Redis answers",
                self.name,
                failed or "see the error above",
            )
            # rq's handlers ask Redis what the worker is doing: while it waits for Redis, a
            # stop only needs noting.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self._note_stop)
            # A loop that keeps ending at once (Redis refusing us, a bug) is not spun.
            pause = pause * 2 if time.monotonic() - started < 10 else 1.0
            self._sleep(min(pause, BACKOFF_MAX))
            self._wait_for_redis()
            if self._stopping():
                return worked
            self._forget_registration()

    def _stopping(self):
        """A stop was asked for (rq notes the time of a SIGTERM or SIGINT; one that came
        while no job ran ended the loop at once, with _stop_requested still unset)."""
        return self._stop_requested or self._shutdown_requested_date is not None

    def _note_stop(self, signum, frame):
        self._stop_requested = True

    def _wait_for_redis(self):
        """Until Redis answers (or a stop is asked for), trying again with a growing delay."""
        delay = 1.0
        while not self._stopping():
            try:
                self.connection.ping()
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    def _sleep(self, seconds):
        """A wait that a stop cuts short."""
        deadline = time.monotonic() + seconds
        while not self._stopping() and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))

    def _forget_registration(self):
        """Its registration from before, if Redis kept it: the loop registers it again (and
        refuses a name that is registered and alive)."""
        with contextlib.suppress(redis.exceptions.RedisError):
            self.connection.delete(self.key)
        self.last_cleaned_at = None


def _ended_on_purpose(kwargs):
    """A loop given a job or idle limit ends by itself when it is reached."""
    return kwargs.get("max_jobs") is not None or kwargs.get("max_idle_time") is not None


class Worker(RidesOutRedis, RqWorker):
    """rq's forking worker (a work horse per job)."""


class SimpleWorker(RidesOutRedis, RqSimpleWorker):
    """rq's worker that runs each job in its own process, not a work horse (tests): no
    heartbeat goes out while a job runs, so the sweepers may queue a second push beside one
    running longer than 20 s (harmless, listings are claimed, but not for production)."""
