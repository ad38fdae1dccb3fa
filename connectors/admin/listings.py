"""Listings (also on each variant's page, with why each channel shows what it shows) and the
drifts a reconcile finds."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from connectors.admin.forms import ListingForm
from connectors.models import Drift, Listing, OrderLine, shown_quantity
from connectors.quantities import targets_for
from connectors.resources import ListingResource
from connectors.services.reconcile import drift_accept, drift_ignore, drift_push_ours
from inventory.admin.catalog import VariantAdmin
from inventory.admin.imports import SpreadsheetAdminMixin
from inventory.exceptions import InventoryError
from inventory.models import Variant

OPEN_ORDERS_SHOWN = 50  # lines on a variant page


def when(moment, now=None):
    """A time as staff read it: 10:42 today, else 2026-11-30 10:42 (local time)."""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now()).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"


def sync_words(listing, now=None):
    """Where a listing's push stands, in words: "Pending since 10:42, attempt 2 of 6, next
    try 10:44"; "In step"; "Failed (3 attempts), pending since 10:49, next try 10:50"."""
    now = now or timezone.now()
    most = settings.SYNC["MAX_ATTEMPTS"]
    parts = []
    failed = listing.status == Listing.Status.FAILED
    if failed:
        parts.append(f"failed ({listing.attempts} attempt{'s' * (listing.attempts != 1)})")
    if listing.pending_since:
        parts.append(f"pending since {when(listing.pending_since, now)}")
    elif not failed:
        parts.append("in step")
    if listing.pending_since and listing.attempts and not failed:
        parts.append(f"attempt {listing.attempts + 1} of {most}")
    if listing.pending_since and listing.next_attempt_at and listing.next_attempt_at > now:
        parts.append(f"next try {when(listing.next_attempt_at, now)}")
    elif failed and not listing.pending_since:
        parts.append("sent again with its next change, or by Retry failed")
    if listing.claimed_by:
        parts.append(f"being pushed since {when(listing.claimed_at, now)}")
    words = ", ".join(parts)
    return words[:1].upper() + words[1:]


def confirmed_words(listing, now=None):
    """What the channel last confirmed showing, and when."""
    if listing.confirmed_at is not None:
        return f"{shown_quantity(listing.confirmed_quantity)} at {when(listing.confirmed_at, now)}"
    if listing.status != Listing.Status.PENDING or listing.confirmed_quantity is not None:
        return "unknown since the last write (failed or unanswered)"
    return "not yet"


@admin.register(Listing)
class ListingAdmin(SpreadsheetAdminMixin, admin.ModelAdmin):
    form = ListingForm
    sheet_import_resource = ListingResource
    import_permissions = ("connectors.add_listing", "connectors.change_listing")
    list_display = (
        "variant_sku",
        "channel",
        "remote_parent_id",
        "remote_id",
        "confirmed",
        "state",
    )
    list_select_related = ("variant", "channel")
    list_filter = ("channel", "status")
    search_fields = ("variant__sku", "variant__barcode", "remote_id", "remote_parent_id")
    autocomplete_fields = ("variant",)
    readonly_fields = ("confirmed", "state", "last_error")
    fieldsets = (
        (None, {"fields": ("channel", "variant", "remote_parent_id", "remote_id")}),
        ("Sync", {"fields": ("confirmed", "state", "last_error")}),
    )
    show_full_result_count = False
    # The (channel, variant) unique index, read in order: the model's ordering (channel name,
    # then SKU) sorted every listing for each page (0.5 s at 500,000 listings).
    ordering = ("channel_id", "variant_id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("variant", "channel")

    def get_readonly_fields(self, request, obj=None):
        # A listing stays on its channel: on another, it is another listing (its old channel
        # would keep showing what it was last sent).
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "channel") if obj is not None else fields

    @admin.display(description="SKU", ordering="variant__sku")
    def variant_sku(self, obj):
        return obj.variant.sku

    @admin.display(description="channel confirmed")
    def confirmed(self, obj):
        return confirmed_words(obj)

    @admin.display(description="sync")
    def state(self, obj):
        return sync_words(obj)


class ListingInline(admin.TabularInline):
    model = Listing
    form = ListingForm
    fields = ("channel", "remote_parent_id", "remote_id", "confirmed", "state", "last_error")
    readonly_fields = ("confirmed", "state", "last_error")
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("variant", "channel")

    @admin.display(description="channel confirmed")
    def confirmed(self, obj):
        return confirmed_words(obj) if obj.pk else ""

    @admin.display(description="sync")
    def state(self, obj):
        return sync_words(obj) if obj.pk else ""


class VariantWithListingsAdmin(VariantAdmin):
    """The inventory app's variant page, with the variant's listings on every channel and why
    each shows what it shows."""

    inlines = [*VariantAdmin.inlines, ListingInline]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fields = ("channel_quantities", "open_orders")
            fieldsets.append(("On each channel", {"fields": fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "channel_quantities", "open_orders")

    @admin.display(description="what open orders hold")
    def open_orders(self, obj):
        lines = (
            OrderLine.objects.filter(
                variant=obj, state__in=[OrderLine.State.ALLOCATED, OrderLine.State.SHORT]
            )
            .select_related("order__channel", "location")
            .order_by("-order__placed_at", "-pk")[:OPEN_ORDERS_SHOWN]
        )
        rows = [
            (
                reverse("admin:connectors_channelorder_change", args=[line.order_id]),
                str(line.order),
                line.quantity,
                line.location.code if line.location else "—",
                line.get_state_display(),
            )
            for line in lines
        ]
        if not rows:
            return "No open orders hold it."
        body = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>', rows
        )
        return format_html(
            '<table class="open-orders"><thead><tr><th>Order</th><th>Units</th>'
            "<th>At</th><th>State</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="quantity shown, and why")
    def channel_quantities(self, obj):
        rows = []
        for listing in obj.listings.select_related("channel").order_by("channel__name"):
            target = targets_for(listing.channel, [obj])[obj.pk]
            push = listing.push_records.filter(purpose="write").order_by("-pk").first()
            confirmed = confirmed_words(listing)
            if push:
                url = reverse("admin:connectors_pushrecord_change", args=[push.pk])
                confirmed = format_html('{}, <a href="{}">push #{}</a>', confirmed, url, push.pk)
            rows.append((listing.channel.name, target.explanation, confirmed, sync_words(listing)))
        if not rows:
            return "Not listed on any channel."
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="channel-quantities"><thead><tr><th>Channel</th><th>Should show</th>'
            "<th>Channel confirmed</th><th>Sync</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )


admin.site.unregister(Variant)
admin.site.register(Variant, VariantWithListingsAdmin)


@admin.register(Drift)
class DriftAdmin(admin.ModelAdmin):
    list_display = (
        "listing_sku",
        "channel",
        "channel_quantity",
        "target",
        "found_at",
        "resolution",
        "resolved_by",
    )
    list_select_related = ("listing__variant", "listing__channel", "resolved_by")
    list_filter = ("resolution", "listing__channel")
    search_fields = ("listing__variant__sku",)
    readonly_fields = [f.name for f in Drift._meta.fields]
    actions = ["push_ours", "accept_channels", "ignore"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing__variant", "listing__channel")

    def has_add_permission(self, request):
        return False

    @admin.display(description="SKU", ordering="listing__variant__sku")
    def listing_sku(self, obj):
        return obj.listing.variant.sku

    @admin.display(description="channel")
    def channel(self, obj):
        return obj.listing.channel.name

    def _resolve(self, request, queryset, how, done):
        resolved = 0
        for drift in queryset.filter(resolution=Drift.Resolution.OPEN):
            try:
                how(drift, request.user)
                resolved += 1
            except InventoryError as exc:
                self.message_user(request, f"{drift.listing.variant.sku}: {exc}", messages.ERROR)
        self.message_user(request, f"{resolved} drift(s) {done}")

    @admin.action(description="Push our quantity", permissions=["change"])
    def push_ours(self, request, queryset):
        self._resolve(request, queryset, drift_push_ours, "pushed")

    @admin.action(
        description="Accept the channel's quantity (a count, source channel)",
        permissions=["change"],
    )
    def accept_channels(self, request, queryset):
        if not request.user.has_perm("inventory.adjust_stock"):
            raise PermissionDenied
        self._resolve(request, queryset, drift_accept, "accepted as counts")

    @admin.action(description="Ignore", permissions=["change"])
    def ignore(self, request, queryset):
        self._resolve(request, queryset, drift_ignore, "ignored")
