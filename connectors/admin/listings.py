"""Listings (also on each variant's page, with why each channel shows what it shows) and the
drifts a reconcile finds."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from connectors.admin.buttons import ObjectActionsMixin
from connectors.admin.forms import ListingForm
from connectors.models import Drift, Listing, OrderLine, shown_quantity
from connectors.quantities import targets_for
from connectors.resources import ListingResource
from connectors.services.reconcile import drift_accept, drift_ignore, drift_push_ours
from inventory.admin.catalog import VariantAdmin
from inventory.admin.imports import SpreadsheetAdminMixin
from inventory.display import clipped, when
from inventory.exceptions import InventoryError
from inventory.models import Variant

OPEN_ORDERS_SHOWN = 50  # lines on a variant page


def sync_words(listing, now=None):
    """Where a listing's push stands, in words: "Pending since …, attempt 2 of 6 at …" (the
    attempt its push record will carry); "In step"; "Failed (3 attempts), sent again with its
    next change, or by Retry failed"."""
    now = now or timezone.now()
    most = settings.SYNC["MAX_ATTEMPTS"]
    parts = []
    failed = listing.status == Listing.Status.FAILED
    if failed:
        parts.append(
            ngettext("failed (%(n)s attempt)", "failed (%(n)s attempts)", listing.attempts)
            % {"n": listing.attempts}
        )
    if listing.pending_since:
        parts.append(f"pending since {when(listing.pending_since)}")
    elif not failed:
        parts.append("in step")
    if listing.claimed_by:
        parts.append(f"attempt {listing.attempts + 1} being sent since {when(listing.claimed_at)}")
    elif listing.pending_since and not failed:
        # The attempt its push record will carry; "of 6" once one has failed.
        upcoming = f"attempt {listing.attempts + 1}" + (f" of {most}" if listing.attempts else "")
        if listing.next_attempt_at and listing.next_attempt_at > now:
            upcoming += f" at {when(listing.next_attempt_at)}"
        parts.append(upcoming)
    elif failed and listing.pending_since and listing.next_attempt_at:
        parts.append(f"next try at {when(listing.next_attempt_at)}")
    elif failed:
        parts.append("sent again with its next change, or by Retry failed")
    words = ", ".join(parts)
    return words[:1].upper() + words[1:]


def confirmed_words(listing):
    """What the channel last confirmed showing and when, kept through later failures: "9 at
    …"; "last confirmed 9 at …; the latest attempt failed at …: 503 …"."""
    shown = shown_quantity(listing.confirmed_quantity)
    failure = ""
    if listing.last_error:
        at = f" at {when(listing.last_error_at)}" if listing.last_error_at else ""
        failure = format_html("the latest attempt failed{}: {}", at, clipped(listing.last_error))
    if listing.confirmed_at is not None:
        return f"{shown} at {when(listing.confirmed_at)}"
    if listing.last_confirmed_at is not None:
        since = failure or (
            "a write is being sent" if listing.claimed_by else "unknown since the latest write"
        )
        return format_html(
            "last confirmed {} at {}; {}", shown, when(listing.last_confirmed_at), since
        )
    return format_html("never confirmed; {}", failure) if failure else "not yet"


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
    readonly_fields = ("confirmed", "state", "latest_error")
    fieldsets = (
        (None, {"fields": ("channel", "variant", "remote_parent_id", "remote_id")}),
        ("Sync", {"fields": ("confirmed", "state", "latest_error")}),
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

    @admin.display(description="latest error")
    def latest_error(self, obj):
        if not obj.last_error:
            return "none"
        at = f"{when(obj.last_error_at)}: " if obj.last_error_at else ""
        return format_html("{}{}", at, clipped(obj.last_error, 400))


class ListingInline(admin.TabularInline):
    model = Listing
    form = ListingForm
    fields = ("channel", "remote_parent_id", "remote_id", "confirmed", "state")
    readonly_fields = ("confirmed", "state")
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
                confirmed = format_html(
                    '{} (<a href="{}">latest push #{}</a>)', confirmed, url, push.pk
                )
            page = reverse("admin:connectors_listing_change", args=[listing.pk])
            explained = (target.explanation, confirmed, sync_words(listing))
            rows.append((page, listing.channel.name, *explained))
        if not rows:
            return "Not listed on any channel."
        body = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>', rows
        )
        return format_html(
            '<table class="channel-quantities"><thead><tr><th>Channel</th><th>Should show</th>'
            "<th>Channel confirmed</th><th>Sync</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )


admin.site.unregister(Variant)
admin.site.register(Variant, VariantWithListingsAdmin)


@admin.register(Drift)
class DriftAdmin(ObjectActionsMixin, admin.ModelAdmin):
    """What a reconcile found a channel showing against our target; its page says so and
    offers the three resolutions as buttons (nothing on it is edited)."""

    list_display = (
        "listing_sku",
        "channel",
        "shows",
        "should_show",
        "found",
        "resolution",
        "resolved_by",
    )
    list_select_related = ("listing__variant", "listing__channel", "resolved_by")
    list_filter = ("resolution", "listing__channel")
    search_fields = ("listing__variant__sku",)
    fields = (
        "listing_link",
        "shows",
        "should_show",
        "found",
        "resolution",
        "resolved",
        "count_movement",
    )
    readonly_fields = fields
    actions = ["push_ours", "accept_channels", "ignore"]
    object_actions = (
        ("push_ours", "Push our quantity"),
        ("accept_channels", "Accept the channel's"),
        ("ignore", "Ignore"),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing__variant", "listing__channel")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # what a reconcile found, and how it was resolved, is kept

    def object_action_applies(self, obj, name):
        return obj.resolution == Drift.Resolution.OPEN

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("inventory.adjust_stock"):  # a count is a stock change
            actions.pop("accept_channels", None)
        return actions

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Nothing to save: the page acts through its buttons.
        context.update(
            show_save=False,
            show_save_and_continue=False,
            show_save_and_add_another=False,
            object_help=self._help(obj),
            title="Drift"
            if obj is None or obj.resolution != Drift.Resolution.OPEN
            else ("Drift to resolve"),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _help(self, obj):
        if obj is None or obj.resolution != Drift.Resolution.OPEN:
            return ""
        return (
            "Push our quantity: the channel is sent what it should show. Accept the channel's: "
            "its number is taken as a stock count (a movement you can reverse). Ignore: "
            "nothing changes; the next reconcile finds it again if it still differs."
        )

    @admin.display(description="SKU", ordering="listing__variant__sku")
    def listing_sku(self, obj):
        return obj.listing.variant.sku

    @admin.display(description="channel", ordering="listing__channel__name")
    def channel(self, obj):
        return obj.listing.channel.name

    @admin.display(description="listing")
    def listing_link(self, obj):
        url = reverse("admin:connectors_listing_change", args=[obj.listing_id])
        return format_html('<a href="{}">{}</a>', url, obj.listing)

    @admin.display(description="channel shows", ordering="channel_quantity")
    def shows(self, obj):
        return shown_quantity(obj.channel_quantity)

    @admin.display(description="should show", ordering="target")
    def should_show(self, obj):
        return shown_quantity(obj.target)

    @admin.display(description="found", ordering="found_at")
    def found(self, obj):
        return when(obj.found_at)

    @admin.display(description="resolved")
    def resolved(self, obj):
        if obj.resolved_at is None:
            return "not yet"
        by = f" by {obj.resolved_by}" if obj.resolved_by else ""
        return f"{when(obj.resolved_at)}{by}"

    @admin.display(description="count it made")
    def count_movement(self, obj):
        if obj.movement_id is None:
            return "none" if obj.resolution != Drift.Resolution.ACCEPTED else "nothing to change"
        url = reverse("admin:inventory_movement_change", args=[obj.movement_id])
        return format_html('<a href="{}">Movement #{}</a>', url, obj.movement_id)

    def _resolve(self, request, queryset, how, done):
        opened = list(queryset.filter(resolution=Drift.Resolution.OPEN))
        if not opened:
            self.message_user(
                request, "Nothing done: those drifts were resolved already.", messages.WARNING
            )
            return
        resolved = 0
        for drift in opened:
            try:
                how(drift, request.user)
                resolved += 1
            except InventoryError as exc:
                self.message_user(request, f"{drift.listing}: {exc}", messages.ERROR)
        if resolved:
            words = ngettext("%(n)s drift %(done)s", "%(n)s drifts %(done)s", resolved)
            self.message_user(request, words % {"n": resolved, "done": done})

    @admin.action(description="Push our quantity", permissions=["change"])
    def push_ours(self, request, queryset):
        self._resolve(request, queryset, drift_push_ours, "pushed: our quantity is being sent")

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
