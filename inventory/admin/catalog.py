"""Products, variants and locations, with the stock-changing views hung off the variant."""

import uuid

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, F, Q, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from inventory import selectors
from inventory.admin.archive import ArchiveAdminMixin
from inventory.admin.filters import StockStatusFilter
from inventory.admin.history import stock_history_html
from inventory.admin.imports import SpreadsheetAdminMixin
from inventory.display import clipped, quantity, when
from inventory.exceptions import InventoryError, StockRefused
from inventory.forms import AdjustStockForm, BulkAdjustForm, MoveStockForm
from inventory.imports.catalog import CatalogExportResource, CatalogResource
from inventory.imports.locations import LocationResource
from inventory.models import Location, Product, Source, Variant
from inventory.services import (
    product_archive,
    product_restore,
    stock_apply,
    variant_archive,
    variant_restore,
)
from inventory.signals import SELLING_RULES, selling_rules_changed

UNTRACKED_SORT = 2**31  # above any available stock: untracked variants have no limit


def available_words(tracked, available):
    """Available stock as staff read it: "not tracked" for a variant without a limit."""
    return "not tracked" if not tracked else quantity(available)


def level_words(variant, level):
    """One variant's stock at one location, for the bulk adjust form's table."""
    if level is None:
        return "—"
    words = f"{quantity(level.on_hand)} on hand"
    if level.allocated:
        words += f", {quantity(level.allocated)} allocated"
    if not variant.tracked:
        return words + " (not tracked)"
    return f"{quantity(level.available)} available · {words}"


def refused_words(refused, given):
    return ngettext(
        "%(n)s line of %(of)s refused, nothing applied: correct it (marked below) and apply again.",
        "%(n)s lines of %(of)s refused, nothing applied: correct them (marked below) and "
        "apply again.",
        refused,
    ) % {"n": refused, "of": given}


def recent_movements_html(variant, limit=20):
    """The variant's newest ledger entries as a table, and a link to all of them."""
    txs = selectors.recent_transactions(variant=variant, limit=limit)
    if not txs:
        return "No movements yet."
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                when(tx.created_at),
                reverse("admin:inventory_movement_change", args=[tx.movement_id]),
                tx.movement_id,
                tx.location.code,
                tx.get_action_display(),
                tx.quantity,
                f"{tx.on_hand_change:+d}",
                tx.on_hand_after,
                tx.available_after,
                tx.movement.get_source_display(),
                clipped(tx.movement.reason or tx.movement.reference, empty=""),
            )
            for tx in txs
        ),
    )
    ledger = (
        reverse("admin:inventory_stocktransaction_changelist") + f"?variant__id__exact={variant.pk}"
    )
    return format_html(
        '<table class="recent-movements"><thead><tr><th>When</th><th>Movement</th>'
        "<th>Location</th><th>Action</th><th>Qty</th><th>On hand ±</th><th>On hand</th>"
        "<th>Available</th><th>Source</th><th>Reason</th></tr></thead><tbody>{}</tbody>"
        '</table><p><a href="{}">Whole ledger of {}</a></p>',
        rows,
        ledger,
        variant.sku,
    )


class VariantInline(admin.TabularInline):
    model = Variant
    fields = (
        "sku",
        "name",
        "barcode",
        "options",
        "tracked",
        "allow_backorder",
        "reorder_point",
        "state",
    )
    readonly_fields = ("state",)
    extra = 0
    show_change_link = True
    # Narrow inputs, so that the seven columns fit at 1,280 pixels whatever the names' length.
    widths = {"sku": 14, "name": 22, "barcode": 13, "reorder_point": 5}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in self.widths:
            field.widget.attrs.update(size=self.widths[db_field.name], style="width: auto")
        if field is not None and db_field.name == "options":
            field.widget.attrs.update(rows=1, cols=18, style="width: auto")
        return field

    @admin.display(description="state")
    def state(self, obj):
        if obj.pk is None:
            return ""
        return f"archived {when(obj.archived_at)}" if obj.archived else "active"


@admin.register(Product)
class ProductAdmin(ArchiveAdminMixin, admin.ModelAdmin):
    list_display = ("name", "variant_count", "updated_at")
    search_fields = ("name", "variants__sku", "variants__barcode")
    inlines = [VariantInline]
    actions = ["archive_keep_listed", "archive_unlist", "restore_selected"]
    readonly_fields = ("archived_at",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(variant_count=Count("variants"))

    @admin.display(description="variants", ordering="variant_count")
    def variant_count(self, obj):
        return obj.variant_count

    def archive_objects(self, objects, *, unlist):
        return product_archive(products=objects, unlist=unlist)

    def restore_objects(self, objects):
        return product_restore(products=objects)


@admin.register(Variant)
class VariantAdmin(ArchiveAdminMixin, SpreadsheetAdminMixin, admin.ModelAdmin):
    # Available right after the names, and no barcode or tracked columns (a search finds a
    # barcode; "not tracked" reads in the stock columns): it stays in view at 1,280 pixels.
    list_display = ("sku", "variant_name", "available_total", "on_hand_total", "allocated_total")
    list_select_related = ("product",)
    search_fields = ("sku", "barcode", "name", "product__name")
    list_filter = (StockStatusFilter, "tracked", "allow_backorder")
    autocomplete_fields = ("product",)
    readonly_fields = ("stock_by_location", "stock_history", "recent_movements", "archived_at")
    fieldsets = (
        (None, {"fields": ("product", "sku", "name", "barcode", "options")}),
        ("Selling rules", {"fields": ("tracked", "allow_backorder", "reorder_point")}),
        ("Stock", {"fields": ("stock_by_location", "stock_history", "recent_movements")}),
    )
    actions = [
        "adjust_selected",
        "move_selected",
        "archive_keep_listed",
        "archive_unlist",
        "restore_selected",
    ]
    show_full_result_count = False
    sheet_import_resource = CatalogResource
    sheet_export_resource = CatalogExportResource
    change_list_template = "admin/inventory/variant/change_list.html"

    def get_queryset(self, request):
        return selectors.variants_with_totals(super().get_queryset(request)).annotate(
            # Untracked variants have no limit: they sort above every stock, never as out of it.
            available_sort=Case(
                When(tracked=False, then=Value(UNTRACKED_SORT)), default=F("available_total")
            )
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and set(SELLING_RULES) & set(form.changed_data):
            selling_rules_changed.send(sender=Variant, variant_ids=frozenset([obj.pk]))

    def archive_objects(self, objects, *, unlist):
        return variant_archive(variants=objects, unlist=unlist)

    def restore_objects(self, objects):
        return variant_restore(variants=objects)

    @admin.display(description="name", ordering="name")
    def variant_name(self, obj):
        if obj.name and obj.name != obj.product.name:
            return format_html(
                '<span class="variant-name">{}</span><br><span class="quiet">{}</span>',
                obj.name,
                obj.product.name,
            )
        return format_html('<span class="variant-name">{}</span>', obj.product.name)

    @admin.display(description="on hand", ordering="on_hand_total")
    def on_hand_total(self, obj):
        return quantity(obj.on_hand_total)

    @admin.display(description="allocated", ordering="allocated_total")
    def allocated_total(self, obj):
        return quantity(obj.allocated_total)

    @admin.display(description="available", ordering="available_sort")
    def available_total(self, obj):
        return available_words(obj.tracked, obj.available_total)

    # ------------------------------------------------------------------ change page

    @admin.display(description="stock by location")
    def stock_by_location(self, obj):
        if obj.pk is None:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{loc.code} · {loc.name}",
                    loc.get_kind_display(),
                    quantity(lv.on_hand if lv else 0),
                    quantity(lv.allocated if lv else 0),
                    available_words(obj.tracked, lv.available if lv else 0),
                )
                for loc, lv in selectors.variant_levels(obj)
            ),
        )
        return format_html(
            '<table class="stock-levels"><thead><tr><th>Location</th><th>Kind</th>'
            "<th>On hand</th><th>Allocated</th><th>Available</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="stock history")
    def stock_history(self, obj):
        # Drawn by render_change_form, which has the request: the range the URL asks for.
        return getattr(obj, "stock_history_html", "—")

    @admin.display(description="recent movements")
    def recent_movements(self, obj):
        if obj.pk is None:
            return "—"
        return recent_movements_html(obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        extra_context["can_adjust"] = self.has_adjust_stock_permission(request)
        extra_context["can_move"] = self.has_move_stock_permission(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        """Django's change history of the variant's record, and its stock changes: a variant
        whose record was never edited here still has a history, in the ledger."""
        variant = self.get_object(request, unquote(object_id))
        extra_context = extra_context or {}
        if variant is not None:
            extra_context["stock_changes"] = recent_movements_html(variant)
            extra_context["stock_change_count"] = variant.transactions.count()
        return super().history_view(request, object_id, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            obj.stock_history_html = stock_history_html(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # ------------------------------------------------------------------ stock views

    def has_adjust_stock_permission(self, request):
        return request.user.has_perm("inventory.adjust_stock")

    def has_move_stock_permission(self, request):
        return request.user.has_perm("inventory.move_stock")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/adjust/", wrap(self.adjust_view), name="inventory_variant_adjust"),
            path("<int:pk>/move/", wrap(self.move_view), name="inventory_variant_move"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk):
        if not self.has_adjust_stock_permission(request):
            raise PermissionDenied
        return self._stock_view(request, [get_object_or_404(Variant, pk=pk)], AdjustStockForm)

    def move_view(self, request, pk):
        if not self.has_move_stock_permission(request):
            raise PermissionDenied
        return self._stock_view(request, [get_object_or_404(Variant, pk=pk)], MoveStockForm)

    @admin.action(description="Adjust stock of selected variants", permissions=["adjust_stock"])
    def adjust_selected(self, request, queryset):
        return self._bulk_adjust_view(request, list(queryset.order_by("sku")))

    @admin.action(description="Move stock of selected variants", permissions=["move_stock"])
    def move_selected(self, request, queryset):
        return self._stock_view(request, list(queryset), MoveStockForm, action="move_selected")

    def _stock_view(self, request, variants, form_class, action=None):
        """Show the form; on a valid submission apply it through the stock service."""
        single = len(variants) == 1
        seen = None
        if single and form_class is AdjustStockForm:
            seen = {
                loc.pk: (lv.on_hand if lv else 0)
                for loc, lv in selectors.variant_levels(variants[0])
            }
        submitted = request.method == "POST" and "apply" in request.POST
        extra = {"seen_levels": seen} if form_class is AdjustStockForm else {}
        form = form_class(
            request.POST if submitted else None,
            token=None if submitted else uuid.uuid4().hex,
            **extra,
        )
        if submitted and form.is_valid():
            token = form.cleaned_data["token"]
            try:
                result = stock_apply(
                    lines=form.stock_lines([v.pk for v in variants]),
                    source=Source.ADMIN,
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                    key=f"admin-{token}" if token else None,
                )
            except InventoryError as exc:
                form.add_error(None, str(exc))
            else:
                self._report(request, result, variants)
                if single and action is None:
                    return redirect("admin:inventory_variant_change", variants[0].pk)
                return redirect("admin:inventory_variant_changelist")
        verb = "Adjust stock" if form_class is AdjustStockForm else "Move stock"
        title = f"{verb}: {variants[0].sku}" if single else f"{verb} of {self._count(variants)}"
        levels = None
        if single:
            levels = [
                (loc, lv, available_words(variants[0].tracked, lv.available if lv else 0))
                for loc, lv in selectors.variant_levels(variants[0])
            ]
        return self._stock_page(request, form, variants, title=title, levels=levels, action=action)

    def _bulk_adjust_view(self, request, variants):
        """The bulk adjust form: each selected variant's stock per location and a quantity per
        line, one action, location and reason; applied as one movement, all or nothing, each
        refused line named (and marked on its row)."""
        locations, levels = selectors.levels_by_variant(variants)
        submitted = request.method == "POST" and "apply" in request.POST
        form = BulkAdjustForm(
            request.POST if submitted else None,
            variants=variants,
            seen_levels={key: lv.on_hand for key, lv in levels.items()},
            token=None if submitted else uuid.uuid4().hex,
        )
        line_errors = {}
        if submitted and form.is_valid():
            token = form.cleaned_data["token"]
            given = form.stock_lines()
            try:
                result = stock_apply(
                    lines=[line for _, line in given],
                    source=Source.ADMIN,
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                    key=f"admin-{token}" if token else None,
                )
            except StockRefused as exc:
                for e in exc.errors:
                    line_errors[given[e.line - 1][0].pk] = e.message
                form.add_error(None, refused_words(len(exc.errors), len(given)))
            except InventoryError as exc:
                form.add_error(None, str(exc))
            else:
                self._report(request, result, [v for v, _ in given])
                return redirect("admin:inventory_variant_changelist")
        rows = [
            {
                "variant": variant,
                "field": field,
                "error": line_errors.get(variant.pk),
                "cells": [
                    level_words(variant, levels.get((variant.pk, loc.pk))) for loc in locations
                ],
            }
            for variant, field in form.rows()
        ]
        return self._stock_page(
            request,
            form,
            variants,
            title=f"Adjust stock of {self._count(variants)}",
            action="adjust_selected",
            bulk={"locations": locations, "rows": rows},
        )

    def _stock_page(self, request, form, variants, *, title, levels=None, action=None, bulk=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "variants": variants,
            "levels": levels,
            "bulk": bulk,
            "action": action,
            "archived": [v for v in variants if v.archived],
        }
        return TemplateResponse(request, "admin/inventory/stock_form.html", context)

    @staticmethod
    def _count(variants):
        n = len(variants)
        return ngettext("%(n)s variant", "%(n)s variants", n) % {"n": f"{n:,}"}

    def _report(self, request, result, variants):
        movement = result.movement
        if movement is None:
            self.message_user(request, "Nothing to change: the count equals what is on hand.")
            return
        if result.replayed:
            self.message_user(
                request,
                f"That change was already applied as movement #{movement.pk}.",
                messages.WARNING,
            )
            return
        skus = {v.pk: v.sku for v in variants}
        codes = dict(Location.objects.values_list("pk", "code"))
        parts = [
            f"{skus.get(tx.variant_id, tx.variant_id)} at {codes.get(tx.location_id)}: "
            f"on hand {tx.on_hand_after}, available {tx.available_after}"
            for tx in result.transactions[:10]
        ]
        rest = len(result.transactions) - 10
        more = ngettext(" (and %(n)s more)", " (and %(n)s more)", rest) % {"n": rest}
        self.message_user(
            request,
            f"Movement #{movement.pk} recorded. " + "; ".join(parts) + (more if rest > 0 else ""),
        )


@admin.register(Location)
class LocationAdmin(SpreadsheetAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "allow_negative", "active", "stocked_variants")
    list_filter = ("kind", "active", "allow_negative")
    search_fields = ("code", "name")
    sheet_import_resource = LocationResource
    import_permissions = ("inventory.add_location", "inventory.change_location")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(stocked=Count("levels", filter=Q(levels__on_hand__gt=0)))
        )

    @admin.display(description="variants in stock", ordering="stocked")
    def stocked_variants(self, obj):
        return obj.stocked
