"""What every spreadsheet resource shares: its columns, the header check, problems named by
row, column and value, the result, and progress reports.

The stock and catalog resources replace django-import-export's row loop (`import_row`, one
model instance, diff and savepoint per row) with one pass over the rows and set-based writes:
the library's loop alone costs about 60 µs a row with every bulk option on (`use_bulk`,
`skip_diff`, `force_init_instance`, cached foreign keys), 6 s for a 100,000-row file before
anything is written. They keep the library's contract (`import_data`, `Result`, `RowResult`,
`InvalidRow`, dry runs in a rolled-back transaction), so its admin views, forms and
management commands drive them unchanged.
"""

import heapq
import itertools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from import_export import resources, widgets
from import_export.results import Error, Result, RowResult

from inventory.imports.cells import CellError, boolean, is_blank, text
from inventory.imports.files import FileProblem, normalise_header

# Problems kept per result: enough to fix a file, bounded for a file where every row is wrong.
MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Column:
    name: str
    required: bool = False
    ignored: bool = False  # written by exports for people to read; imports skip it
    help: str = ""


@dataclass(frozen=True)
class Problem:
    """Why one row (or, with row None, the whole file) was refused."""

    row: int | None
    column: str
    value: str
    message: str

    def __str__(self):
        if self.row is None:
            return self.message
        where = f"row {self.row}"
        if self.column:
            where += f", column {self.column}"
            where += f", value {self.value!r}" if self.value != "" else " (empty)"
        return f"{where}: {self.message}"

    def as_dict(self):
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


class RowRefused(Exception):
    """A row's problem, as the library's error lists carry it."""


class SheetResult(Result):
    """The library's Result, plus what a person reads: problems, totals, the movement."""

    def __init__(self):
        super().__init__()
        # The MAX_PROBLEMS first problems in file order, whatever order the checks found them
        # in (a row's cells are read before its SKU is looked up, and the stock service
        # refuses last): a heap of (-row, -seq), whose top is the last kept.
        self._kept = []
        self._seq = itertools.count()
        self.problem_count = 0
        self.problem_rows = set()
        self.rows_read = 0
        self.movement = None
        self.notes = []
        # A stock file's check: {row number (str): the on hand it showed}, the compare-and-set
        # values of its import. None where the resource records no preview.
        self.previewed = None
        # Rows refused at import because their level moved since the preview.
        self.stale = []
        # The movement that applied the same file before (a stock file's idempotency key).
        self.earlier = None

    def add_problem(self, problem, recorded=False):
        """Keep a problem; `recorded`: the library already holds it as an error."""
        self.problem_count += 1
        self.totals[RowResult.IMPORT_TYPE_INVALID] = self.problem_count
        if problem.row is None:
            if not recorded:
                self.append_base_error(Error(FileProblem(problem.message)))
        else:
            self.problem_rows.add(problem.row)
        if problem.row is not None and not recorded and len(self.invalid_rows) < MAX_PROBLEMS:
            self.invalid_rows.append(_InvalidRow(problem))
        # File problems (no row) come first, then rows by number, each in the order found.
        entry = (-(problem.row if problem.row is not None else 0), -next(self._seq), problem)
        if len(self._kept) < MAX_PROBLEMS:
            heapq.heappush(self._kept, entry)
        elif entry[:2] > self._kept[0][:2]:
            heapq.heapreplace(self._kept, entry)

    @property
    def problems(self):
        """The problems kept (at most MAX_PROBLEMS: the first ones), in file order."""
        return [entry[2] for entry in sorted(self._kept, key=lambda e: e[:2], reverse=True)]

    @property
    def refused(self):
        return bool(self.problem_count)

    @property
    def already_applied(self):
        """Whether this run applied nothing because the same file was applied before."""
        earlier = self.earlier
        return earlier is not None and (self.movement is None or self.movement.pk == earlier.pk)

    def has_errors(self):
        # A refused row refuses the file: the library then rolls the import back, and its
        # `import` command names the rows and exits 1.
        return super().has_errors() or self.refused

    def row_errors(self):
        refused = [(p.row, [Error(RowRefused(str(p)))]) for p in self.problems if p.row]
        return [*super().row_errors(), *refused]

    def count_unchanged(self):
        """Rows read that are neither created, updated nor refused."""
        done = self.totals[RowResult.IMPORT_TYPE_NEW] + self.totals[RowResult.IMPORT_TYPE_UPDATE]
        self.totals[RowResult.IMPORT_TYPE_SKIP] = self.rows_read - done - len(self.problem_rows)

    def summary(self):
        """Plain totals and problems (JSON-ready) for commands, jobs and pages."""
        totals = self.totals
        return {
            "read": self.rows_read,
            "created": totals[RowResult.IMPORT_TYPE_NEW],
            "updated": totals[RowResult.IMPORT_TYPE_UPDATE],
            "unchanged": totals[RowResult.IMPORT_TYPE_SKIP],
            "errors": self.problem_count,
            "error_rows": len(self.problem_rows),
            "problems": [p.as_dict() for p in self.problems],
            "movement": self.movement.pk if self.movement is not None else None,
            "notes": list(self.notes),
            "stale": list(self.stale),
            "earlier": self.earlier.pk if self.earlier is not None else None,
        }


class _InvalidRow:
    """The library's InvalidRow shape (number, error, error_dict, values) for one problem."""

    def __init__(self, problem):
        self.number = problem.row
        self.problem = problem
        self.error = ValidationError({problem.column or "row": [problem.message]})
        self.error_dict = self.error.message_dict
        self.field_specific_errors = self.error_dict
        self.non_field_specific_errors = []
        self.error_count = 1
        self.values = ()


def column_letter(index):
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names a column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class SheetResource(resources.Resource):
    """A resource over named columns whose rows are checked and written as a whole."""

    columns = ()

    @classmethod
    def get_display_name(cls):
        return cls.__doc__.strip().splitlines()[0].rstrip(".") if cls.__doc__ else cls.__name__

    def get_result_class(self):
        return SheetResult

    def extra_column(self, name):
        """Whether a header outside `columns` is still one of ours (catalog option columns)."""
        return False

    def required_columns(self):
        return [c.name for c in self.columns if c.required]

    def check_header(self, headers):
        """{column name: index}, or a FileProblem naming what is wrong with the header row."""
        known = {c.name for c in self.columns}
        found = {}
        for index, name in enumerate(headers):
            letter = column_letter(index)
            if not name:
                raise FileProblem(
                    f"Column {letter} has no name in the header row (row 1) but holds values: "
                    "name it or delete it."
                )
            if name in found:
                raise FileProblem(
                    f"Column {name!r} appears twice in the header row (columns "
                    f"{column_letter(found[name])} and {letter}): keep one."
                )
            if name not in known and not self.extra_column(name):
                raise FileProblem(
                    f"Unknown column {name!r} (column {letter}) in the header row: the columns "
                    f"are {self.columns_text()}. Check the spelling, or delete the column."
                )
            found[name] = index
        missing = [name for name in self.required_columns() if name not in found]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            raise FileProblem(
                f"Missing required column{'s' if len(missing) > 1 else ''} {names}: the header "
                f"row (row 1) must name {', '.join(self.required_columns())}; "
                f"it names {', '.join(headers)}."
            )
        return found

    def columns_text(self):
        names = [c.name for c in self.columns if not c.ignored]
        ignored = [c.name for c in self.columns if c.ignored]
        text = ", ".join(names)
        if ignored:
            text += f" (and {', '.join(ignored)}, which is read by people and ignored here)"
        return text

    def before_import(self, dataset, **kwargs):
        # Files read by other means than files.read_table (the library's own `import`
        # command) get the same header matching.
        if dataset.headers:
            dataset.headers = [normalise_header(h) for h in dataset.headers]

    def import_data_inner(
        self, dataset, dry_run, raise_errors, using_transactions, collect_failed_rows, **kwargs
    ):
        result = self.get_result_class()()
        result.diff_headers = list(self.diff_headers)
        result.total_rows = len(dataset)
        self.before_import(dataset, **kwargs)
        try:
            found = self.check_header(dataset.headers or [])
        except FileProblem as exc:
            result.add_problem(Problem(None, "", "", str(exc)))
            return result
        progress = kwargs.pop("progress", None) or _silent
        self.import_rows(dataset, found, result, dry_run=dry_run, progress=progress, **kwargs)
        if raise_errors and result.refused:
            raise FileProblem("; ".join(str(p) for p in result.problems[:5]))
        return result

    def import_rows(self, dataset, found, result, *, dry_run, progress, **kwargs):
        raise NotImplementedError

    @staticmethod
    def body(dataset, progress, every=5000):
        """(row number, cells) for each non-blank row, reporting progress as it goes."""
        total = len(dataset)
        for index, cells in enumerate(dataset):
            if index % every == 0:
                progress("checking", index, total)
            for cell in cells:
                if not is_blank(cell):
                    yield index + 2, cells
                    break
        progress("checking", total, total)

    @staticmethod
    def changed_row(import_type, diff):
        row = RowResult()
        row.import_type = import_type
        row.diff = diff
        return row


def _silent(stage, done, total):
    pass


class YesNoWidget(widgets.BooleanWidget):
    """yes/no, true/false, 1/0 or x; anything else is refused (the library's widget reads
    "yes" as False)."""

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        try:
            return boolean(value)
        except CellError as exc:
            raise ValueError(f"{text(value)!r} {exc}") from exc


class LookupWidget(widgets.CachedForeignKeyWidget):
    """A foreign key by a natural key, all of them read once; an unknown one is a row error."""

    def __init__(self, model, field, what, **kwargs):
        super().__init__(model, field, **kwargs)
        self.what = what

    def get_queryset(self, value, row, *args, **kwargs):
        # Every row of the table is read once: only the key and the natural key.
        return self.model.objects.only("pk", self.field)

    def clean(self, value, row=None, **kwargs):
        value = text(value)
        if not value:
            raise ValueError(f"is empty: name a {self.what}")
        try:
            return super().clean(value, row, **kwargs)
        except self.model.DoesNotExist as exc:
            raise ValueError(f"{value!r} is not a known {self.what}") from exc


class LibraryRowsMixin:
    """For resources that keep the library's row loop (few rows, so per-row saves and full
    model validation are affordable): the same header matching, spreadsheet row numbers and
    problems as the sheet resources."""

    def get_result_class(self):
        return SheetResult

    def before_import(self, dataset, **kwargs):
        if dataset.headers:
            dataset.headers = [normalise_header(h) for h in dataset.headers]
        super().before_import(dataset, **kwargs)

    def get_instance(self, instance_loader, row):
        try:
            return super().get_instance(instance_loader, row)
        except ValueError as exc:  # an id column's value is unknown or empty
            raise ValidationError(str(exc)) from exc

    def import_data_inner(self, dataset, *args, **kwargs):
        result = super().import_data_inner(dataset, *args, **kwargs)
        result.rows_read = sum(1 for row in dataset if any(not is_blank(c) for c in row))
        invalid, result.invalid_rows = result.invalid_rows, []
        for row in invalid:  # the library counts data rows from 1; a spreadsheet, from 2
            values = dict(zip(dataset.headers, dataset[row.number - 1], strict=False))
            for column, messages in row.error_dict.items():
                column = "" if column == "__all__" else column
                for message in messages:
                    value = text(values.get(column, ""))
                    result.add_problem(Problem(row.number + 1, column, value, message))
        for row in result.error_rows:
            for error in row.errors:
                result.add_problem(Problem(row.number + 1, "", "", str(error.error)), True)
        for error in result.base_errors:
            result.add_problem(Problem(None, "", "", str(error.error)), True)
        return result
