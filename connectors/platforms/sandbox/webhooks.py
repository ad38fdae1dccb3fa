"""Webhooks a sandbox sends: an outbox delivered by one thread, retried the platform's way,
with switches for the faults real deliveries have.

A platform's sandbox calls `outbox.send(...)` under its lock when something happens (a sale,
a status change, a stock change); the delivery thread POSTs it outside the lock, signing it
at each attempt with the platform's scheme (`sign(body, secret) -> headers`).

Switches (GET|POST|DELETE /_sandbox/webhook-failures):

    drop_next / drop_rate            the delivery is never sent (lost: only a poll finds it)
    duplicate_next / duplicate_rate  sent twice, the same body and delivery id
    bad_signature_next / _rate       signed with another secret (a forgery, to the receiver)
    out_of_order                     each delivery waits for the next and goes after it
    delay_ms                         every delivery waits this long before its first attempt
    hold                             nothing is sent until POST /_sandbox/deliveries/flush
    seed                             reseeds the RNG behind the rates

Retries follow the platform's policy (`retries`: attempts after the first; `retry_on`:
"any" failure (no answer, or not 2xx), "not 200" (Webflow: any other status), "429" only,
or "none"), `retry_seconds` apart (the platforms wait minutes;
the sandboxes' setting makes a test's clock).
"""

import contextlib
import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass, field

import requests

DEFAULTS = {
    "drop_next": 0,
    "drop_rate": 0.0,
    "duplicate_next": 0,
    "duplicate_rate": 0.0,
    "bad_signature_next": 0,
    "bad_signature_rate": 0.0,
    "out_of_order": False,
    "delay_ms": 0,
    "hold": False,
    "seed": 0,
}
FORGED_SECRET = "not-the-signing-secret"
TIMEOUT = 10.0
MAX_LOG = 10_000


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    url: str = field(compare=False)
    topic: str = field(compare=False)
    body: bytes = field(compare=False)
    sign: object = field(compare=False)
    secret: str = field(compare=False)
    event_id: str = field(compare=False, default="")
    attempt: int = field(compare=False, default=1)
    forged: bool = field(compare=False, default=False)
    headers: dict = field(compare=False, default_factory=dict)


class Outbox:
    def __init__(self, *, retries=3, retry_on="any", retry_seconds=1.0):
        self.retries, self.retry_on, self.retry_seconds = retries, retry_on, retry_seconds
        self._cond = threading.Condition()
        self._heap: list = []
        self._held: list = []  # hold / out_of_order
        self._seq = itertools.count(1)
        self._log: list = []
        self._in_flight = 0
        self._generation = 0  # bumped by reset: a delivery in flight across it is forgotten
        self._thread = None
        self._stopping = False
        self.session = requests.Session()
        self.reset()

    def reset(self) -> None:
        with self._cond:
            self._generation += 1
            self._in_flight = 0
            self.reset_switches()
            self._heap.clear()
            self._held.clear()
            self._log.clear()

    def reset_switches(self) -> None:
        with self._cond:
            self.switches = dict(DEFAULTS)
            self.rng = random.Random(0)

    # ----------------------------------------------------------------- switches
    def update(self, changes: dict) -> None:
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise ValueError(f"unknown webhook switch {key!r}; known: {sorted(DEFAULTS)}")
            default = DEFAULTS[key]
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, float):
                ok = type(value) in (int, float) and 0 <= value <= 1
            else:
                ok = type(value) is int and value >= 0
            if not ok:
                raise ValueError(f"bad value for webhook switch {key!r}: {value!r}")
        with self._cond:
            self.switches.update(changes)
            if "seed" in changes:
                self.rng = random.Random(changes["seed"])
            if changes.get("hold") is False or changes.get("out_of_order") is False:
                self._release_held()

    def _fault(self, name: str) -> bool:
        s = self.switches
        if s[f"{name}_next"] > 0:
            s[f"{name}_next"] -= 1
            return True
        rate = s[f"{name}_rate"]
        return bool(rate) and self.rng.random() < rate

    # ----------------------------------------------------------------- sending
    def send(self, url: str, topic: str, body: bytes, sign, secret: str, event_id: str = ""):
        """Queue one delivery of `body` to `url`; returns at once."""
        with self._cond:
            if self._fault("drop"):
                self._note(url, topic, event_id, 0, None, "dropped")
                return
            copies = 2 if self._fault("duplicate") else 1
            forged = self._fault("bad_signature")
            due = time.monotonic() + self.switches["delay_ms"] / 1000
            for _ in range(copies):
                delivery = Delivery(
                    due, next(self._seq), url, topic, body, sign, secret, event_id, forged=forged
                )
                if self.switches["hold"]:
                    self._held.append(delivery)
                elif self.switches["out_of_order"]:
                    self._swap(delivery)
                else:
                    heapq.heappush(self._heap, delivery)
            self._start()
            self._cond.notify_all()

    def _swap(self, delivery):
        """Out of order: hold one; the next goes first and the held one right after it."""
        if not self._held:
            self._held.append(delivery)
            return
        earlier = self._held.pop()
        delivery.seq, earlier.seq = earlier.seq, next(self._seq)
        heapq.heappush(self._heap, delivery)
        earlier.due = delivery.due
        heapq.heappush(self._heap, earlier)

    def _release_held(self):
        now = time.monotonic()
        for delivery in self._held:
            delivery.due = min(delivery.due, now)
            heapq.heappush(self._heap, delivery)
        released = len(self._held)
        self._held.clear()
        self._cond.notify_all()
        return released

    def flush(self) -> int:
        """Everything held or waiting goes now; returns how many deliveries that is."""
        with self._cond:
            now = time.monotonic()
            for delivery in self._heap:
                delivery.due = now
            heapq.heapify(self._heap)
            return self._release_held() + len(self._heap)

    # ----------------------------------------------------------------- the thread
    def _start(self):
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _run(self):
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                delivery = heapq.heappop(self._heap)
                self._in_flight += 1
                generation = self._generation
            try:
                status, fault = self._post(delivery)
            except Exception:  # a signer's bug: the delivery is lost, as it would be
                status, fault = None, "could not be signed"
            with self._cond:
                if generation != self._generation:  # sent before a reset: not this state's
                    continue
                self._in_flight -= 1
                self._note(
                    delivery.url,
                    delivery.topic,
                    delivery.event_id,
                    delivery.attempt,
                    status,
                    fault or ("forged" if delivery.forged else None),
                )
                if self._should_retry(status) and delivery.attempt <= self.retries:
                    delivery.attempt += 1
                    delivery.due = time.monotonic() + self.retry_seconds
                    heapq.heappush(self._heap, delivery)
                self._cond.notify_all()

    def _post(self, delivery):
        secret = FORGED_SECRET if delivery.forged else delivery.secret
        headers = {"Content-Type": "application/json", **delivery.sign(delivery.body, secret)}
        try:
            response = self.session.post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return None, f"unreachable: {type(exc).__name__}"
        return response.status_code, None

    def _should_retry(self, status):
        if self.retry_on == "none":
            return False
        if self.retry_on == "429":
            return status == 429
        if self.retry_on == "not 200":
            return status != 200
        return status is None or not 200 <= status < 300

    def _note(self, url, topic, event_id, attempt, status, fault):
        self._log.append(
            {
                "seq": len(self._log) + 1,
                "time": time.time(),
                "url": url,
                "topic": topic,
                "event_id": event_id,
                "attempt": attempt,
                "status": status,
                "fault": fault,
            }
        )
        del self._log[:-MAX_LOG]

    # ----------------------------------------------------------------- reading
    def to_json(self) -> dict:
        with self._cond:
            return {
                "deliveries": list(self._log),
                "waiting": len(self._heap) + len(self._held) + self._in_flight,
                "held": len(self._held),
            }

    def clear_log(self) -> None:
        with self._cond:
            self._log.clear()

    def idle(self) -> bool:
        with self._cond:
            return not self._heap and not self._held and not self._in_flight


def close(outbox: Outbox) -> None:
    outbox.stop()
    with contextlib.suppress(Exception):
        outbox.session.close()
