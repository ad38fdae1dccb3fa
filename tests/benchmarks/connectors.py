"""Connector throughput: 10,000 listing updates pushed to each platform's sandbox.

    python -m tests.benchmarks.connectors [--updates 10000] [--platform NAME ...]

Each sandbox runs in its own process (`manage.py sandbox`) with its rate limits switched
off, seeded with the items at 0; the connector pushes every item to a new quantity, batch by
batch, as the sync does. Printed per platform: requests sent (the sandbox's own count),
the bound (ceil(updates / batch maximum) writes, plus ceil(updates / read maximum) reads
where the platform is read before it is written, and for a compare-and-set platform the
reads of each batch, its items never confirmed), requests per update and updates per
second. One-off requests (tokens, Zettle's location list) are counted too, listed apart and
added to the bound. The platforms, their items and their seeding come from the registry and
each platform's test hooks; pacing is off, as are the sandboxes' own limits.
"""

import argparse
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_PORT = 18100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--platform", action="append", help="a platform's name (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from connectors.demo import demo_platforms

    names = [p.name for p in demo_platforms()]
    rows = [bench(name, names.index(name), args.updates) for name in args.platform or names]
    print(
        f"\n{'platform':<12} {'updates':>8} {'requests':>9} {'once':>5} {'bound':>7} "
        f"{'req/update':>10} {'updates/s':>10}  verdict"
    )
    for r in rows:
        verdict = "within bound" if r["requests"] <= r["bound"] else "OVER the bound"
        print(
            f"{r['platform']:<12} {r['updates']:>8,} {r['requests']:>9,} {r['auth']:>5} "
            f"{r['bound']:>7,} {r['requests'] / r['updates']:>10.3f} {r['rate']:>10,.0f}  "
            f"{verdict}"
        )
    return 0 if all(r["requests"] <= r["bound"] for r in rows) else 1


def bench(name, index, n):
    from connectors.demo import wait_for_sandbox
    from connectors.platforms import registry, strategy
    from connectors.platforms.base import COMPARE_AND_SET, PushItem
    from connectors.platforms.pacing import Pacer
    from tests.connectors.sandbox_client import Client

    platform = registry.get(name)
    hooks, demo = platform.hooks(), platform.demo_module()
    port = BASE_PORT + index
    server = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--platform", name, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_sandbox(url)
        control = Client(url=url, platform=name, timeout=120)
        control.fail(rate_limits=False)
        items = hooks.make_items(n)
        for start in range(0, n, 2000):
            hooks.seed(control, items[start : start + 2000], 0)
        rng = random.Random(7)
        items = [PushItem(**{**i.__dict__, "quantity": rng.randint(1, 50)}) for i in items]
        connector = platform.connector_class()(
            base_url=url,
            credentials=demo.CREDENTIALS,
            settings=demo.SETTINGS,
            pacer=lambda rate: Pacer(None),  # the sandbox's own limits are off too
        )
        before = control.requests_total()
        started = time.perf_counter()
        for batch in connector.batches(items):
            outcomes = strategy.push(connector, batch)
            assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
        elapsed = time.perf_counter() - started
        total = control.requests_total() - before
    finally:
        server.terminate()
        server.wait(timeout=10)
    caps = connector.capabilities
    # One-off calls: tokens, and setup such as Zettle's location list.
    auth = sum(1 for e in connector.exchanges if e.purpose not in ("read", "write"))
    bound = math.ceil(len(items) / caps.batch_max) + auth
    if caps.reads_first:
        bound += math.ceil(len(items) / max(caps.read_max, caps.batch_max))
    elif caps.writes == COMPARE_AND_SET:  # never confirmed here: each batch is read first
        bound += sum(math.ceil(len(b) / caps.read_max) for b in connector.batches(items))
    print(
        f"{name}: {len(items):,} updates in {elapsed:.1f} s, {total:,} requests ({auth} "
        f"one-off), batch maximum {caps.batch_max}, writes {caps.writes}"
    )
    return {
        "platform": name,
        "updates": len(items),
        "requests": total,
        "auth": auth,
        "bound": bound,
        "rate": len(items) / elapsed,
    }


if __name__ == "__main__":
    sys.exit(main())
