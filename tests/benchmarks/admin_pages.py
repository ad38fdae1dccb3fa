"""The admin pages staff use most, on a large catalog: server time and queries per page.

    python -m tests.benchmarks.admin_pages [--backend postgres|sqlite] [--variants 100000]
                                           [--listings 100000] [--push-records 250000]
                                           [--movements 3000] [--repeat 7] [--reuse]

Runs in its own process on a fresh database (a temporary SQLite file; a PostgreSQL database
named inventory_bench_admin on the server of DATABASE_URL, or the machine's
postgres://postgres@127.0.0.1:5432). It builds:

- --variants variants (five to a product, a third with a reorder point, 2% untracked) at five
  locations: a level for every (variant, location);
- the ledger through the stock service, in batches of 50,000 lines: a first count of every
  level, allocations on a fifth of them, then --movements small documents (1-5 lines of
  receipts, sales and counts, from the admin, commands and channels, by three users);
- five channels (one per platform: live, live with errors, paused, shadow, live with its
  circuit open), each listing the first --listings variants (1% pending, 0.2% failed), and
  about --push-records push records (one listing linked to each), in bulk SQL;
then VACUUM ANALYZE (what autovacuum does to a table that has been written), logs a superuser
in with django.test.Client and requests each page --repeat times after one warm-up request.
It prints per page the median and max server time (the request through Django's handler,
as the test client runs it in this process) and the number of queries, and flags any page
over 300 ms (the target, on PostgreSQL, for the pages of the issue's list; a few more are timed
for the record, marked "(extra)"). --explain prints the plan of every query over 20 ms;
--reuse keeps the PostgreSQL database of an earlier run when it holds the catalog already
(pending migrations are applied).
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tests.benchmarks import PRODUCTION_KEYS
from tests.benchmarks.ledger import DEFAULT_PG, fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "inventory_bench_admin"
TARGET_MS = 300
BATCH = 50_000
LOCATIONS = [
    ("WH1", "warehouse"),
    ("WH2", "warehouse"),
    ("STORE1", "store"),
    ("STORE2", "store"),
    ("TRANSIT", "transit"),
]
CHANNELS = [
    # name, platform, mode, health
    ("HighLevel shop", "highlevel", "live", "healthy"),
    ("Webflow store", "webflow", "live", "errors"),
    ("Unicommerce marketplace", "unicommerce", "paused", "bad credentials"),
    ("Elastic Path trial", "elasticpath", "shadow", "healthy"),
    ("Zettle POS", "zettle", "live", "circuit open"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument(
        "--listings", type=int, default=None, help="listings per channel (default: every variant)"
    )
    parser.add_argument("--push-records", type=int, default=250_000)
    parser.add_argument("--movements", type=int, default=3000, help="small stock documents")
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep an earlier run's PostgreSQL database if it is built",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of each query over 20 ms (PostgreSQL)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listings is None:
        args.listings = args.variants
    if args.child:
        return child(args)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        **PRODUCTION_KEYS,
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
    }
    env.pop("REDIS_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        env["VAR_DIR"] = tmp
        if args.backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        elif args.reuse:
            env["DATABASE_URL"] = _existing_postgres(os.environ.get("DATABASE_URL") or DEFAULT_PG)
        else:
            env["DATABASE_URL"] = fresh_postgres(
                os.environ.get("DATABASE_URL") or DEFAULT_PG, DB_NAME
            )
        cmd = [
            sys.executable,
            "-m",
            "tests.benchmarks.admin_pages",
            "--child",
            "--variants",
            str(args.variants),
            "--listings",
            str(args.listings),
            "--push-records",
            str(args.push_records),
            "--movements",
            str(args.movements),
            "--repeat",
            str(args.repeat),
            *(["--explain"] if args.explain else []),
        ]
        return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def _existing_postgres(url):
    """The URL of the benchmark database, created empty if it does not exist yet."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url if not url.startswith("sqlite") else DEFAULT_PG)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
    if not found:
        return fresh_postgres(url, DB_NAME)
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


# --------------------------------------------------------------------------- in the child


def child(args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from connectors.models import PushRecord

    call_command("migrate", verbosity=0)
    print(f"\n== {connection.vendor} ({connection.settings_dict['NAME']}) ==", flush=True)
    if PushRecord.objects.exists():  # the last step of a build: an earlier run's (--reuse)
        print("  reusing the catalog already built", flush=True)
    else:
        build(args)
    analyze()
    print(describe(), flush=True)
    return measure_pages(args.repeat, explain=args.explain)


def build(args):
    rng = random.Random(7)
    started = time.perf_counter()
    variant_ids, location_ids = build_catalog(args.variants, rng)
    _step("catalog", started)
    build_ledger(variant_ids, location_ids, args.movements, rng)
    _step("ledger (through the stock service)", started)
    build_channels(location_ids, args.listings, args.push_records)
    _step("channels, listings and push records", started)


def _step(what, started):
    print(f"  built {what}: {time.perf_counter() - started:.0f} s", flush=True)


def build_catalog(n, rng):
    from django.contrib.auth import get_user_model

    from inventory.models import Location, Product, Variant

    User = get_user_model()
    User.objects.create_superuser("bench", "bench@example.com", "pw")
    for name in ("clerk-ann", "clerk-bob"):
        User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    locations = Location.objects.bulk_create(
        Location(code=code, name=f"Location {code}", kind=kind) for code, kind in LOCATIONS
    )
    products = Product.objects.bulk_create(
        (Product(name=f"Product {i:06d}") for i in range((n + 4) // 5)), batch_size=5000
    )
    variants = (
        Variant(
            product_id=products[i // 5].pk,
            sku=f"SKU-{i:06d}",
            barcode=f"{4000000000000 + i}",
            name=f"Product {i // 5:06d} / {('XS', 'S', 'M', 'L', 'XL')[i % 5]}",
            options={"size": ("XS", "S", "M", "L", "XL")[i % 5]},
            tracked=i % 50 != 7,
            reorder_point=rng.randint(0, 30) if i % 3 == 0 else None,
        )
        for i in range(n)
    )
    Variant.objects.bulk_create(variants, batch_size=5000)
    variant_ids = list(Variant.objects.order_by("pk").values_list("pk", flat=True))
    return variant_ids, [loc.pk for loc in locations]


def build_ledger(variant_ids, location_ids, movements, rng):
    from django.contrib.auth import get_user_model

    from inventory.models import Source
    from inventory.services import StockLine, stock_apply

    counts = [
        StockLine(
            action="count",
            quantity=0 if rng.random() < 0.12 else rng.randint(1, 80),
            variant_id=v,
            location_id=loc,
        )
        for v in variant_ids
        for loc in location_ids
    ]
    on_hand = {(ln.variant_id, ln.location_id): ln.quantity for ln in counts}
    for n, start in enumerate(range(0, len(counts), BATCH), start=1):
        stock_apply(
            lines=counts[start : start + BATCH],
            source=Source.IMPORT,
            reason="stocktake",
            reference=f"stocktake-{n:02d}.xlsx",
        )
    allocations = [
        StockLine(
            action="allocate", quantity=rng.randint(1, min(q, 5)), variant_id=v, location_id=loc
        )
        for (v, loc), q in on_hand.items()
        if q > 0 and rng.random() < 0.2
    ]
    for start in range(0, len(allocations), BATCH):
        stock_apply(
            lines=allocations[start : start + BATCH],
            source=Source.CHANNEL,
            reason="open orders",
            reference="orders backlog",
        )
    users = [None, *get_user_model().objects.filter(username__startswith="clerk-")]
    sources = [Source.ADMIN, Source.COMMAND, Source.CHANNEL]
    for i in range(movements):
        lines = []
        for _ in range(rng.randint(1, 5)):
            action = rng.choice(["increment", "decrement", "decrement", "count"])
            lines.append(
                StockLine(
                    action=action,
                    quantity=rng.randint(1, 6),
                    variant_id=rng.choice(variant_ids),
                    location_id=rng.choice(location_ids),
                )
            )
        source = sources[i % 3]
        stock_apply(
            lines=lines,
            source=source,
            partial=True,
            user=users[i % 3],
            reason=f"{source} change",
            reference=f"REF-{i:05d}",
        )


def build_channels(location_ids, per_channel, push_records):
    """Channels through the ORM; listings, push records and their links in bulk SQL (no
    model signals: nothing is queued)."""
    from django.db import connection
    from django.utils import timezone

    from connectors.models import Channel, Listing, PushRecord
    from inventory.models import Variant

    now = timezone.now()
    channels = []
    for k, (name, platform, mode, health) in enumerate(CHANNELS):
        channel = Channel.objects.create(
            name=name,
            platform=platform,
            base_url=f"http://127.0.0.1:{18400 + k}",
            mode=mode,
            last_success_at=now - timedelta(minutes=k),
            last_error_at=now - timedelta(hours=1) if health != "healthy" else None,
            last_error="" if health == "healthy" else f"{health}: HTTP 503 from the API",
            paused_reason="bad credentials (HTTP 401)" if health == "bad credentials" else "",
            consecutive_failures=5 if health == "circuit open" else 0,
            circuit_open_until=now + timedelta(minutes=5) if health == "circuit open" else None,
        )
        channels.append(channel)
    Channel.locations.through.objects.bulk_create(
        Channel.locations.through(channel_id=c.pk, location_id=loc)
        for i, c in enumerate(channels)
        for loc in location_ids[: 2 + i % 4]
    )
    q = connection.ops.quote_name
    listing, variant = q(Listing._meta.db_table), q(Variant._meta.db_table)
    ids = Variant.objects.order_by("pk").values_list("pk", flat=True)
    last = ids[min(per_channel, ids.count()) - 1]
    with connection.cursor() as cursor:
        for k, channel in enumerate(channels):
            # 1% pending, 0.2% failed (with the channel's message), the rest in step.
            cursor.execute(
                f"INSERT INTO {listing} (channel_id, variant_id, remote_id, remote_parent_id, "
                "confirmed_quantity, confirmed_at, status, last_error, pending_since, change_seq, "
                "claimed_by, attempts, created_at) "
                f"SELECT %s, v.id, 'R' || v.id, 'P' || v.product_id, v.id %% 40, %s, "
                f"CASE WHEN (v.id + {k}) %% 500 = 0 THEN 'failed' "
                f"WHEN (v.id + {k}) %% 100 = 0 THEN 'pending' ELSE 'ok' END, "
                f"CASE WHEN (v.id + {k}) %% 500 = 0 THEN 'SKU not found on the channel' "
                "ELSE '' END, "
                f"CASE WHEN (v.id + {k}) %% 100 = 0 THEN %s ELSE NULL END, 1, '', 0, %s "
                f"FROM {variant} v WHERE v.id <= %s",
                [channel.pk, now, now, now, last],
            )
        build_push_records(cursor, push_records, now)
    _reset_sequences(PushRecord)


def build_push_records(cursor, n, now):
    """Push records with the id of the listing they pushed (one each), spread over 30 days."""
    from django.db import connection

    from connectors.models import Listing, PushRecord

    q = connection.ops.quote_name
    table, listing = q(PushRecord._meta.db_table), q(Listing._meta.db_table)
    links = q(PushRecord.listings.through._meta.db_table)
    ids = Listing.objects.order_by("pk").values_list("pk", flat=True)
    step = max(1, ids.count() // max(n, 1))
    chunks = 30
    lo, hi = ids.first(), ids.last() + 1
    size = (hi - lo) // chunks + 1
    json = "jsonb" if connection.vendor == "postgresql" else "text"
    body = '{"data": {"updated": true}, "meta": {"requestId": "' + "0" * 32 + '"}}'
    for day in range(chunks):
        start = lo + day * size
        cursor.execute(
            f"INSERT INTO {table} (id, channel_id, purpose, method, url, request_headers, "
            "request_body, status, response_body, duration_ms, outcome, error, items, attempt, "
            "ledger_entry_id, created_at) "
            "SELECT l.id, l.channel_id, CASE WHEN l.id %% 10 = 0 THEN 'read' ELSE 'write' END, "
            "'POST', 'http://127.0.0.1/products/inventory', "
            '\'{"Authorization": "[redacted]", "Content-Type": "application/json"}\', '
            '\'{"items": [{"id": "R\' || l.variant_id || \'", "quantity": \' || '
            "(l.variant_id %% 40) || '}]}', "
            "CASE WHEN l.id %% 200 = 0 THEN 503 WHEN l.id %% 97 = 0 THEN 422 ELSE 200 END, "
            "%s, 20 + l.id %% 300, "
            "CASE WHEN l.id %% 200 = 0 THEN 'transient' WHEN l.id %% 97 = 0 THEN 'rejected' "
            "ELSE 'ok' END, '', "
            f"CAST('[{{\"listing\": ' || l.id || ', \"ok\": true}}]' AS {json}), 1, l.id, %s "
            f"FROM {listing} l WHERE l.id >= %s AND l.id < %s AND l.id %% %s = 0",
            [body, now - timedelta(days=chunks - day), start, start + size, step],
        )
    cursor.execute(f"INSERT INTO {links} (pushrecord_id, listing_id) SELECT id, id FROM {table}")


def _reset_sequences(model):
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(sql)


def analyze():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def describe():
    from connectors.models import Channel, Listing, PushRecord
    from inventory.models import Movement, StockLevel, StockTransaction, Variant

    counts = [
        (Variant, "variants"),
        (StockLevel, "stock levels"),
        (StockTransaction, "ledger rows"),
        (Movement, "movements"),
        (Channel, "channels"),
        (Listing, "listings"),
        (PushRecord, "push records"),
    ]
    return "  " + ", ".join(f"{model.objects.count():,} {label}" for model, label in counts)


# --------------------------------------------------------------------------- the pages


def pages():
    from django.urls import reverse

    from connectors.models import Channel, Listing
    from inventory.models import Movement, Variant

    listed = Listing.objects.order_by("pk").values_list("variant_id", flat=True)
    variant = Variant.objects.get(pk=listed[min(1234, listed.count() - 1)])
    movement = Movement.objects.order_by("pk").first()
    channel = Channel.objects.order_by("pk").first()
    listing = Listing.objects.order_by("pk").first()
    variants = reverse("admin:inventory_variant_changelist")
    ledger = reverse("admin:inventory_stocktransaction_changelist")
    levels = reverse("admin:inventory_stocklevel_changelist")
    return [
        ("dashboard (admin index)", reverse("admin:index")),
        ("variants", variants),
        ("variants, search by SKU", f"{variants}?q={variant.sku}"),
        ("variants, at or below reorder point", f"{variants}?stock=low"),
        ("variant change page", reverse("admin:inventory_variant_change", args=[variant.pk])),
        ("stock levels", levels),
        ("stock levels, search by SKU", f"{levels}?q={variant.sku}"),
        ("ledger", ledger),
        ("ledger of one variant", f"{ledger}?variant__id__exact={variant.pk}"),
        ("movements", reverse("admin:inventory_movement_changelist")),
        (
            "movement change page (a stocktake)",
            reverse("admin:inventory_movement_change", args=[movement.pk]),
        ),
        ("listings", reverse("admin:connectors_listing_changelist")),
        (
            "listings of one channel",
            reverse("admin:connectors_listing_changelist") + f"?channel__id__exact={channel.pk}",
        ),
        ("listing change page", reverse("admin:connectors_listing_change", args=[listing.pk])),
        ("push records", reverse("admin:connectors_pushrecord_changelist")),
        ("channels", reverse("admin:connectors_channel_changelist")),
        ("channel change page", reverse("admin:connectors_channel_change", args=[channel.pk])),
        # Lists that sum every level (the stock filters, the sort by available, locations).
        ("variants, out of stock", f"{variants}?stock=out"),
        ("variants, in stock", f"{variants}?stock=in"),
        ("variants by available", f"{variants}?o=8"),
        ("locations", reverse("admin:inventory_location_changelist")),
    ]


def measure_pages(repeat, explain=False):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    print(f"  {'page':<40} {'median ms':>9} {'max ms':>7} {'queries':>7}")
    slow = []
    for label, url in pages():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)  # warm-up, and the query count
        queries = len(ctx.captured_queries)  # the next request clears the log
        slow_queries = [q["sql"] for q in ctx.captured_queries if float(q["time"]) > 0.02]
        if response.status_code != 200:
            raise RuntimeError(f"{label}: {url} answered {response.status_code}")
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        median, worst = statistics.median(times), max(times)
        flag = f"  << over {TARGET_MS} ms" if median > TARGET_MS else ""
        if median > TARGET_MS:
            slow.append(label)
        print(f"  {label:<40} {median:>9.0f} {worst:>7.0f} {queries:>7}{flag}", flush=True)
        if explain and connection.vendor == "postgresql":
            for sql in slow_queries:
                print_plan(sql)
    verdict = "every page under" if not slow else f"{len(slow)} page(s) over"
    print(f"  verdict: {verdict} {TARGET_MS} ms (median)")
    return 0


def print_plan(sql):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join("      " + row[0] for row in cursor.fetchall())
    print(f"    {sql[:300]}\n{plan}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
