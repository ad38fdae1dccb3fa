"""Many writers on the same levels at once: no lost update, nothing below zero, no deadlock."""

import contextlib
import multiprocessing
import random
import threading

import pytest
from django.db import connection, connections

from inventory.exceptions import StockRefused
from inventory.models import Source, StockLevel, StockTransaction
from inventory.selectors import ledger_mismatches
from inventory.services import StockLine, stock_apply

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks under real concurrency are tested on PostgreSQL: set DATABASE_URL=postgres://…",
)


def _hammer(variant_id, location_id, actions, outcomes):
    """Apply one-unit changes one by one, recording which were accepted."""
    try:
        for action in actions:
            line = StockLine(
                action=action, quantity=1, variant_id=variant_id, location_id=location_id
            )
            try:
                stock_apply(lines=[line], source=Source.COMMAND)
                outcomes.append((action, True))
            except StockRefused:
                outcomes.append((action, False))
    finally:
        connections.close_all()


def _run_threads(target, args_list):
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung (deadlock?)"


def _assert_exact_sellout(tee, wh, start, outcomes):
    accepted = [action for action, ok in outcomes if ok]
    level = StockLevel.objects.get(variant=tee, location=wh)
    assert len(accepted) == start, "exactly the starting stock is sold, not a unit more or less"
    assert level.on_hand == start - accepted.count("decrement")
    assert level.allocated == accepted.count("allocate")
    assert level.available == 0
    assert StockTransaction.objects.filter(variant=tee, location=wh).count() == start + 1
    assert not ledger_mismatches()


def test_threads_selling_the_same_level_lose_no_update(make):
    """Runs on whichever database is configured (SQLite serialises writers: IMMEDIATE)."""
    wh = make.location("WH1")
    tee = make.variant("TEE-M")
    start = 60
    make.stock(tee, wh, start)
    outcomes = []
    plans = [["decrement", "allocate"] * 10 for _ in range(6)]  # 120 attempts for 60 units
    _run_threads(_hammer, [(tee.pk, wh.pk, plan, outcomes) for plan in plans])
    _assert_exact_sellout(tee, wh, start, outcomes)


def _process_hammer(variant_id, location_id, actions, queue):
    connections.close_all()  # never share the parent's socket
    outcomes = []
    _hammer(variant_id, location_id, actions, outcomes)
    queue.put(outcomes)


@needs_postgres
def test_processes_selling_the_same_level_on_postgres_lose_no_update(make):
    wh = make.location("WH1")
    tee = make.variant("TEE-M")
    start = 150
    make.stock(tee, wh, start)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    plans = [["decrement", "allocate", "allocate"] * 20 for _ in range(4)]  # 240 attempts
    procs = [ctx.Process(target=_process_hammer, args=(tee.pk, wh.pk, p, queue)) for p in plans]
    for p in procs:
        p.start()
    outcomes = [o for _ in procs for o in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    _assert_exact_sellout(tee, wh, start, outcomes)


def _shuffle_batches(variant_ids, location_ids, rounds, seed, failures):
    """Batches touching several levels, listed in random order: locks must not cycle."""
    rng = random.Random(seed)
    try:
        for _ in range(rounds):
            lines = []
            for v in rng.sample(variant_ids, 3):
                a, b = rng.sample(location_ids, 2)
                lines.append(
                    StockLine(
                        action="move", quantity=1, variant_id=v, location_id=a, to_location_id=b
                    )
                )
            with contextlib.suppress(StockRefused):  # running dry is fine; deadlocks are not
                stock_apply(lines=lines, source=Source.COMMAND)
    except Exception as exc:  # a deadlock or lock timeout would land here
        failures.append(repr(exc))
    finally:
        connections.close_all()


@needs_postgres
def test_crossing_multi_level_batches_on_postgres_never_deadlock(make):
    locations = [make.location(f"L{i}") for i in range(3)]
    variants = [make.variant() for _ in range(5)]
    for v in variants:
        for loc in locations:
            make.stock(v, loc, 20)
    failures = []
    args = [
        ([v.pk for v in variants], [loc.pk for loc in locations], 40, seed, failures)
        for seed in range(6)
    ]
    _run_threads(_shuffle_batches, args)
    assert failures == []
    for v in variants:
        total = sum(StockLevel.objects.filter(variant=v).values_list("on_hand", flat=True))
        assert total == 60, "moves conserve stock"
    assert not ledger_mismatches()
