"""Reading a file into a table of rows: which format it is, its text encoding, its header.

Everything a person can get wrong about a whole file (empty, not a spreadsheet, not UTF-8,
unreadable) becomes one FileProblem with one clear message, never a traceback. Row numbers are
the spreadsheet's: the header is row 1, so data row i (from 0) is row i + 2; blank rows are kept
(as rows of empty cells) so that the numbers stay true, and the resources skip them.
"""

import csv
import io
import re

import tablib
from python_calamine import CalamineError, CalamineWorkbook

from inventory.imports.cells import is_blank

# Signatures of files people upload by mistake, and of the spreadsheet containers we read.
_ZIP = b"PK\x03\x04"  # XLSX (and ODS) are zip files
_OLE = b"\xd0\xcf\x11\xe0"  # old Excel .xls
_NOT_SHEETS = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
}
# Control characters no spreadsheet program writes into a CSV file (tab, line feed, vertical
# tab, form feed and carriage return excepted): text holding one is binary data (random bytes
# named .csv, a database dump...), and a NUL could not even be stored.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f]")
_SAVE_AS = (
    'save it from your spreadsheet program as "CSV UTF-8" (or as an Excel workbook, .xlsx) '
    "and try again"
)


class FileProblem(Exception):
    """The file as a whole cannot be read; the message says what to do."""


def normalise_header(value):
    """Headers match without regard to case, surrounding spaces or repeated inner spaces."""
    if value is None:
        return ""
    return re.sub(r"\s+", " ", str(value)).strip().lower()


def read_table(data, name=""):
    """Read CSV or XLSX bytes into a tablib.Dataset with normalised headers."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        raise FileProblem("The file is empty: it has no header and no rows.")
    head = data[:8]
    for signature, what in _NOT_SHEETS.items():
        if head.startswith(signature):
            raise FileProblem(f"This is {what}, not a spreadsheet: upload a CSV or XLSX file.")
    workbook = head.startswith((_ZIP, _OLE))
    return _table(_workbook_rows(data) if workbook else _csv_rows(data))


def _workbook_rows(data):
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            raise FileProblem("The workbook has no sheets.")
        # The first sheet, as the person sees it; empty leading rows and columns stay.
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError) as exc:
        raise FileProblem(
            f"This file is not a spreadsheet we can read ({exc}); upload a CSV or XLSX file."
        ) from exc
    for number, row in enumerate(rows, start=1):
        for cell in row:
            if isinstance(cell, str) and "\x00" in cell:
                raise FileProblem(
                    f"Row {number} of the workbook holds a NUL character (binary data), which "
                    "cannot be stored: remove it and try again."
                )
    return rows


def _csv_rows(data):
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem(f"This file is not a spreadsheet (it holds binary data): {_SAVE_AS}.")
    text = _decode(data)
    binary = _BINARY.search(text)
    if binary:
        row = text.count("\n", 0, binary.start()) + 1
        raise FileProblem(
            f"This file is not a spreadsheet: row {row} holds binary data (character "
            f"0x{ord(binary.group()):02X}, which no spreadsheet writes): {_SAVE_AS}."
        )
    first_line = text.split("\n", 1)[0]
    # Spreadsheet programs in many locales write ';' (or a tab) between cells.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise FileProblem(f"The CSV file cannot be read ({exc}): {_SAVE_AS}.") from exc


def _decode(data):
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # "Unicode text" from Excel
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FileProblem(f"The file's UTF-16 text is damaged: {_SAVE_AS}.") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02X} on row {row} is not "
            f"UTF-8; it was probably saved as Latin-1 or Windows-1252): {_SAVE_AS}."
        ) from exc


def _table(rows):
    """Headers and rows of one width; trailing blank rows and unnamed empty columns dropped."""
    while rows and all(is_blank(cell) for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise FileProblem("The file is empty: it has no header and no rows.")
    headers = [normalise_header(h) for h in rows[0]]
    body = rows[1:]
    width = max(len(headers), *(len(r) for r in body)) if body else len(headers)
    headers += [""] * (width - len(headers))
    # Columns with no name and no value anywhere (a spreadsheet's stray formatting) are dropped;
    # an unnamed column that holds values stays, for the header check to name it.
    keep = [
        i
        for i, h in enumerate(headers)
        if h or any(i < len(r) and not is_blank(r[i]) for r in body)
    ]
    if len(keep) < width:
        headers = [headers[i] for i in keep]
        body = [[r[i] if i < len(r) else "" for i in keep] for r in body]
        width = len(keep)
    if not any(headers):
        raise FileProblem("The file has no header row: its first row must name the columns.")
    if not body:
        raise FileProblem("The file is empty: it has a header row but no rows under it.")
    padded = (r if len(r) == width else [*r, *[""] * (width - len(r))] for r in body)
    return tablib.Dataset(*padded, headers=headers)
