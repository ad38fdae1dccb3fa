"""Ledger throughput: the stock service against a raw-SQL floor, on SQLite and PostgreSQL.

    python -m tests.benchmarks.ledger [--backend sqlite|postgres|both] [--ops 3000]

Each backend runs in its own process on a fresh database (a temporary SQLite file; a
PostgreSQL database named inventory_bench on the server of DATABASE_URL, or the machine's
postgres://postgres@127.0.0.1:5432). It prints, per backend:

- the raw-SQL floor: per commit only what a mutation must do (lock the level, update it,
  insert the ledger row), through the database driver directly;
- single-line mutations through the service, sequentially, and the ratio to the floor;
- 4 concurrent writer processes on 100 hot levels (increment, decrement, allocate,
  deallocate at random), then a lost-update check: each level must equal what the accepted
  operations add up to, and its ledger;
- one 10,000-line batch on existing levels, and one on levels it creates.
Targets (issue 2): service >= 60% of the floor, 10,000-line batch < 1 s, zero lost updates.
"""

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.benchmarks import PRODUCTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
HOT = 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--ops", type=int, default=3000, help="mutations per measurement")
    parser.add_argument("--batch", type=int, default=10_000, help="lines in the batch")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    status = 0
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            **PRODUCTION_KEYS,
        }
        env.pop("REDIS_URL", None)
        with tempfile.TemporaryDirectory() as tmp:
            env["VAR_DIR"] = tmp
            if backend == "sqlite":
                env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
            else:
                env["DATABASE_URL"] = fresh_postgres(os.environ.get("DATABASE_URL") or DEFAULT_PG)
            cmd = [
                sys.executable,
                "-m",
                "tests.benchmarks.ledger",
                "--child",
                "--ops",
                str(args.ops),
                "--batch",
                str(args.batch),
            ]
            status |= subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode
    return status


def fresh_postgres(url, name="inventory_bench"):
    """Recreate the database `name` on the server of `url`; return its URL."""
    import psycopg

    parts = urlsplit(url if not url.startswith("sqlite") else DEFAULT_PG)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


# --------------------------------------------------------------------------- in the child


def child(args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"\n== {connection.vendor} ({connection.settings_dict['NAME']}) ==")
    hot, location = setup_catalog()
    results = {}
    results["raw"] = raw_floor(hot, location, args.ops)
    report("raw-SQL floor (driver, lock+update+insert per commit)", args.ops, results["raw"])
    results["seq"] = service_sequential(hot, location, args.ops)
    report("service, single-line, sequential", args.ops, results["seq"])
    ratio = (args.ops / results["seq"]) / (args.ops / results["raw"])
    print(f"  service / floor: {ratio:.0%} (target >= 60%)")
    lost = concurrent_writers(hot, location, args.ops, writers=4)
    batch_existing, batch_new = batches(location, args.batch)
    print(f"  {args.batch:,}-line batch, existing levels: {batch_existing:.3f} s (target < 1 s)")
    print(f"  {args.batch:,}-line batch, creating levels: {batch_new:.3f} s")
    ok = ratio >= 0.6 and batch_existing < 1.0 and lost == 0
    print(f"  verdict: {'all targets met' if ok else 'a target is missed (see above)'}")
    return 0


def report(label, ops, seconds):
    print(f"  {label}: {ops / seconds:,.0f} mutations/s ({ops:,} in {seconds:.2f} s)")


def setup_catalog():
    from inventory.models import Location, Product, Source, Variant
    from inventory.services import StockLine, stock_apply

    location = Location.objects.create(code="WH1", name="Bench warehouse")
    product = Product.objects.create(name="Bench product")
    Variant.objects.bulk_create(Variant(product=product, sku=f"HOT-{i}") for i in range(HOT))
    hot = list(Variant.objects.filter(sku__startswith="HOT-").values_list("pk", flat=True))
    stock_apply(
        lines=[
            StockLine(action="count", quantity=1_000_000, variant_id=v, location_id=location.pk)
            for v in hot
        ],
        source=Source.SYSTEM,
    )
    return hot, location.pk


def raw_floor(hot, location_id, ops):
    """Lock the level, update it, insert a ledger row, commit: via the driver, nothing else."""
    from django.db import connection
    from django.utils import timezone

    from inventory.models import Movement, StockLevel, StockTransaction

    movement_id = Movement.objects.first().pk
    connection.ensure_connection()
    raw = connection.connection
    pg = connection.vendor == "postgresql"
    mark = "%s" if pg else "?"
    level, ledger = StockLevel._meta.db_table, StockTransaction._meta.db_table
    select = (
        f"SELECT id, on_hand, allocated FROM {level} WHERE variant_id = {mark} "
        f"AND location_id = {mark}{' FOR UPDATE' if pg else ''}"
    )
    update = f"UPDATE {level} SET on_hand = {mark} WHERE id = {mark}"
    insert = (
        f"INSERT INTO {ledger} (movement_id, line, variant_id, location_id, action, "
        "quantity, on_hand_change, allocated_change, on_hand_after, allocated_after, "
        f"created_at) VALUES ({mark}, 1, {mark}, {mark}, 'decrement', 1, -1, 0, {mark}, "
        f"{mark}, {mark})"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    cursor = raw.cursor()
    if pg:
        raw.autocommit = False
    start = time.perf_counter()
    for i in range(ops):
        variant_id = hot[i % len(hot)]
        if not pg:
            cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(select, (variant_id, location_id))
        pk, on_hand, allocated = cursor.fetchone()
        cursor.execute(update, (on_hand - 1, pk))
        cursor.execute(insert, (movement_id, variant_id, location_id, on_hand - 1, allocated, now))
        raw.commit()
    elapsed = time.perf_counter() - start
    if pg:
        raw.autocommit = True
    cursor.close()
    return elapsed


def service_sequential(hot, location_id, ops):
    from inventory.models import Source
    from inventory.services import StockLine, stock_apply

    start = time.perf_counter()
    for i in range(ops):
        line = StockLine(
            action="decrement", quantity=1, variant_id=hot[i % len(hot)], location_id=location_id
        )
        stock_apply(lines=[line], source=Source.COMMAND)
    return time.perf_counter() - start


def _writer(seed, hot, location_id, ops, queue):
    from django.db import connections

    from inventory.exceptions import StockRefused
    from inventory.models import Source
    from inventory.services import StockLine, stock_apply

    connections.close_all()
    rng = random.Random(seed)
    accepted = []
    refused = 0
    for _ in range(ops):
        variant_id = rng.choice(hot)
        action = rng.choice(["increment", "decrement", "allocate", "deallocate"])
        line = StockLine(
            action=action,
            quantity=rng.randint(1, 3),
            variant_id=variant_id,
            location_id=location_id,
        )
        try:
            stock_apply(lines=[line], source=Source.COMMAND)
            accepted.append((variant_id, action, line.quantity))
        except StockRefused:
            refused += 1
    connections.close_all()
    queue.put((accepted, refused))


def concurrent_writers(hot, location_id, ops, writers):
    """`writers` processes on the hot levels at once; returns the number of lost updates."""
    from django.db import connections

    from inventory.models import StockLevel
    from inventory.selectors import ledger_mismatches

    before = dict(StockLevel.objects.values_list("variant_id", "on_hand"))
    alloc_before = dict(StockLevel.objects.values_list("variant_id", "allocated"))
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    per = ops // writers
    procs = [
        ctx.Process(target=_writer, args=(seed, hot, location_id, per, queue))
        for seed in range(writers)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    expected_on_hand, expected_alloc = dict(before), dict(alloc_before)
    refused = 0
    for accepted, n_refused in outcomes:
        refused += n_refused
        for variant_id, action, q in accepted:
            if action == "increment":
                expected_on_hand[variant_id] += q
            elif action == "decrement":
                expected_on_hand[variant_id] -= q
            elif action == "allocate":
                expected_alloc[variant_id] += q
            else:
                expected_alloc[variant_id] -= q
    lost = 0
    for variant_id, on_hand, allocated in StockLevel.objects.values_list(
        "variant_id", "on_hand", "allocated"
    ):
        if variant_id in expected_on_hand and (on_hand, allocated) != (
            expected_on_hand[variant_id],
            expected_alloc[variant_id],
        ):
            lost += 1
    mismatches = len(ledger_mismatches())
    report(
        f"service, {writers} concurrent writers on {len(hot)} hot levels", per * writers, elapsed
    )
    print(
        f"  lost updates: {lost} levels off, {mismatches} levels differ from the ledger "
        f"({refused:,} operations refused by the rules, as expected)"
    )
    return lost + mismatches


def batches(location_id, size):
    from inventory.models import Location, Product, Source, Variant
    from inventory.services import StockLine, stock_apply

    product = Product.objects.create(name="Batch product")
    Variant.objects.bulk_create(
        (Variant(product=product, sku=f"BATCH-{i}") for i in range(size)), batch_size=2000
    )
    ids = list(Variant.objects.filter(sku__startswith="BATCH-").values_list("pk", flat=True))
    fresh = Location.objects.create(code="WH2", name="Second warehouse")

    def batch(loc):
        lines = [
            StockLine(action="increment", quantity=5, variant_id=v, location_id=loc) for v in ids
        ]
        start = time.perf_counter()
        stock_apply(lines=lines, source=Source.IMPORT, reference="bench batch")
        return time.perf_counter() - start

    batch(location_id)  # creates the levels at WH1
    return batch(location_id), batch(fresh.pk)


if __name__ == "__main__":
    sys.exit(main())
