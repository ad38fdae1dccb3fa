"""Property-based tests (Hypothesis): random stock operations keep every level equal to its
ledger and to a plain model of the rules; random cells in stock and catalog files and random
values in the admin forms are refused with named problems, never a server error.

Each example runs in its own rolled-back transaction (hypothesis.extra.django.TestCase), on
whichever database the run uses: SQLite by default, PostgreSQL with DATABASE_URL.
"""

import csv
import io

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from inventory.exceptions import IdempotencyConflict, StockRefused
from inventory.imports.catalog import CatalogResource
from inventory.imports.files import FileProblem, read_table
from inventory.imports.stock import StockResource
from inventory.models import Location, Movement, Product, Source, StockLevel, Variant
from inventory.selectors import ledger_mismatches
from inventory.services import StockLine, stock_apply

LIMIT = django_settings.STOCK_MAX_QUANTITY
BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Quantities: mostly small, with the edges of the limit and of the columns.
quantities = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.sampled_from([LIMIT, LIMIT + 1, 2**31 - 1, 2**31, 3_000_000_000, 10**20]),
)
ACTIONS = ["increment", "decrement", "allocate", "deallocate", "move", "count"]
stock_lines = st.tuples(
    st.sampled_from(ACTIONS),
    st.integers(0, 1),  # variant: 0 tracked, 1 sells when out of stock
    st.integers(0, 1),  # location: 0 never negative, 1 may go negative
    quantities,
    st.one_of(st.none(), st.integers(-2, 12)),  # expected on hand (counts)
)
calls = st.lists(
    st.tuples(
        st.lists(stock_lines, min_size=1, max_size=3),
        st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])),  # idempotency key
    ),
    min_size=1,
    max_size=12,
)


def shop():
    product = Product.objects.create(name="Tee")
    variants = [
        Variant.objects.create(product=product, sku="TEE"),
        Variant.objects.create(product=product, sku="PRE", allow_backorder=True),
    ]
    locations = [
        Location.objects.create(code="WH1", name="Warehouse"),
        Location.objects.create(code="POPUP", name="Pop-up", allow_negative=True),
    ]
    return variants, locations


class Model:
    """The stock rules of DESIGN.md, on plain dicts."""

    def __init__(self):
        self.levels = {}

    def apply(self, lines):
        """The levels after `lines`, all or nothing: None if any line breaks a rule."""
        levels = dict(self.levels)
        for action, v, loc, q, expected in lines:
            after = self._line(levels, action, v, loc, q, expected)
            if after is None:
                return None
            levels.update(after)
        return levels

    @staticmethod
    def _line(levels, action, v, loc, q, expected):
        if q > LIMIT or (q < 0 if action == "count" else q <= 0):
            return None
        if action == "count" and expected is not None and abs(expected) > LIMIT:
            return None
        on_hand, allocated = levels.get((v, loc), (0, 0))
        available = on_hand - allocated
        if action == "increment":
            return {(v, loc): (on_hand + q, allocated)}
        if action == "decrement":
            return None if loc == 0 and available < q else {(v, loc): (on_hand - q, allocated)}
        if action == "allocate":
            return None if v == 0 and available < q else {(v, loc): (on_hand, allocated + q)}
        if action == "deallocate":
            return None if allocated < q else {(v, loc): (on_hand, allocated - q)}
        if action == "move":
            if loc == 0 and available < q:
                return None
            to_hand, to_allocated = levels.get((v, 1 - loc), (0, 0))
            return {(v, loc): (on_hand - q, allocated), (v, 1 - loc): (to_hand + q, to_allocated)}
        if expected is not None and expected != on_hand:
            return None  # stale
        return {(v, loc): (q, allocated)}


def stored_levels(variants, locations):
    index = {**{v.pk: i for i, v in enumerate(variants)}}
    places = {loc.pk: i for i, loc in enumerate(locations)}
    return {
        (index[lv.variant_id], places[lv.location_id]): (lv.on_hand, lv.allocated)
        for lv in StockLevel.objects.all()
        if (lv.on_hand, lv.allocated) != (0, 0)
    }


class StockServiceProperties(TestCase):
    @BOUNDED
    @given(calls=calls)
    def test_random_operations_keep_levels_equal_to_the_ledger_and_the_rules(self, calls):
        variants, locations = shop()
        model, keys = Model(), {}
        for lines, key in calls:
            stock = [
                StockLine(
                    action=action,
                    quantity=q,
                    variant_id=variants[v].pk,
                    location_id=locations[loc].pk,
                    to_location_id=locations[1 - loc].pk if action == "move" else None,
                    expected=expected if action == "count" else None,
                )
                for action, v, loc, q, expected in lines
            ]
            lines = [(a, v, loc, q, e if a == "count" else None) for a, v, loc, q, e in lines]
            before = Movement.objects.count()
            if key in keys and keys[key][0] != lines:
                with pytest.raises(IdempotencyConflict):
                    stock_apply(lines=stock, source=Source.SYSTEM, key=key)
                after = model.levels
            elif key in keys:
                result = stock_apply(lines=stock, source=Source.SYSTEM, key=key)
                assert result.replayed
                assert result.movement.pk == keys[key][1]
                after = model.levels
            else:
                after = model.apply(lines)
                if after is None:
                    with pytest.raises(StockRefused):
                        stock_apply(lines=stock, source=Source.SYSTEM, key=key)
                    after = model.levels
                else:
                    result = stock_apply(lines=stock, source=Source.SYSTEM, key=key)
                    if key and result.movement is not None:
                        keys[key] = (lines, result.movement.pk)
            wrote = Movement.objects.count() - before
            assert wrote <= 1
            model.levels = {place: level for place, level in after.items() if level != (0, 0)}
            assert stored_levels(variants, locations) == model.levels
            assert ledger_mismatches() == []
        never_negative = StockLevel.objects.filter(location=locations[0], on_hand__lt=0)
        assert not never_negative.exists()
        assert not StockLevel.objects.filter(allocated__lt=0).exists()


# --------------------------------------------------------------------------- files

# What people type into cells: numbers of every size and form, words, blanks, NULs, codes in
# another case, formulas, very long texts.
cells = st.one_of(
    st.sampled_from(["TEE", "tee", "WH1", "wh1", "POPUP", "", " ", "=1+1", "yes", "no"]),
    quantities.map(str),
    st.sampled_from(["1,000", "1e3", "12.0", "12.5", "-0", "+7", "3,000,000,000", "nan"]),
    st.text(max_size=12),
    st.text(min_size=250, max_size=300),
)


def mostly(*usual):
    """One of the usual values three times in four, else any cell."""
    return st.one_of(*[st.sampled_from(usual)] * 3, cells)


# Rows of any shape, and rows shaped like the file's columns, mostly usable, with a cell of
# any kind anywhere.
stock_rows = st.tuples(
    mostly("TEE", "tee", "PRE", "NOPE"),
    mostly("WH1", "wh1", "POPUP", "Popup", "MARS"),
    st.one_of(quantities.map(str), cells),
    mostly("", "", "", "5"),
    mostly("", "recount"),
).map(list)
catalog_rows = st.tuples(
    mostly("Tee", "Mug"),
    mostly("TEE", "NEW-1", "NEW-2"),
    mostly("", "Blue tee"),
    mostly("", "4006381333931"),
    mostly("yes", "no", ""),
    mostly("", "M", "XL"),
    st.one_of(quantities.map(str), cells),
).map(list)
rows = st.lists(
    st.one_of(stock_rows, stock_rows, st.lists(cells, min_size=1, max_size=6)),
    min_size=0,
    max_size=3,
)
STOCK_HEADERS = ["sku", "location", "quantity", "expected", "reason", "name"]
CATALOG_HEADERS = ["product", "sku", "name", "barcode", "tracked", "option:size", "reorder_point"]


def csv_file(header, body):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(body)
    # A lone surrogate from the text strategy becomes bytes that are not UTF-8, as in a
    # damaged file.
    return out.getvalue().encode("utf-8", "surrogatepass")


def import_file(resource, data):
    """Import the file; return (result or None, the file's problem or None)."""
    try:
        table = read_table(data, "file.csv")
    except FileProblem as exc:
        return None, str(exc)
    return resource.import_data(table, file_name="file.csv"), None


class FileProperties(TestCase):
    def check_problems_are_named(self, result):
        # Nothing unexpected was caught on the way (a database error becomes a base error).
        assert [e.error for e in result.base_errors if not isinstance(e.error, FileProblem)] == []
        for problem in result.problems:
            assert problem.message
            if problem.row is not None:
                assert problem.row >= 2

    @BOUNDED
    @given(body=rows, mode=st.sampled_from(["count", "adjust"]))
    @example(body=[["TEE", "WH1", "3000000000", "", ""]], mode="count")
    @example(body=[["TEE", "wh1", "99999999999999999999", "", ""]], mode="adjust")
    def test_random_cells_in_a_stock_file_are_refused_by_name_or_applied_within_the_rules(
        self, body, mode
    ):
        variants, locations = shop()
        stock_apply(
            lines=[StockLine("count", 5, variant_id=variants[0].pk, location_id=locations[0].pk)],
            source=Source.SYSTEM,
        )
        data = csv_file(STOCK_HEADERS, body)
        result, problem = import_file(StockResource(mode=mode, reason="check"), data)
        if result is not None:
            self.check_problems_are_named(result)
            if result.refused:
                assert Movement.objects.count() == 1  # nothing half-applied
        else:
            assert problem
        assert ledger_mismatches() == []
        for level in StockLevel.objects.all():
            assert abs(level.on_hand) <= LIMIT * 6
        assert not StockLevel.objects.filter(location=locations[0], on_hand__lt=0).exists()

    @BOUNDED
    @given(
        body=st.lists(
            st.one_of(catalog_rows, catalog_rows, st.lists(cells, max_size=7)), max_size=4
        )
    )
    def test_random_cells_in_a_catalog_file_are_refused_by_name_and_exported_again(self, body):
        shop()
        data = csv_file(CATALOG_HEADERS, body)
        result, problem = import_file(CatalogResource(), data)
        if result is not None:
            self.check_problems_are_named(result)
        else:
            assert problem
        for variant in Variant.objects.all():
            assert isinstance(variant.options, dict)
            assert all(isinstance(v, str) for v in variant.options.values())


# --------------------------------------------------------------------------- the admin forms

form_values = st.one_of(
    quantities.map(str),
    st.text(max_size=20),
    st.text(min_size=250, max_size=300),
    st.sampled_from(["", "\x00", "abc\x00", "a" * 300, "1e9", "99999999999999999999"]),
)


class AdminFormProperties(TestCase):
    def post(self, url, data):
        """Post as a logged-in superuser (made in each example's transaction)."""
        user = get_user_model().objects.get_or_create(
            username="boss", defaults={"is_staff": True, "is_superuser": True}
        )[0]
        self.client = Client()
        self.client.force_login(user)
        response = self.client.post(url, data)
        assert response.status_code in (200, 302), response.content[:500]
        return response

    @BOUNDED
    @given(
        operation=st.sampled_from([*ACTIONS, "", "\x00", "explode"]),
        values=st.fixed_dictionaries(
            {"quantity": st.one_of(quantities.map(str), form_values)},
            optional={k: form_values for k in ("reason", "token", "seen")},
        ),
        location=st.one_of(st.sampled_from([0, 1, 0, 1]), form_values),
    )
    def test_random_values_in_the_stock_forms_never_give_a_server_error(
        self, operation, values, location
    ):
        variants, locations = shop()
        loc = locations[location].pk if isinstance(location, int) else location
        adjust = reverse("admin:inventory_variant_adjust", args=[variants[0].pk])
        self.post(adjust, {"apply": "1", "operation": operation, "location": loc, **values})
        move = reverse("admin:inventory_variant_move", args=[variants[0].pk])
        other = locations[1].pk
        self.post(move, {"apply": "1", "from_location": loc, "to_location": other, **values})
        assert ledger_mismatches() == []
        for level in StockLevel.objects.all():
            assert abs(level.on_hand) <= LIMIT

    @BOUNDED
    @given(
        values=st.fixed_dictionaries(
            {},
            optional={
                "options": st.one_of(
                    form_values,
                    st.sampled_from(['["red"]', '{"a": 1}', '{"a": "\\u0000"}', "null", "[]"]),
                ),
                "sku": form_values,
                "barcode": form_values,
                "reorder_point": form_values,
                "name": form_values,
            },
        )
    )
    def test_random_values_in_the_variant_form_never_give_a_server_error(self, values):
        variants, _ = shop()
        data = {
            "product": variants[0].product_id,
            "sku": "TEE",
            "tracked": "on",
            "listings-TOTAL_FORMS": "0",
            "listings-INITIAL_FORMS": "0",
            **values,
        }
        self.post(reverse("admin:inventory_variant_change", args=[variants[0].pk]), data)
        for variant in Variant.objects.all():
            assert isinstance(variant.options, dict)
        export = self.client.post(reverse("admin:inventory_variant_export"), {"format": "0"})
        assert export.status_code == 200

    @BOUNDED
    @given(code=form_values, name=form_values)
    def test_random_location_codes_never_give_a_server_error_nor_twins_by_case(self, code, name):
        shop()
        data = {"code": code, "name": name, "kind": "warehouse", "active": "on"}
        self.post(reverse("admin:inventory_location_add"), data)
        codes = [c.upper() for c in Location.objects.values_list("code", flat=True)]
        assert len(codes) == len(set(codes))

    @BOUNDED
    @given(body=rows)
    def test_random_stock_files_uploaded_in_the_admin_never_give_a_server_error(self, body):
        shop()
        data = csv_file(STOCK_HEADERS, body)
        upload = SimpleUploadedFile("stock.csv", data)
        self.post(
            reverse("admin:inventory_stocklevel_import"), {"import_file": upload, "mode": "count"}
        )
        assert ledger_mismatches() == []
