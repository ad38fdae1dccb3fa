"""Levels, movements and the ledger: read-only for everyone, superusers included."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from inventory.admin.filters import LevelAvailableFilter
from inventory.admin.imports import SpreadsheetAdminMixin, StockImportForm
from inventory.admin.readonly import ReadOnlyMixin
from inventory.exceptions import InventoryError
from inventory.imports.stock import StockExportResource, StockResource
from inventory.models import Movement, Source, StockLevel, StockTransaction
from inventory.services import movement_reverse


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Viewable by those with view permission; nobody adds, edits or deletes here."""

    show_full_result_count = False


def _variant_link(variant):
    url = reverse("admin:inventory_variant_change", args=[variant.pk])
    return format_html('<a href="{}">{}</a>', url, variant.sku)


@admin.register(StockLevel)
class StockLevelAdmin(SpreadsheetAdminMixin, ReadOnlyAdmin):
    list_display = ("variant_sku", "location", "on_hand", "allocated", "available", "updated_at")
    list_select_related = ("variant", "location")
    list_filter = (LevelAvailableFilter, "location", "location__kind")
    search_fields = ("variant__sku", "variant__barcode", "variant__name")
    ordering = ("variant__sku", "location__code")
    # Levels change only through the stock service: an import is one movement.
    sheet_import_resource = StockResource
    sheet_export_resource = StockExportResource
    sheet_import_form = StockImportForm

    @admin.display(description="SKU", ordering="variant__sku")
    def variant_sku(self, obj):
        return _variant_link(obj.variant)


class LedgerLineInline(ReadOnlyMixin, admin.TabularInline):
    model = StockTransaction
    fields = (
        "line",
        "variant",
        "location",
        "action",
        "quantity",
        "on_hand_change",
        "allocated_change",
        "on_hand_after",
        "allocated_after",
        "group",
    )
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        # A movement may have 100,000 lines: show the first 200 here, the rest in the ledger.
        qs = super().get_queryset(request).select_related("variant", "location")
        return qs.order_by("pk")


@admin.register(Movement)
class MovementAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "created_at",
        "source",
        "reason",
        "reference",
        "user",
        "line_count",
        "reversal_state",
    )
    list_select_related = ("user", "reverses", "reversed_by")
    list_filter = ("source", "created_at")
    search_fields = ("=id", "reason", "reference", "idempotency_key")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "source",
        "user",
        "reason",
        "reference",
        "idempotency_key",
        "reverses",
        "line_count",
        "failed_lines",
        "ledger_link",
    )
    fields = readonly_fields
    inlines = [LedgerLineInline]

    def get_inlines(self, request, obj):
        return [LedgerLineInline] if obj is not None and obj.line_count <= 200 else []

    @admin.display(description="reversal")
    def reversal_state(self, obj):
        if obj.reverses_id:
            return f"reverses #{obj.reverses_id}"
        reversed_by = getattr(obj, "reversed_by", None)
        return f"reversed by #{reversed_by.pk}" if reversed_by else ""

    @admin.display(description="ledger lines")
    def ledger_link(self, obj):
        url = (
            reverse("admin:inventory_stocktransaction_changelist")
            + f"?movement__id__exact={obj.pk}"
        )
        return format_html('<a href="{}">All {} ledger lines</a>', url, obj.line_count)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/reverse/", wrap(self.reverse_view), name="inventory_movement_reverse"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_reverse": self._can_reverse(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _can_reverse(self, request):
        return request.user.has_perm("inventory.adjust_stock") and request.user.has_perm(
            "inventory.move_stock"
        )

    def reverse_view(self, request, pk):
        if not self._can_reverse(request):
            raise PermissionDenied
        movement = get_object_or_404(Movement, pk=pk)
        if request.method == "POST":
            try:
                result = movement_reverse(movement=movement, source=Source.ADMIN, user=request.user)
            except InventoryError as exc:
                self.message_user(request, f"Not reversed: {exc}", messages.ERROR)
                return redirect("admin:inventory_movement_change", movement.pk)
            self.message_user(
                request, f"Movement #{movement.pk} reversed by movement #{result.movement.pk}."
            )
            return redirect("admin:inventory_movement_change", result.movement.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Reverse movement #{movement.pk}?",
            "movement": movement,
        }
        return TemplateResponse(request, "admin/inventory/movement_reverse.html", context)


@admin.register(StockTransaction)
class StockTransactionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "variant_sku",
        "location",
        "action",
        "quantity",
        "on_hand_change",
        "allocated_change",
        "on_hand_after",
        "allocated_after",
        "movement_link",
        "source",
        "user",
    )
    list_select_related = ("variant", "location", "movement", "movement__user")
    list_filter = ("action", "movement__source", "location", "created_at")
    search_fields = ("variant__sku", "variant__barcode", "movement__reference", "movement__reason")
    readonly_fields = [f.name for f in StockTransaction._meta.fields]

    @admin.display(description="SKU", ordering="variant__sku")
    def variant_sku(self, obj):
        return _variant_link(obj.variant)

    @admin.display(description="movement", ordering="movement")
    def movement_link(self, obj):
        url = reverse("admin:inventory_movement_change", args=[obj.movement_id])
        return format_html('<a href="{}">#{}</a>', url, obj.movement_id)

    @admin.display(description="source")
    def source(self, obj):
        return obj.movement.get_source_display()

    @admin.display(description="user")
    def user(self, obj):
        return obj.movement.user or ""
