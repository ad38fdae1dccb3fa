"""Building spreadsheet files for the import tests."""

import csv
import io
from io import StringIO

from django.core.management import call_command


def csv_bytes(*rows, delimiter=","):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(*rows):
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run(*args):
    """Run a command; return (output, error or None)."""
    from django.core.management import CommandError

    out = StringIO()
    try:
        call_command(*args, stdout=out, stderr=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None
