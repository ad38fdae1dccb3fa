"""Levels, movements and the ledger: read-only for everyone, superusers included."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from inventory.admin.filters import LevelAvailableFilter
from inventory.admin.imports import SpreadsheetAdminMixin, StockImportForm
from inventory.admin.readonly import ReadOnlyMixin
from inventory.exceptions import InventoryError
from inventory.imports.stock import StockExportResource, StockResource
from inventory.models import ImportJob, Movement, Source, StockLevel, StockTransaction
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
    # The SKU links to its variant (where stock is adjusted and its history drawn); the
    # location code opens the level itself. A row link around the SKU's would nest links.
    list_display_links = ("location",)
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


def movement_link(movement, text=None):
    """A link to a movement's page, reading its title ("Movement #12: Import of ...")."""
    url = reverse("admin:inventory_movement_change", args=[movement.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(movement))


class LedgerLineInline(ReadOnlyMixin, admin.TabularInline):
    model = StockTransaction
    fields = ("line", "sku", "location", "what", "change", "on_hand_after", "allocated_after")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        # A movement may have 100,000 lines: show the first 200 here, the rest in the ledger.
        qs = super().get_queryset(request).select_related("variant", "location")
        return qs.order_by("pk")

    @admin.display(description="SKU")
    def sku(self, obj):
        return _variant_link(obj.variant)

    @admin.display(description="action")
    def what(self, obj):
        return obj.what

    @admin.display(description="change")
    def change(self, obj):
        return obj.change


class ReverseForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        help_text="Why it is undone (e.g. “wrong file”, “counted the wrong shelf”): the "
        "reversal's title and the ledger keep it.",
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
        # Blank or spaces only (the field strips them) is refused, as on every stock form.
        error_messages={"required": "Give a reason: the ledger keeps why stock was changed."},
    )


@admin.register(Movement)
class MovementAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "created_at",
        "source",
        "reason",
        "reference",
        "user",
        "lines",
        "reversal_state",
    )
    list_display_links = ("number",)
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
        "reversal",
        "from_import",
        "idempotency_key",
        "line_count",
        "refused_lines",
        "ledger_link",
    )
    fields = readonly_fields
    inlines = [LedgerLineInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "reverses__user", "reversed_by__user")
        )

    def get_inlines(self, request, obj):
        return [LedgerLineInline] if obj is not None and obj.line_count <= 200 else []

    @admin.display(description="refused lines")
    def refused_lines(self, obj):
        """The lines a partial movement left out, one a row: "line 3, TEE-M at WH1: …"."""
        failed = [e for e in obj.failed_lines or [] if isinstance(e, dict)]
        if not failed:
            return "none"
        rows = []
        for error in failed[:200]:
            where = " at ".join(str(p) for p in (error.get("sku"), error.get("location")) if p)
            rows.append(
                (error.get("line", "?"), f", {where}" if where else "", error.get("message", ""))
            )
        shown = format_html_join(mark_safe("<br>"), "line {}{}: {}", rows)
        more = len(failed) - len(rows)
        if more > 0:
            return format_html("{}<br>and {} more", shown, f"{more:,}")
        return shown

    @admin.display(description="movement", ordering="pk")
    def number(self, obj):
        return f"Movement #{obj.pk}"

    @admin.display(description="lines", ordering="line_count")
    def lines(self, obj):
        return f"{obj.line_count:,}"

    @admin.display(description="reversal")
    def reversal_state(self, obj):
        parts = []
        if obj.reverses_id:
            parts.append(("reverses", obj.reverses))
        reversed_by = getattr(obj, "reversed_by", None)
        if reversed_by is not None:
            parts.append(("reversed by", reversed_by))
        return format_html_join(
            "; ",
            '{} <a href="{}">#{}</a>',
            ((w, reverse("admin:inventory_movement_change", args=[m.pk]), m.pk) for w, m in parts),
        )

    @admin.display(description="reversal")
    def reversal(self, obj):
        """ "Reverses Movement #3: ..." and "Reversed by Movement #5: ...", linked."""
        parts = []
        if obj.reverses_id:
            parts.append(format_html("Reverses {}", movement_link(obj.reverses)))
        reversed_by = getattr(obj, "reversed_by", None)
        if reversed_by is not None:
            parts.append(format_html("Reversed by {}", movement_link(reversed_by)))
        if not parts:
            return "Not reversed"
        return format_html_join(mark_safe("<br>"), "{}", ((p,) for p in parts))

    @admin.display(description="import")
    def from_import(self, obj):
        job = ImportJob.objects.filter(movement=obj).defer("data", "previewed").first()
        if job is None:
            return "—"
        url = reverse("admin:inventory_importjob_change", args=[job.pk])
        return format_html('<a href="{}">{}</a>', url, job)

    @admin.display(description="ledger lines")
    def ledger_link(self, obj):
        url = (
            reverse("admin:inventory_stocktransaction_changelist")
            + f"?movement__id__exact={obj.pk}"
        )
        text = ngettext("Its %(n)s ledger line", "All %(n)s ledger lines", obj.line_count) % {
            "n": f"{obj.line_count:,}"
        }
        return format_html('<a href="{}">{}</a>', url, text)

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
        """Undo a movement, with a reason; from an import's page, back to that page."""
        if not self._can_reverse(request):
            raise PermissionDenied
        movement = get_object_or_404(self.get_queryset(request), pk=pk)
        job = _import_of(request, movement)
        back = (
            redirect("admin:inventory_importjob_change", job.pk)
            if job is not None
            else redirect("admin:inventory_movement_change", movement.pk)
        )
        reversed_by = getattr(movement, "reversed_by", None)
        if reversed_by is not None:
            self.message_user(
                request,
                f"Movement #{movement.pk} was already reversed by movement #{reversed_by.pk}.",
                messages.WARNING,
            )
            return back
        form = ReverseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = movement_reverse(
                    movement=movement,
                    source=Source.ADMIN,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except InventoryError as exc:
                self.message_user(request, f"Not reversed: {exc}", messages.ERROR)
                return back
            if job is not None:
                self.message_user(
                    request,
                    f"Import of {job.file_name} undone: reversed by movement "
                    f"#{result.movement.pk}.",
                )
                return back
            self.message_user(
                request, f"Movement #{movement.pk} reversed by movement #{result.movement.pk}."
            )
            return redirect("admin:inventory_movement_change", result.movement.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Reverse movement #{movement.pk}?",
            "movement": movement,
            "form": form,
            "import_job": job,
            "lines": ngettext(
                "its %(n)s ledger line", "each of its %(n)s ledger lines", movement.line_count
            )
            % {"n": f"{movement.line_count:,}"},
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/inventory/movement_reverse.html", context)


def _import_of(request, movement):
    """The import whose page asked for this reversal (?import=<id>), if it is this movement's."""
    job_id = request.GET.get("import") or request.POST.get("import") or ""
    if not job_id.isdigit():
        return None
    return ImportJob.objects.filter(pk=int(job_id), movement=movement).defer("data").first()


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
        return format_html(
            '<a href="{}" title="{}">#{}</a>', url, obj.movement.title, obj.movement_id
        )

    @admin.display(description="source")
    def source(self, obj):
        return obj.movement.get_source_display()

    @admin.display(description="user")
    def user(self, obj):
        return obj.movement.user or ""
