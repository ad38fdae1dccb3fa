"""Stock files: counts (set on hand) and adjustments (add or remove), one movement per file.

Columns: sku, location (its code), quantity; optionally expected (the on hand the person saw:
a row whose level moved since is refused as stale) and reason; name is for people. Every row
goes through `stock_apply` in one call: one movement document (source "import", the file's
name as reference), all of it or nothing, reversible from the admin as a whole.

A check (dry run) records the on hand each row showed (`result.previewed`); an import given
those (`previewed=`) passes them as the rows' expected on hand, so it applies what the preview
showed or nothing, naming the rows that moved (`result.stale`). A file is applied under its
`file_key` (content, mode and location): the same file again is found as `result.earlier`
and not applied twice, unless the caller applies it again under another key.
"""

import hashlib
import json
from collections import Counter

import tablib
from django.conf import settings
from django.db import transaction
from import_export import fields, resources
from import_export.results import RowResult

from inventory import exceptions as err
from inventory.display import when
from inventory.exceptions import IdempotencyConflict, StockRefused
from inventory.imports.base import MAX_PROBLEMS, Column, Problem, SheetResource
from inventory.imports.cells import CellError, is_blank, text, whole_number, within_limit
from inventory.imports.words import rows
from inventory.models import Action, Movement, Source, StockLevel
from inventory.selectors import location_ids_by_code, variants_by_sku
from inventory.services import StockLine, stock_apply

COUNT, ADJUST = "count", "adjust"
# Plain strings, not Action members: read once per line, 100,000 times a file.
COUNT_ACTION, INCREMENT, DECREMENT = (
    Action.COUNT.value,
    Action.INCREMENT.value,
    Action.DECREMENT.value,
)
MODES = {COUNT: "Count: set on hand to the quantity", ADJUST: "Adjust: add (or, negative, remove)"}
COUNT_REASON = "stock count"
REASON_MAX = 255  # a movement's reason column
# Changed rows kept with their diff for the preview; the totals count every row.
MAX_SHOWN = 500

# The column a refusal of the stock service is about.
_RULE_COLUMN = {
    err.STALE: "expected",
    err.UNKNOWN_SKU: "sku",
    err.UNKNOWN_LOCATION: "location",
}


class StockResource(SheetResource):
    """Stock levels (count or adjust)."""

    columns = (
        Column("sku", required=True),
        Column("location", required=True),
        Column("quantity", required=True),
        Column("expected"),
        Column("reason"),
        Column("name", ignored=True),
    )
    diff_headers = ("sku", "location", "on hand", "after import", "change")

    def __init__(self, mode=COUNT, reason="", location=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        self.reason = (reason or "").strip()
        self.location = (location or "").strip() or None
        if len(self.reason) > REASON_MAX:
            raise ValueError(f"the reason is longer than {REASON_MAX} characters")
        self.limit = settings.STOCK_MAX_QUANTITY

    def required_columns(self):
        required = super().required_columns()
        # With one location for the whole file, its rows need not name it.
        return [c for c in required if not (c == "location" and self.location)]

    def file_key(self, data):
        """The idempotency key of the file's bytes imported with this mode and location."""
        return file_key(data, self.mode, self.location)

    # ------------------------------------------------------------------ rows

    def import_rows(self, dataset, found, result, *, dry_run, progress, **kwargs):
        """kwargs: file_name, user; key (stock_apply's); file_key (the file's own, to find an
        earlier application); previewed (a check's result.previewed, the rows' expected)."""
        if dry_run:
            result.previewed = {}
        parsed = self._parse(dataset, found, result, progress)
        lines, numbers = self._lines(parsed, result, kwargs.get("previewed"))
        own_key = kwargs.get("file_key")
        if own_key and (dry_run or kwargs.get("key") != own_key):
            # A check warns; an import applied again on purpose says what it repeats.
            result.earlier = Movement.objects.filter(idempotency_key=own_key).first()
        if lines:
            self._apply(lines, numbers, parsed, result, dry_run, progress, **kwargs)
        result.count_unchanged()

    def _apply(self, lines, numbers, parsed, result, dry_run, progress, **kwargs):
        """One stock_apply call for every line; its refusals become the rows' problems."""
        progress("writing", 0, len(lines))
        applied = set(numbers)
        reasons = Counter(row[5] for row in parsed if row[5] and row[0] in applied)
        key = None if (dry_run or result.refused) else kwargs.get("key")
        with transaction.atomic():  # a savepoint: a refused file leaves nothing behind
            try:
                outcome = stock_apply(
                    lines=lines,
                    source=Source.IMPORT,
                    reason=self._movement_reason(reasons),
                    reference=(kwargs.get("file_name") or "")[:255],
                    user=_user(kwargs.get("user")),
                    key=key,
                )
            except StockRefused as exc:
                outcome = None
                self._refusals(exc.errors, lines, numbers, parsed, result, kwargs.get("previewed"))
            except IdempotencyConflict:
                # The key was used by another run of this file (another name, reason or
                # preview): it was applied then, and is not applied again.
                outcome = None
                result.earlier = Movement.objects.get(idempotency_key=key)
            if result.refused:
                transaction.set_rollback(True)
        progress("writing", len(lines), len(lines))
        if outcome is not None:  # also when refused: what the other rows would have done
            self._outcome(outcome, lines, numbers, result, applied=not (dry_run or result.refused))

    def _parse(self, dataset, found, result, progress):
        """[(row, sku, code, quantity, expected, reason)] of the rows whose cells are usable."""
        i_sku, i_loc, i_q = found["sku"], found.get("location"), found["quantity"]
        i_exp, i_reason = found.get("expected"), found.get("reason")
        adjust = self.mode == ADJUST
        parsed, first_row = [], {}
        for number, cells in self.body(dataset, progress):
            result.rows_read += 1
            problems = []
            sku = text(cells[i_sku])
            if not sku:
                problems.append(Problem(number, "sku", "", "is empty: every row needs a SKU"))
            code = text(cells[i_loc]) if i_loc is not None else ""
            if self.location and code and code.upper() != self.location.upper():
                problems.append(
                    Problem(
                        number,
                        "location",
                        code,
                        f"is not {self.location}, the location given for the whole file",
                    )
                )
            code = code or self.location or ""
            if not code:
                problems.append(Problem(number, "location", "", "is empty: name a location code"))
            quantity = self._quantity(number, cells[i_q], problems)
            expected = None
            if i_exp is not None and not is_blank(cells[i_exp]):
                try:
                    expected = within_limit(whole_number(cells[i_exp]), self.limit)
                except CellError as exc:
                    problems.append(Problem(number, "expected", text(cells[i_exp]), str(exc)))
            reason = text(cells[i_reason]) if i_reason is not None else ""
            if len(reason) > REASON_MAX:
                problems.append(
                    Problem(
                        number,
                        "reason",
                        reason[:40] + "…",
                        f"is {len(reason):,} characters long; a reason holds at most {REASON_MAX}",
                    )
                )
            if adjust and not (reason or self.reason):
                problems.append(
                    Problem(
                        number,
                        "reason",
                        "",
                        "is empty: an adjustment needs a reason (fill "
                        "the reason column, or give one reason for the whole file)",
                    )
                )
            if sku and code:
                first = first_row.setdefault((sku, code.upper()), number)
                if first != number:
                    problems.append(
                        Problem(
                            number,
                            "sku",
                            sku,
                            f"appears again at location {code} (first "
                            f"on row {first}): put each SKU and location on one row",
                        )
                    )
            if problems:
                for problem in problems:
                    result.add_problem(problem)
            else:
                parsed.append((number, sku, code, quantity, expected, reason))
        return parsed

    def _quantity(self, number, cell, problems):
        if is_blank(cell):
            what = "the number counted" if self.mode == COUNT else "the number to add or remove"
            problems.append(Problem(number, "quantity", "", f"is empty: give {what}"))
            return None
        try:
            quantity = within_limit(whole_number(cell), self.limit)
        except CellError as exc:
            problems.append(Problem(number, "quantity", text(cell), str(exc)))
            return None
        if self.mode == COUNT and quantity < 0:
            problems.append(
                Problem(
                    number,
                    "quantity",
                    text(cell),
                    "is negative: a count is what is on hand, "
                    "0 or more (to remove stock, import an adjustment)",
                )
            )
        return quantity

    def _lines(self, parsed, result, previewed=None):
        """StockLines for the rows whose SKU and location exist (ids resolved in memory); with
        a preview, each expects the on hand the preview showed."""
        variants = variants_by_sku({row[1] for row in parsed})
        locations = location_ids_by_code({row[2] for row in parsed})
        lines, numbers = [], []
        count = self.mode == COUNT
        for number, sku, code, quantity, expected, _ in parsed:
            if previewed is not None:
                # A row with an expected column was checked against it by the preview.
                expected = previewed.get(str(number), expected)
            variant = variants.get(sku)
            location_id = locations.get(code)
            if variant is None:
                result.add_problem(Problem(number, "sku", sku, "is not a known SKU"))
            if location_id is None:
                result.add_problem(Problem(number, "location", code, "is not a known location"))
            if variant is None or location_id is None or (quantity == 0 and not count):
                continue  # an adjustment of 0 changes nothing
            action = COUNT_ACTION if count else INCREMENT if quantity > 0 else DECREMENT
            lines.append(
                StockLine(
                    action=action,
                    quantity=abs(quantity) if not count else quantity,
                    sku=sku,
                    location=code,
                    variant_id=variant[0],
                    location_id=location_id,
                    expected=expected,
                )
            )
            numbers.append(number)
        return lines, numbers

    def _movement_reason(self, reasons):
        if self.reason:
            return self.reason
        if not reasons:
            return COUNT_REASON if self.mode == COUNT else ""
        if len(reasons) == 1:
            return next(iter(reasons))
        # One movement has one reason: name each, with how many rows gave it.
        return "; ".join(f"{r} ({rows(n)})" for r, n in reasons.most_common())[:255]

    def _refusals(self, errors, lines, numbers, parsed, result, previewed=None):
        cells = {row[0]: row for row in parsed}
        if previewed is not None:
            errors = self._stale(errors, lines, numbers, result)
        for e in errors:
            number = numbers[e.line - 1]
            row = cells[number]
            column = _RULE_COLUMN.get(e.code, "quantity")
            value = {"sku": row[1], "location": row[2], "expected": row[4]}.get(column, row[3])
            prefix = f"{row[1]} at {row[2]}: "
            message = e.message[len(prefix) :] if e.message.startswith(prefix) else e.message
            result.add_problem(Problem(number, column, str(value), message))

    def _stale(self, errors, lines, numbers, result):
        """Record the rows whose level moved since the preview (previewed against now, read
        again: nothing was applied); return the other errors."""
        stale = [e for e in errors if e.code == err.STALE]
        if not stale:
            return errors
        pairs = {(lines[e.line - 1].variant_id, lines[e.line - 1].location_id) for e in stale}
        now = dict.fromkeys(pairs, 0)  # a level created since the preview's own read is new
        levels = StockLevel.objects.filter(
            variant_id__in={v for v, _ in pairs}, location_id__in={loc for _, loc in pairs}
        ).values_list("variant_id", "location_id", "on_hand")
        for variant_id, location_id, on_hand in levels.iterator(chunk_size=5000):
            if (variant_id, location_id) in now:
                now[(variant_id, location_id)] = on_hand
        for e in stale:
            line = lines[e.line - 1]
            current = now[(line.variant_id, line.location_id)]
            number = numbers[e.line - 1]
            if len(result.stale) < MAX_PROBLEMS:
                result.stale.append(
                    {
                        "row": number,
                        "sku": line.sku,
                        "location": line.location,
                        "previewed": line.expected,
                        "now": current,
                    }
                )
            result.add_problem(
                Problem(
                    number,
                    "",
                    "",
                    f"{line.sku} at {line.location}: on hand was {line.expected} in the "
                    f"preview and is {current} now (stock moved since): preview the file again",
                )
            )
        return [e for e in errors if e.code != err.STALE]

    def _outcome(self, outcome, lines, numbers, result, applied):
        """Totals, the first changed rows (a count equal to on hand records nothing) and the
        on hand each row showed."""
        if outcome.replayed:  # this very file and payload, applied before under its key
            result.movement = result.earlier = outcome.movement
            return
        if applied:
            result.movement = outcome.movement
        changed = {}
        for row in outcome.rows:  # one ledger row per changed line (imports make no moves)
            changed[row[1]] = row
        if not (applied or result.refused):  # a check: what its import will expect
            result.previewed = {
                str(numbers[i]): (
                    changed[i + 1][8] - changed[i + 1][6] if i + 1 in changed else ln.quantity
                )
                for i, ln in enumerate(lines)
            }
        result.totals[RowResult.IMPORT_TYPE_UPDATE] = len(changed)
        for line in sorted(changed)[:MAX_SHOWN]:
            change, after = changed[line][6], changed[line][8]
            ln = lines[line - 1]
            diff = [ln.sku, ln.location, after - change, after, f"{change:+d}"]
            row_result = self.changed_row(RowResult.IMPORT_TYPE_UPDATE, diff)
            row_result.number = numbers[line - 1]
            result.rows.append(row_result)


def _user(user):
    return user if user is not None and getattr(user, "pk", None) else None


def file_key(data, mode, location=None):
    """The idempotency key of a stock file: its bytes, its mode and its one location."""
    # Codes match whatever their case: wh1 and WH1 are one location, one file key.
    digest = hashlib.sha256(json.dumps([mode, (location or "").upper()]).encode())
    digest.update(b"\0")
    digest.update(bytes(data))
    return f"import-file:{digest.hexdigest()}"


def movement_text(movement):
    """An earlier movement as a person reads it: when, which file, who, and if it was undone."""
    text = f"movement #{movement.pk} ({when(movement.created_at)}, reference {movement.reference!r}"
    if movement.user_id:
        text += f", by {movement.user}"
    reversal = Movement.objects.filter(reverses=movement).values_list("pk", flat=True).first()
    if reversal:
        text += f"; undone by movement #{reversal}"
    return text + ")"


class StockExportResource(resources.ModelResource):
    """Stock levels: one row per variant and location, ready to edit and import as a count."""

    sku = fields.Field(attribute="variant__sku", column_name="sku")
    name = fields.Field(column_name="name")
    location = fields.Field(attribute="location__code", column_name="location")
    quantity = fields.Field(attribute="on_hand", column_name="quantity")
    expected = fields.Field(attribute="on_hand", column_name="expected")

    class Meta:
        model = StockLevel
        fields = ("sku", "name", "location", "quantity", "expected")
        export_order = fields

    def dehydrate_name(self, level):
        return level.variant.name or level.variant.product.name

    def filter_export(self, queryset, **kwargs):
        return queryset.order_by("variant__sku", "location__code")

    def export(self, queryset=None, **kwargs):
        """The fields above, read as plain values: the library's export builds each level and
        exports it field by field, 6 s for 100,000 levels against 0.5 s this way."""
        self.before_export(queryset, **kwargs)
        queryset = self.filter_export(StockLevel.objects.all() if queryset is None else queryset)
        values = queryset.values_list(
            "variant__sku", "variant__name", "variant__product__name", "location__code", "on_hand"
        )
        dataset = tablib.Dataset(headers=self.get_export_headers())
        for sku, name, product, code, on_hand in values.iterator(chunk_size=5000):
            dataset.append((sku, name or product, code, on_hand, on_hand))
        self.after_export(queryset, dataset, **kwargs)
        return dataset
