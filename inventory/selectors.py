"""Reads that several places need: the admin, the commands and the checks."""

import json

from django.db import connection
from django.db.models import IntegerField, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory.models import Location, StockLevel, StockTransaction, Variant


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
    """{code: id} for the given location codes that exist."""
    return dict(Location.objects.filter(code__in=list(codes)).values_list("code", "pk"))
