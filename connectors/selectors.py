"""Reads that several places need: the channel admin and the admin's front page."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.models import Channel, ChannelOrder, InboundRecord, Listing, OrderLine
from connectors.platforms import registry
from inventory.display import when


def _listing_count(condition=None):
    listings = Listing.objects.filter(channel=OuterRef("pk"))
    if condition is not None:
        listings = listings.filter(condition)
    count = listings.order_by().values("channel").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def channels_with_health(queryset=None, *, listings=True):
    """Annotate n_pending and n_failed (and n_listings) on each channel.

    One subquery per count, each read from an index of its own ((channel, pending_since), the
    failed listings' partial index, (channel, variant)), rather than one join of every listing
    grouped by channel: with 100,000 listings a channel the join took 230 ms for five."""
    queryset = Channel.objects.all() if queryset is None else queryset
    counts = {
        "n_pending": _listing_count(Q(pending_since__isnull=False)),
        "n_failed": _listing_count(Q(status=Listing.Status.FAILED)),
    }
    if listings:
        counts["n_listings"] = _listing_count()
    return queryset.annotate(**counts)


def inbound_counts(channel=None):
    """Deliveries waiting and failed (or needing attention), for one channel or all."""
    records = InboundRecord.objects.all()
    if channel is not None:
        records = records.filter(channel=channel)
    S = InboundRecord.Status
    return records.aggregate(
        waiting=Count("pk", filter=Q(status=S.RECEIVED)),
        failed=Count("pk", filter=Q(status__in=[S.FAILED, S.ATTENTION])),
    )


def sales_counts():
    """The dashboard's counts: short lines, held orders, deliveries waiting and failed."""
    return {
        "short": OrderLine.objects.filter(state=OrderLine.State.SHORT).count(),
        "attention": ChannelOrder.objects.exclude(attention="").count(),
        **inbound_counts(),
    }


def quiet_channels(now=None):
    """Live channels whose platform sends webhooks and that sent none for QUIET_AFTER (or
    never, once they are that old): their events may have stopped arriving."""
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=settings.INBOUND["QUIET_AFTER"])
    candidates = Channel.objects.exclude(mode=Channel.Mode.PAUSED).filter(
        Q(last_event_at__lt=quiet_since) | Q(last_event_at__isnull=True, created_at__lt=quiet_since)
    )
    return [c for c in candidates.order_by("name") if _sends_webhooks(c.platform)]


def _sends_webhooks(platform):
    try:
        return registry.connector_class(platform).webhooks
    except LookupError:
        return False


@dataclass(frozen=True)
class ChannelHealth:
    """A channel's state as the dashboard says it: its mode in a word, why it is paused, its
    last success, its last error while it is current (a later success ends it: the error is
    then `recovered_at`, kept out of the "Last error" column) and its circuit in words."""

    channel: Channel
    mode: str
    reason: str
    last_success_at: object
    error: str
    error_at: object
    recovered_at: object
    circuit: str
    circuit_open: bool


def channel_health(channel, now):
    """The one reading of a channel's state, for the dashboard and the channel list (the
    fields of Channel; kept here so that a change of what those fields mean changes one
    function)."""
    success, error_at = channel.last_success_at, channel.last_error_at
    current = bool(channel.last_error) and (
        success is None or error_at is None or error_at > success
    )
    circuit = channel.circuit_state(now)
    if circuit == "open":
        circuit = f"open until {when(channel.circuit_open_until)}"
    return ChannelHealth(
        channel=channel,
        mode=channel.get_mode_display().split(":")[0],
        reason=channel.paused_reason if channel.mode != Channel.Mode.LIVE else "",
        last_success_at=success,
        error=channel.last_error if current else "",
        error_at=error_at if current else None,
        recovered_at=error_at if channel.last_error and not current else None,
        circuit=circuit,
        circuit_open=circuit != "closed",
    )
