"""SQL for the stock service's hot path: lock level rows in a fixed order, write them back.

Kept in raw SQL because the service runs it for every mutation: one statement locks and
reads every affected level (with the variant's and location's rules), one statement per
row writes it back, both portable between SQLite (>= 3.35) and PostgreSQL.
"""

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from inventory.models import Location, StockLevel, Variant

# Pairs per statement: 2 parameters each, well under SQLite's 32,766 variable limit.
CHUNK = 4000


@dataclass
class LevelState:
    """A locked level row, changed in memory by the service and written back once."""

    pk: int
    variant_id: int
    location_id: int
    on_hand: int
    allocated: int
    tracked: bool
    allow_backorder: bool
    allow_negative: bool
    dirty: bool = False

    @property
    def available(self):
        return self.on_hand - self.allocated


def _q(name):
    return connection.ops.quote_name(name)


def _lock_sql(n_pairs):
    level, variant, location = (_q(m._meta.db_table) for m in (StockLevel, Variant, Location))
    if n_pairs == 1:
        where = "l.variant_id = %s AND l.location_id = %s"
    else:
        where = (
            "(l.variant_id, l.location_id) IN (VALUES " + ", ".join(["(%s, %s)"] * n_pairs) + ")"
        )
    lock = " FOR UPDATE OF l" if connection.features.has_select_for_update_of else ""
    return (
        "SELECT l.id, l.variant_id, l.location_id, l.on_hand, l.allocated, "
        "v.tracked, v.allow_backorder, loc.allow_negative "
        f"FROM {level} l JOIN {variant} v ON v.id = l.variant_id "
        f"JOIN {location} loc ON loc.id = l.location_id "
        f"WHERE {where} ORDER BY l.variant_id, l.location_id{lock}"
    )


def lock_levels(pairs):
    """Lock and return {(variant_id, location_id): LevelState} for the pairs, creating missing rows.

    Rows are locked in (variant_id, location_id) order, so two writers never wait on each
    other in a cycle. Must run inside a transaction. Pairs whose variant or location does
    not exist are left out of the result.
    """
    ordered = sorted(set(pairs))
    states = _select(ordered)
    missing = [p for p in ordered if p not in states]
    if missing:
        _create(missing)
        states.update(_select(missing))
    return states


def _select(ordered):
    states = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            params = [value for pair in chunk for value in pair]
            cursor.execute(_lock_sql(len(chunk)), params)
            for row in cursor.fetchall():
                state = LevelState(*row[:5], bool(row[5]), bool(row[6]), bool(row[7]))
                states[(state.variant_id, state.location_id)] = state
    return states


def _create(ordered):
    """Insert empty levels for pairs whose variant and location exist (in pair order)."""
    variant_ids = {v for v, _ in ordered}
    location_ids = {loc for _, loc in ordered}
    known_variants = set(Variant.objects.filter(pk__in=variant_ids).values_list("pk", flat=True))
    known_locations = set(Location.objects.filter(pk__in=location_ids).values_list("pk", flat=True))
    now = timezone.now()
    StockLevel.objects.bulk_create(
        [
            StockLevel(variant_id=v, location_id=loc, updated_at=now)
            for v, loc in ordered
            if v in known_variants and loc in known_locations
        ],
        ignore_conflicts=True,
        batch_size=CHUNK,
    )


def write_levels(states):
    """Write back every changed level in one executemany (pipelined on PostgreSQL)."""
    now = timezone.now()
    rows = [(s.on_hand, s.allocated, now, s.pk) for s in states if s.dirty]
    if not rows:
        return
    sql = (
        f"UPDATE {_q(StockLevel._meta.db_table)} "
        "SET on_hand = %s, allocated = %s, updated_at = %s WHERE id = %s"
    )
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
