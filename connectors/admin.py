"""Channels, listings and push records in the admin; listings also on each variant's page."""

import contextlib
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from connectors import jobs
from connectors.exceptions import ConnectorError
from connectors.models import Channel, Drift, Listing, Platform, PushRecord
from connectors.platforms import CONNECTORS, connector_class
from connectors.quantities import targets_for
from connectors.reconcile import drift_accept, drift_ignore, drift_push_ours
from connectors.resources import ListingResource
from connectors.selectors import channels_with_health
from connectors.services import (
    channel_pause,
    channel_push_now,
    channel_resume,
    channel_retry_failed,
    channel_test_connection,
)
from inventory.admin.catalog import VariantAdmin
from inventory.admin.imports import SpreadsheetAdminMixin
from inventory.admin.readonly import ReadOnlyMixin
from inventory.exceptions import InventoryError
from inventory.models import Variant


def _all_fields(attr):
    """{name: [(platform label, Setting)]} over every platform's credential or setting
    fields: platforms share names (HighLevel's token and Webflow's token are one field)."""
    fields = {}
    for platform in CONNECTORS:
        for f in getattr(connector_class(platform), attr):
            fields.setdefault(f.name, []).append((Platform(platform).label, f))
    return fields


def _platform_help(attr):
    lines = []
    for platform in CONNECTORS:
        names = [
            f"{f.name}{'' if f.required else ' (optional)'}"
            for f in getattr(connector_class(platform), attr)
        ]
        lines.append(f"{Platform(platform).label}: {', '.join(names) or 'none'}")
    return "; ".join(lines)


class ChannelForm(forms.ModelForm):
    """Credentials are write-only: blank keeps what is stored; nothing is ever shown back."""

    settings = forms.JSONField(required=False, initial=dict)
    base_url = forms.URLField(
        assume_scheme="https", help_text="The API's base URL (a sandbox's http://127.0.0.1:PORT)."
    )

    class Meta:
        model = Channel
        fields = (
            "name",
            "platform",
            "base_url",
            "mode",
            "settings",
            "locations",
            "buffer",
            "percentage",
            "cap",
            "zero_out_threshold",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["settings"].help_text = "A JSON object. " + _platform_help("setting_fields")
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        for name, uses in _all_fields("credential_fields").items():
            state = "set: leave blank to keep" if stored.get(name) else "not set"
            used_by = "; ".join(
                f"{platform}: {f.label}{'' if f.required else ' (optional)'}"
                for platform, f in uses
            )
            self.fields[f"credential_{name}"] = forms.CharField(
                label=uses[0][1].label if len(uses) == 1 else name.replace("_", " ").capitalize(),
                required=False,
                widget=forms.PasswordInput(render_value=False),
                help_text=f"{used_by}. Write-only ({state}).",
            )
        self.fields["clear_credentials"] = forms.BooleanField(
            required=False, help_text="Forget the stored credentials before applying these."
        )

    def clean_settings(self):
        value = self.cleaned_data.get("settings") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Settings must be a JSON object.")
        return value

    def clean(self):
        data = super().clean()
        platform = data.get("platform")
        if not platform:
            return data
        credentials = {} if data.get("clear_credentials") else dict(self.instance.credentials or {})
        allowed = {f.name for f in connector_class(platform).credential_fields}
        for name in allowed:
            value = (data.get(f"credential_{name}") or "").strip()
            if value:
                credentials[name] = value
        credentials = {k: v for k, v in credentials.items() if k in allowed}
        problems = connector_class(platform).config_problems(
            credentials, data.get("settings") or {}
        )
        if problems:
            raise forms.ValidationError([f"{Platform(platform).label}: {p}" for p in problems])
        self.new_credentials = credentials
        return data

    def save(self, commit=True):
        moved = {"platform", "base_url"} & set(self.changed_data)
        if self.new_credentials != self.instance.credentials or moved:
            self.instance.auth_state = {}  # tokens of the old credentials are no use
        self.instance.credentials = self.new_credentials
        return super().save(commit)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = (
        "name",
        "platform",
        "mode",
        "listing_count",
        "pending_count",
        "failed_count",
        "last_success_at",
        "error_short",
        "circuit",
    )
    list_filter = ("platform", "mode")
    search_fields = ("name",)
    filter_horizontal = ("locations",)
    readonly_fields = (
        "last_success_at",
        "last_error_at",
        "last_error",
        "paused_reason",
        "circuit",
    )
    actions = ["push_now", "retry_failed", "pause", "resume", "reconcile", "test_connection"]

    def get_queryset(self, request):
        return channels_with_health(super().get_queryset(request))

    @admin.display(description="listings", ordering="n_listings")
    def listing_count(self, obj):
        return obj.n_listings

    @admin.display(description="pending", ordering="n_pending")
    def pending_count(self, obj):
        return obj.n_pending

    @admin.display(description="failed", ordering="n_failed")
    def failed_count(self, obj):
        return obj.n_failed

    @admin.display(description="last error")
    def error_short(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="circuit")
    def circuit(self, obj):
        return obj.circuit_state(timezone.now())

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "queue_depth": jobs.queue_depth()}
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rules = {"buffer", "percentage", "cap", "zero_out_threshold"} & set(form.changed_data)
        new_credentials = any(name.startswith("credential_") for name in form.changed_data)
        # Another account or store, or other settings: what it showed before says nothing.
        elsewhere = new_credentials or {"platform", "base_url", "settings"} & set(form.changed_data)
        if obj.paused_reason.startswith("bad credentials") and new_credentials:
            channel_resume(obj)
            self.message_user(request, f"{obj.name}: new credentials; resumed.")
        if change and (rules or elsewhere):
            channel_push_now(obj)

    @admin.action(
        description="Push now (every listing, whatever the channel shows)", permissions=["change"]
    )
    def push_now(self, request, queryset):
        for channel in queryset:
            self.message_user(request, f"{channel.name}: {channel_push_now(channel)} queued")

    @admin.action(description="Retry failed listings", permissions=["change"])
    def retry_failed(self, request, queryset):
        for channel in queryset:
            self.message_user(request, f"{channel.name}: {channel_retry_failed(channel)} queued")

    @admin.action(description="Pause (keep recording, send nothing)", permissions=["change"])
    def pause(self, request, queryset):
        for channel in queryset:
            channel_pause(channel, f"paused by {request.user}")
        self.message_user(request, f"{queryset.count()} channel(s) paused")

    @admin.action(description="Resume (sends the latest state)", permissions=["change"])
    def resume(self, request, queryset):
        for channel in queryset:
            channel_resume(channel)
        self.message_user(request, f"{queryset.count()} channel(s) resumed")

    @admin.action(description="Reconcile (find drift; see Drift)", permissions=["change"])
    def reconcile(self, request, queryset):
        # A worker reads the channel: thousands of listings are more than a web request's time.
        drift = reverse("admin:connectors_drift_changelist")
        for channel in queryset:
            if jobs.request_reconcile(channel.pk):
                message = '{}: reconcile queued; what differs appears under <a href="{}">Drift</a>'
                self.message_user(request, format_html(message, channel.name, drift))
            else:
                self.message_user(
                    request,
                    f"{channel.name}: the job queue is unreachable; try again, or run "
                    "`manage.py reconcile`",
                    messages.ERROR,
                )

    def get_form(self, request, obj=None, **kwargs):
        # The credential fields are added by the form itself (one per platform credential).
        kwargs["fields"] = ChannelForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        credentials = ()
        if self.has_change_permission(request, obj) or obj is None:
            names = [f"credential_{name}" for name in _all_fields("credential_fields")]
            credentials = (("Credentials (write-only)", {"fields": [*names, "clear_credentials"]}),)
        return (
            (None, {"fields": ("name", "platform", "base_url", "mode", "settings")}),
            *credentials,
            (
                "What it sells",
                {"fields": ("locations", "buffer", "percentage", "cap", "zero_out_threshold")},
            ),
            (
                "Health",
                {"fields": ("last_success_at", "last_error_at", "last_error", "paused_reason")},
            ),
        )

    @admin.action(
        description="Test connection (authenticate and read one level)", permissions=["change"]
    )
    def test_connection(self, request, queryset):
        for channel in queryset:
            try:
                report = channel_test_connection(channel)
            except ConnectorError as exc:
                self.message_user(request, f"{channel.name}: failed: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{channel.name}: {report}")


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


@admin.register(Listing)
class ListingAdmin(SpreadsheetAdminMixin, admin.ModelAdmin):
    sheet_import_resource = ListingResource
    import_permissions = ("connectors.add_listing", "connectors.change_listing")
    list_display = (
        "variant",
        "channel",
        "remote_parent_id",
        "remote_id",
        "confirmed_quantity",
        "confirmed_at",
        "status",
    )
    list_select_related = ("variant", "channel")
    list_filter = ("channel", "status")
    search_fields = ("variant__sku", "variant__barcode", "remote_id", "remote_parent_id")
    raw_id_fields = ("variant",)
    readonly_fields = ("confirmed_quantity", "confirmed_at", "status", "last_error")
    show_full_result_count = False
    # The (channel, variant) unique index, read in order: the model's ordering (channel name,
    # then SKU) sorted every listing for each page (0.5 s at 500,000 listings).
    ordering = ("channel_id", "variant_id")


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
        "ledger_entry_id",
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
        "error",
        "duration_ms",
        "attempt",
        "ledger_entry_id",
        "request_headers_pretty",
        "request_body_pretty",
        "response_body_pretty",
        "items_pretty",
    )
    readonly_fields = fields

    @admin.display(description="request headers")
    def request_headers_pretty(self, obj):
        return _pretty(json.dumps(obj.request_headers))

    @admin.display(description="request body")
    def request_body_pretty(self, obj):
        return _pretty(obj.request_body)

    @admin.display(description="response body")
    def response_body_pretty(self, obj):
        return _pretty(obj.response_body)

    @admin.display(description="outcome per item")
    def items_pretty(self, obj):
        return _pretty(json.dumps(obj.items))


class ListingInline(admin.TabularInline):
    model = Listing
    fields = (
        "channel",
        "remote_parent_id",
        "remote_id",
        "confirmed_quantity",
        "confirmed_at",
        "status",
        "last_error",
    )
    readonly_fields = ("confirmed_quantity", "confirmed_at", "status", "last_error")
    extra = 0
    show_change_link = True


class VariantWithListingsAdmin(VariantAdmin):
    """The inventory app's variant page, with the variant's listings on every channel and why
    each shows what it shows."""

    inlines = [*VariantAdmin.inlines, ListingInline]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("On each channel", {"fields": ("channel_quantities",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "channel_quantities")

    @admin.display(description="quantity shown, and why")
    def channel_quantities(self, obj):
        rows = []
        for listing in obj.listings.select_related("channel").order_by("channel__name"):
            target = targets_for(listing.channel, [obj])[obj.pk]
            push = listing.push_records.filter(purpose="write").order_by("-pk").first()
            confirmed = "never confirmed"
            if listing.confirmed_at:
                shown = (
                    "unlimited"
                    if listing.confirmed_quantity is None
                    else listing.confirmed_quantity
                )
                confirmed = f"last confirmed {shown} at {listing.confirmed_at:%Y-%m-%d %H:%M}"
            if push:
                url = reverse("admin:connectors_pushrecord_change", args=[push.pk])
                confirmed = format_html('{}, <a href="{}">push #{}</a>', confirmed, url, push.pk)
            rows.append(
                (listing.channel.name, target.explanation, confirmed, listing.get_status_display())
            )
        if not rows:
            return "Not listed on any channel."
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="channel-quantities"><thead><tr><th>Channel</th><th>Should show</th>'
            "<th>Channel confirmed</th><th>Status</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )


admin.site.unregister(Variant)
admin.site.register(Variant, VariantWithListingsAdmin)
