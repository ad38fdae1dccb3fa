"""The sync end to end: stock changes to five sandboxes through Redis and two rq workers.

    python -m tests.benchmarks.sync [--backend sqlite|postgres] [--changes 10000]
                                    [--variants 2000] [--steady 20]

2,000 variants, each listed on five channels (one per platform, each its own sandbox
process with rate limits off), two `rqworker sync --with-scheduler` processes. Printed:
- burst: 10,000 single-line stock changes as fast as the service takes them; requests the
  sandboxes received against the minimum possible (every listing whose quantity ends
  elsewhere than it began sent once: ceil(those / batch maximum) writes, plus one read per
  100 for delta platforms), and the time from the last change until every listing is
  confirmed at its target;
- steady: 50 changes a second for --steady seconds; commit-to-confirmation latency, p50
  and p95, over every (change, channel) pair.
Targets (issue 4): requests within 5% of the minimum, convergence within 30 s of the last
change, p95 under 2 s.
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

ROOT = Path(__file__).resolve().parents[2]
PORT = 18300
PLATFORMS = ["highlevel", "webflow", "unicommerce", "elasticpath", "zettle"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=2_000)
    parser.add_argument("--steady", type=int, default=20, help="seconds at 50 changes/s")
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
            "VAR_DIR": tmp,
            "SYNC_SWEEP_AFTER": "5",
        }
        if args.backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        else:
            env["DATABASE_URL"] = fresh_postgres(os.environ.get("DATABASE_URL") or DEFAULT_PG)
        cmd = [
            sys.executable,
            "-m",
            "tests.benchmarks.sync",
            "--child",
            "--changes",
            str(args.changes),
            "--variants",
            str(args.variants),
            "--steady",
            str(args.steady),
        ]
        return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def child(args):
    import django

    django.setup()
    from django.core.management import call_command

    from config.embedded_redis import owned_embedded_redis

    call_command("migrate", verbosity=0)
    procs = []
    try:
        with owned_embedded_redis():
            procs += start_sandboxes()
            channels = build_catalog(args.variants)
            procs += [start_worker() for _ in range(2)]
            started = time.perf_counter()
            wait_converged(timeout=600)
            print(
                f"first push of {args.variants * 5:,} listings: "
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


def start_sandboxes():
    import requests

    from connectors.demo import wait_for_sandbox

    procs = []
    for i, name in enumerate(PLATFORMS):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "sandbox",
                    "--platform",
                    name,
                    "--port",
                    str(PORT + i),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
        )
    for i in range(len(PLATFORMS)):
        url = f"http://127.0.0.1:{PORT + i}"
        wait_for_sandbox(url)
        requests.post(f"{url}/_sandbox/failures", json={"rate_limits": False}, timeout=5)
    return procs


def start_worker():
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "sync", "--with-scheduler"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def build_catalog(n_variants):
    import requests

    from connectors import demo
    from connectors.jobs import request_sync
    from connectors.models import Channel, Listing
    from inventory.models import Location, Product, Source, Variant
    from inventory.services import StockLine, stock_apply

    wh = Location.objects.create(code="WH1", name="Warehouse")
    product = Product.objects.create(name="Bench tee")
    Variant.objects.bulk_create(
        (Variant(product=product, sku=f"B-{i:05d}") for i in range(n_variants)), batch_size=2000
    )
    variants = list(Variant.objects.order_by("pk"))
    stock_apply(
        lines=[
            StockLine(action="count", quantity=500, variant_id=v.pk, location_id=wh.pk)
            for v in variants
        ],
        source=Source.SYSTEM,
    )
    channels = []
    for i, name in enumerate(PLATFORMS):
        credentials, settings = demo.DEMO[name]
        url = f"http://127.0.0.1:{PORT + i}"
        channel = Channel.objects.create(
            name=name, platform=name, credentials=credentials, settings=settings, base_url=url
        )
        channel.locations.set([wh])
        listings = []
        for v in variants:
            parent, remote = demo.remote_ids(name, v)
            listings.append(
                Listing(channel=channel, variant=v, remote_id=remote, remote_parent_id=parent)
            )
        Listing.objects.bulk_create(listings, batch_size=2000)
        items = [
            demo._seed_item(name, listing) for listing in channel.listings.select_related("variant")
        ]
        if name == "zettle":
            items = demo._group_zettle(items)
        for start in range(0, len(items), 2000):
            requests.post(
                f"{channel.base_url}/_sandbox/seed",
                json={"items": items[start : start + 2000]},
                timeout=60,
            )
        channels.append(channel)
    request_sync([c.pk for c in channels])
    return channels


def wait_converged(timeout):
    from connectors.models import Listing

    deadline = time.monotonic() + timeout
    while Listing.objects.filter(pending_since__isnull=False).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("did not converge")
        time.sleep(0.1)
    return time.perf_counter()


def requests_total(channels):
    import requests

    return {
        c.name: requests.get(f"{c.base_url}/_sandbox/health", timeout=5).json()["requests_total"]
        for c in channels
    }


def burst(channels, args):
    from connectors.platforms import connector_class
    from inventory.models import Location, Source, StockLevel, Variant
    from inventory.services import StockLine, stock_apply

    wh = Location.objects.get(code="WH1")
    ids = list(Variant.objects.values_list("pk", flat=True))
    rng = random.Random(11)
    on_hand = dict(StockLevel.objects.filter(location=wh).values_list("variant_id", "on_hand"))
    before = requests_total(channels)
    changed = set()
    started = time.perf_counter()
    for _ in range(args.changes):
        v = rng.choice(ids)
        changed.add(v)
        action = rng.choice(["increment", "decrement"])
        stock_apply(
            lines=[
                StockLine(
                    action=action, quantity=rng.randint(1, 3), variant_id=v, location_id=wh.pk
                )
            ],
            source=Source.ADMIN,
        )
    last_change = time.perf_counter()
    done = wait_converged(timeout=600)
    after = requests_total(channels)
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
        caps = connector_class(c.platform)(
            base_url=c.base_url, credentials=c.credentials, settings=c.settings
        ).capabilities
        writes = math.ceil(len(moved) / caps.batch_max)
        minimum = writes + (math.ceil(len(moved) / 100) if caps.writes == "delta" else 0)
        sent = after[c.name] - before[c.name]
        total_sent, total_min = total_sent + sent, total_min + minimum
        print(
            f"  {c.name:<12} requests {sent:>7,}  minimum {minimum:>7,}  "
            f"({sent / minimum - 1:+.1%})"
        )
    from django.db.models import Count

    from connectors.models import PushRecord

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
    from inventory.models import Location, Source, Variant
    from inventory.services import StockLine, stock_apply

    wh = Location.objects.get(code="WH1")
    ids = list(Variant.objects.values_list("pk", flat=True))
    rng = random.Random(12)
    commits = []
    period = 1 / 50
    start = time.perf_counter()
    for n in range(50 * args.steady):
        time.sleep(max(0.0, start + n * period - time.perf_counter()))
        v = rng.choice(ids)
        stock_apply(
            lines=[StockLine(action="increment", quantity=1, variant_id=v, location_id=wh.pk)],
            source=Source.ADMIN,
        )
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


if __name__ == "__main__":
    sys.exit(main())
