"""List filters of the catalog and stock lists."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from inventory import selectors


class ArchivedFilter(admin.SimpleListFilter):
    """Archived (discontinued) rows are hidden until asked for: ?archived=yes shows them
    alone, ?archived=all everything."""

    title = _("archived")
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("yes", _("Archived")), ("all", _("All, archived too"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Active (not archived)"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(archived_at__isnull=True)


class StockStatusFilter(admin.SimpleListFilter):
    title = _("stock status")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("out", "Out of stock (available ≤ 0)"),
            ("low", "At or below reorder point"),
            ("in", "In stock"),
            ("untracked", "Not tracked (no limit)"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        tracked = queryset.filter(tracked=True)
        out = selectors.variant_ids_out_of_stock() if value in ("out", "in") else None
        if value == "out":
            if out is not None:  # the usual case: a few out of stock, found in one pass
                return tracked.filter(pk__in=out)
            return tracked.filter(available_total__lte=0)
        if value == "low":
            # One grouped join of the variants with a reorder point (as on the dashboard), not
            # the changelist's per-variant sums evaluated for each of them.
            return queryset.filter(pk__in=selectors.variants_to_reorder().values("pk"))
        if value == "in":
            if out is not None:
                return tracked.exclude(pk__in=out)
            return tracked.filter(available_total__gt=0)
        if value == "untracked":
            return queryset.filter(tracked=False)
        return queryset


class LevelAvailableFilter(admin.SimpleListFilter):
    """Stock levels by what is available there: ?available=le0 the tracked, active variants
    at or below zero (with ?location__id__exact=<id>: at one location, as the dashboard's
    "at or below 0" counts them, see selectors.stock_by_location)."""

    title = _("available")
    parameter_name = "available"

    def lookups(self, request, model_admin):
        return [("le0", _("At or below 0 (tracked)")), ("gt0", _("Above 0"))]

    def queryset(self, request, queryset):
        if self.value() == "le0":
            return queryset.filter(selectors.level_out_of_stock())
        if self.value() == "gt0":
            return queryset.filter(available__gt=0)
        return queryset
