"""A stock file applies what its preview showed, or nothing; and the same file applies once.

Through the real `import_stock` command and the real resource, on the real database."""

import threading

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.imports.files import read_table
from inventory.imports.stock import StockResource, file_key
from inventory.models import Movement, Source
from inventory.selectors import ledger_mismatches
from inventory.services import StockLine, movement_reverse, stock_apply
from tests.inventory.sheets import csv_bytes, run, write
from tests.inventory.test_imports_stock import HEADER, on_hand, shop  # noqa: F401 (a fixture)

# The shop of test_imports_stock: TEE-M 10 and CAP 4 at WH1, MUG nowhere; WH1 and STORE.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop")]


def sell(sku, code, quantity):
    """Stock moving under the import: a channel's sale (or, negative, a return)."""
    action = "decrement" if quantity > 0 else "increment"
    stock_apply(
        lines=[StockLine(action=action, quantity=abs(quantity), sku=sku, location=code)],
        source=Source.CHANNEL,
    )


# ---------------------------------------------------------------- the same file twice


def test_the_same_file_twice_through_the_command_applies_once_and_names_the_movement(tmp_path):
    data = csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["MUG", "STORE", "5"])
    path = write(tmp_path, "count.csv", data)
    out, error = run("import_stock", path)
    assert error is None, out
    first = Movement.objects.get(source=Source.IMPORT)
    sell("TEE-M", "WH1", 3)  # applying the count again would undo this sale

    out, error = run("import_stock", path)
    assert error is None, out  # nothing went wrong: the file is in, once
    assert f"already applied as movement #{first.pk} (" in out
    assert "reference 'count.csv'" in out
    assert "nothing was applied; to apply it again anyway, run with --again" in out
    assert "undo it with" not in out
    assert Movement.objects.filter(source=Source.IMPORT).count() == 1
    assert on_hand("TEE-M", "WH1") == 9

    # A copy under another name, with another reason, is the same file.
    out, _ = run("import_stock", write(tmp_path, "copy.csv", data), "--reason", "recount")
    assert f"already applied as movement #{first.pk}" in out
    out, _ = run("import_stock", path, "--dry-run")
    assert "importing it applies nothing unless --again" in out
    assert Movement.objects.filter(source=Source.IMPORT).count() == 1

    out, error = run("import_stock", path, "--again")
    assert error is None, out
    again = Movement.objects.filter(source=Source.IMPORT).first()
    assert again.pk != first.pk
    assert f"applied again: this file was applied before as movement #{first.pk}" in out
    assert f"movement #{again.pk} (source import" in out
    assert on_hand("TEE-M", "WH1") == 12
    out, _ = run("import_stock", path, "--again")
    assert "applied again, changing nothing: this file was applied before as movement" in out
    assert not ledger_mismatches()


def test_another_mode_or_location_makes_another_file(tmp_path):
    path = write(tmp_path, "two.csv", csv_bytes(["sku", "quantity"], ["TEE-M", "2"]))
    assert run("import_stock", path, "--location", "WH1")[1] is None
    assert on_hand("TEE-M", "WH1") == 2
    out, error = run("import_stock", path, "--location", "STORE")
    assert error is None, out
    assert on_hand("TEE-M", "STORE") == 2
    out, error = run(
        "import_stock", path, "--location", "WH1", "--mode", "adjust", "--reason", "found"
    )
    assert error is None, out
    assert on_hand("TEE-M", "WH1") == 4
    assert Movement.objects.filter(source=Source.IMPORT).count() == 3


def test_a_refused_run_does_not_count_as_applied(tmp_path):
    path = write(
        tmp_path, "count.csv", csv_bytes([*HEADER, "expected"], ["TEE-M", "WH1", "15", "10"])
    )
    sell("TEE-M", "WH1", 2)
    _, error = run("import_stock", path)
    assert error is not None  # stale: 8 on hand, the file expected 10
    sell("TEE-M", "WH1", -2)
    out, error = run("import_stock", path)
    assert error is None, out
    assert "already applied" not in out
    assert on_hand("TEE-M", "WH1") == 15


def test_a_file_applied_then_undone_says_so_and_applies_again_only_when_asked(tmp_path):
    path = write(tmp_path, "count.csv", csv_bytes(HEADER, ["TEE-M", "WH1", "12"]))
    run("import_stock", path)
    first = Movement.objects.get(source=Source.IMPORT)
    undo = movement_reverse(movement=first, source=Source.ADMIN).movement
    out, _ = run("import_stock", path)
    assert f"already applied as movement #{first.pk}" in out
    assert f"undone by movement #{undo.pk})" in out
    assert on_hand("TEE-M", "WH1") == 10
    run("import_stock", path, "--again")
    assert on_hand("TEE-M", "WH1") == 12


def test_file_keys_tell_files_modes_and_locations_apart():
    data = csv_bytes(HEADER, ["TEE-M", "WH1", "1"])
    assert file_key(data, "count") == file_key(bytes(data), "count", None)
    keys = {
        file_key(data, "count"),
        file_key(data, "adjust"),
        file_key(data, "count", "WH1"),
        file_key(data + b"\r\n", "count"),
    }
    assert len(keys) == 4
    assert all(len(k) <= 255 for k in keys)  # a Movement's idempotency key


# ---------------------------------------------------------------- preview, then import

PAIRS = [(sku, code) for sku in ("TEE-M", "CAP", "MUG") for code in ("WH1", "STORE")]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mode=st.sampled_from(["count", "adjust"]),
    start=st.lists(st.integers(5, 20), min_size=len(PAIRS), max_size=len(PAIRS)),
    rows=st.lists(
        st.tuples(st.sampled_from(range(len(PAIRS))), st.integers(-5, 20)),
        min_size=1,
        max_size=len(PAIRS),
        unique_by=lambda row: row[0],
    ),
    moves=st.dictionaries(st.sampled_from(range(len(PAIRS))), st.integers(-3, 3)),
)
def test_an_import_applies_what_its_preview_showed_or_nothing(mode, start, rows, moves):
    """Whatever the levels, the file and the stock that moves between the preview and the
    import: the import applies exactly what the preview showed, or refuses the whole file
    naming exactly the rows that moved, each with its previewed and current on hand."""
    with transaction.atomic():
        _preview_then_import(mode, start, rows, moves)
        transaction.set_rollback(True)


def _preview_then_import(mode, start, rows, moves):
    for (sku, code), quantity in zip(PAIRS, start, strict=True):
        stock_apply(lines=[StockLine("count", quantity, sku=sku, location=code)], source="system")
    body = [[*PAIRS[i], str(abs(q) if mode == "count" else q)] for i, q in rows]
    table = read_table(csv_bytes(HEADER, *body))
    options = {"file_name": "f.csv", "key": "k", "file_key": "k"}
    preview = StockResource(mode=mode, reason="r").import_data(table, dry_run=True, **options)
    assert not preview.refused
    shown = {row.number: row.diff for row in preview.rows}  # changed rows: before, after
    for i, delta in moves.items():
        if delta:
            sell(*PAIRS[i], -delta)
    before = {pair: on_hand(*pair) for pair in PAIRS}

    result = StockResource(mode=mode, reason="r").import_data(
        table, dry_run=False, previewed=preview.previewed, **options
    )

    # Rows that move stock (an adjustment of 0 does nothing) at a level that moved.
    moved = {n for n, (i, q) in enumerate(rows, start=2) if moves.get(i) and (mode == "count" or q)}
    if moved:
        assert result.refused
        assert {s["row"]: (s["previewed"], s["now"]) for s in result.stale} == {
            n: (start[i], start[i] + moves[i])
            for n, (i, _) in enumerate(rows, start=2)
            if n in moved
        }
        assert {pair: on_hand(*pair) for pair in PAIRS} == before  # nothing half-applied
        assert not Movement.objects.filter(idempotency_key="k").exists()
        return
    assert not result.refused, [str(p) for p in result.problems]
    for n, (i, _) in enumerate(rows, start=2):
        sku, code = PAIRS[i]
        if n in shown:  # what the preview said this row does, done
            assert shown[n][:3] == [sku, code, start[i]]
            assert on_hand(sku, code) == shown[n][3]
        else:  # unchanged by the import (an adjustment of 0 may sit where stock moved)
            assert on_hand(sku, code) == before[(sku, code)]
    assert not ledger_mismatches()


@pytest.mark.django_db(transaction=True)
def test_one_file_imported_by_several_runs_at_once_is_applied_once(tmp_path):
    """Runs started together, under the file's own name and a copy's: one applies the file,
    the others say it was applied (PostgreSQL: row locks and the key's unique index; SQLite
    serialises them)."""
    data = csv_bytes([*HEADER, "reason"], ["TEE-M", "WH1", "+2", "found"])
    paths = [write(tmp_path, name, data) for name in ("count.csv", "copy.csv")]
    outputs = []

    def import_once(path):
        try:
            outputs.append(run("import_stock", path, "--mode", "adjust"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=import_once, args=(paths[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert [error for _, error in outputs] == [None] * 4
    movement = Movement.objects.get(source=Source.IMPORT)
    assert on_hand("TEE-M", "WH1") == 12
    said = sorted("already applied as" in out for out, _ in outputs)
    assert said == [False, True, True, True]
    assert all(f"movement #{movement.pk} " in out for out, _ in outputs)
    assert not ledger_mismatches()
