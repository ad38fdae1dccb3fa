"""Products, variants and locations, with the stock-changing views hung off the variant."""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from inventory import selectors
from inventory.admin.history import stock_history_html
from inventory.admin.imports import SpreadsheetAdminMixin
from inventory.exceptions import InventoryError
from inventory.forms import AdjustStockForm, MoveStockForm
from inventory.imports.catalog import CatalogExportResource, CatalogResource
from inventory.imports.locations import LocationResource
from inventory.models import Location, Product, Source, Variant
from inventory.services import stock_apply
from inventory.signals import SELLING_RULES, selling_rules_changed


class VariantInline(admin.TabularInline):
    model = Variant
    fields = ("sku", "name", "barcode", "options", "tracked", "allow_backorder", "reorder_point")
    extra = 0
    show_change_link = True


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "variant_count", "updated_at")
    search_fields = ("name", "variants__sku", "variants__barcode")
    inlines = [VariantInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(variant_count=Count("variants"))

    @admin.display(description="variants", ordering="variant_count")
    def variant_count(self, obj):
        return obj.variant_count


class StockStatusFilter(admin.SimpleListFilter):
    title = "stock status"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("out", "Out of stock (available ≤ 0)"),
            ("low", "At or below reorder point"),
            ("in", "In stock"),
            ("untracked", "Untracked (infinite)"),
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


@admin.register(Variant)
class VariantAdmin(SpreadsheetAdminMixin, admin.ModelAdmin):
    list_display = (
        "sku",
        "variant_name",
        "product",
        "barcode",
        "tracked",
        "on_hand_total",
        "allocated_total",
        "available_total",
    )
    list_select_related = ("product",)
    search_fields = ("sku", "barcode", "name", "product__name")
    list_filter = (StockStatusFilter, "tracked", "allow_backorder")
    autocomplete_fields = ("product",)
    readonly_fields = ("stock_by_location", "stock_history", "recent_movements")
    fieldsets = (
        (None, {"fields": ("product", "sku", "name", "barcode", "options")}),
        ("Selling rules", {"fields": ("tracked", "allow_backorder", "reorder_point")}),
        ("Stock", {"fields": ("stock_by_location", "stock_history", "recent_movements")}),
    )
    actions = ["adjust_selected", "move_selected"]
    show_full_result_count = False
    sheet_import_resource = CatalogResource
    sheet_export_resource = CatalogExportResource

    def get_queryset(self, request):
        return selectors.variants_with_totals(super().get_queryset(request))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and set(SELLING_RULES) & set(form.changed_data):
            selling_rules_changed.send(sender=Variant, variant_ids=frozenset([obj.pk]))

    @admin.display(description="name", ordering="name")
    def variant_name(self, obj):
        return obj.display_name

    @admin.display(description="on hand", ordering="on_hand_total")
    def on_hand_total(self, obj):
        return obj.on_hand_total

    @admin.display(description="allocated", ordering="allocated_total")
    def allocated_total(self, obj):
        return obj.allocated_total

    @admin.display(description="available", ordering="available_total")
    def available_total(self, obj):
        return obj.available_total

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
                    lv.on_hand if lv else 0,
                    lv.allocated if lv else 0,
                    lv.available if lv else 0,
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
        txs = selectors.recent_transactions(variant=obj, limit=20)
        if not txs:
            return "No movements yet."
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    tx.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    reverse("admin:inventory_movement_change", args=[tx.movement_id]),
                    tx.movement_id,
                    tx.location.code,
                    tx.get_action_display(),
                    tx.quantity,
                    f"{tx.on_hand_change:+d}",
                    tx.on_hand_after,
                    tx.available_after,
                    tx.movement.get_source_display(),
                    tx.movement.reason or tx.movement.reference or "",
                )
                for tx in txs
            ),
        )
        ledger = (
            reverse("admin:inventory_stocktransaction_changelist") + f"?variant__id__exact={obj.pk}"
        )
        return format_html(
            '<table class="recent-movements"><thead><tr><th>When</th><th>Movement</th>'
            "<th>Location</th><th>Action</th><th>Qty</th><th>On hand ±</th><th>On hand</th>"
            "<th>Available</th><th>Source</th><th>Reason</th></tr></thead><tbody>{}</tbody>"
            '</table><p><a href="{}">Whole ledger of this variant</a></p>',
            rows,
            ledger,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        extra_context["can_adjust"] = self.has_adjust_stock_permission(request)
        extra_context["can_move"] = self.has_move_stock_permission(request)
        return super().change_view(request, object_id, form_url, extra_context)

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
        return self._stock_view(request, list(queryset), AdjustStockForm, action="adjust_selected")

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
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": ("Adjust stock" if form_class is AdjustStockForm else "Move stock")
            + (f": {variants[0].sku}" if single else f" of {len(variants)} variants"),
            "form": form,
            "variants": variants,
            "levels": selectors.variant_levels(variants[0]) if single else None,
            "action": action,
        }
        return TemplateResponse(request, "admin/inventory/stock_form.html", context)

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
        more = "" if len(result.transactions) <= 10 else f" (+{len(result.transactions) - 10} more)"
        self.message_user(request, f"Movement #{movement.pk} recorded. " + "; ".join(parts) + more)


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
