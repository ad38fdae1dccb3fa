"""Sales coming back, in the admin: the channels' orders with their lines, deliveries and
movements, and every delivery as it arrived (read-only, like push records)."""

import json

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from connectors.admin.records import _pretty
from connectors.models import ChannelOrder, InboundRecord, OrderLine
from connectors.services.inbound import inbound_retry
from connectors.services.orders import order_reapply, order_retry_short
from inventory.admin.readonly import ReadOnlyMixin
from inventory.models import Movement


def _link(name, pk, text):
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{name}_change", args=[pk]), text)


class ShortFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("short", "Has short lines (oversold)"), ("attention", "Needs attention")]

    def queryset(self, request, queryset):
        if self.value() == "short":
            short = OrderLine.objects.filter(order=OuterRef("pk"), state=OrderLine.State.SHORT)
            return queryset.filter(Exists(short))
        if self.value() == "attention":
            return queryset.exclude(attention="")
        return queryset


class OrderLineInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderLine
    fields = ("line_id", "sku", "quantity", "location_code", "state", "note")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")

    @admin.display(description="location")
    def location_code(self, obj):
        return obj.location.code if obj.location else "—"


@admin.register(ChannelOrder)
class ChannelOrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Orders are the channels' record, not ours to edit: their stock follows them. Staff
    may ask for another try (short lines, an order held for a missing listing)."""

    list_display = ("remote_id", "channel", "status", "stage", "lines_shown", "placed_at", "held")
    list_select_related = ("channel",)
    list_filter = ("channel", "stage", ShortFilter)
    search_fields = ("=remote_id", "lines__sku")
    show_full_result_count = False
    fields = (
        "channel",
        "remote_id",
        "status",
        "stage",
        "placed_at",
        "remote_updated_at",
        "attention",
        "deliveries",
        "movements",
    )
    readonly_fields = (*fields,)
    inlines = [OrderLineInline]
    actions = ["retry"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines")

    @admin.display(description="lines")
    def lines_shown(self, obj):
        return ", ".join(
            f"{line.quantity} x {line.sku or line.remote_id}" for line in obj.lines.all()
        )

    @admin.display(description="held", boolean=False)
    def held(self, obj):
        if obj.attention:
            return "needs attention"
        short = sum(1 for line in obj.lines.all() if line.state == OrderLine.State.SHORT)
        return f"{short} short" if short else ""

    @admin.display(description="deliveries")
    def deliveries(self, obj):
        records = obj.inbound.order_by("pk")[:50]
        if not records:
            return "none (taken in by a poll)"
        return format_html_join(
            ", ",
            "{}",
            (
                (_link("connectors_inboundrecord", r.pk, f"{r.topic or 'delivery'} #{r.pk}"),)
                for r in records
            ),
        )

    @admin.display(description="movements")
    def movements(self, obj):
        found = Movement.objects.filter(reference=str(obj)[:255]).order_by("pk")
        if not found:
            return "none yet"
        return format_html_join(
            ", ",
            "{}",
            ((_link("inventory_movement", m.pk, f"#{m.pk} {m.reason}"),) for m in found),
        )

    def has_retry_permission(self, request):
        return request.user.has_perm("connectors.change_channelorder")

    @admin.action(
        description="Try again (allocate short lines; apply an order held for a listing)",
        permissions=["retry"],
    )
    def retry(self, request, queryset):
        for order in queryset.select_related("channel"):
            applied = order_reapply(order) if order.attention else order_retry_short(order)
            level = messages.WARNING if applied.attention else messages.INFO
            self.message_user(request, applied.summary, level)


@admin.register(InboundRecord)
class InboundRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every delivery from a channel as it arrived, whatever became of it: nobody edits or
    deletes it, like push records."""

    list_display = (
        "id",
        "received_at",
        "channel",
        "topic",
        "event_id",
        "signature",
        "status",
        "outcome_short",
    )
    list_select_related = ("channel",)
    list_filter = ("channel", "status", "signature", "received_at")
    search_fields = ("=id", "=event_id", "topic")
    show_full_result_count = False
    fields = (
        "channel",
        "received_at",
        "topic",
        "event_id",
        "signature",
        "verdict",
        "status",
        "attempts",
        "processed_at",
        "duplicate",
        "outcome_shown",
        "orders_shown",
        "movements_shown",
        "headers_pretty",
        "body_pretty",
    )
    readonly_fields = fields
    actions = ["process_again"]

    @admin.display(description="outcome")
    def outcome_short(self, obj):
        return (obj.outcome[:100] + "…") if len(obj.outcome) > 100 else obj.outcome

    @admin.display(description="outcome")
    def outcome_shown(self, obj):
        return format_html('<pre class="wrap">{}</pre>', obj.outcome or "—")

    @admin.display(description="duplicate of")
    def duplicate(self, obj):
        if obj.duplicate_of_id is None:
            return "—"
        return _link("connectors_inboundrecord", obj.duplicate_of_id, f"#{obj.duplicate_of_id}")

    @admin.display(description="orders")
    def orders_shown(self, obj):
        orders = obj.orders.select_related("channel")
        if not orders:
            return "—"
        return format_html_join(
            ", ", "{}", ((_link("connectors_channelorder", o.pk, str(o)),) for o in orders)
        )

    @admin.display(description="movements")
    def movements_shown(self, obj):
        found = obj.movements.order_by("pk")
        if not found:
            return "—"
        return format_html_join(
            ", ", "{}", ((_link("inventory_movement", m.pk, f"#{m.pk} {m.reason}"),) for m in found)
        )

    @admin.display(description="headers (secrets removed)")
    def headers_pretty(self, obj):
        return _pretty(json.dumps(obj.headers))

    @admin.display(description="body")
    def body_pretty(self, obj):
        return _pretty(obj.body)

    def has_process_again_permission(self, request):
        return request.user.has_perm("connectors.change_inboundrecord")

    @admin.action(
        description="Process again (a listing was added since)", permissions=["process_again"]
    )
    def process_again(self, request, queryset):
        again = [r for r in queryset if r.status in ("attention", "failed", "unreadable")]
        for record in again:
            inbound_retry(record)
        skipped = queryset.count() - len(again)
        note = f"; {skipped} left alone (processed, duplicate or refused)" if skipped else ""
        self.message_user(request, f"{len(again)} delivery(ies) queued again{note}")
