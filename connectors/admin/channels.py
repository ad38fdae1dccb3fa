"""Channels in the admin: their health, their form, and the actions staff take on them."""

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters

from connectors import queue
from connectors.admin.buttons import ObjectActionsMixin
from connectors.admin.forms import ChannelForm, fields_by_name
from connectors.admin.history import CREDENTIAL, channel_change_message
from connectors.exceptions import ConfigError, ConnectorError
from connectors.fields import Unreadable
from connectors.models import Channel, Drift
from connectors.platforms import registry
from connectors.selectors import channel_health, channels_with_health, inbound_counts
from connectors.services.actions import (
    channel_pause,
    channel_push_now,
    channel_resume,
    channel_retry_failed,
)
from connectors.services.channel_io import channel_test_connection
from connectors.services.inbound import channel_register_webhooks
from inventory.display import clipped, when

RULES = {"buffer", "percentage", "cap", "zero_out_threshold"}


@admin.register(Channel)
class ChannelAdmin(ObjectActionsMixin, admin.ModelAdmin):
    form = ChannelForm
    list_display = (
        "name",
        "platform",
        "mode_shown",
        "listing_count",
        "pending_count",
        "failed_count",
        "last_success",
        "error_short",
        "circuit",
    )
    list_filter = ("platform", "mode")
    search_fields = ("name",)
    filter_horizontal = ("locations",)
    readonly_fields = (
        "last_success",
        "last_error_shown",
        "paused_reason_shown",
        "circuit",
        "webhook_url",
        "sales_health",
    )
    actions = [
        "push_now",
        "retry_failed",
        "pause",
        "resume",
        "reconcile",
        "test_connection",
        "pull_orders",
        "register_webhooks",
    ]

    object_actions = (
        ("push_now", "Push now"),
        ("retry_failed", "Retry failed"),
        ("pause", "Pause"),
        ("resume", "Resume"),
        ("reconcile", "Reconcile"),
        ("test_connection", "Test connection"),
        ("pull_orders", "Pull orders"),
        ("register_webhooks", "Register webhooks"),
    )

    def get_queryset(self, request):
        return channels_with_health(super().get_queryset(request))

    def object_action_applies(self, obj, name):
        if name == "pause":
            return obj.mode != Channel.Mode.PAUSED
        if name == "resume":
            return obj.mode == Channel.Mode.PAUSED
        if name == "retry_failed":
            return bool(getattr(obj, "n_failed", 0))
        if name in ("pull_orders", "register_webhooks"):
            try:
                cls = registry.connector_class(obj.platform)
            except LookupError:
                return False
            return cls.registers_webhooks if name == "register_webhooks" else True
        return True

    def object_page_context(self, request, channel):
        context = {"object_links": self.channel_links(request, channel)}
        if isinstance(channel.credentials, Unreadable):
            context["object_help"] = f"Its {channel.credentials.error}"
        return context

    @staticmethod
    def _health(obj):
        """The channel's health, read once per row (three columns show it)."""
        if not hasattr(obj, "_health_read"):
            obj._health_read = channel_health(obj, timezone.now())
        return obj._health_read

    def channel_links(self, request, channel):
        """[(words, url)]: its listings, push records, drifts, orders and deliveries, each the
        list filtered to this channel, for those who may view it."""
        opens = Drift.objects.filter(listing__channel=channel, resolution=Drift.Resolution.OPEN)
        n_open = opens.count()
        n_listings = getattr(channel, "n_listings", None)
        listings = (
            ngettext("%(n)s listing", "%(n)s listings", n_listings) % {"n": f"{n_listings:,}"}
            if n_listings is not None
            else "Listings"
        )
        drifts = (
            ngettext("%(n)s open drift", "%(n)s open drifts", n_open) % {"n": n_open}
            if n_open
            else "Drifts (none open)"
        )
        wanted = [
            ("listing", listings, "channel__id__exact"),
            ("pushrecord", "Push records", "channel__id__exact"),
            ("drift", drifts, "listing__channel__id__exact"),
            ("channelorder", "Orders", "channel__id__exact"),
            ("inboundrecord", "Deliveries", "channel__id__exact"),
        ]
        links = []
        for model, words, lookup in wanted:
            if not request.user.has_perm(f"connectors.view_{model}"):
                continue
            url = reverse(f"admin:connectors_{model}_changelist")
            extra = "&resolution__exact=open" if model == "drift" and n_open else ""
            links.append((words, f"{url}?{lookup}={channel.pk}{extra}"))
        return links

    @admin.display(description="listings", ordering="n_listings")
    def listing_count(self, obj):
        return obj.n_listings

    @admin.display(description="pending", ordering="n_pending")
    def pending_count(self, obj):
        return obj.n_pending

    @admin.display(description="failed", ordering="n_failed")
    def failed_count(self, obj):
        return obj.n_failed

    @admin.display(description="mode", ordering="mode")
    def mode_shown(self, obj):
        health = self._health(obj)
        if not health.reason:
            return health.mode
        return format_html("{}: {}", health.mode, clipped(health.reason, 60))

    @admin.display(description="last success", ordering="last_success_at")
    def last_success(self, obj):
        return when(obj.last_success_at, empty="never")

    @admin.display(description="last error")
    def error_short(self, obj):
        """The error while it is current, with its time; after a later success, "none since"."""
        health = self._health(obj)
        if health.error:
            return format_html("{}: {}", when(health.error_at), clipped(health.error, 60))
        if health.recovered_at:
            return f"none since {when(obj.last_success_at)}"
        return "none"

    @admin.display(description="last error")
    def last_error_shown(self, obj):
        """The latest error whole (one click away), with its time and whether it is over."""
        if not obj.last_error:
            return "none"
        over = ""
        if self._health(obj).recovered_at:
            over = f" (over: it has succeeded since, at {when(obj.last_success_at)})"
        return format_html(
            "{}{}: {}",
            when(obj.last_error_at, empty="at an unknown time"),
            over,
            clipped(obj.last_error, 300),
        )

    @admin.display(description="paused because")
    def paused_reason_shown(self, obj):
        if obj.mode != Channel.Mode.PAUSED:
            return "not paused"
        return clipped(obj.paused_reason, 300, empty="no reason given")

    @admin.display(description="circuit")
    def circuit(self, obj):
        return self._health(obj).circuit

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "queue_depth": queue.queue_depth()}
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # An error report of this request (a 500 mailed to admins, a debug page) shows the
        # credential fields as stars.
        names = [f"{CREDENTIAL}{name}" for name in fields_by_name("credential_fields")]
        view = sensitive_post_parameters(*names)(super().changeform_view)
        return view(request, object_id, form_url, extra_context)

    def construct_change_message(self, request, form, formsets, add=False):
        if add:
            return super().construct_change_message(request, form, formsets, add)
        return channel_change_message(form, getattr(form.instance, "_history_notes", ()))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = set(form.changed_data)
        new_credentials = any(name.startswith(CREDENTIAL) for name in changed)
        new_settings = any(name.startswith("setting_") for name in changed)
        # Another account or store, or other settings: what it showed before says nothing.
        elsewhere = new_credentials or new_settings or {"platform", "base_url"} & changed
        if obj.paused_reason.startswith("bad credentials") and new_credentials:
            channel_resume(obj)
            obj._history_notes = [f"mode: {obj.mode} → live (resumed: new credentials)"]
            self.message_user(request, f"{obj.name}: new credentials; resumed.")
        if change and (RULES & changed or elsewhere):
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
            self.log_change(request, channel, f"Changed mode: {channel.mode} → paused (Pause).")
        n = len(queryset)
        self.message_user(
            request,
            ngettext("%(n)s channel paused", "%(n)s channels paused", n) % {"n": n}
            + ": changes are kept and sent when it is resumed",
        )

    @admin.action(description="Resume (sends the latest state)", permissions=["change"])
    def resume(self, request, queryset):
        for channel in queryset:
            channel_resume(channel)
            self.log_change(request, channel, f"Changed mode: {channel.mode} → live (Resume).")
        n = len(queryset)
        self.message_user(
            request,
            ngettext("%(n)s channel resumed", "%(n)s channels resumed", n) % {"n": n}
            + ": the latest state is being sent",
        )

    @admin.action(description="Reconcile (find drift; see Drift)", permissions=["change"])
    def reconcile(self, request, queryset):
        # A worker reads the channel: thousands of listings are more than a web request's time.
        drift = reverse("admin:connectors_drift_changelist")
        for channel in queryset:
            if queue.request_reconcile(channel.pk):
                message = '{}: reconcile queued; what differs appears under <a href="{}">Drift</a>'
                self.message_user(request, format_html(message, channel.name, drift))
            else:
                self.message_user(
                    request,
                    f"{channel.name}: the job queue is unreachable; try again, or run "
                    "`manage.py reconcile`",
                    messages.ERROR,
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

    def get_form(self, request, obj=None, **kwargs):
        # The credential and setting fields are added by the form itself.
        kwargs["fields"] = ChannelForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="platform settings")
    def settings_shown(self, obj):
        """The settings as a viewer sees them: each platform setting's label and value."""
        try:
            fields = registry.connector_class(obj.platform).setting_fields
        except LookupError:
            return "—"
        stored = obj.settings or {}
        rows = [(f.label, stored.get(f.name, "not set (the default)")) for f in fields]
        if not rows:
            return "none"
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if self._editable(request, obj) else (*fields, "settings_shown")

    def _editable(self, request, obj):
        return obj is None or self.has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is not None:  # the page's own instance: its webhook URL is on this site
            obj._site_root = request.build_absolute_uri("/")
        credentials = ()
        settings = ["settings_shown"]
        if self._editable(request, obj):
            names = [f"credential_{name}" for name in fields_by_name("credential_fields")]
            credentials = (("Credentials (write-only)", {"fields": [*names, "clear_credentials"]}),)
            settings = [f"setting_{name}" for name in fields_by_name("setting_fields")]
        return (
            (None, {"fields": ("name", "platform", "base_url", "mode")}),
            *credentials,
            (
                "Platform settings (only the chosen platform's are kept)",
                {"fields": settings, "classes": ("platform-settings",)},
            ),
            (
                "What it sells",
                {"fields": ("locations", "buffer", "percentage", "cap", "zero_out_threshold")},
            ),
            (
                "Sales coming back",
                {
                    "fields": (
                        "allocation_order",
                        "return_location",
                        "remote_changes",
                        *(("webhook_url",) if self._editable(request, obj) else ()),
                        "sales_health",
                    )
                },
            ),
            (
                "Health",
                {
                    "fields": (
                        "last_success",
                        "last_error_shown",
                        "paused_reason_shown",
                        "circuit",
                    )
                },
            ),
        )

    @admin.display(description="webhook URL")
    def webhook_url(self, obj):
        """Secret (whoever knows it may try to post to it): shown to those who may edit."""
        if obj is None or obj.pk is None:
            return "given once the channel is saved"
        try:
            cls = registry.connector_class(obj.platform)
        except LookupError:
            return "—"
        if not cls.webhooks:
            return f"none: {cls.platform} sends no webhooks, its orders are polled"
        url = getattr(obj, "_site_root", "").rstrip("/") + obj.webhook_path
        how = (
            "Register webhooks (an action of the channel list) subscribes it"
            if cls.registers_webhooks
            else "set it in the platform's own settings"
        )
        return format_html('<code class="wrap">{}</code><br>{}', url, how)

    @admin.display(description="deliveries and polls")
    def sales_health(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        counts = inbound_counts(obj)
        records = reverse("admin:connectors_inboundrecord_changelist")
        rows = [
            ("last delivery", when(obj.last_event_at) if obj.last_event_at else "never"),
            ("waiting", counts["waiting"]),
            ("failed or needing attention", counts["failed"]),
            ("last poll", when(obj.last_poll_at) if obj.last_poll_at else "never"),
            ("poll cursor", json.dumps(obj.poll_cursor)[:300] if obj.poll_cursor else "—"),
        ]
        if obj.last_poll_error:
            rows.append(("last poll failed", obj.last_poll_error[:500]))
        table = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        link = f"{records}?channel__id__exact={obj.pk}"
        return format_html(
            '<table class="sales-health">{}</table><a href="{}">Its deliveries</a>', table, link
        )

    @admin.action(
        description="Pull orders now (and apply waiting deliveries)", permissions=["change"]
    )
    def pull_orders(self, request, queryset):
        for channel in queryset:
            try:
                polls = registry.connector_class(channel.platform).polls_orders
            except LookupError:
                polls = False
            queued = queue.request_inbound(channel.pk)
            if polls:
                queued = queue.request_poll(channel.pk) or queued
            words = "queued" if queued else "already queued (or the job queue is unreachable)"
            self.message_user(request, f"{channel.name}: taking in its orders {words}")

    @admin.action(description="Register webhooks with the platform", permissions=["change"])
    def register_webhooks(self, request, queryset):
        base = request.build_absolute_uri("/")
        for channel in queryset:
            try:
                registration = channel_register_webhooks(channel, base)
            except NotImplementedError as exc:
                self.message_user(request, f"{channel.name}: {exc}", messages.WARNING)
            except (ConnectorError, ConfigError) as exc:
                self.message_user(request, f"{channel.name}: failed: {exc}", messages.ERROR)
            else:
                kept = "; its signing secret is kept" if registration.secret else ""
                self.message_user(
                    request, f"{channel.name}: subscribed to {', '.join(registration.topics)}{kept}"
                )
