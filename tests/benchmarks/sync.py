"""The sync end to end: stock changes to every platform's sandbox through Redis and two rq
workers, with the sandboxes' rate limits off, then on.

    python -m tests.benchmarks.sync [--backend sqlite|postgres] [--changes 10000]
                                    [--variants 2000] [--steady 20]
                                    [--only unlimited|limited] [--limited-variants 300]
                                    [--second-wave 100]

The platforms are the registry's (one channel and one sandbox process each, its items and
seeding from its test hooks), and two `rqworker sync --with-scheduler` processes.

Unlimited (sandbox limits off, pacing off; 2,000 variants). Printed:
- burst: 10,000 single-line stock changes as fast as the service takes them; requests the
  sandboxes received against the minimum possible (every listing whose quantity ends
  elsewhere than it began sent once: ceil(those / batch maximum) writes, plus ceil(those /
  read maximum) reads where the platform is read first), and the time from the last change
  until every listing is confirmed at its target;
- steady: 50 changes a second for --steady seconds; commit-to-confirmation latency, p50 and
  p95, over every (change, channel) pair.
Targets (issue 4): requests within 5% of the minimum, convergence within 30 s of the last
change, p95 under 2 s.

Limited (each sandbox at the rate limit its platform documents, the channels told so, pacing
on; 300 variants, every listing in step at the start): each variant changes once, and while
that first wave drains, 100 of them change again. Printed per channel: the requests it
needed at least (each listing once, again for those of the second wave already confirmed
when it came, as reads and writes of its batch sizes), the floor that its rate allows for
them (minimum / rate), the time until it showed every target, and the 429s it answered.
Target (issue 10): every channel at its targets within 1.1 times the slowest floor, and no
429.
"""

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks import PRODUCTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
PORT = 18300


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=2_000)
    parser.add_argument("--steady", type=int, default=20, help="seconds at 50 changes/s")
    parser.add_argument("--only", choices=["unlimited", "limited"])
    parser.add_argument("--limited-variants", type=int, default=300)
    parser.add_argument("--second-wave", type=int, default=100)
    parser.add_argument("--child", choices=["unlimited", "limited"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    status = 0
    for run in [args.only] if args.only else ["unlimited", "limited"]:
        status |= spawn(run, args)
    return status


def spawn(run, args):
    """One run in a child process of its own, on a fresh database."""
    from tests.benchmarks.ledger import DEFAULT_PG, fresh_postgres

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            **PRODUCTION_KEYS,
            "VAR_DIR": tmp,
            "SYNC_SWEEP_AFTER": "5",
            "SYNC_PACING": "1" if run == "limited" else "0",
        }
        if args.backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        else:
            env["DATABASE_URL"] = fresh_postgres(os.environ.get("DATABASE_URL") or DEFAULT_PG)
        cmd = [sys.executable, "-m", "tests.benchmarks.sync", "--child", run]
        for option in ("changes", "variants", "steady", "limited_variants", "second_wave"):
            cmd += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
        return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def child(args):
    import django

    django.setup()
    from django.core.management import call_command

    from config.embedded_redis import owned_embedded_redis

    call_command("migrate", verbosity=0)
    limited = args.child == "limited"
    procs = []
    try:
        with owned_embedded_redis():
            platforms = bench_platforms()
            procs += start_sandboxes(platforms)
            variants = args.limited_variants if limited else args.variants
            channels = build_catalog(platforms, variants, limited=limited)
            procs += [start_worker() for _ in range(2)]
            if limited:
                return limited_run(channels, args)
            started = time.perf_counter()
            wait_converged(timeout=600)
            print(
                f"first push of {variants * len(channels):,} listings: "
                f"{time.perf_counter() - started:.1f} s"
            )
            burst(channels, args)
            steady(channels, args)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
    return 0


# --------------------------------------------------------------------------- set-up


def bench_platforms():
    """The shipped platforms with a sandbox, demo data and test hooks."""
    from connectors.demo import demo_platforms

    return [p for p in demo_platforms() if p.testing]


def refusals(client, since):
    """How many requests after `since` the sandbox answered 429."""
    return sum(r["status"] == 429 for r in client.log(since=since))


def start_sandboxes(platforms, port=PORT):
    from connectors.demo import wait_for_sandbox

    procs = []
    for i, platform in enumerate(platforms):
        command = ["sandbox", "--platform", platform.name, "--port", str(port + i)]
        procs.append(
            subprocess.Popen(
                [sys.executable, "manage.py", *command], cwd=ROOT, stdout=subprocess.DEVNULL
            )
        )
    for i in range(len(platforms)):
        wait_for_sandbox(f"http://127.0.0.1:{port + i}")
    return procs


def start_worker():
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "sync", "--with-scheduler"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def build_catalog(platforms, n_variants, *, limited):
    """Variants at 500 in one warehouse, listed on a channel per platform. Unlimited: the
    sandboxes start at 0, limits off (the first push sends everything). Limited: each
    sandbox at its documented limit and already showing 500, and every listing confirmed
    at it (created so, as a channel in step would be)."""
    from django.utils import timezone

    from connectors.models import Channel, Listing
    from connectors.platforms.base import PushItem
    from connectors.queue import request_sync
    from inventory.models import Location, Product, Source, Variant
    from inventory.services import StockLine, stock_apply
    from tests.connectors.sandbox_client import Client

    wh = Location.objects.create(code="WH1", name="Warehouse")
    product = Product.objects.create(name="Bench tee")
    Variant.objects.bulk_create(
        (Variant(product=product, sku=f"B-{i:05d}") for i in range(n_variants)), batch_size=2000
    )
    variants = list(Variant.objects.order_by("pk"))
    lines = [
        StockLine(action="count", quantity=500, variant_id=v.pk, location_id=wh.pk)
        for v in variants
    ]
    stock_apply(lines=lines, source=Source.SYSTEM)
    channels, now = [], timezone.now()
    for i, platform in enumerate(platforms):
        demo, hooks = platform.demo_module(), platform.hooks()
        sandbox_limits, channel_limits = hooks.documented_limits() if limited else ({}, {})
        control = Client(url=f"http://127.0.0.1:{PORT + i}", platform=platform.name, timeout=120)
        control.fail(rate_limits=limited)
        if sandbox_limits:
            control.seed(settings=sandbox_limits)
        channel = Channel.objects.create(
            name=platform.name,
            platform=platform.name,
            credentials=demo.CREDENTIALS,
            settings={**demo.SETTINGS, **channel_limits},
            base_url=control.url,
        )
        channel.locations.set([wh])
        in_step = {"confirmed_quantity": 500, "confirmed_at": now, "pending_since": None}
        listings = []
        for v in variants:
            parent, remote = demo.remote_ids(v)
            listings.append(
                Listing(
                    channel=channel,
                    variant=v,
                    remote_id=remote,
                    remote_parent_id=parent,
                    status=Listing.Status.OK if limited else Listing.Status.PENDING,
                    **(in_step if limited else {}),
                )
            )
        Listing.objects.bulk_create(listings, batch_size=2000)
        items = [
            PushItem(key=lst.pk, remote_id=lst.remote_id, remote_parent_id=lst.remote_parent_id)
            for lst in channel.listings.all()
        ]
        for start in range(0, len(items), 2000):
            hooks.seed(control, items[start : start + 2000], 500 if limited else 0)
        channel.control = control
        channels.append(channel)
    # Setting the locations asked for pushes of everything: in step already, they cost nothing.
    request_sync([c.pk for c in channels])
    return channels


def wait_converged(timeout, channel=None):
    from connectors.models import Listing

    pending = Listing.objects.filter(pending_since__isnull=False)
    if channel is not None:
        pending = pending.filter(channel=channel)
    deadline = time.monotonic() + timeout
    while pending.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("did not converge")
        time.sleep(0.1)
    return time.perf_counter()


def capabilities(channel):
    from connectors.platforms import registry
    from connectors.platforms.pacing import Pacer

    cls = registry.connector_class(channel.platform)
    connector = cls(
        base_url=channel.base_url,
        credentials=channel.credentials,
        settings=channel.settings,
        pacer=lambda rate: Pacer(None),
    )
    return connector.capabilities


def minimum(caps, n):
    """Requests that sending n listings needs at the least: writes of the batch size, and
    reads first where the platform is read before it is written."""
    if not n:
        return 0
    reads = math.ceil(n / max(caps.read_max, caps.batch_max)) if caps.reads_first else 0
    return math.ceil(n / caps.batch_max) + reads


# --------------------------------------------------------------------------- unlimited


def change(variant_id, location_id, action, quantity):
    from inventory.models import Source
    from inventory.services import StockLine, stock_apply

    line = StockLine(
        action=action, quantity=quantity, variant_id=variant_id, location_id=location_id
    )
    stock_apply(lines=[line], source=Source.ADMIN)


def burst(channels, args):
    from django.db.models import Count

    from connectors.models import PushRecord
    from inventory.models import Location, StockLevel, Variant

    wh = Location.objects.get(code="WH1")
    ids = list(Variant.objects.values_list("pk", flat=True))
    rng = random.Random(11)
    on_hand = dict(StockLevel.objects.filter(location=wh).values_list("variant_id", "on_hand"))
    before = {c.pk: c.control.requests_total() for c in channels}
    changed = set()
    started = time.perf_counter()
    for _ in range(args.changes):
        v = rng.choice(ids)
        changed.add(v)
        change(v, wh.pk, rng.choice(["increment", "decrement"]), rng.randint(1, 3))
    last_change = time.perf_counter()
    done = wait_converged(timeout=600)
    took = last_change - started
    # Variants whose changes cancelled out end where they began: their channels need nothing.
    moved = {
        v
        for v, q in StockLevel.objects.filter(location=wh).values_list("variant_id", "on_hand")
        if v in changed and q != on_hand[v]
    }
    print(
        f"\nburst: {args.changes:,} changes over {len(changed):,} variants in {took:.1f} s "
        f"({args.changes / took:,.0f}/s); {len(moved):,} of them end elsewhere"
    )
    print(f"  converged {done - last_change:.1f} s after the last change (target < 30 s)")
    total_sent = total_min = 0
    for c in channels:
        least = minimum(capabilities(c), len(moved))
        sent = c.control.requests_total() - before[c.pk]
        total_sent, total_min = total_sent + sent, total_min + least
        print(f"  {c.name:<12} requests {sent:>7,}  minimum {least:>7,}  ({sent / least - 1:+.1%})")
    mix = PushRecord.objects.values("channel__name", "purpose", "outcome").annotate(n=Count("id"))
    print(
        "  push records:",
        ", ".join(f"{r['channel__name']} {r['purpose']}/{r['outcome']} {r['n']}" for r in mix),
    )
    print(
        f"  all channels: {total_sent:,} requests, minimum {total_min:,} "
        f"({total_sent / total_min - 1:+.1%}; target within 5%)"
    )


def steady(channels, args):
    from django.utils import timezone

    from connectors.models import PushRecord
    from inventory.models import Location, Variant

    wh = Location.objects.get(code="WH1")
    ids = list(Variant.objects.values_list("pk", flat=True))
    rng = random.Random(12)
    commits = []
    period = 1 / 50
    start = time.perf_counter()
    for n in range(50 * args.steady):
        time.sleep(max(0.0, start + n * period - time.perf_counter()))
        v = rng.choice(ids)
        change(v, wh.pk, "increment", 1)
        commits.append((v, timezone.now()))
    wait_converged(timeout=120)
    latencies = []
    for variant_id, committed in commits:
        for c in channels:
            first = (
                PushRecord.objects.filter(
                    channel=c,
                    purpose="write",
                    outcome="ok",
                    created_at__gte=committed,
                    listings__variant_id=variant_id,
                )
                .order_by("created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if first is not None:
                latencies.append((first - committed).total_seconds())
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"\nsteady: {len(commits):,} changes at 50/s; commit-to-confirmation over "
        f"{len(latencies):,} (change, channel) pairs: p50 {p50:.2f} s, p95 {p95:.2f} s "
        "(target p95 < 2 s)"
    )


# --------------------------------------------------------------------------- limited


def limited_run(channels, args):
    """Two waves of changes against sandboxes at their documented limits."""
    from connectors.listing_state import SOLD_TTL
    from connectors.models import Listing
    from inventory.models import Location, Variant

    # Setting the channels' locations asks for a second look once every process sees them
    # (listing_state.SOLD_TTL): let it pass. Everything is in step: it sends nothing.
    time.sleep(SOLD_TTL + 2)
    wait_converged(timeout=120)
    wh = Location.objects.get(code="WH1")
    ids = list(Variant.objects.order_by("pk").values_list("pk", flat=True))
    rng = random.Random(13)
    since = {c.pk: c.control.requests_total() for c in channels}
    started = time.perf_counter()
    for v in ids:  # the first wave: every variant changes once
        change(v, wh.pk, "decrement", rng.randint(1, 5))
    first_wave = time.perf_counter() - started
    time.sleep(5)  # the second wave comes while the first drains
    again = rng.sample(ids, args.second_wave)
    # Listings of these already confirmed at the first wave's quantity must be sent again.
    resend = {
        c.pk: Listing.objects.filter(
            channel=c, variant_id__in=again, pending_since__isnull=True
        ).count()
        for c in channels
    }
    for v in again:
        change(v, wh.pk, "decrement", 1)
    second_at = time.perf_counter() - started
    rows = []
    for c in channels:
        caps = capabilities(c)
        least = minimum(caps, len(ids)) + minimum(caps, resend[c.pk])
        requests, per = caps.rate_limit
        rows.append({"channel": c, "least": least, "floor": least / (requests / per)})
    done = {}
    deadline = time.monotonic() + 1800
    while len(done) < len(rows) and time.monotonic() < deadline:
        for row in rows:
            c = row["channel"]
            if (
                c.pk not in done
                and not Listing.objects.filter(channel=c, pending_since__isnull=False).exists()
            ):
                done[c.pk] = time.perf_counter() - started
        time.sleep(0.1)
    slowest = max(r["floor"] for r in rows)
    print(
        f"\nlimited: {len(ids):,} variants on {len(channels)} channels at their documented "
        f"limits; first wave {first_wave:.1f} s, {len(again)} changed again at {second_at:.1f} s"
    )
    print(
        f"  {'channel':<12} {'limit':>12} {'needed':>7} {'sent':>6} {'floor':>8} "
        f"{'in step':>8} {'429s':>5}"
    )
    refused = 0
    for row in rows:
        c = row["channel"]
        requests, per = capabilities(c).rate_limit
        sent = c.control.requests_total() - since[c.pk]
        refused_here = refusals(c.control, since[c.pk])
        refused += refused_here
        took = done.get(c.pk)
        print(
            f"  {c.name:<12} {f'{requests}/{per:g} s':>12} {row['least']:>7,} {sent:>6,} "
            f"{row['floor']:>7.1f}s "
            f"{'never' if took is None else f'{took:.1f}s':>8} {refused_here:>5}"
        )
    total = max(done.values()) if len(done) == len(rows) else None
    verdict = (
        "did not converge"
        if total is None
        else f"{total:.1f} s = {total / slowest:.2f} x the slowest floor ({slowest:.1f} s)"
    )
    print(f"  every channel in step after {verdict}; 429s: {refused} (target <= 1.1 x, no 429)")
    return 0 if total is not None and total <= 1.1 * slowest and not refused else 1


if __name__ == "__main__":
    sys.exit(main())
