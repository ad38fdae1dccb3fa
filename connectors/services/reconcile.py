"""Drift: what a channel holds against what it should show, and the three ways to settle it."""

from django.db import transaction
from django.utils import timezone

from connectors import listing_state, queue
from connectors.exceptions import ConfigError
from connectors.models import Drift, Listing
from connectors.quantities import targets_for
from connectors.services.channel_io import channel_connector, push_items, store_exchanges
from inventory.exceptions import InventoryError
from inventory.models import Source, StockLevel
from inventory.services import StockLine, stock_apply

CHUNK = 500
# A reconcile reads a whole channel in a job of its own: it waits out the channel's rate
# limit rather than give up (a minute is Webflow's window).
PATIENCE = 120


def channel_reconcile(channel):
    """Read every listing's level from the channel; open a Drift for each that differs from
    its target (closing drifts that are gone). Returns the open drifts found."""
    connector = channel_connector(channel, max_wait=PATIENCE)
    if not connector.capabilities.reads_levels:
        raise ConfigError(f"{channel.name}: {channel.platform_label} cannot read levels")
    listings = list(channel.listings.select_related("variant").order_by("pk"))
    found = []
    for start in range(0, len(listings), CHUNK):
        chunk = listings[start : start + CHUNK]
        targets = targets_for(channel, [listing.variant for listing in chunk])
        items = push_items(chunk, targets)
        stored = len(connector.exchanges)
        shows = connector.read_levels(items)
        store_exchanges(channel, connector.exchanges[stored:], {i.key: i for i in items})
        for listing, item in zip(chunk, items, strict=True):
            if item.key not in shows:
                continue  # the channel does not know it: the push reports that per item
            found += _compare(listing, shows[item.key], item.quantity)
    return found


def _compare(listing, channel_quantity, target):
    open_drift = listing.drifts.filter(resolution=Drift.Resolution.OPEN).first()
    if channel_quantity == target:
        if open_drift:
            _resolve(open_drift, Drift.Resolution.GONE, None)
        return []
    if open_drift:
        open_drift.channel_quantity, open_drift.target = channel_quantity, target
        open_drift.save(update_fields=["channel_quantity", "target"])
        return [open_drift]
    return [Drift.objects.create(listing=listing, channel_quantity=channel_quantity, target=target)]


def drift_push_ours(drift, user=None):
    """Mark the listing for a push of our quantity (the worker sends it)."""
    with transaction.atomic():
        # Sent whatever the listing last confirmed: the channel was seen to hold another number.
        listing_state.push_asked(Listing.objects.filter(pk=drift.listing_id))
        _resolve(drift, Drift.Resolution.PUSHED, user)
        queue.sync_on_commit(drift.listing.channel_id)


def drift_accept(drift, user=None):
    """Take the channel's quantity as a count (see channel_count)."""
    listing = drift.listing
    with transaction.atomic():
        result = channel_count(
            listing,
            drift.channel_quantity,
            drift.target,
            reason=f"Accepted {listing.channel.name}'s quantity {drift.channel_quantity}",
            reference=f"drift #{drift.pk}",
            user=user,
        )
        drift.movement_id = result.movement.pk if result.movement else None
        _resolve(drift, Drift.Resolution.ACCEPTED, user)


def channel_count(listing, quantity, target, *, reason, reference, user=None):
    """The channel shows `quantity` where it should show `target`: the difference is taken
    as a count (a ledger entry, source "channel") of the variant's on hand at the channel's
    location holding most of it. Raises InventoryError where it cannot be counted."""
    if quantity is None or target is None:
        raise InventoryError("an unlimited quantity cannot be taken as a count")
    locations = list(listing.channel.locations.values_list("pk", flat=True))
    if not locations:
        raise InventoryError("the channel sells from no location to count it at")
    level = (
        StockLevel.objects.filter(variant_id=listing.variant_id, location_id__in=locations)
        .order_by("-on_hand", "location__code")
        .first()
    )
    location_id = level.location_id if level else min(locations)
    on_hand = level.on_hand if level else 0
    return stock_apply(
        lines=[
            StockLine(
                action="count",
                quantity=max(on_hand + quantity - target, 0),
                variant_id=listing.variant_id,
                location_id=location_id,
                expected=on_hand,
            )
        ],
        source=Source.CHANNEL,
        reason=reason,
        reference=reference,
        user=user,
    )


def drift_ignore(drift, user=None):
    _resolve(drift, Drift.Resolution.IGNORED, user)


def _resolve(drift, resolution, user):
    drift.resolution = resolution
    drift.resolved_at = timezone.now()
    drift.resolved_by = user
    drift.save(update_fields=["resolution", "resolved_at", "resolved_by", "movement_id"])
