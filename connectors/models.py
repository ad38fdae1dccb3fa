"""Sales channels: an account on a platform, the variants it lists, and every exchange with it."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectors.fields import EncryptedJSONField
from connectors.platforms import inbound, registry
from inventory.models import Location, Movement, Variant


def new_webhook_token():
    """The secret part of a channel's webhook URL: 256 random bits, unguessable."""
    return secrets.token_urlsafe(32)


class Channel(models.Model):
    """One account on one platform, the locations whose stock it sells, and its rules."""

    class Mode(models.TextChoices):
        LIVE = "live", "Live: sends changes"
        PAUSED = "paused", "Paused: records what it would send, sends nothing"
        SHADOW = "shadow", "Shadow: compares with the channel, never writes"

    name = models.CharField(max_length=100, unique=True)
    # A callable: the registry's platforms, so that a new one needs no migration.
    platform = models.CharField(max_length=16, choices=registry.choices)
    base_url = models.URLField(
        help_text="The API's base URL (a sandbox's http://127.0.0.1:PORT for trials)."
    )
    # Secrets: encrypted in the database, write-only in the admin, never logged, never stored
    # in push records. Webhook signing secrets kept after registration are among them.
    credentials = EncryptedJSONField(default=dict, blank=True)
    # Tokens obtained with the credentials (and their expiry); as secret as the credentials.
    auth_state = EncryptedJSONField(default=dict, blank=True, editable=False)
    settings = models.JSONField(
        default=dict, blank=True, help_text="Platform settings (checked against the platform)."
    )
    locations = models.ManyToManyField(
        Location, related_name="channels", help_text="The locations whose stock it sells."
    )
    buffer = models.PositiveIntegerField(default=0, help_text="Units kept back from the channel.")
    # At most 100: more would show the channel more than there is (overselling by setting).
    percentage = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Show only this percentage of what is available (0 to 100).",
    )
    cap = models.PositiveIntegerField(null=True, blank=True, help_text="Never show more than this.")
    zero_out_threshold = models.PositiveIntegerField(
        default=0, help_text="At or below this, show 0 (so the last units are not oversold)."
    )

    class RemoteChanges(models.TextChoices):
        PUSH_OURS = "push", "We are the master: push our quantity again"
        ACCEPT = "count", "Accept the channel's quantity as a count"

    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LIVE)
    paused_reason = models.CharField(max_length=255, blank=True)
    # Sales coming back.
    allocation_order = models.CharField(
        "allocate orders at",
        max_length=255,
        blank=True,
        help_text="Location codes, comma-separated, in the order an order's units are allocated "
        "at (the first with enough available). Blank: its locations by code.",
    )
    return_location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where goods refunded with a restock are counted back in. Blank: where the "
        "line was allocated.",
    )
    remote_changes = models.CharField(
        "stock changed on the channel",
        max_length=8,
        choices=RemoteChanges.choices,
        default=RemoteChanges.PUSH_OURS,
        help_text="What to do when staff change a level in the channel's own back-office.",
    )
    webhook_token = models.CharField(
        max_length=64, unique=True, default=new_webhook_token, editable=False
    )
    poll_cursor = models.JSONField(default=dict, blank=True, editable=False)
    last_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_poll_error = models.TextField(blank=True, editable=False)
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Circuit breaker: after repeated transient failures nothing is sent until it is probed.
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # buffer, cap and zero_out_threshold are positive integer columns (checked >= 0).
            models.CheckConstraint(
                condition=Q(percentage__isnull=True) | Q(percentage__lte=100),
                name="channel_percentage_at_most_100",
                violation_error_message="The percentage is at most 100.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.platform_label})"

    @property
    def platform_label(self):
        return registry.label(self.platform)

    @property
    def webhook_path(self):
        return f"/hooks/{self.webhook_token}/"

    def allocation_codes(self):
        """The location codes the allocation order names, as written (upper or lower case)."""
        return [c.strip() for c in self.allocation_order.split(",") if c.strip()]

    def circuit_state(self, now):
        if self.circuit_open_until is None:
            return "closed"
        return "open" if self.circuit_open_until > now else "half-open (next push probes)"


class ListingQuerySet(models.QuerySet):
    def pending(self):
        """Listings a push is wanted for."""
        return self.filter(pending_since__isnull=False)

    def due(self, now=None):
        """Listings that may be tried now (no backoff running)."""
        now = now or timezone.now()
        return self.filter(
            models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
        )


class Listing(models.Model):
    """A variant on a channel: that platform's ids for it, and what the channel last confirmed.

    `remote_id` / `remote_parent_id` name the item on the platform (each platform's Docs in
    the registry say what they are there). The sync bookkeeping below the ids is written only
    by connectors.listing_state's transitions: a plain save() of an existing listing writes
    its ids alone, so a form or a listing file never overwrites what a worker just wrote.
    """

    class Status(models.TextChoices):
        OK = "ok", "In step"
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="listings")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="listings")
    remote_id = models.CharField(max_length=128)
    remote_parent_id = models.CharField(max_length=128, blank=True)
    confirmed_quantity = models.IntegerField(
        null=True, blank=True, help_text="What the channel last confirmed (blank: infinite)."
    )
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="Blank: unknown since (a write may have landed)."
    )
    # For people: the last confirmation stands on the page after a later write left the
    # channel's quantity unknown ("last confirmed 9 at 10:42; the latest attempt failed ...").
    last_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the channel last confirmed confirmed_quantity."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Sync bookkeeping. A stock change bumps change_seq and sets pending_since in its own
    # transaction; a push clears pending only if change_seq is still what it claimed.
    pending_since = models.DateTimeField(null=True, blank=True, default=timezone.now)
    change_seq = models.BigIntegerField(default=0)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_seq = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        ordering = ["channel", "variant"]
        indexes = [
            models.Index(fields=["channel", "pending_since"]),
            # Counts of failed listings per channel (channel health): a partial index holds
            # only the few failed rows, so the many updates of listings in step never touch it.
            models.Index(
                fields=["channel"], condition=models.Q(status="failed"), name="listing_failed"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["channel", "variant"], name="listing_one_per_channel"),
            models.UniqueConstraint(
                fields=["channel", "remote_parent_id", "remote_id"], name="listing_remote_unique"
            ),
        ]

    # What a save of an existing listing writes; the rest is listing_state's.
    IDENTITY = ("channel", "variant", "remote_id", "remote_parent_id")

    def __str__(self):
        return f"{self.variant.sku} on {self.channel.name}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = self.IDENTITY
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        listing = super().from_db(db, field_names, values)
        # What it was loaded with: a save that changes its variant or ids points it at
        # another item or another variant, whose quantity nobody has confirmed there
        # (receivers.moved_listing).
        loaded = listing.__dict__
        if all(name in loaded for name in MOVED_BY):  # not deferred
            listing._loaded = tuple(loaded[name] for name in MOVED_BY)
        return listing

    @property
    def moved(self):
        loaded = getattr(self, "_loaded", None)
        return loaded is not None and loaded != tuple(getattr(self, n) for n in MOVED_BY)

    def remember_identity(self):
        self._loaded = tuple(getattr(self, name) for name in MOVED_BY)


MOVED_BY = ("variant_id", "remote_id", "remote_parent_id")


class PushRecord(models.Model):
    """One HTTP exchange with a channel, successes too; secrets redacted before storing."""

    class Outcome(models.TextChoices):
        OK = "ok", "Succeeded"
        PARTIAL = "partial", "Partly failed"
        REJECTED = "rejected", "Items rejected"
        AUTH = "auth", "Bad credentials"
        RATE_LIMITED = "rate_limited", "Rate limited"
        TRANSIENT = "transient", "Transient error"
        CHANNEL = "channel", "Channel error"
        RECORDED = "recorded", "Not sent (paused or shadow)"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="push_records")
    listings = models.ManyToManyField(Listing, related_name="push_records", blank=True)
    purpose = models.CharField(
        max_length=16, help_text="auth, read, write, or a setup call (e.g. locations, track)"
    )
    method = models.CharField(max_length=8)
    url = models.TextField()
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True)
    items = models.JSONField(
        default=list, blank=True, help_text="Per item: listing, remote id, quantity, ok, message."
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    ledger_entry_id = models.BigIntegerField(
        null=True, blank=True, help_text="The last ledger entry the pushed quantities reflect."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["channel", "-created_at"])]

    def __str__(self):
        answer = self.status or "no answer"
        outcome = self.get_outcome_display().lower()
        return f"Push #{self.pk} to {self.channel.name}: {self.method} {answer}, {outcome}"


class Drift(models.Model):
    """A listing whose channel shows something other than our target, found by a reconcile."""

    class Resolution(models.TextChoices):
        OPEN = "open", "Open"
        PUSHED = "pushed", "Pushed ours"
        ACCEPTED = "accepted", "Accepted the channel's (counted)"
        IGNORED = "ignored", "Ignored"
        GONE = "gone", "In step again"

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="drifts")
    channel_quantity = models.IntegerField(null=True, blank=True, help_text="Blank: unlimited.")
    target = models.IntegerField(null=True, blank=True, help_text="Blank: unlimited.")
    found_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=8, choices=Resolution.choices, default="open")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    movement_id = models.BigIntegerField(null=True, blank=True, help_text="The count, if accepted.")

    class Meta:
        ordering = ["-found_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing"], condition=models.Q(resolution="open"), name="one_open_drift"
            )
        ]

    def __str__(self):
        return (
            f"{self.listing.variant.sku} on {self.listing.channel.name}: channel shows "
            f"{shown_quantity(self.channel_quantity)}, should show {shown_quantity(self.target)}"
        )


def shown_quantity(quantity):
    """A quantity as staff read it: None is a platform's unlimited ("no limit")."""
    return "no limit" if quantity is None else f"{quantity:,}"


class ChannelOrder(models.Model):
    """An order a channel took, as it stands now (no customer data: only what stock needs).
    Its lines' stock follows its stage through the stock service (connectors.services.orders)."""

    class Stage(models.TextChoices):
        PENDING = inbound.PENDING, "Placed, not paid"
        OPEN = inbound.OPEN, "Paid, not shipped"
        FULFILLED = inbound.FULFILLED, "Shipped"
        CANCELLED = inbound.CANCELLED, "Cancelled"
        RETURNED = inbound.RETURNED, "Returned"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    remote_id = models.CharField("order id", max_length=128)
    status = models.CharField(max_length=64, help_text="The channel's own words for it.")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    placed_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField("updated on the channel", null=True, blank=True)
    attention = models.TextField(
        blank=True, help_text="Why nothing of it was applied (a line matching no listing)."
    )
    seen = models.JSONField(
        default=dict, blank=True, help_text="The order as the channel last showed it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = "order"
        constraints = [
            models.UniqueConstraint(fields=["channel", "remote_id"], name="order_one_per_id")
        ]
        indexes = [models.Index(fields=["channel", "-created_at"])]

    def __str__(self):
        return f"{self.channel.name} order {self.remote_id}"


class OrderLine(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for payment"
        ALLOCATED = "allocated", "Allocated"
        FULFILLED = "fulfilled", "Shipped"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned"
        SHORT = "short", "Short: no stock to allocate (oversold)"

    order = models.ForeignKey(ChannelOrder, on_delete=models.CASCADE, related_name="lines")
    line_id = models.CharField(max_length=128)
    listing = models.ForeignKey(
        Listing, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_lines"
    )
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    sku = models.CharField("SKU", max_length=64, blank=True, help_text="As the channel sent it.")
    remote_id = models.CharField(max_length=128, blank=True)
    remote_parent_id = models.CharField(max_length=128, blank=True)
    quantity = models.PositiveIntegerField()
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_id"], name="order_line_one_per_id")
        ]
        indexes = [
            # What open orders hold, per variant (targets, the variant page, the dashboard).
            models.Index(
                fields=["variant", "state"],
                condition=models.Q(state__in=["allocated", "short"]),
                name="order_line_open",
            )
        ]

    def __str__(self):
        return f"{self.quantity} x {self.sku or self.remote_id} ({self.get_state_display()})"


class InboundRecord(models.Model):
    """One delivery from a channel (a webhook) as it arrived: stored before it is answered,
    processed by a worker; like push records, kept whatever happened."""

    class Signature(models.TextChoices):
        VALID = "valid", "Valid"
        INVALID = "invalid", "Invalid"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received, waiting"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate (ignored)"
        IGNORED = "ignored", "Nothing to do"
        ATTENTION = "attention", "Needs attention"
        REJECTED = "rejected", "Rejected: bad signature"
        UNREADABLE = "unreadable", "Unreadable"
        FAILED = "failed", "Failed (will retry)"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    event_id = models.CharField("delivery id", max_length=200, blank=True)
    topic = models.CharField(max_length=64, blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Secrets removed.")
    body = models.TextField(blank=True)
    signature = models.CharField(max_length=8, choices=Signature.choices)
    verdict = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    outcome = models.TextField(blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    orders = models.ManyToManyField(ChannelOrder, related_name="inbound", blank=True)
    movements = models.ManyToManyField(Movement, related_name="+", blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = "inbound record"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "event_id"],
                condition=models.Q(duplicate_of__isnull=True) & ~models.Q(event_id=""),
                name="inbound_one_per_delivery",
            )
        ]
        indexes = [
            models.Index(
                fields=["channel", "received_at"],
                condition=models.Q(status__in=["received", "failed"]),
                name="inbound_waiting",
            )
        ]

    def __str__(self):
        return f"{self.channel.name} {self.topic or 'event'} #{self.pk}"
