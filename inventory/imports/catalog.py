"""Catalog files: products and their variants, created or updated by SKU.

Columns: product (the product's name), sku, name (the variant's; blank means the product's),
and optionally barcode, tracked, allow_backorder, reorder_point and option columns named
`option:<name>` (e.g. option:size). Rows naming the same product share it; a product is found
by its name (or, for an existing SKU, is the one the variant has when the names agree), else
created. Only the columns present are written: a file without a barcode column keeps the
barcodes. The whole file is written or none of it.
"""

import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from import_export import fields, resources
from import_export.results import RowResult

from inventory.imports.base import Column, Problem, SheetResource
from inventory.imports.cells import (
    CellError,
    boolean,
    is_blank,
    text,
    whole_number,
    within_limit,
)
from inventory.models import Product, Variant, options_of
from inventory.selectors import variants_by_sku
from inventory.signals import SELLING_RULES, selling_rules_changed

NEW, UPDATE = RowResult.IMPORT_TYPE_NEW, RowResult.IMPORT_TYPE_UPDATE
OPTION_PREFIX = "option:"
MAX_SHOWN = 500
# (field, column, default for a new variant) for the optional variant columns.
OPTIONAL = (
    ("barcode", "barcode", ""),
    ("tracked", "tracked", True),
    ("allow_backorder", "allow_backorder", False),
    ("reorder_point", "reorder_point", None),
)
WRITTEN = ("product", "name", "barcode", "options", "tracked", "allow_backorder", "reorder_point")


def option_name(header):
    return header[len(OPTION_PREFIX) :].strip()


class CatalogResource(SheetResource):
    """Products and variants (by SKU)."""

    columns = (
        Column("product", required=True),
        Column("sku", required=True),
        Column("name", required=True),
        Column("barcode"),
        Column("tracked"),
        Column("allow_backorder"),
        Column("reorder_point"),
    )
    diff_headers = ("sku", "product", "name", "what changes")

    def extra_column(self, name):
        return name.startswith(OPTION_PREFIX) and bool(option_name(name))

    def columns_text(self):
        return super().columns_text() + f", and option columns such as {OPTION_PREFIX}size"

    def import_rows(self, dataset, found, result, *, dry_run, progress, **kwargs):
        rows = self._parse(dataset, found, result, progress)
        existing = variants_by_sku(
            {r["sku"] for r in rows},
            "product_id",
            "name",
            "barcode",
            "options",
            "tracked",
            "allow_backorder",
            "reorder_point",
        )
        products = self._products(rows, existing, result)
        if result.refused:
            return
        progress("writing", 0, len(rows))
        with transaction.atomic():
            created_products = self._create_products(products)
            changed = self._variants(rows, existing, products, found, result)
            if changed:
                Variant.objects.bulk_create(
                    changed,
                    batch_size=2000,
                    update_conflicts=True,
                    unique_fields=["sku"],
                    update_fields=[*WRITTEN, "updated_at"],
                )
                ruled = frozenset(
                    existing[v.sku][0]
                    for v in changed
                    if v.sku in existing and _rules_changed(existing[v.sku], v)
                )
                if ruled:
                    selling_rules_changed.send(sender=Variant, variant_ids=ruled)
        progress("writing", len(rows), len(rows))
        if created_products:
            result.notes.append(f"{created_products} new products")
        result.count_unchanged()

    def _parse(self, dataset, found, result, progress):
        options = {name: index for name, index in found.items() if self.extra_column(name)}
        rows, first_row = [], {}
        for number, cells in self.body(dataset, progress):
            result.rows_read += 1
            row = {"number": number, "options": {}}
            problems = []
            for column, limit in (("product", 255), ("sku", 64), ("name", 255)):
                value = text(cells[found[column]])
                row[column] = value
                if column != "name" and not value:
                    problems.append(
                        Problem(
                            number,
                            column,
                            "",
                            f"is empty: every row needs a "
                            f"{'SKU' if column == 'sku' else 'product name'}",
                        )
                    )
                elif len(value) > limit:
                    problems.append(
                        Problem(number, column, value, f"is longer than {limit} characters")
                    )
            self._optional(cells, found, row, problems)
            for header, index in options.items():
                value = text(cells[index])
                row["options"][option_name(header)] = value
            if row["sku"]:
                first = first_row.setdefault(row["sku"], number)
                if first != number:
                    problems.append(
                        Problem(
                            number,
                            "sku",
                            row["sku"],
                            f"appears again (first on row {first}): put each SKU on one row",
                        )
                    )
            for problem in problems:
                result.add_problem(problem)
            if not problems:
                rows.append(row)
        return rows

    def _optional(self, cells, found, row, problems):
        number = row["number"]
        for field, column, _ in OPTIONAL:
            if column not in found:
                continue
            cell = cells[found[column]]
            if field == "barcode":
                row[field] = text(cell)
                if len(row[field]) > 64:
                    problems.append(Problem(number, column, row[field], "is longer than 64"))
                continue
            if is_blank(cell):
                continue  # keep what the variant has (or the default, for a new one)
            try:
                if field == "reorder_point":
                    value = within_limit(whole_number(cell), settings.STOCK_MAX_QUANTITY)
                else:
                    value = boolean(cell)
            except CellError as exc:
                problems.append(Problem(number, column, text(cell), str(exc)))
                continue
            if field == "reorder_point" and value < 0:
                problems.append(Problem(number, column, text(cell), "is negative"))
            row[field] = value

    def _products(self, rows, existing, result):
        """{product name: Product id or None (to create)}, refusing names that are ambiguous."""
        names = {r["product"] for r in rows}
        by_name = {}
        for pk, name in Product.objects.filter(name__in=names).values_list("pk", "name"):
            by_name.setdefault(name, []).append(pk)
        products = {}
        for r in rows:  # first the names an existing variant's own product carries
            current = existing.get(r["sku"])
            if current is not None and current[1] in by_name.get(r["product"], ()):
                products.setdefault(r["product"], current[1])
        for r in rows:
            name = r["product"]
            if name in products:
                continue
            candidates = by_name.get(name, [])
            if len(candidates) > 1:
                result.add_problem(
                    Problem(
                        r["number"],
                        "product",
                        name,
                        f"names {len(candidates)} products: "
                        "rename one of them in the admin so that each name is unique",
                    )
                )
            else:
                products[name] = candidates[0] if candidates else None
        return products

    def _create_products(self, products):
        new = [Product(name=name) for name, pk in products.items() if pk is None]
        for product in Product.objects.bulk_create(new, batch_size=2000):
            products[product.name] = product.pk
        return len(new)

    def _variants(self, rows, existing, products, found, result):
        """Variants to create or update (unchanged ones are left alone), and the preview."""
        now = timezone.now()
        changed = []
        for r in rows:
            current = existing.get(r["sku"])
            values = self._values(r, current, products[r["product"]])
            if current is not None and values == _current_values(current):
                continue
            import_type = NEW if current is None else UPDATE
            result.totals[import_type] += 1
            changed.append(Variant(sku=r["sku"], created_at=now, updated_at=now, **values))
            if len(result.rows) < MAX_SHOWN:
                what = "new" if current is None else _what_changed(current, values)
                row_result = self.changed_row(
                    import_type, [r["sku"], r["product"], values["name"], what]
                )
                row_result.number = r["number"]
                result.rows.append(row_result)
        return changed

    @staticmethod
    def _values(r, current, product_id):
        """The variant's fields after this row: the row's columns over what it has now."""
        if current is None:
            values = {field: default for field, _, default in OPTIONAL}
            values["options"] = {}
        else:
            values = _current_values(current)
            values["options"] = dict(values["options"])
        values["product_id"] = product_id
        values["name"] = r["name"]
        for field, _, _ in OPTIONAL:
            if field in r:
                values[field] = r[field]
        for option, value in r["options"].items():
            if value:
                values["options"][option] = value
            else:
                values["options"].pop(option, None)  # a blank cell removes the option
        return values


def _current_values(current):
    _, product_id, name, barcode, options, tracked, backorder, reorder_point = current
    if isinstance(options, str):  # raw SQL gets JSON as text (Django decodes it in the ORM)
        options = json.loads(options)
    return {
        "product_id": product_id,
        "name": name,
        "barcode": barcode,
        "options": options_of(options),
        "tracked": bool(tracked),
        "allow_backorder": bool(backorder),
        "reorder_point": reorder_point,
    }


def _rules_changed(current, variant):
    before = _current_values(current)
    return any(before[f] != getattr(variant, f) for f in SELLING_RULES)


def _what_changed(current, values):
    before = _current_values(current)
    changed = [f.removesuffix("_id") for f in values if values[f] != before.get(f)]
    return ", ".join(changed) or "—"


class CatalogExportResource(resources.ModelResource):
    """Products and variants, one row per variant, with an option column per option name."""

    product = fields.Field(attribute="product__name", column_name="product")
    sku = fields.Field(attribute="sku", column_name="sku")
    name = fields.Field(attribute="name", column_name="name")
    barcode = fields.Field(attribute="barcode", column_name="barcode")
    tracked = fields.Field(column_name="tracked")
    allow_backorder = fields.Field(column_name="allow_backorder")
    reorder_point = fields.Field(attribute="reorder_point", column_name="reorder_point")

    class Meta:
        model = Variant
        fields = (
            "product",
            "sku",
            "name",
            "barcode",
            "tracked",
            "allow_backorder",
            "reorder_point",
        )
        export_order = fields

    def dehydrate_tracked(self, variant):
        return "yes" if variant.tracked else "no"

    def dehydrate_allow_backorder(self, variant):
        return "yes" if variant.allow_backorder else "no"

    def filter_export(self, queryset, **kwargs):
        queryset = queryset.select_related("product")
        # One column per option name any exported variant has, in name order.
        options = queryset.order_by().values_list("options", flat=True)
        self.option_names = sorted(
            {name for o in options.iterator(chunk_size=5000) for name in options_of(o)}
        )
        return queryset

    def get_export_headers(self, selected_fields=None):
        headers = super().get_export_headers(selected_fields)
        return headers + [OPTION_PREFIX + name for name in getattr(self, "option_names", [])]

    def export_resource(self, instance, selected_fields=None, **kwargs):
        row = super().export_resource(instance, selected_fields, **kwargs)
        options = options_of(instance.options)
        return row + [options.get(name, "") for name in getattr(self, "option_names", [])]
