"""Stock files through the commands and the resource: one movement per file, all or nothing,
every refused row named by row, column and value."""

import pytest

from inventory.imports.files import read_table
from inventory.imports.stock import StockResource
from inventory.models import Movement, Source, StockLevel, StockTransaction
from inventory.selectors import ledger_mismatches
from inventory.services import StockLine, movement_reverse, stock_apply
from tests.inventory.sheets import csv_bytes, run, write, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = ["sku", "location", "quantity"]


@pytest.fixture
def shop(make):
    wh, store = make.location("WH1"), make.location("STORE", kind="store")
    tee, cap, mug = make.variant("TEE-M"), make.variant("CAP"), make.variant("MUG")
    make.stock(tee, wh, 10)
    make.stock(cap, wh, 4)
    return tee, cap, mug, wh, store


def on_hand(sku, code):
    level = StockLevel.objects.filter(variant__sku=sku, location__code=code).first()
    return level.on_hand if level else 0


def levels():
    return sorted(
        StockLevel.objects.values_list("variant__sku", "location__code", "on_hand", "allocated")
    )


def import_stock(tmp_path, *rows, name="count.csv", options=()):
    return run("import_stock", write(tmp_path, name, csv_bytes(*rows)), *options)


# ---------------------------------------------------------------- counts and adjustments


def test_a_count_file_is_one_movement_from_the_import_named_after_the_file(shop, tmp_path):
    out, error = import_stock(
        tmp_path, HEADER, ["TEE-M", "WH1", "12"], ["CAP", "WH1", "4"], ["MUG", "STORE", "7"]
    )
    assert error is None
    assert "count.csv: 3 rows read: 0 created, 2 updated, 1 unchanged" in out
    movement = Movement.objects.first()
    assert (movement.source, movement.reference, movement.reason) == (
        Source.IMPORT,
        "count.csv",
        "stock count",
    )
    assert f"undo it with: python manage.py reverse_movement {movement.pk}" in out
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "WH1"), on_hand("MUG", "STORE")) == (12, 4, 7)
    # A count equal to on hand records nothing; the others record the difference.
    assert sorted(movement.lines.values_list("variant__sku", "on_hand_change")) == [
        ("MUG", 7),
        ("TEE-M", 2),
    ]
    assert not ledger_mismatches()


def test_an_adjust_file_adds_and_removes_with_a_reason(shop, tmp_path):
    out, error = import_stock(
        tmp_path,
        ["sku", "location", "quantity", "reason"],
        ["TEE-M", "WH1", "-3", "damaged"],
        ["CAP", "WH1", "+2", "found"],
        ["MUG", "WH1", "0", "nothing"],
        options=["--mode", "adjust"],
    )
    assert error is None, out
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "WH1")) == (7, 6)
    assert "2 updated, 1 unchanged" in out
    assert Movement.objects.first().reason == "damaged (1 row); found (1 row)"


def test_an_adjustment_needs_a_reason(shop, tmp_path):
    out, error = import_stock(
        tmp_path, HEADER, ["TEE-M", "WH1", "-3"], options=["--mode", "adjust"]
    )
    assert "row 2, column reason (empty): is empty: an adjustment needs a reason" in out
    assert error.startswith("refused, nothing was applied")
    _, error = import_stock(
        tmp_path, HEADER, ["TEE-M", "WH1", "-3"], options=["--mode", "adjust", "--reason", "x"]
    )
    assert error is None
    assert on_hand("TEE-M", "WH1") == 7


def test_a_stale_row_is_refused_instead_of_overwriting_a_colleagues_change(shop, tmp_path):
    tee, _, _, wh, _ = shop
    stock_apply(
        lines=[StockLine(action="decrement", quantity=2, variant_id=tee.pk, location_id=wh.pk)],
        source=Source.CHANNEL,
    )
    out, error = import_stock(
        tmp_path, [*HEADER, "expected"], ["TEE-M", "WH1", "15", "10"], ["CAP", "WH1", "9", "4"]
    )
    assert "row 2, column expected, value '10': stale: expected on hand 10 but it is 8 now" in out
    assert error is not None
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "WH1")) == (8, 4)  # CAP's row waits too


def test_one_location_for_the_whole_file(shop, tmp_path):
    _, error = import_stock(
        tmp_path, ["sku", "quantity"], ["TEE-M", "1"], ["MUG", "2"], options=["--location", "STORE"]
    )
    assert error is None
    assert (on_hand("TEE-M", "STORE"), on_hand("MUG", "STORE"), on_hand("TEE-M", "WH1")) == (
        1,
        2,
        10,
    )
    out, error = import_stock(
        tmp_path, HEADER, ["TEE-M", "WH1", "1"], options=["--location", "STORE"]
    )
    assert "value 'WH1': is not STORE, the location given for the whole file" in out
    _, error = import_stock(tmp_path, HEADER, ["TEE-M", "WH1", "1"], options=["--location", "NO"])
    assert error == "unknown location 'NO'"


def test_an_xlsx_file_with_loose_headers_imports_like_a_csv(shop, tmp_path):
    path = write(
        tmp_path, "count.xlsx", xlsx_bytes([" SKU", "Location ", "Quantity"], ["TEE-M", "WH1", 3])
    )
    out, error = run("import_stock", path)
    assert error is None, out
    assert on_hand("TEE-M", "WH1") == 3
    assert Movement.objects.first().reference == "count.xlsx"


def test_a_dry_run_reports_and_applies_nothing(shop, tmp_path):
    before = Movement.objects.count()
    out, error = import_stock(tmp_path, HEADER, ["TEE-M", "WH1", "1"], options=["--dry-run"])
    assert error is None
    assert "1 updated" in out
    assert "dry run: nothing was applied" in out
    assert (on_hand("TEE-M", "WH1"), Movement.objects.count()) == (10, before)


# ---------------------------------------------------------------- round trip and undo


def test_export_then_import_gives_the_same_state_and_writes_no_ledger_entry(shop, tmp_path):
    tee, _, mug, wh, store = shop
    stock_apply(
        lines=[
            StockLine(action="allocate", quantity=3, variant_id=tee.pk, location_id=wh.pk),
            StockLine(action="count", quantity=0, variant_id=mug.pk, location_id=store.pk),
        ],
        source=Source.ADMIN,
    )
    exported = tmp_path / "stock.csv"
    _, error = run("export_stock", "--output", str(exported))
    assert error is None
    assert exported.read_bytes().startswith(b"\xef\xbb\xbfsku,name,location,quantity,expected\r\n")
    state, entries = levels(), StockTransaction.objects.count()
    out, error = run("import_stock", str(exported))
    assert error is None
    assert "3 rows read: 0 created, 0 updated, 3 unchanged" in out
    assert (levels(), StockTransaction.objects.count()) == (state, entries)
    # The same through XLSX.
    _, error = run("export_stock", "--format", "xlsx", "--output", str(tmp_path / "s.xlsx"))
    out, error = run("import_stock", str(tmp_path / "s.xlsx"))
    assert "3 unchanged" in out
    assert (levels(), StockTransaction.objects.count()) == (state, entries)


def test_export_of_one_location_and_neutralised_names(shop, make):
    formula = make.variant("FORMULA", name='=HYPERLINK("http://x")')
    make.stock(formula, shop[3], 1)
    out, error = run("export_stock", "--location", "WH1")
    assert error is None
    assert "STORE" not in out
    assert "'=HYPERLINK" in out


def test_an_import_is_undone_as_a_whole_by_reversing_its_movement(shop, tmp_path):
    state = levels()
    import_stock(tmp_path, HEADER, ["TEE-M", "WH1", "1"], ["MUG", "STORE", "5"])
    movement = Movement.objects.first()
    movement_reverse(movement=movement, source=Source.ADMIN)
    assert [row for row in levels() if row[2] or row[3]] == [r for r in state if r[2] or r[3]]
    assert not ledger_mismatches()


# ---------------------------------------------------------------- refused rows and files


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["NOPE", "WH1", "1"], "row 3, column sku, value 'NOPE': is not a known SKU"),
        (["TEE-M", "MARS", "1"], "row 3, column location, value 'MARS': is not a known location"),
        (["TEE-M", "STORE", "abc"], "row 3, column quantity, value 'abc': is not a whole number"),
        (["TEE-M", "STORE", "2.5"], "value '2.5': is not a whole number (quantities are whole"),
        (["TEE-M", "STORE", "-4"], "row 3, column quantity, value '-4': is negative: a count"),
        (["TEE-M", "STORE", ""], "row 3, column quantity (empty): is empty: give the number"),
        (["", "STORE", "1"], "row 3, column sku (empty): is empty: every row needs a SKU"),
        (
            ["CAP", "WH1", "1"],
            "row 3, column sku, value 'CAP': appears again at location WH1 (first on row 2)",
        ),
    ],
)
def test_a_refused_row_is_named_and_nothing_is_applied(shop, tmp_path, row, expected):
    state, movements = levels(), Movement.objects.count()
    out, error = import_stock(tmp_path, HEADER, ["CAP", "WH1", "9"], row)
    assert expected in out
    assert error.startswith("refused, nothing was applied: 1 problem in 1 row")
    assert (levels(), Movement.objects.count()) == (state, movements)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            ["sku", "location"],
            "Missing required column 'quantity': the header row (row 1) "
            "must name sku, location, quantity; it names sku, location.",
        ),
        (
            ["sku", "location", "qty"],
            "Unknown column 'qty' (column C) in the header row: the "
            "columns are sku, location, quantity, expected, reason",
        ),
        (
            ["sku", "sku", "quantity"],
            "Column 'sku' appears twice in the header row (columns A and B)",
        ),
    ],
)
def test_a_wrong_header_is_one_clear_message(shop, tmp_path, header, expected):
    out, error = import_stock(tmp_path, header, ["CAP", "WH1", "9"][: len(header)])
    assert expected in out
    assert error == "refused, nothing was applied: 1 problem in the file"


def test_an_unnamed_column_with_values_is_named_by_its_letter(shop, tmp_path):
    out, _ = import_stock(tmp_path, HEADER, ["CAP", "WH1", "9", "stray"])
    assert "Column D has no name in the header row (row 1) but holds values" in out


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "The file is empty"),
        (b"%PDF-1.4", "This is a PDF document, not a spreadsheet"),
        ("sku,location,quantity\nCAFÉ,WH1,1\n".encode("cp1252"), "The file is not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_message_not_a_traceback(shop, tmp_path, data, expected):
    out, error = run("import_stock", write(tmp_path, "bad.csv", data))
    assert error.startswith(f"bad.csv: {expected}")
    assert "Traceback" not in out
    _, error = run("import_stock", str(tmp_path / "missing.csv"))
    assert error.startswith("missing.csv: Cannot read")


def test_every_bad_row_of_a_large_file_is_reported_and_none_applied(shop, tmp_path):
    rows = [["TEE-M", "WH1", "1"]] + [[f"NOPE-{i}", "WH1", "1"] for i in range(1500)]
    out, error = import_stock(tmp_path, HEADER, *rows)
    assert "row 1002, column sku, value 'NOPE-999'" in out
    assert "... and 500 more" in out
    assert error == "refused, nothing was applied: 1,500 problems in 1,500 rows"
    assert on_hand("TEE-M", "WH1") == 10


def test_the_resource_reports_totals_and_what_each_row_does(shop):
    table = read_table(csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["CAP", "WH1", "4"]))
    result = StockResource().import_data(table, dry_run=True, file_name="x.csv")
    assert result.summary()["updated"] == 1
    assert [(r.number, r.diff) for r in result.valid_rows()] == [
        (2, ["TEE-M", "WH1", 10, 12, "+2"])
    ]
    assert on_hand("TEE-M", "WH1") == 10  # a dry run
