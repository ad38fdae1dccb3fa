"""Sales coming back, measured: webhook intake on the production web server, and a sale on
one sandbox until the other channels show it.

    python -m tests.benchmarks.inbound [--backend postgres|sqlite] [--seller webflow]
                                       [--intake 2000] [--clients 8] [--web-workers 3]
                                       [--sales 300] [--rate 10] [--lossy 200]
                                       [--poll-interval 60]

On a fresh database, with the app served by gunicorn (`--web-workers` workers of
`--web-threads` threads), two `rqworker sync default --with-scheduler` processes (pushes and
deliveries first, then polls), `rqcron config.cron` (the sweepers),
and one sandbox process per shipped platform, each with a channel listing one mug. The
sandboxes' own rate limits and our pacing are off (as in the sync benchmark's first run).

- latency: one sale a 1/`--rate` seconds on the seller's sandbox, `--sales` in all; each
  sale's time until every other channel shows the quantity after it: p50, p95. Target: p95
  under 3 s.
- lossy: `--lossy` sales at the same rate with 10% of the webhooks dropped and 10% sent
  twice; the polls (every `--poll-interval` seconds) catch the dropped ones. Printed: sales in
  the ledger (each exactly once: one allocation each) and the time from the last sale until
  the last one was in. Target: all, exactly once, within one poll interval.
- intake (last: it leaves thousands of open orders behind): the seller's sandbox sells
  `--intake` orders with its webhooks sent to a recorder; the recorded deliveries (real
  signatures) are then posted to the app by `--clients` threads, the rq workers stopped.
  Printed: deliveries accepted a second (signature checked, stored, processing queued), the
  share answered 2xx, then how fast two workers apply them. Target (issue 11): at least 300
  a second.
"""

import argparse
import http.client
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.benchmarks import PRODUCTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
PORT = 18400
# Each worker takes the sync queue first (pushes, deliveries), then default (the polls).
WORKER = ["rqworker", "sync", "default", "--with-scheduler"]
WEB_PORT = 18499
START = 100_000  # mugs in stock at the start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--seller", default="webflow")
    parser.add_argument("--intake", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--only", choices=["intake", "latency"], help="one part alone")
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--lossy", type=int, default=200)
    parser.add_argument("--poll-interval", type=int, default=60)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    from tests.benchmarks.ledger import DEFAULT_PG, fresh_postgres

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            **PRODUCTION_KEYS,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",  # plain http on 127.0.0.1, as behind a TLS proxy
            "VAR_DIR": tmp,
            "SYNC_PACING": "0",
            "SYNC_COALESCE": os.environ.get("SYNC_COALESCE", "0.5"),
            "INBOUND_POLL_INTERVAL": str(args.poll_interval),
            "INBOUND_SWEEP_AFTER": "5",
        }
        if args.backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        else:
            env["DATABASE_URL"] = fresh_postgres(os.environ.get("DATABASE_URL") or DEFAULT_PG)
        cmd = [sys.executable, "-m", "tests.benchmarks.inbound", "--child"]
        names = ("seller", "intake", "clients", "web_workers", "web_threads", "sales", "rate")
        for name in (*names, "lossy"):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        if args.only:
            cmd += ["--only", args.only]
        cmd += ["--poll-interval", str(args.poll_interval)]
        return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def child(args):
    import django

    django.setup()
    from django.core.management import call_command

    from config.embedded_redis import owned_embedded_redis
    from connectors.models import InboundRecord

    call_command("migrate", verbosity=0)
    procs = []
    try:
        with owned_embedded_redis():
            from tests.benchmarks.sync import bench_platforms, start_sandboxes

            platforms = bench_platforms()
            procs += start_sandboxes(platforms, port=PORT)
            procs.append(start_web(args.web_workers, args.web_threads))
            channels = build(platforms)
            seller = channels[args.seller]
            workers = [start(WORKER) for _ in range(2)]
            procs += [*workers, start(["rqcron", "config.cron"])]
            wait_in_step(timeout=120)
            say("set up: every channel in step")
            if args.only != "intake":
                subscribe(seller, f"http://127.0.0.1:{WEB_PORT}")
                latency(channels, seller, args)
                lossy(channels, seller, args)
            if args.only != "latency":
                stop(workers)  # the intake alone: what it costs to take deliveries in
                intake(seller, args)
                started = time.perf_counter()
                procs += [start(WORKER) for _ in range(2)]
                processing(started, InboundRecord.objects.filter(status="received").count())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


# --------------------------------------------------------------------------- set-up


def stop(processes):
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.wait(timeout=30)


def say(text):
    print(f"  ... {text}", file=sys.stderr, flush=True)


def start(command, **kwargs):
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kwargs,
    )


def start_web(workers, threads):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{WEB_PORT}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{WEB_PORT}/hooks/x/", timeout=5)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not start")


def build(platforms):
    """A mug (START in WH1) listed on a channel per platform, each sandbox holding 0."""
    from connectors.models import Channel, Listing
    from connectors.platforms.base import PushItem
    from inventory.models import Location, Product, Source, Variant
    from inventory.services import StockLine, stock_apply
    from tests.connectors.sandbox_client import Client

    wh = Location.objects.create(code="WH1", name="Warehouse")
    mug = Variant.objects.create(product=Product.objects.create(name="Mug"), sku="MUG")
    stock_apply(
        lines=[StockLine("count", START, variant_id=mug.pk, location_id=wh.pk)],
        source=Source.SYSTEM,
    )
    channels = {}
    for i, platform in enumerate(platforms):
        demo, hooks = platform.demo_module(), platform.hooks()
        control = Client(url=f"http://127.0.0.1:{PORT + i}", platform=platform.name, timeout=60)
        control.fail(rate_limits=False)
        channel = Channel.objects.create(
            name=platform.name,
            platform=platform.name,
            credentials=dict(demo.CREDENTIALS),
            settings=dict(demo.SETTINGS),
            base_url=control.url,
        )
        channel.locations.set([wh])
        parent, remote = demo.remote_ids(mug)
        listing = Listing.objects.create(
            channel=channel, variant=mug, remote_id=remote, remote_parent_id=parent
        )
        item = PushItem(key=listing.pk, remote_id=remote, remote_parent_id=parent)
        hooks.seed(control, [item], 0)
        channel.control, channel.item, channel.hooks = control, item, hooks
        channels[platform.name] = channel
    return channels


def subscribe(channel, base_url):
    """Point the channel's platform webhooks at base_url + the channel's path (the
    recorder's URL for the intake run, the app's for the others)."""
    from connectors.models import Channel
    from connectors.services.inbound import channel_register_webhooks

    url = base_url + channel.webhook_path
    credentials = channel.hooks.webhook_setup(channel.control, url)
    if credentials is None:
        channel_register_webhooks(channel, base_url)
    else:
        Channel.objects.filter(pk=channel.pk).update(
            credentials={**channel.credentials, **credentials}
        )
    channel.refresh_from_db(fields=["credentials"])


def wait_in_step(timeout):
    from connectors.models import Listing

    deadline = time.monotonic() + timeout
    while Listing.objects.pending().exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the first pushes did not finish")
        time.sleep(0.2)


def wait_settled(timeout):
    from connectors.models import InboundRecord

    deadline = time.monotonic() + timeout
    while InboundRecord.objects.filter(status__in=["received", "failed"]).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("deliveries still waiting")
        time.sleep(0.5)
    wait_in_step(timeout)


def sell(channel, quantity=1):
    line = {
        "remote_id": channel.item.remote_id,
        "remote_parent_id": channel.item.remote_parent_id,
        "quantity": quantity,
    }
    response = requests.post(
        f"{channel.control.url}/_sandbox/orders", json={"lines": [line]}, timeout=10
    )
    response.raise_for_status()
    return response.json()["id"]


# --------------------------------------------------------------------------- intake


def intake(seller, args):
    from tests.connectors.webhook_receiver import Receiver

    seller.control.control("DELETE", "webhook-failures")  # the lossy run's switches off
    with Receiver() as recorder:
        subscribe(seller, recorder.url.removesuffix("/hook"))
        recorder_path = seller.webhook_path
        for _ in range(args.intake):
            sell(seller)
        say(f"{args.intake} sales made on {seller.name}; recording their webhooks")
        recorder.wait_for(args.intake, timeout=600)
        seller.control.control("POST", "deliveries/flush")
        wait_idle(seller)
        deliveries = [d for d in recorder.deliveries if d[0] == recorder_path]
    statuses = []
    lock = threading.Lock()
    local = threading.local()

    def post(delivery):
        _, headers, body = delivery
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
        sent = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        local.conn.request("POST", seller.webhook_path, body=body, headers=sent)
        response = local.conn.getresponse()
        response.read()
        with lock:
            statuses.append(response.status)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(post, deliveries))
    elapsed = time.perf_counter() - started
    ok = sum(200 <= s < 300 for s in statuses)
    others = Counter(s for s in statuses if not 200 <= s < 300)
    print(
        f"intake: {len(deliveries):,} deliveries by {args.clients} clients to gunicorn "
        f"({args.web_workers} workers x {args.web_threads} threads), the rq workers stopped: "
        f"{len(deliveries) / elapsed:,.0f} a second, {ok / len(statuses):.1%} answered 2xx"
        + (f" (others: {dict(others)})" if others else "")
        + " (target: at least 300 a second)"
    )


def wait_idle(channel, timeout=900):
    """Until the sandbox has sent every webhook it had to send."""
    deadline = time.monotonic() + timeout
    while channel.control.control("GET", "deliveries")["waiting"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox still has webhooks to send")
        time.sleep(0.2)


def processing(started, count):
    """Until every stored delivery is processed; prints the rate."""
    from connectors.models import InboundRecord

    waiting = InboundRecord.objects.filter(status__in=["received", "failed"])
    while waiting.exists():
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    print(
        f"processing: the {count:,} deliveries applied by 2 rq workers in {elapsed:.1f} s "
        f"({count / elapsed:,.0f} a second)"
    )


# --------------------------------------------------------------------------- latency


def latency(channels, seller, args):
    others = [c for name, c in channels.items() if c is not seller]
    shown = {c.name: None for c in others}
    seen_at = []  # (time, {channel: quantity})
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            now = time.perf_counter()
            for c in others:
                shown[c.name] = c.hooks.remote_quantity(c.control, c.item)
            seen_at.append((now, dict(shown)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    base = remaining(channels)
    watcher.start()
    sold_at = []
    interval = 1 / args.rate
    start = time.perf_counter()
    for k in range(args.sales):
        due = start + k * interval
        time.sleep(max(0.0, due - time.perf_counter()))
        sell(seller)
        sold_at.append(time.perf_counter())
    deadline = time.perf_counter() + 60
    final = base - args.sales
    while time.perf_counter() < deadline and any(
        q is None or q > final for q in seen_at[-1][1].values()
    ):
        time.sleep(0.1)
    stop.set()
    watcher.join()
    waits = []
    for k, at in enumerate(sold_at, start=1):
        target = base - k
        first = next(
            (
                t
                for t, q in seen_at
                if t >= at and all(v is not None and v <= target for v in q.values())
            ),
            None,
        )
        waits.append(math.inf if first is None else first - at)
    caught = [w for w in waits if w != math.inf]
    p50 = statistics.median(caught) if caught else math.inf
    p95 = sorted(waits)[max(0, math.ceil(0.95 * len(waits)) - 1)]
    print(
        f"latency: {args.sales} sales at {args.rate:g}/s on {seller.name}, until the "
        f"{len(others)} other channels show each: p50 {p50:.2f} s, p95 {p95:.2f} s "
        f"({len(waits) - len(caught)} never seen) (target: p95 under 3 s)"
    )


def remaining(channels):
    from inventory.models import StockLevel

    wait_settled(120)
    level = StockLevel.objects.get(variant__sku="MUG")
    return level.available


# --------------------------------------------------------------------------- lossy


def lossy(channels, seller, args):
    from connectors.models import ChannelOrder, OrderLine
    from inventory.models import Movement

    seller.control.control(
        "POST", "webhook-failures", {"drop_rate": 0.1, "duplicate_rate": 0.1, "seed": 7}
    )
    interval = 1 / args.rate
    start = time.perf_counter()
    ids = []
    for k in range(args.lossy):
        time.sleep(max(0.0, start + k * interval - time.perf_counter()))
        ids.append(sell(seller))
    last_sale = time.perf_counter()
    deadline = last_sale + args.poll_interval * 2 + 60
    while time.perf_counter() < deadline:
        if ChannelOrder.objects.filter(channel=seller, remote_id__in=ids).count() == len(ids):
            break
        time.sleep(0.5)
    took = time.perf_counter() - last_sale
    taken = ChannelOrder.objects.filter(channel=seller, remote_id__in=ids).count()
    lines = OrderLine.objects.filter(order__channel=seller, order__remote_id__in=ids)
    allocated = lines.filter(state="allocated").count()
    references = [f"{seller.name} order {order_id}" for order_id in ids]
    moves = Movement.objects.filter(source="channel", reference__in=references).count()
    log = seller.control.control("GET", "deliveries")["deliveries"]
    dropped = sum(d["fault"] == "dropped" for d in log)
    once = "each once" if moves == taken == allocated == args.lossy else "NOT once each"
    print(
        f"lossy: {args.lossy} sales with 10% of webhooks dropped ({dropped} in all) and 10% "
        f"sent twice: {taken} in the ledger ({allocated} lines allocated, {moves} movements: "
        f"{once}), the last {took:.1f} s after the last sale (poll interval "
        f"{args.poll_interval} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
