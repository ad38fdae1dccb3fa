"""Stock file imports: the project's path against a plain ModelResource, SQLite and PostgreSQL.

    python -m tests.benchmarks.imports [--backend sqlite|postgres|both] [--rows 10000,100000]
                                       [--plain-rows 10000,100000]

Each backend runs in its own process on a fresh database (a temporary SQLite file; a PostgreSQL
database named inventory_bench_imports on the server of DATABASE_URL, or the machine's
postgres://postgres@127.0.0.1:5432), with 100,000 variants and, for each measurement, five
fresh locations. A file of N rows counts variant i at location i % 5. Each measurement runs in
a forked process of its own, so that its peak memory is its own. It prints, per size:

- the project's path (CSV bytes -> files.read_table -> StockResource.import_data -> one
  stock_apply call, committed): a first count that creates every level, then recounts of the
  same levels where every row changes (the median of three), then a recount where none does;
- a plain ModelResource with default options on StockLevel (ForeignKeyWidget for the SKU and
  the location, import_id_fields sku and location, one save() per row, no ledger at all),
  counting the same file into fresh levels: the first count, like for like;
- rows per second, the ratio, and each process's peak resident memory (and how much above
  the process before the import it is);
and the admin preview of a 10,000-row file (upload, check, the job's page) through the test
client. Targets (issue 5): 100,000 rows < 5 s on each backend, the preview < 5 s.
"""

import argparse
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks import PRODUCTION_KEYS
from tests.benchmarks.ledger import DEFAULT_PG, fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = 100_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", default="10000,100000", help="file sizes, comma-separated")
    parser.add_argument(
        "--plain-rows",
        default=None,
        help="sizes for the plain resource (default: --rows; it is 30-50 times slower)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.plain_rows = args.plain_rows if args.plain_rows is not None else args.rows
    if args.child:
        return child(args)
    status = 0
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
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
            if backend == "sqlite":
                env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
            else:
                env["DATABASE_URL"] = fresh_postgres(
                    os.environ.get("DATABASE_URL") or DEFAULT_PG, "inventory_bench_imports"
                )
            cmd = [
                sys.executable,
                "-m",
                "tests.benchmarks.imports",
                "--child",
                "--rows",
                args.rows,
                "--plain-rows",
                args.plain_rows,
            ]
            status |= subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode
    return status


# --------------------------------------------------------------------------- in the child


def child(args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"\n== {connection.vendor} ({connection.settings_dict['NAME']}) ==", flush=True)
    sizes = [int(n) for n in args.rows.split(",") if n]
    plain_sizes = {int(n) for n in args.plain_rows.split(",") if n}
    setup_catalog(sizes, plain_sizes)
    print(f"  {'rows':>8}  {'path':<52} {'seconds':>8} {'rows/s':>9}  peak memory")
    verdicts = []
    for n in sizes:
        data = count_file(n, f"P{n}-", quantity=5)
        first = measure(project_import, data, f"P{n}-.csv")
        report(n, "project: first count (creates every level)", first)
        # Three recounts, each changing every row: the median (PostgreSQL's checkpoints and
        # autovacuum make single runs vary by 20%).
        recounts = [
            measure(project_import, count_file(n, f"P{n}-", q), f"P{n}-.csv") for q in (6, 9, 12)
        ]
        recount = sorted(recounts, key=lambda r: r["seconds"])[1]
        report(n, "project: recount, every row changed (median of 3)", recount)
        report(
            n,
            "project: recount, no row changed",
            measure(project_import, count_file(n, f"P{n}-", 12), f"P{n}-.csv"),
        )
        if n in plain_sizes:
            plain = measure(plain_import, count_file(n, f"Q{n}-", quantity=5), "plain.csv")
            report(n, "plain ModelResource: first count", plain)
            print(
                f"  {'':>8}  project / plain: {plain['seconds'] / first['seconds']:.1f}x "
                "the rows per second",
                flush=True,
            )
        if n == 100_000:
            verdicts += [first["seconds"] < 5, recount["seconds"] < 5]
    preview = measure(admin_preview, count_file(10_000, "P10000-", 7), "admin.csv")
    print(
        f"  admin preview of a 10,000-row file (upload, check, job page): "
        f"{preview['seconds']:.2f} s, peak {preview['peak_mb']:.0f} MB",
        flush=True,
    )
    verdicts.append(preview["seconds"] < 5)
    print(f"  verdict: {'all targets met' if all(verdicts) else 'a target is missed (see above)'}")
    return 0


def setup_catalog(sizes, plain_sizes):
    from inventory.models import Location, Product, Variant

    product = Product.objects.create(name="Bench product")
    Variant.objects.bulk_create(
        (Variant(product=product, sku=f"SKU-{i:06d}") for i in range(VARIANTS)), batch_size=5000
    )
    # Five fresh locations per file: the project's (P, and P10000- for the admin preview)
    # and the plain resource's (Q).
    prefixes = {f"P{n}-" for n in sizes} | {f"Q{n}-" for n in plain_sizes} | {"P10000-"}
    Location.objects.bulk_create(
        Location(code=f"{prefix}{k}", name=f"{prefix}{k}") for prefix in prefixes for k in range(5)
    )


def count_file(n, prefix, quantity):
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "location", "quantity"])
    writer.writerows([f"SKU-{i:06d}", f"{prefix}{i % 5}", quantity + i % 3] for i in range(n))
    return out.getvalue().encode()


def measure(function, data, name):
    """Run `function(data, name)` in a forked process; its seconds and peak memory."""
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=_measured, args=(function, data, name, queue))
    process.start()
    outcome = queue.get(timeout=1800)
    process.join()
    if "error" in outcome:
        raise RuntimeError(outcome["error"])
    return outcome


def _measured(function, data, name, queue):
    try:
        before = _rss_mb()
        start = time.perf_counter()
        rows = function(data, name)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put({"seconds": seconds, "rows": rows, "peak_mb": peak, "above_mb": peak - before})
    except Exception as exc:
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576


def report(n, label, outcome):
    print(
        f"  {n:>8,}  {label:<52} {outcome['seconds']:>8.2f} {n / outcome['seconds']:>9,.0f}  "
        f"{outcome['peak_mb']:.0f} MB (+{outcome['above_mb']:.0f})",
        flush=True,
    )


def project_import(data, name):
    from inventory.imports.files import read_table
    from inventory.imports.stock import StockResource

    result = StockResource(mode="count").import_data(read_table(data), file_name=name)
    if result.refused:
        raise RuntimeError(f"refused: {result.problems[:3]}")
    return result.rows_read


def plain_import(data, name):
    from import_export import fields, resources, widgets
    from import_export.formats.base_formats import CSV

    from inventory.models import Location, StockLevel, Variant

    class PlainStockResource(resources.ModelResource):
        sku = fields.Field("variant", "sku", widgets.ForeignKeyWidget(Variant, "sku"))
        location = fields.Field("location", "location", widgets.ForeignKeyWidget(Location, "code"))
        quantity = fields.Field("on_hand", "quantity")

        class Meta:
            model = StockLevel
            fields = ("sku", "location", "quantity")
            import_id_fields = ("sku", "location")

    dataset = CSV(encoding="utf-8").create_dataset(data)
    result = PlainStockResource().import_data(dataset)
    if result.has_errors() or result.has_validation_errors():
        raise RuntimeError("the plain import refused rows")
    return len(dataset)


def admin_preview(data, name):
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from inventory.models import ImportJob

    user = get_user_model().objects.create_superuser(f"bench-{time.time_ns()}", "b@x.io", "pw")
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("admin:inventory_stocklevel_import"),
        {"import_file": SimpleUploadedFile(name, data), "mode": "count"},
        follow=True,
    )
    job = ImportJob.objects.order_by("-pk").first()
    if response.status_code != 200 or job.status != ImportJob.Status.CHECKED:
        raise RuntimeError(f"preview failed: {response.status_code} {job and job.status}")
    return job.rows


if __name__ == "__main__":
    sys.exit(main())
