"""Drift: what a channel holds against what it should show, and the three ways to settle it."""

from django.db import transaction
from django.utils import timezone

from connectors import listing_state, queue
from connectors.exceptions import ConfigError
from connectors.models import Drift, Listing
from connectors.quantities import available_showing, open_order_units, targets_for
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
    """The channel shows `quantity` where it should show `target`: count the variant's on
    hand, at the channel's location holding most of it, to what makes the channel's rules
    (buffer, percentage, cap, zero-out) show `quantity` (a ledger entry, source "channel").
    Where rounding lets several on hands show it, the one nearest ours is taken. Raises
    InventoryError, saying why and offering a count, where no on hand shows it or the number
    says too little to pick one (the cap, or 0 under a buffer or zero-out threshold)."""
    variant, channel = listing.variant, listing.channel
    if quantity is None or target is None:
        raise InventoryError("an unlimited quantity cannot be taken as a count")
    locations = list(channel.locations.values_list("pk", flat=True))
    if not locations:
        raise InventoryError("the channel sells from no location to count it at")
    levels = list(
        StockLevel.objects.filter(variant_id=variant.pk, location_id__in=locations)
        .select_related("location")
        .order_by("-on_hand", "location__code")
    )
    summed = sum(level.available for level in levels)
    available, note = _available_to_show(channel, variant, quantity, max(summed, 0))
    level = levels[0] if levels else None
    location_id = level.location_id if level else min(locations)
    on_hand = level.on_hand if level else 0
    count = on_hand + available - summed  # the others' available stays as it is
    if count < 0:
        where = level.location.code if level else "its location"
        raise InventoryError(
            f"{channel.name} shows {quantity}, which needs {available} available, but the other "
            f"locations it sells hold {summed - (level.available if level else 0)} available: "
            f"more than that even with nothing at {where}; {_count_instead(variant)}"
        )
    return stock_apply(
        lines=[
            StockLine(
                action="count",
                quantity=count,
                variant_id=variant.pk,
                location_id=location_id,
                expected=on_hand,
            )
        ],
        source=Source.CHANNEL,
        reason=f"{reason}: {note}"[:255],
        reference=reference,
        user=user,
    )


def _available_to_show(channel, variant, quantity, ours):
    """The available stock, summed over the channel's locations, under which its rules show
    `quantity`: the only one, or the one nearest `ours` where rounding allows a few; and
    the words that say so, for the count's reason."""
    name = f"{channel.name} shows {quantity}"
    short = open_order_units([variant.pk]).get(variant.pk, 0)
    if short:
        raise InventoryError(
            f"{name}, but shows 0 whatever is there until {short} oversold unit(s) on open "
            f"orders are settled; {_count_instead(variant)}"
        )
    shows = available_showing(channel, quantity)
    if shows is None:
        raise InventoryError(
            f"{name}: no stock gives that under its rules ({_rules(channel)}); "
            f"{_count_instead(variant)}"
        )
    if not shows.unique and quantity == 0:
        upto = "up" if shows.high is None else f"to {shows.high}"
        raise InventoryError(
            f"{name}: anything from 0 {upto} available shows 0 under its rules "
            f"({_rules(channel)}), so it says not how many there are; {_count_instead(variant)}"
        )
    if shows.high is None:
        raise InventoryError(
            f"{name}, its cap: any {shows.low} or more available shows that, so it says not "
            f"how many there are; {_count_instead(variant)}"
        )
    chosen = min(max(ours, shows.low), shows.high)
    if shows.unique:
        return chosen, f"{chosen} available shows {quantity} ({_rules(channel)})"
    return chosen, (
        f"{shows.low} to {shows.high} available show {quantity} ({_rules(channel)}); "
        f"{chosen}, the nearest to our {ours}"
    )


def _rules(channel):
    rules = [
        f"buffer {channel.buffer}" if channel.buffer else "",
        f"{channel.percentage}%" if channel.percentage is not None else "",
        f"cap {channel.cap}" if channel.cap is not None else "",
        f"0 at or below {channel.zero_out_threshold}" if channel.zero_out_threshold else "",
    ]
    return ", ".join(r for r in rules if r) or "none"


def _count_instead(variant):
    return f"count {variant.sku} instead (Adjust stock on its page) with what is really there"


def drift_ignore(drift, user=None):
    _resolve(drift, Drift.Resolution.IGNORED, user)


def _resolve(drift, resolution, user):
    drift.resolution = resolution
    drift.resolved_at = timezone.now()
    drift.resolved_by = user
    drift.save(update_fields=["resolution", "resolved_at", "resolved_by", "movement_id"])
