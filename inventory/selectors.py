"""Reads that several places need: the admin, the commands and the checks."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce

from inventory.models import Location, Movement, StockLevel, StockTransaction, Variant


def _level_sum(field):
    total = (
        StockLevel.objects.filter(variant=OuterRef("pk"))
        .order_by()
        .values("variant")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def variants_with_totals(queryset):
    """Annotate on_hand_total, allocated_total and available_total over all locations."""
    return queryset.annotate(
        on_hand_total=_level_sum("on_hand"),
        allocated_total=_level_sum("allocated"),
        available_total=_level_sum("available"),
    )


def variant_levels(variant):
    """[(location, level or None)] for every active location, and any other with stock."""
    levels = {lv.location_id: lv for lv in StockLevel.objects.filter(variant=variant)}
    locations = Location.objects.filter(Q(active=True) | Q(pk__in=list(levels))).order_by("code")
    return [(loc, levels.get(loc.pk)) for loc in locations]


def recent_transactions(*, variant=None, limit=20):
    qs = StockTransaction.objects.select_related("location", "movement", "movement__user")
    if variant is not None:
        qs = qs.filter(variant=variant)
    return list(qs.order_by("-pk")[:limit])


HISTORY_ROWS = 1000


class HistoryPoint(NamedTuple):
    when: datetime
    on_hand: int
    change: int
    reason: str


@dataclass
class LocationHistory:
    location: Location
    on_hand: int  # now
    start: int | None  # at the window's start; None: its first ledger row is inside it
    points: list = field(default_factory=list)  # [HistoryPoint], oldest first


@dataclass
class StockHistory:
    since: datetime  # the asked-for start, or the oldest change kept when `limit` cut in
    until: datetime
    lines: list  # [LocationHistory] by location code; empty: the variant has no ledger yet
    truncated: bool  # more changes happened since `since` than `limit`


def variant_stock_history(*, variant, since, until, limit=HISTORY_ROWS):
    """The variant's on hand per location from `since` to `until`, from its ledger: the
    balance at the start, then each change. Two queries, bounded however long the ledger:
    its newest `limit` + 1 rows, then each level with its newest balance before the window."""
    newest = list(
        StockTransaction.objects.filter(variant=variant)
        .order_by("-id")
        .values_list(
            "id", "location_id", "created_at", "on_hand_after", "on_hand_change", "movement__reason"
        )[: limit + 1]
    )
    if not newest:
        return StockHistory(since=since, until=until, lines=[], truncated=False)
    kept = []
    for row in newest:
        if row[2] < since or len(kept) == limit:
            break
        kept.append(row)
    truncated = len(kept) == limit and len(newest) > limit and newest[limit][2] >= since
    if truncated:
        since = min(row[2] for row in kept)
    before = StockTransaction.objects.filter(variant=variant, location=OuterRef("location"))
    if kept:
        before = before.filter(id__lt=kept[-1][0])
    levels = list(
        StockLevel.objects.filter(variant=variant)
        .select_related("location")
        .annotate(start=Subquery(before.order_by("-id").values("on_hand_after")[:1]))
        .order_by("location__code")
    )
    lines = {lv.location_id: LocationHistory(lv.location, lv.on_hand, lv.start) for lv in levels}
    for _, location_id, when, on_hand, change, reason in reversed(kept):
        if change and location_id in lines:  # allocations leave on hand where it was
            lines[location_id].points.append(HistoryPoint(when, on_hand, change, reason))
    return StockHistory(
        since=since,
        until=until,
        lines=[ln for ln in lines.values() if ln.points or ln.start is not None],
        truncated=truncated,
    )


def ledger_mismatches():
    """Levels that differ from their ledger: [(variant_id, location_id, level, ledger, why)].

    A level must equal the sum of its ledger's changes, and the balances recorded on its
    latest ledger row; a ledger place without a level must sum to zero.
    """
    sums = {
        (row["variant_id"], row["location_id"]): row
        for row in StockTransaction.objects.order_by()
        .values("variant_id", "location_id")
        .annotate(on_hand=Sum("on_hand_change"), allocated=Sum("allocated_change"), last=Max("id"))
    }
    last_ids = [row["last"] for row in sums.values()]
    latest = {}
    for start in range(0, len(last_ids), 5000):
        rows = StockTransaction.objects.filter(pk__in=last_ids[start : start + 5000])
        for pk, on_hand, allocated in rows.values_list("pk", "on_hand_after", "allocated_after"):
            latest[pk] = (on_hand, allocated)

    mismatches = []
    seen = set()
    levels = StockLevel.objects.order_by().values_list(
        "variant_id", "location_id", "on_hand", "allocated"
    )
    for variant_id, location_id, on_hand, allocated in levels.iterator(chunk_size=5000):
        key = (variant_id, location_id)
        seen.add(key)
        row = sums.get(key)
        level = (on_hand, allocated)
        summed = (row["on_hand"], row["allocated"]) if row else (0, 0)
        if level != summed:
            mismatches.append((*key, level, summed, "sum of ledger changes"))
        elif row and latest.get(row["last"]) != level:
            mismatches.append((*key, level, latest.get(row["last"]), "balance on latest entry"))
    for key, row in sums.items():
        if key not in seen and (row["on_hand"], row["allocated"]) != (0, 0):
            mismatches.append((*key, None, (row["on_hand"], row["allocated"]), "no level row"))
    return mismatches


def variants_by_sku(skus, *fields):
    """{sku: (id, *fields)} for the given SKUs that exist. The SKUs travel as one JSON array
    parameter, however many: the ORM's `sku__in` prepared each of a file's 100,000 parameters
    in Python (0.8 s), and one parameter also stays under SQLite's limit on their number."""
    columns = ", ".join("v." + connection.ops.quote_name(f) for f in ("sku", "id", *fields))
    table = connection.ops.quote_name(Variant._meta.db_table)
    if connection.vendor == "postgresql":
        given = "jsonb_array_elements_text(%s::jsonb) AS s(sku)"
    else:
        given = "(SELECT value AS sku FROM json_each(%s)) AS s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {given} JOIN {table} v ON v.sku = s.sku",
            [json.dumps(list(skus))],
        )
        if not fields:
            return {sku: (pk,) for sku, pk in cursor.fetchall()}
        return {sku: tuple(values) for sku, *values in cursor.fetchall()}


def location_ids_by_code(codes):
    """{code as given: id} for the given location codes that exist, matched in any case."""
    return Location.objects.ids_by_code(codes)


# --------------------------------------------------------------------------- the front page

LOCATION_TOTALS = ("on_hand_total", "allocated_total", "available_total", "skus", "out")


def stock_by_location():
    """[(location, totals)] for every location by code; totals: on_hand_total, allocated_total,
    available_total, skus (variants with a level there), out (tracked, active ones at or below
    zero available: level_out_of_stock, what the stock levels list's ?available=le0 shows).

    Two queries however large the catalog: the locations, and one pass over the levels grouped
    by location (no join: the few untracked or archived variants are left out of `out` by a
    hashed subquery, looked up only for levels at or below zero)."""
    untracked = Variant.objects.filter(Q(tracked=False) | Q(archived_at__isnull=False)).values("pk")
    totals = {
        row.pop("location_id"): row
        for row in StockLevel.objects.order_by()
        .values("location_id")
        .annotate(
            on_hand_total=Sum("on_hand"),
            allocated_total=Sum("allocated"),
            available_total=Sum("available"),
            skus=Count("pk"),
            out=Count("pk", filter=Q(available__lte=0) & ~Q(variant_id__in=untracked)),
        )
    }
    empty = dict.fromkeys(LOCATION_TOTALS, 0)
    return [(loc, totals.get(loc.pk, empty)) for loc in Location.objects.order_by("code")]


def level_out_of_stock():
    """The condition on stock levels that the dashboard's "at or below 0" counts: available
    at or below zero, of a tracked variant not archived (untracked ones have no limit)."""
    return Q(available__lte=0, variant__tracked=True, variant__archived_at__isnull=True)


def variants_to_reorder():
    """Tracked, active (not archived) variants whose available over every location is at or
    below their reorder point, annotated with available_total (a variant without levels has
    0 available).

    An unset reorder point (NULL) never flags, so only the variants that have one are joined
    with their levels and summed: one grouped join, not a subquery per variant."""
    return (
        Variant.objects.filter(tracked=True, reorder_point__isnull=False, archived_at__isnull=True)
        .annotate(available_total=Coalesce(Sum("levels__available"), 0))
        .filter(available_total__lte=F("reorder_point"))
    )


def variant_ids_out_of_stock(*, limit=5000):
    """Ids of the variants whose available over every location is at or below 0 (a variant
    without levels has 0), tracked or not: the caller filters; None when there are more than
    `limit`. One pass over the levels grouped by variant and one anti-join: a filter on the
    per-variant sums runs them for every variant, and twice (the page and its count)."""
    summed = (
        StockLevel.objects.order_by()
        .values("variant_id")
        .annotate(available_sum=Sum("available"))
        .filter(available_sum__lte=0)
        .values_list("variant_id", flat=True)
    )
    bare = Variant.objects.filter(~Exists(StockLevel.objects.filter(variant=OuterRef("pk"))))
    ids = set(summed[: limit + 1]) | set(bare.values_list("pk", flat=True)[: limit + 1])
    return None if len(ids) > limit else ids


def variants_to_reorder_shortlist(*, limit=20):
    """(the `limit` variants furthest below their reorder point, how many there are in all).

    Two queries: the grouped join carries only ids, SKUs and sums (whole rows made PostgreSQL
    sort 25 MB on disk at 100,000 variants), then the few variants shown are read."""
    first = list(
        variants_to_reorder()
        .values("pk", "available_total")
        .annotate(shortfall=F("available_total") - F("reorder_point"), matching=Window(Count("*")))
        .order_by("shortfall", "sku")[:limit]
    )
    variants = Variant.objects.select_related("product").in_bulk([row["pk"] for row in first])
    rows = []
    for row in first:
        variant = variants[row["pk"]]
        variant.available_total = row["available_total"]
        rows.append(variant)
    return rows, (first[0]["matching"] if first else 0)


def latest_movements(*, limit=10):
    """The newest movement documents, with their users."""
    return list(Movement.objects.select_related("user").order_by("-pk")[:limit])


# --------------------------------------------------------------------------- catalog pages


def levels_by_variant(variants):
    """(the locations to show, {(variant_id, location_id): level}) for a few variants: every
    active location, and any other where one of them has a level. Two queries."""
    levels = {
        (lv.variant_id, lv.location_id): lv
        for lv in StockLevel.objects.filter(variant__in=[v.pk for v in variants])
    }
    held = {location_id for _, location_id in levels}
    locations = list(Location.objects.filter(Q(active=True) | Q(pk__in=held)).order_by("code"))
    return locations, levels


def variant_related_counts(variant_ids):
    """[(relation name, related model, how many)] of the rows of every app that point at these
    variants (ledger entries, levels, listings, order lines...), nonzero ones only: what a
    delete would have to take with it. One COUNT per relation, on its variant index."""
    counts = []
    for rel in Variant._meta.related_objects:
        if rel.many_to_many:
            continue
        n = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": variant_ids}).count()
        if n:
            counts.append((rel.get_accessor_name(), rel.related_model, n))
    return counts
