"""SQL for the stock service's hot path: lock levels in a fixed order; write the movement,
its ledger rows and the levels back.

Raw SQL because the service runs it for every mutation and the ORM's per-row work (model
instances, field preparation, query compilation) cost more than the database did. Statements
are built once per shape and cached, the latest SHAPES shapes of each kind: a shape is a row
count, and a long-lived worker meets thousands of them (an unbounded cache of 4,000-pair
statements grows by megabytes). On PostgreSQL a document of any size is written by one
statement (data-modifying CTEs over unnest()ed arrays); on SQLite by one statement per table
(per chunk of rows). Needs SQLite >= 3.35 (RETURNING) or PostgreSQL.

Large batches send PostgreSQL each column as one comma-separated text value that the server
splits (`string_to_array`): psycopg quotes a Python list element by element in Python, which
cost about 2 s for the columns of a 100,000-line document; one string costs almost nothing.
"""

import functools
from dataclasses import dataclass

from django.db import connections
from django.utils import timezone

from inventory.models import Location, Movement, StockLevel, StockTransaction, Variant

# Pairs per lock statement: 2 parameters each, well under SQLite's 32,766 variable limit.
CHUNK = 4000
# Ledger rows per INSERT on SQLite: 12 parameters each.
LEDGER_CHUNK = 1000
# Statement shapes kept per kind (least recently used dropped): the sizes in steady use.
SHAPES = 128
# Documents up to this many ledger rows are sent to PostgreSQL as literal rows, not arrays.
SMALL = 8

MOVEMENT_COLUMNS = (
    "reason",
    "reference",
    "source",
    "user_id",
    "created_at",
    "idempotency_key",
    "payload_hash",
    "reverses_id",
    "line_count",
    "failed_lines",
)
# A ledger row as the service builds it (movement_id and created_at are added here).
ROW_COLUMNS = (
    "line",
    "variant_id",
    "location_id",
    "action",
    "quantity",
    "on_hand_change",
    "allocated_change",
    "on_hand_after",
    "allocated_after",
    "group",
)
ROW_TYPES = (
    "integer",
    "bigint",
    "bigint",
    "varchar",
    "integer",
    "integer",
    "integer",
    "integer",
    "integer",
    "uuid",
)


@dataclass(slots=True)
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


def pg_array(values):
    """One PostgreSQL array parameter as text, for `_pg_unnest`: None becomes '' (NULL).
    Values must not contain commas (ids, numbers, uuids and action names do not)."""
    if None in values:
        return ",".join("" if v is None else str(v) for v in values)
    return ",".join(map(str, values))


def _pg_unnest(types):
    """unnest() over text parameters made by `pg_array`, one per column, cast to `types`."""
    return "unnest(" + ", ".join(f"string_to_array(%s, ',', '')::{t}[]" for t in types) + ")"


def db():
    """The default database connection (resolved once per call: the proxy costs per access)."""
    return connections["default"]


@functools.cache
def _tables(vendor):
    q = connections["default"].ops.quote_name
    return {
        "level": q(StockLevel._meta.db_table),
        "variant": q(Variant._meta.db_table),
        "location": q(Location._meta.db_table),
        "movement": q(Movement._meta.db_table),
        "ledger": q(StockTransaction._meta.db_table),
        "movement_cols": ", ".join(q(c) for c in MOVEMENT_COLUMNS),
        "ledger_cols": ", ".join(q(c) for c in ("movement_id", *ROW_COLUMNS, "created_at")),
    }


# ----------------------------------------------------------------------------- locking


@functools.lru_cache(maxsize=SHAPES)
def _lock_sql(vendor, n_pairs, lock, rules=True):
    """The locking select; without `rules` it skips the variant's and location's selling
    rules (counts, increments and deallocations never read them): two joins fewer, a fifth
    less time for a 100,000-level count on PostgreSQL."""
    t = _tables(vendor)
    if n_pairs == 1:
        where = "l.variant_id = %s AND l.location_id = %s"
    elif vendor == "postgresql":  # two array parameters, whatever the count
        where = f"(l.variant_id, l.location_id) IN (SELECT * FROM {_pg_unnest(['bigint'] * 2)})"
    else:
        where = (
            "(l.variant_id, l.location_id) IN (VALUES " + ", ".join(["(%s, %s)"] * n_pairs) + ")"
        )
    if rules:
        flags = "v.tracked, v.allow_backorder, loc.allow_negative"
        joins = (
            f"JOIN {t['variant']} v ON v.id = l.variant_id "
            f"JOIN {t['location']} loc ON loc.id = l.location_id "
        )
    else:  # placeholders that no rule reads
        flags, joins = "1, 0, 0", ""
    return (
        f"SELECT l.id, l.variant_id, l.location_id, l.on_hand, l.allocated, {flags} "
        f"FROM {t['level']} l {joins}"
        f"WHERE {where} ORDER BY l.variant_id, l.location_id{' FOR UPDATE OF l' if lock else ''}"
    )


def lock_levels(conn, pairs, rules=True):
    """Lock and return {(variant_id, location_id): LevelState} for the pairs, creating missing
    rows. Rows are locked in (variant_id, location_id) order, so two writers never wait on each
    other in a cycle. Must run inside a transaction. Pairs whose variant or location does not
    exist are left out of the result. With rules=False the states' selling rules (tracked,
    allow_backorder, allow_negative) are not read and must not be used."""
    ordered = sorted(set(pairs))
    states = _select(conn, ordered, rules)
    if len(states) < len(ordered):
        missing = [p for p in ordered if p not in states]
        states.update(_create(conn, missing))
        # Rows a concurrent writer created first (or of unknown ids, which stay missing).
        missing = [p for p in missing if p not in states]
        if missing:
            states.update(_select(conn, missing, rules))
    return states


def _select(conn, ordered, rules=True):
    states = {}
    lock = conn.features.has_select_for_update_of
    pg = conn.vendor == "postgresql"
    # PostgreSQL takes any number of pairs in one statement (two text parameters).
    step = (len(ordered) or 1) if pg else CHUNK
    with conn.cursor() as cursor:
        for start in range(0, len(ordered), step):
            chunk = ordered[start : start + step]
            if len(chunk) > 1 and pg:
                params = [pg_array(col) for col in zip(*chunk, strict=True)]
                sql = _lock_sql(conn.vendor, 2, lock, rules)  # one shape for every size
            else:
                params = [value for pair in chunk for value in pair]
                sql = _lock_sql(conn.vendor, len(chunk), lock, rules)
            cursor.execute(sql, params)
            for pk, v, loc, on_hand, allocated, tracked, backorder, negative in cursor.fetchall():
                states[(v, loc)] = LevelState(
                    pk, v, loc, on_hand, allocated, bool(tracked), bool(backorder), bool(negative)
                )
    return states


def _create(conn, ordered):
    """Insert empty levels for the pairs whose variant and location exist (in pair order, so
    that concurrent first touches cannot wait on each other in a cycle). Raw SQL: the ORM's
    bulk_create spent about 2 s on the 100,000 levels of a first stock count.

    PostgreSQL returns the states of the rows it inserted (rows this transaction inserted are
    invisible to others until it commits, so they need no lock), which saves selecting them
    again; SQLite returns {} and the caller selects them."""
    created = conn.ops.adapt_datetimefield_value(timezone.now())
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            params = [created, *(pg_array(col) for col in zip(*ordered, strict=True))]
            cursor.execute(_create_sql(conn.vendor, None), params)
            return {
                (v, loc): LevelState(pk, v, loc, 0, 0, tracked, backorder, negative)
                for pk, v, loc, tracked, backorder, negative in cursor.fetchall()
            }
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            params = [created, *(value for pair in chunk for value in pair)]
            cursor.execute(_create_sql(conn.vendor, len(chunk)), params)
        return {}


@functools.lru_cache(maxsize=SHAPES)
def _create_sql(vendor, n_pairs):
    t = _tables(vendor)
    columns = "(variant_id, location_id, on_hand, allocated, updated_at)"
    if n_pairs is None:  # PostgreSQL: two text arrays, and the new rows' states back
        return (
            f"WITH ins AS (INSERT INTO {t['level']} {columns} "
            "SELECT p.variant_id, p.location_id, 0, 0, %s "
            f"FROM {_pg_unnest(['bigint'] * 2)} AS p(variant_id, location_id) "
            f"JOIN {t['variant']} v ON v.id = p.variant_id "
            f"JOIN {t['location']} loc ON loc.id = p.location_id "
            "ORDER BY p.variant_id, p.location_id "
            "ON CONFLICT (variant_id, location_id) DO NOTHING "
            "RETURNING id, variant_id, location_id) "
            "SELECT ins.id, ins.variant_id, ins.location_id, v.tracked, v.allow_backorder, "
            f"loc.allow_negative FROM ins JOIN {t['variant']} v ON v.id = ins.variant_id "
            f"JOIN {t['location']} loc ON loc.id = ins.location_id"
        )
    values = ", ".join(["(%s, %s)"] * n_pairs)
    return (
        f"INSERT OR IGNORE INTO {t['level']} {columns} "
        "SELECT p.variant_id, p.location_id, 0, 0, %s "
        f"FROM (SELECT column1 AS variant_id, column2 AS location_id FROM (VALUES {values})) p "
        f"WHERE EXISTS (SELECT 1 FROM {t['variant']} v WHERE v.id = p.variant_id) "
        f"AND EXISTS (SELECT 1 FROM {t['location']} loc WHERE loc.id = p.location_id) "
        "ORDER BY p.variant_id, p.location_id"
    )


# ----------------------------------------------------------------------------- writing


def write_document(conn, movement, rows, states, now):
    """Insert the movement and its ledger rows and write the changed levels back.

    `movement` maps MOVEMENT_COLUMNS to values; `rows` are tuples in ROW_COLUMNS order.
    Returns (movement id, ledger ids in the order of `rows`).
    """
    created = conn.ops.adapt_datetimefield_value(now)
    mv = [created if c == "created_at" else movement[c] for c in MOVEMENT_COLUMNS]
    mv[MOVEMENT_COLUMNS.index("failed_lines")] = _json(conn, movement["failed_lines"])
    native_uuid = conn.features.has_native_uuid_field
    prepared = [
        row if row[9] is None else (*row[:9], row[9] if native_uuid else row[9].hex) for row in rows
    ]
    states = list(states)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            # In statement order: movement, updated_at, levels, created_at, rows.
            if len(rows) <= SMALL:  # literal rows plan fastest for the everyday single line
                levels = [(s.pk, s.on_hand, s.allocated) for s in states if s.dirty]
                params = [*mv, created, *(v for lv in levels for v in lv), created]
                params += [v for row in prepared for v in row]
                sql = _pg_document_sql(len(levels), len(rows))
            else:  # one array per column: one statement shape, whatever the size
                dirty = [s for s in states if s.dirty]
                columns = (
                    [s.pk for s in dirty],
                    [s.on_hand for s in dirty],
                    [s.allocated for s in dirty],
                )
                params = [*mv, created, *(pg_array(c) for c in columns), created]
                params += [pg_array(col) for col in zip(*prepared, strict=True)]
                sql = _pg_document_sql(None, None)
            cursor.execute(sql, params)
            returned = cursor.fetchall()
            movement_id = returned[0][3] if returned else None
        else:
            cursor.execute(_movement_sql(conn.vendor), mv)
            movement_id = cursor.fetchone()[0]
            returned = []
            for start in range(0, len(prepared), LEDGER_CHUNK):
                chunk = prepared[start : start + LEDGER_CHUNK]
                params = [v for row in chunk for v in (movement_id, *row, created)]
                cursor.execute(_ledger_sql(conn.vendor, len(chunk)), params)
                returned.extend(cursor.fetchall())
            levels = [(s.pk, s.on_hand, s.allocated) for s in states if s.dirty]
            _write_levels(conn, cursor, levels, created)
    # Map ids back by (line, location): RETURNING order is not a promise of the SQL standard.
    by_place = {(line, location_id): pk for pk, line, location_id, *_ in returned}
    return movement_id, [by_place[(row[0], row[2])] for row in rows]


def _json(conn, value):
    if not value and conn.vendor != "postgresql":
        return "[]"
    return Movement._meta.get_field("failed_lines").get_db_prep_save(value, conn)


@functools.cache
def _movement_sql(vendor):
    t = _tables(vendor)
    marks = ", ".join(["%s"] * len(MOVEMENT_COLUMNS))
    return f"INSERT INTO {t['movement']} ({t['movement_cols']}) VALUES ({marks}) RETURNING id"


@functools.lru_cache(maxsize=SHAPES)
def _ledger_sql(vendor, n_rows):
    t = _tables(vendor)
    one = "(" + ", ".join(["%s"] * (len(ROW_COLUMNS) + 2)) + ")"
    return (
        f"INSERT INTO {t['ledger']} ({t['ledger_cols']}) VALUES {', '.join([one] * n_rows)} "
        "RETURNING id, line, location_id"
    )


def _write_levels(conn, cursor, levels, created):
    if not levels:
        return
    sql = (
        f"UPDATE {_tables(conn.vendor)['level']} "
        "SET on_hand = %s, allocated = %s, updated_at = %s WHERE id = %s"
    )
    params = [(on_hand, allocated, created, pk) for pk, on_hand, allocated in levels]
    if len(params) == 1:
        cursor.execute(sql, params[0])
    else:
        cursor.executemany(sql, params)


@functools.lru_cache(maxsize=SHAPES)
def _pg_document_sql(n_levels, n_rows):
    """One statement: insert the movement, update the levels, insert the ledger rows. Levels
    and rows come as literal VALUES (n given) or as one array per column (None)."""
    t = _tables("postgresql")
    mv_marks = ", ".join(["%s"] * len(MOVEMENT_COLUMNS))
    row_names = ", ".join(f'"{c}"' for c in ROW_COLUMNS)
    if n_levels is None:
        levels = _pg_unnest(["bigint", "integer", "integer"])
        rows = _pg_unnest(ROW_TYPES)
    else:
        levels = "(VALUES " + ", ".join(["(%s::bigint, %s::integer, %s::integer)"] * n_levels) + ")"
        one = "(" + ", ".join(f"%s::{typ}" for typ in ROW_TYPES) + ")"
        rows = "(VALUES " + ", ".join([one] * n_rows) + ")"
    return (
        f"WITH m AS (INSERT INTO {t['movement']} ({t['movement_cols']}) VALUES ({mv_marks}) "
        "RETURNING id), "
        f"u AS (UPDATE {t['level']} AS l SET on_hand = v.on_hand, allocated = v.allocated, "
        f"updated_at = %s FROM {levels} AS v(id, on_hand, allocated) WHERE l.id = v.id) "
        f"INSERT INTO {t['ledger']} ({t['ledger_cols']}) "
        f"SELECT m.id, {', '.join('v.' + c for c in row_names.split(', '))}, %s "
        f"FROM m, {rows} AS v({row_names}) "
        "RETURNING id, line, location_id, movement_id"
    )
