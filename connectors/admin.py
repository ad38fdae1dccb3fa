"""Channels, listings and push records in the admin; listings also on each variant's page."""

import contextlib
import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from connectors.exceptions import ConnectorError
from connectors.models import Channel, Listing, Platform, PushRecord
from connectors.platforms import CONNECTORS, connector_class
from connectors.services import channel_test_connection
from inventory.admin.catalog import VariantAdmin
from inventory.models import Variant


def _all_fields(attr):
    """{name: Setting} over every platform's credential or setting fields."""
    fields = {}
    for platform in CONNECTORS:
        for f in getattr(connector_class(platform), attr):
            fields.setdefault(f.name, f)
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
            "name", "platform", "base_url", "mode", "settings", "locations", "buffer",
            "percentage", "cap", "zero_out_threshold",
        )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["settings"].help_text = "A JSON object. " + _platform_help("setting_fields")
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        for name, f in _all_fields("credential_fields").items():
            state = "set: leave blank to keep" if stored.get(name) else "not set"
            self.fields[f"credential_{name}"] = forms.CharField(
                label=f.label,
                required=False,
                widget=forms.PasswordInput(render_value=False),
                help_text=f"Write-only ({state}).",
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
    list_display = ("name", "platform", "mode", "listing_count", "last_success_at", "last_error_at")
    list_filter = ("platform", "mode")
    search_fields = ("name",)
    filter_horizontal = ("locations",)
    readonly_fields = ("last_success_at", "last_error_at", "last_error", "paused_reason")
    actions = ["test_connection"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_listings=Count("listings"))

    @admin.display(description="listings", ordering="n_listings")
    def listing_count(self, obj):
        return obj.n_listings

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
            ("What it sells", {"fields": ("locations", "buffer", "percentage", "cap",
                                          "zero_out_threshold")}),
            ("Health", {"fields": ("last_success_at", "last_error_at", "last_error",
                                   "paused_reason")}),
        )  # fmt: skip

    @admin.action(description="Test connection (authenticate and read one level)")
    def test_connection(self, request, queryset):
        for channel in queryset:
            try:
                report = channel_test_connection(channel)
            except ConnectorError as exc:
                self.message_user(request, f"{channel.name}: failed: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{channel.name}: {report}")


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = (
        "variant", "channel", "remote_parent_id", "remote_id", "confirmed_quantity",
        "confirmed_at", "status",
    )  # fmt: skip
    list_select_related = ("variant", "channel")
    list_filter = ("channel", "status")
    search_fields = ("variant__sku", "variant__barcode", "remote_id", "remote_parent_id")
    raw_id_fields = ("variant",)
    readonly_fields = ("confirmed_quantity", "confirmed_at", "status", "last_error")
    show_full_result_count = False


def _pretty(text):
    with contextlib.suppress(TypeError, ValueError):  # not JSON: shown as it came
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text or "—")


@admin.register(PushRecord)
class PushRecordAdmin(admin.ModelAdmin):
    list_display = (
        "id", "created_at", "channel", "purpose", "method", "status", "outcome", "duration_ms",
        "attempt", "ledger_entry_id",
    )  # fmt: skip
    list_select_related = ("channel",)
    list_filter = ("channel", "outcome", "status", "purpose")
    search_fields = ("=id", "url", "listings__variant__sku")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "channel", "created_at", "purpose", "method", "url", "status", "outcome", "error",
        "duration_ms", "attempt", "ledger_entry_id", "request_headers_pretty",
        "request_body_pretty", "response_body_pretty", "items_pretty",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

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
    fields = ("channel", "remote_parent_id", "remote_id", "confirmed_quantity", "confirmed_at",
              "status", "last_error")  # fmt: skip
    readonly_fields = ("confirmed_quantity", "confirmed_at", "status", "last_error")
    extra = 0
    show_change_link = True


class VariantWithListingsAdmin(VariantAdmin):
    """The inventory app's variant page, with the variant's listings on every channel."""

    inlines = [*VariantAdmin.inlines, ListingInline]


admin.site.unregister(Variant)
admin.site.register(Variant, VariantWithListingsAdmin)
