"""Connector throughput: 10,000 listing updates pushed to each platform's sandbox.

    python -m tests.benchmarks.connectors [--updates 10000] [--platform NAME ...]

Each sandbox runs in its own process (`manage.py sandbox`) with its rate limits switched
off, seeded with the items at 0; the connector pushes every item to a new quantity, batch by
batch, as the sync does. Printed per platform: requests sent (the sandbox's own count),
the bound (absolute platforms: ceil(updates / batch maximum) writes; delta platforms: one
read and one write per batch), requests per update and updates per second. One-off requests
(tokens, Zettle's location list) are counted too, listed apart and added to the bound.
"""

import argparse
import math
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BASE_PORT = 18100
HL_LOCATION = "6578278e879ad2646715ba9c"


def highlevel(n):
    seed = [{"priceId": f"price{i:08d}", "availableQuantity": 0} for i in range(n)]
    items = [dict(remote_id=s["priceId"]) for s in seed]
    return seed, items, {"token": "pit-hl-sandbox-token"}, {"location_id": HL_LOCATION}


def webflow(n):
    seed = [{"collectionId": "skus", "skuId": f"sku{i:08d}", "quantity": 0} for i in range(n)]
    items = [dict(remote_id=s["skuId"], remote_parent_id="skus") for s in seed]
    return seed, items, {"token": "wf-sandbox-site-token"}, {}


def unicommerce(n):
    seed = [{"productId": f"prod{i}", "variantId": f"var{i}", "inventory": 0} for i in range(n)]
    items = [dict(remote_id=s["variantId"], remote_parent_id=s["productId"]) for s in seed]
    return seed, items, {"username": "uniware", "password": "uniware-sandbox-password"}, {}


def elasticpath(n):
    seed = [{"id": str(uuid.uuid4()), "available": 0} for _ in range(n)]
    items = [dict(remote_id=s["id"]) for s in seed]
    creds = {"client_id": "ep-sandbox-client-id", "client_secret": "ep-sandbox-client-secret"}
    return seed, items, creds, {}


def zettle(n):
    products = [(str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]) for _ in range(n // 4)]
    seed = [{"productUuid": p, "variants": dict.fromkeys(vs, 0)} for p, vs in products]
    items = [dict(remote_id=v, remote_parent_id=p) for p, vs in products for v in vs]
    creds = {"client_id": "zettle-sandbox-client-id", "api_key": "zettle-sandbox-api-key"}
    return seed, items, creds, {}


PLATFORMS = {f.__name__: f for f in (highlevel, webflow, unicommerce, elasticpath, zettle)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    rows = [bench(name, args.updates) for name in args.platform or PLATFORMS]
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


def bench(name, n):
    from connectors.demo import wait_for_sandbox
    from connectors.platforms import connector_class
    from connectors.platforms.base import PushItem

    port = BASE_PORT + list(PLATFORMS).index(name)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--platform", name, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_sandbox(url)
        seed, item_args, credentials, settings = PLATFORMS[name](n)
        control = requests.Session()
        control.post(f"{url}/_sandbox/failures", json={"rate_limits": False}, timeout=30)
        for start in range(0, len(seed), 2000):
            control.post(
                f"{url}/_sandbox/seed", json={"items": seed[start : start + 2000]}, timeout=60
            ).raise_for_status()
        rng = random.Random(7)
        items = [PushItem(key=i, quantity=rng.randint(1, 50), **a) for i, a in enumerate(item_args)]
        connector = connector_class(name)(base_url=url, credentials=credentials, settings=settings)
        before = control.get(f"{url}/_sandbox/health", timeout=10).json()["requests_total"]
        started = time.perf_counter()
        for batch in connector.batches(items):
            outcomes = connector.push_batch(batch)
            assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
        elapsed = time.perf_counter() - started
        total = control.get(f"{url}/_sandbox/health", timeout=10).json()["requests_total"] - before
    finally:
        server.terminate()
        server.wait(timeout=10)
    caps = connector.capabilities
    # One-off calls: tokens, and setup such as Zettle's location list.
    auth = sum(1 for e in connector.exchanges if e.purpose not in ("read", "write"))
    batches = math.ceil(len(items) / caps.batch_max)
    bound = batches * (2 if caps.writes == "delta" else 1) + auth
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
