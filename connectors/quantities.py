"""The quantity a channel should show for a variant, the words that explain it, and the
ledger entry it reflects."""

from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery, Sum

from connectors.models import OrderLine
from inventory.models import StockLevel, StockTransaction


@dataclass
class Target:
    """A channel's quantity for one variant (None: untracked, sell without limit), and the
    newest ledger entry at the channel's locations that it reflects (None: no stock moved)."""

    quantity: int | None
    steps: list = field(default_factory=list)
    ledger_entry: int | None = None

    @property
    def explanation(self):
        return " ".join(self.steps)


def channel_target(channel, *, tracked, available_by_location, short=0, archived=False):
    """Apply the channel's rules to the variant's available stock at its locations:
    sum (negatives count as 0 in total), minus buffer, percentage (rounded down), cap,
    then zero-out at or below the threshold. `short`: units of open orders that found no
    stock (oversold): the variant shows 0 everywhere until they are settled.

    What a channel is sent is what it should show as available: a platform that holds its
    own paid orders' units (Elastic Path allocates at payment) holds them out of its
    available, as our ledger does once the order is in, so nothing is added back.
    `archived`: the variant is discontinued and kept listed: shown as 0, whatever its stock."""
    if archived:
        return Target(0, ["archived: shown as 0"])
    if not tracked:
        return Target(None, ["untracked: shown as unlimited"])
    if short:
        return Target(0, [f"oversold: {short} on open orders found no stock; shown as 0"])
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


REACH = 2**40  # an available stock past any real one: what shows there shows for all above


@dataclass(frozen=True)
class Preimage:
    """The summed available stock, `low` to `high` (None: no limit), that the channel's
    rules show as one quantity."""

    low: int
    high: int | None

    @property
    def unique(self):
        return self.low == self.high


def available_showing(channel, quantity):
    """The Preimage of `quantity` under the channel's rules (channel_target, for a tracked
    variant), or None when no available stock shows it (above the cap, below the zero-out
    threshold, a step the percentage skips). The rules never lower what is shown when more
    is available, so the stock showing a quantity is one interval, found by bisection."""

    def shown(available):
        return channel_target(
            channel, tracked=True, available_by_location=[("", available)]
        ).quantity

    if quantity < 0 or shown(REACH) < quantity:
        return None
    low = _first(lambda a: shown(a) >= quantity, 0, REACH)
    if shown(low) != quantity:
        return None
    if shown(REACH) == quantity:
        return Preimage(low, None)
    return Preimage(low, _first(lambda a: shown(a) > quantity, low, REACH) - 1)


def _first(holds, low, high):
    """The least value in low..high where `holds` (monotone, true at high) is true."""
    while low < high:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle + 1
    return low


def open_order_units(variant_ids):
    """{variant_id: units} of open channel order lines that found no stock (oversold)."""
    lines = OrderLine.objects.filter(variant_id__in=variant_ids, state=OrderLine.State.SHORT)
    return dict(lines.values_list("variant_id").annotate(units=Sum("quantity")).order_by())


def targets_for(channel, variants):
    """{variant_id: Target} for variants on this channel, from the current levels (2 queries).

    Each level is read with its newest ledger entry in one statement, so the entry a push
    records is the one its quantity reflects, never a newer one (one snapshot, on either
    database; the (variant, location, id) index answers each)."""
    locations = {loc.pk: loc.code for loc in channel.locations.all()}
    newest = StockTransaction.objects.filter(
        variant_id=OuterRef("variant_id"), location_id=OuterRef("location_id")
    ).order_by("-id")
    rows = (
        StockLevel.objects.filter(variant__in=[v.pk for v in variants], location_id__in=locations)
        .annotate(entry=Subquery(newest.values("id")[:1]))
        .order_by("variant_id", "location_id")
        .values_list("variant_id", "location_id", "available", "entry")
    )
    by_variant, entries = {}, {}
    for variant_id, location_id, available, entry in rows:
        by_variant.setdefault(variant_id, []).append((locations[location_id], available))
        if entry is not None:
            entries[variant_id] = max(entries.get(variant_id, entry), entry)
    orders = open_order_units([v.pk for v in variants])
    targets = {}
    for v in variants:
        short = orders.get(v.pk, 0)
        target = channel_target(
            channel,
            tracked=v.tracked,
            available_by_location=by_variant.get(v.pk, []),
            short=short,
            archived=v.archived_at is not None,
        )
        target.ledger_entry = entries.get(v.pk)
        targets[v.pk] = target
    return targets
