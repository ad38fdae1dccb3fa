"""Reading files and cells: every bad file gets one clear message, exports are safe to open."""

import re

import pytest
import tablib

from inventory.imports.cells import CellError, boolean, neutralise, text, whole_number
from inventory.imports.files import FileProblem, read_table
from inventory.imports.formats import CSV, XLSX
from tests.inventory.sheets import csv_bytes, xlsx_bytes


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"  \r\n\r\n", "The file is empty"),
        (b"%PDF-1.7 binary", "This is a PDF document, not a spreadsheet"),
        (b"\x89PNG\r\n\x1a\n....", "This is a PNG image, not a spreadsheet"),
        (b"\x00\x01\x02\x03 random bytes", "not a spreadsheet (it holds binary data)"),
        (b"PK\x03\x04 not really a zip", "not a spreadsheet we can read"),
        (
            "sku,location,quantity\nCAFÉ-1,WH1,3\n".encode("latin-1"),
            "not UTF-8 text (byte 0xC9 on row 2",
        ),
        (b",,\n,,\n", "The file is empty"),
    ],
)
def test_a_bad_file_gets_one_clear_message(data, message):
    with pytest.raises(FileProblem, match=re.escape(message)):
        read_table(data)


def test_headers_match_without_case_or_surrounding_spaces():
    table = read_table(csv_bytes([" SKU ", "Location", "QUANTITY  "], ["A", "WH1", "3"]))
    assert table.headers == ["sku", "location", "quantity"]


def test_semicolon_files_and_a_byte_order_mark_are_read():
    data = "\ufeffsku;location;quantity\r\nA;WH1;3\r\n".encode()
    assert read_table(data).dict == [{"sku": "A", "location": "WH1", "quantity": "3"}]


def test_xlsx_is_read_from_its_first_sheet():
    table = read_table(xlsx_bytes(["sku", "location", "quantity"], ["A", "WH1", 3]))
    assert table.headers == ["sku", "location", "quantity"]
    assert table[0] == ("A", "WH1", 3.0)


def test_rows_keep_their_spreadsheet_numbers_and_ragged_rows_are_padded():
    table = read_table(b"sku,location,quantity\nA,WH1,3\n\nB,WH1\n,,\n")
    assert list(table) == [("A", "WH1", "3"), ("", "", ""), ("B", "WH1", "")]


@pytest.mark.parametrize(
    ("cell", "number"), [(3, 3), (3.0, 3), ("3", 3), (" +3 ", 3), ("-2", -2), ("4.0", 4)]
)
def test_whole_numbers(cell, number):
    assert whole_number(cell) == number


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("abc", "is not a whole number"),
        ("1.5", "quantities are whole units"),
        (2.5, "quantities are whole units"),
        ("1,000", "without separators"),
        (True, "is not a whole number"),
    ],
)
def test_not_whole_numbers(cell, message):
    with pytest.raises(CellError, match=message):
        whole_number(cell)


def test_booleans_accept_the_usual_words_and_refuse_others():
    assert [boolean(v) for v in ("yes", "No", "TRUE", "0", "x", 1)] == [
        True,
        False,
        True,
        False,
        True,
        True,
    ]
    with pytest.raises(CellError, match="is not yes or no"):
        boolean("maybe")


@pytest.mark.parametrize("value", ["=SUM(A1)", "+1", "-cmd", "@x", "\t=1"])
def test_exports_neutralise_cells_a_spreadsheet_would_run(value):
    assert neutralise(value) == "'" + value
    assert text(neutralise(value)) == value.strip()  # an import reads the value back
    assert neutralise(-3) == -3  # numbers stay numbers


@pytest.mark.parametrize("fmt", [CSV, XLSX])
def test_export_formats_write_neutralised_cells_and_read_back(fmt):
    dataset = tablib.Dataset(["=HYPERLINK(1)", "@me", 5], headers=["sku", "name", "quantity"])
    data = fmt().export_data(dataset)
    row = read_table(data)[0]
    assert row[0] == "'=HYPERLINK(1)"
    assert row[1] == "'@me"
    assert text(row[0]) == "=HYPERLINK(1)"
