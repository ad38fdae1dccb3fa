"""Push records, read-only for everyone like the ledger: what each channel was sent and
answered, item by item, linked to the ledger entries its quantities reflect; and on each
ledger entry, the pushes that carried it to the channels."""

import contextlib
import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from connectors.models import Listing, PushRecord, shown_quantity
from inventory.admin.ledger import StockTransactionAdmin
from inventory.admin.readonly import ReadOnlyMixin
from inventory.display import clipped, when
from inventory.models import StockTransaction

CARRIED_SHOWN = 20  # pushes listed on a ledger entry's page


class PurposeFilter(admin.SimpleListFilter):
    """Fixed choices: the default filter lists the values found, a scan of every record."""

    title = "purpose"
    parameter_name = "purpose"
    MAIN = ("write", "read", "auth")

    def lookups(self, request, model_admin):
        return [
            ("write", "Write"),
            ("read", "Read"),
            ("auth", "Authenticate"),
            ("setup", "Setup calls"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "setup":
            return queryset.exclude(purpose__in=self.MAIN)
        return queryset.filter(purpose=self.value()) if self.value() else queryset


class HTTPStatusFilter(admin.SimpleListFilter):
    """Classes of HTTP status (or one exact code, ?status=201), without scanning for them."""

    title = "HTTP status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [
            ("2xx", "2xx success"),
            ("4xx", "4xx refused"),
            ("5xx", "5xx server error"),
            ("none", "No answer"),
        ]

    def queryset(self, request, queryset):
        value = self.value() or ""
        if value == "none":
            return queryset.filter(status__isnull=True)
        if len(value) == 3 and value.endswith("xx") and value[0].isdigit():
            low = int(value[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset.filter(status=int(value)) if value.isdigit() else queryset


def _pretty(text):
    with contextlib.suppress(TypeError, ValueError):  # not JSON: shown as it came
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text or "—")


def ledger_link(entry_id):
    if entry_id is None:
        return "—"
    url = reverse("admin:inventory_stocktransaction_change", args=[entry_id])
    return format_html('<a href="{}">ledger entry #{}</a>', url, entry_id)


@admin.register(PushRecord)
class PushRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What each channel was sent and answered is the record "why does it show 7?" rests on:
    nobody edits or deletes it, like the ledger."""

    list_display = (
        "id",
        "created_at",
        "channel",
        "purpose",
        "method",
        "status",
        "outcome",
        "duration_ms",
        "attempt",
        "ledger_entry",
    )
    list_select_related = ("channel",)
    # No date hierarchy and no filter listing the values found: each of them read every
    # record (0.1-0.2 s each at 250,000 records), and the records only ever grow.
    list_filter = ("channel", "outcome", HTTPStatusFilter, PurposeFilter, "created_at")
    search_fields = ("=id", "url", "listings__variant__sku")
    show_full_result_count = False
    fields = (
        "channel",
        "created_at",
        "purpose",
        "method",
        "url",
        "status",
        "outcome",
        "error_shown",
        "duration_ms",
        "attempt",
        "ledger_entry",
        "items_table",
        "request_headers_pretty",
        "request_body_pretty",
        "response_body_pretty",
    )
    readonly_fields = fields

    @admin.display(description="error")
    def error_shown(self, obj):
        return clipped(obj.error, 400, empty="none")

    @admin.display(description="ledger entry", ordering="ledger_entry_id")
    def ledger_entry(self, obj):
        return ledger_link(obj.ledger_entry_id)

    @admin.display(description="outcome per item")
    def items_table(self, obj):
        if not obj.items:
            return "—"
        listings = {listing.pk: listing for listing in obj.listings.select_related("variant")}
        rows = [
            (
                _item_listing(item, listings),
                shown_quantity(item.get("target", item.get("quantity"))),
                _item_result(item),
                ledger_link(item.get("ledger_entry")),
            )
            for item in obj.items
            if isinstance(item, dict)
        ]
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="push-items"><thead><tr><th>SKU</th><th>Sent</th><th>Result</th>'
            "<th>Reflects</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="request headers")
    def request_headers_pretty(self, obj):
        return _pretty(json.dumps(obj.request_headers))

    @admin.display(description="request body")
    def request_body_pretty(self, obj):
        return _pretty(obj.request_body)

    @admin.display(description="response body")
    def response_body_pretty(self, obj):
        return _pretty(obj.response_body)


def _item_listing(item, listings):
    """The item's SKU, linked to its listing (the SKU as stored with the record, which stays
    true after the listing is gone)."""
    key = item.get("key")
    listing = listings.get(key) if isinstance(key, int) else None
    sku = item.get("sku") or (listing.variant.sku if listing else None)
    if listing is None:
        return sku or "a listing since removed"
    url = reverse("admin:connectors_listing_change", args=[listing.pk])
    return format_html('<a href="{}">{}</a>', url, sku)


def _item_result(item):
    if "matches" in item:  # a shadow comparison
        return f"channel shows {shown_quantity(item.get('channel_shows'))}" + (
            " (matches)" if item.get("matches") else " (differs)"
        )
    if item.get("ok"):
        return f"confirmed: shows {shown_quantity(item.get('quantity'))}"
    if "ok" not in item:
        return "not sent"
    message = item.get("message") or ""
    what = "not applied, tried again" if item.get("retry") else "refused"
    return format_html("{}: {}", what, clipped(message))


def pushes_carrying(entry, limit=CARRIED_SHOWN):
    """The first write to each channel whose quantity for this entry's variant reflects the
    entry (or a later one): the push that carried it there."""
    candidates = (
        PushRecord.objects.filter(
            purpose="write",
            outcome__in=[PushRecord.Outcome.OK, PushRecord.Outcome.PARTIAL],
            ledger_entry_id__gte=entry.pk,
            listings__variant_id=entry.variant_id,
            channel__locations=entry.location_id,  # a channel that sells where it moved
        )
        .select_related("channel")
        .order_by("pk")
        .distinct()
    )
    listings = set(Listing.objects.filter(variant_id=entry.variant_id).values_list("pk", flat=True))
    first = {}
    for record in candidates[: limit * 10]:
        carried = any(
            isinstance(i, dict)
            and i.get("ok")
            and i.get("key") in listings
            and (i.get("ledger_entry") or 0) >= entry.pk
            for i in record.items
        )
        if carried and record.channel_id not in first:
            first[record.channel_id] = record
        if len(first) >= limit:
            break
    return list(first.values())


class LedgerWithPushesAdmin(StockTransactionAdmin):
    """The inventory app's ledger entry page, with the pushes that carried it."""

    readonly_fields = [*StockTransactionAdmin.readonly_fields, "carried_by"]

    @admin.display(description="pushed to the channels by")
    def carried_by(self, obj):
        records = pushes_carrying(obj)
        if not records:
            return "No push carries it yet (or no channel sells this variant here)."
        rows = [
            (
                record.channel.name,
                reverse("admin:connectors_pushrecord_change", args=[record.pk]),
                record.pk,
                when(record.created_at),
            )
            for record in records
        ]
        return format_html_join(mark_safe("<br>"), '{}: <a href="{}">push #{}</a> at {}', rows)


admin.site.unregister(StockTransaction)
admin.site.register(StockTransaction, LedgerWithPushesAdmin)
