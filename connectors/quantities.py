"""The quantity a channel should show for a variant, and the words that explain it."""

from dataclasses import dataclass, field

from django.db.models import Max

from inventory.models import StockLevel, StockTransaction


@dataclass
class Target:
    """A channel's quantity for one variant (None: untracked, sell without limit)."""

    quantity: int | None
    steps: list = field(default_factory=list)

    @property
    def explanation(self):
        return " ".join(self.steps)


def channel_target(channel, *, tracked, available_by_location):
    """Apply the channel's rules to the variant's available stock at its locations:
    sum (negatives count as 0 in total), minus buffer, percentage (rounded down), cap,
    then zero-out at or below the threshold."""
    if not tracked:
        return Target(None, ["untracked: shown as unlimited"])
    parts = [f"{qty} at {code}" for code, qty in available_by_location]
    total = max(sum(qty for _, qty in available_by_location), 0)
    steps = ["available " + (" + ".join(parts) if parts else "0") + f" = {total}"]
    quantity = total
    if channel.buffer:
        quantity = max(quantity - channel.buffer, 0)
        steps.append(f"- buffer {channel.buffer} = {quantity}")
    if channel.percentage is not None:
        quantity = quantity * channel.percentage // 100
        steps.append(f"x {channel.percentage}% = {quantity}")
    if channel.cap is not None and quantity > channel.cap:
        quantity = channel.cap
        steps.append(f"capped at {channel.cap}")
    if channel.zero_out_threshold and 0 < quantity <= channel.zero_out_threshold:
        quantity = 0
        steps.append(f"at or below {channel.zero_out_threshold}: shown as 0")
    return Target(quantity, steps)


def targets_for(channel, variants):
    """{variant_id: Target} for variants on this channel, from the current levels (2 queries)."""
    locations = {loc.pk: loc.code for loc in channel.locations.all()}
    rows = (
        StockLevel.objects.filter(variant__in=[v.pk for v in variants], location_id__in=locations)
        .order_by("variant_id", "location_id")
        .values_list("variant_id", "location_id", "available")
    )
    by_variant = {}
    for variant_id, location_id, available in rows:
        by_variant.setdefault(variant_id, []).append((locations[location_id], available))
    return {
        v.pk: channel_target(
            channel, tracked=v.tracked, available_by_location=by_variant.get(v.pk, [])
        )
        for v in variants
    }


def last_ledger_entry(channel, variant_ids):
    """The newest ledger entry that the channel's quantities for these variants reflect."""
    return StockTransaction.objects.filter(
        variant_id__in=variant_ids, location__in=channel.locations.all()
    ).aggregate(last=Max("id"))["last"]
