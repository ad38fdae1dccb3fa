"""Shopify's connector against its sandbox at a standard plan's bucket (2,000 points,
refilled at 100 a second): 10,000 listing updates, as the sync sends them.

    python -m tests.benchmarks.shopify [--updates 10000] [--first-push 1000] [--port 18160]

The sandbox runs in its own process (`manage.py sandbox`), its rate limits on, seeded with
the items at 0. Two runs, each through the engine's write step (strategy.push) with the
connector's own pacing (each answer's throttleStatus; the sync's pacer):

- updates: `--updates` listings whose last confirmed level is known (what the sync carries),
  so each batch is one compare-and-set write of 250: requests against ceil(updates / 250).
- first push: `--first-push` listings never confirmed, so each is read first (nodes(ids:),
  125 a query, about 375 points each) and then written: reads cost far more than writes, and
  the bucket runs dry; this shows the pacing spending within it in steady state.

Printed per run: requests (the sandbox's own count, against the bound), query cost spent
(the answers' actualQueryCost) against the bucket, THROTTLED answers, time taken.
"""

import argparse
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks import PRODUCTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
BUCKET = {"maximumAvailable": 2000, "restoreRate": 100}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--first-push", type=int, default=1_000)
    parser.add_argument("--port", type=int, default=18160)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As in production (DEBUG off, its keys), served over plain HTTP on 127.0.0.1.
    for name, value in {"DEBUG": "0", "SECURE_SSL_REDIRECT": "0", **PRODUCTION_KEYS}.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    from connectors.demo import wait_for_sandbox

    server = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--platform", "shopify", "--port", str(args.port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        wait_for_sandbox(url)
        rows = [run(url, "updates", args.updates, confirmed=True)]
        if args.first_push:
            rows.append(run(url, "first push", args.first_push, confirmed=False))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"\n{'run':<11} {'updates':>8} {'requests':>9} {'bound':>6} {'cost':>8} "
        f"{'bucket':>12} {'THROTTLED':>9} {'seconds':>8}  verdict"
    )
    for r in rows:
        verdict = "within bound" if r["requests"] <= r["bound"] else "OVER the bound"
        print(
            f"{r['run']:<11} {r['updates']:>8,} {r['requests']:>9,} {r['bound']:>6,} "
            f"{r['cost']:>8,.0f} {r['bucket']:>12} {r['throttled']:>9} {r['seconds']:>8.1f}  "
            f"{verdict}"
        )
    return 0 if all(r["requests"] <= r["bound"] for r in rows) else 1


def run(url, name, n, *, confirmed):
    from connectors.platforms import registry, strategy
    from connectors.platforms.base import PushItem
    from connectors.platforms.shopify.connector import BATCH_MAX, READ_BATCH
    from tests.connectors.sandbox_client import Client

    platform = registry.get("shopify")
    hooks, demo = platform.hooks(), platform.demo_module()
    control = Client(url=url, platform="shopify", timeout=120)
    control.control("POST", "reset")
    control.fail(rate_limits=True, bucket=BUCKET)
    items = hooks.make_items(n)
    for start in range(0, n, 2000):
        hooks.seed(control, items[start : start + 2000], 0)
    rng = random.Random(7)
    items = [
        PushItem(
            **{
                **i.__dict__,
                "quantity": rng.randint(1, 50),
                "expected": 0 if confirmed else None,
                "ledger_entry": 1000 + i.key,
            }
        )
        for i in items
    ]
    connector = platform.connector_class()(
        base_url=url, credentials=demo.CREDENTIALS, settings=demo.SETTINGS
    )
    connector.authenticate()
    connector.read_levels(items[:1])  # the version check, out of the count
    before, spent = control.requests_total(), connector.cost_spent
    started = time.perf_counter()
    for batch in connector.batches(items):
        outcomes = strategy.push(connector, batch)
        assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
    seconds = time.perf_counter() - started
    requests = control.requests_total() - before
    batches = math.ceil(n / BATCH_MAX)  # each read READ_BATCH at a time
    bound = batches + (0 if confirmed else batches * math.ceil(BATCH_MAX / READ_BATCH))
    bucket = control.state()["bucket"]
    spent = connector.cost_spent - spent
    print(
        f"{name}: {n:,} updates in {seconds:.1f} s, {requests} requests (bound {bound}), "
        f"{spent:,.0f} points spent, {connector.throttled} THROTTLED, bucket now "
        f"{bucket.get('currentlyAvailable', 0):.0f}/{bucket.get('maximumAvailable')}"
    )
    return {
        "run": name,
        "updates": n,
        "requests": requests,
        "bound": bound,
        "cost": spent,
        "bucket": f"{BUCKET['maximumAvailable']}/{BUCKET['restoreRate']}/s",
        "throttled": connector.throttled,
        "seconds": seconds,
    }


if __name__ == "__main__":
    sys.exit(main())
