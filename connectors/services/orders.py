"""Orders from the channels: each line's stock follows its order's stage, once.

An order arrives as the channel shows it now (an inbound.Order, from a webhook or a poll).
It is stored, and each line is brought from the stock state it has reached to the one its
stage asks for, one step at a time, through the one stock service:

    step      from                  to          movement (source "channel")
    --------  --------------------  ----------  -------------------------------------------
    allocate  waiting, short        allocated   allocate at the first of the channel's
                                                locations (its allocation order) that has
                                                enough available; none has: short, no move
    ship      allocated             fulfilled   one movement of two lines at its location:
                                                deallocate q, decrement q (on hand and
                                                allocated down together, available unchanged)
    release   allocated             cancelled   deallocate q
    return    fulfilled             returned    increment q at the channel's return location
                                                (or where it was allocated)

A line only moves forward: an old "paid" arriving after "shipped" changes nothing, and a
"shipped" arriving before "created" allocates and ships. Each step's movement carries the key
channel + order + line + step, so the same transition arriving twice, by webhook and by
poll, or from two workers at once, is applied once (the order row is locked meanwhile).

A line matching no listing holds the whole order: nothing of it is applied, and it is kept
with the reason ("needs attention") until a listing exists and it is processed again.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from connectors import listing_state, queue
from connectors.models import ChannelOrder, Listing, OrderLine
from connectors.platforms import inbound
from inventory.exceptions import IdempotencyConflict, StockRefused
from inventory.models import Movement, Source
from inventory.services import StockLine, stock_apply

State = OrderLine.State
# Where each stage takes a line, from each state (absent: nothing to do).
NEXT = {
    inbound.OPEN: {State.WAITING: "allocate", State.SHORT: "allocate"},
    inbound.FULFILLED: {
        State.WAITING: "allocate",
        State.SHORT: "allocate",
        State.ALLOCATED: "ship",
    },
    inbound.CANCELLED: {
        State.WAITING: "drop",
        State.SHORT: "drop",
        State.ALLOCATED: "release",
    },
    inbound.RETURNED: {
        State.WAITING: "drop",
        State.SHORT: "drop",
        State.ALLOCATED: "release",
        State.FULFILLED: "return",
    },
}
RANK = {inbound.PENDING: 0, inbound.OPEN: 1, inbound.FULFILLED: 2, inbound.CANCELLED: 2}
RANK[inbound.RETURNED] = 3


@dataclass
class Applied:
    """What taking in one order did: the stored order, its new movements, and in words."""

    order: ChannelOrder
    movements: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    attention: str = ""

    @property
    def summary(self):
        if self.attention:
            return f"order {self.order.remote_id} needs attention: {self.attention}"
        done = "; ".join(self.notes) or "nothing to change"
        return f"order {self.order.remote_id} ({self.order.status}): {done}"


def order_apply(channel, order):
    """Store `order` (an inbound.Order) on `channel` and bring its lines' stock to its stage;
    an Applied. Safe to call again with the same or an older view of the order."""
    with transaction.atomic():
        row = _locked_order(channel, order)
        if _unchanged(row, order):  # a poll sees open orders again and again: nothing to do
            return Applied(row)
        newer = _newer(row, order)
        if newer:
            row.status, row.stage = order.status[:64], order.stage
            row.remote_updated_at = order.updated_at or row.remote_updated_at
            row.placed_at = row.placed_at or order.placed_at
            row.seen = _seen(order)
        applied = Applied(row)
        lines, attention = _lines(channel, row, order)
        row.attention = attention
        row.save()
        if attention:
            applied.attention = attention
            return applied
        for line, fact in lines:
            # A line only moves forward (NEXT), so an older view of the order changes nothing.
            _advance(channel, row, line, (fact.stage if newer else None) or row.stage, applied)
        return applied


def order_reapply(order):
    """Staff: apply the order again as the channel last showed it (a listing was added for
    a line that had none); an Applied."""
    return order_apply(order.channel, _from_seen(order.seen))


def order_retry_short(order):
    """Try again to allocate the order's short lines (stock came in); an Applied."""
    with transaction.atomic():
        row = ChannelOrder.objects.select_for_update().get(pk=order.pk)
        applied = Applied(row)
        for line in row.lines.select_related("variant").filter(state=State.SHORT):
            _advance(row.channel, row, line, row.stage, applied)
        return applied


# --------------------------------------------------------------------------- storing


def _seen(order):
    """The order as JSON (kept to apply it again)."""
    return {
        "order_id": order.order_id,
        "status": order.status,
        "stage": order.stage,
        "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
        "lines": [
            {
                "line_id": line.line_id,
                "quantity": line.quantity,
                "remote_id": line.remote_id,
                "remote_parent_id": line.remote_parent_id,
                "sku": line.sku,
                "stage": line.stage,
            }
            for line in order.lines
        ],
    }


def _from_seen(seen):
    moment = datetime.fromisoformat
    return inbound.Order(
        order_id=seen["order_id"],
        status=seen["status"],
        stage=seen["stage"],
        placed_at=moment(seen["placed_at"]) if seen.get("placed_at") else None,
        updated_at=moment(seen["updated_at"]) if seen.get("updated_at") else None,
        lines=tuple(inbound.OrderLine(**line) for line in seen["lines"]),
    )


def _locked_order(channel, order):
    fields = {
        "status": order.status[:64],
        "stage": order.stage,
        "placed_at": order.placed_at,
        "remote_updated_at": order.updated_at,
    }
    existing = ChannelOrder.objects.select_for_update().filter(
        channel=channel, remote_id=order.order_id
    )
    row = existing.first()
    if row is not None:
        row._fresh = False
        return row
    try:
        with transaction.atomic():
            row = ChannelOrder.objects.create(channel=channel, remote_id=order.order_id, **fields)
            row._fresh = True
            return row
    except IntegrityError:  # another worker stored it first: wait for its lock
        row = existing.get()
        row._fresh = False
        return row


def _unchanged(row, order):
    """The order as stored, all of it applied: no line held short or waiting for a listing."""
    if row._fresh or row.attention or row.seen != _seen(order):
        return False
    return not row.lines.filter(state=State.SHORT).exists()


def _newer(row, order):
    """Whether `order` is at least as new as what is stored (then its status is taken)."""
    if row._fresh:
        return True
    if RANK[order.stage] > RANK.get(row.stage, 0):
        return True
    if RANK[order.stage] < RANK.get(row.stage, 0):
        return False
    if order.updated_at and row.remote_updated_at:
        return order.updated_at >= row.remote_updated_at
    return True


def _lines(channel, row, order):
    """[(OrderLine, inbound.OrderLine)] for the order's lines, stored; or the reason one
    matches no listing (then nothing is stored for the unmatched line)."""
    stored = {line.line_id: line for line in row.lines.select_related("variant")}
    missing, pairs = [], []
    listings = _listings(channel, order.lines)
    for fact in order.lines:
        line = stored.get(fact.line_id)
        if line is None or line.listing_id is None:
            listing = listings.get(fact.line_id)
            if listing is None:
                missing.append(_describe(fact))
                continue
            if line is None:
                line = OrderLine(order=row, line_id=fact.line_id[:128], quantity=fact.quantity)
            line.listing, line.variant = listing, listing.variant
            line.sku = (fact.sku or listing.variant.sku)[:64]
            line.remote_id, line.remote_parent_id = (
                fact.remote_id[:128],
                fact.remote_parent_id[:128],
            )
            line.save()
        pairs.append((line, fact))
    if missing:
        return [], "no listing on this channel for " + ", ".join(missing)
    return pairs, ""


def _listings(channel, facts):
    """{line_id: Listing} found by remote ids (with the parent id where given), else SKU."""
    listings = list(
        Listing.objects.filter(channel=channel)
        .filter(remote_id__in={f.remote_id for f in facts if f.remote_id})
        .select_related("variant")
    )
    by_sku = {}
    skus = {f.sku for f in facts if f.sku}
    if skus:
        for listing in Listing.objects.filter(
            channel=channel, variant__sku__in=skus
        ).select_related("variant"):
            by_sku[listing.variant.sku] = listing
    found = {}
    for fact in facts:
        candidates = [
            listing
            for listing in listings
            if listing.remote_id == fact.remote_id
            and (not fact.remote_parent_id or listing.remote_parent_id == fact.remote_parent_id)
        ]
        if len(candidates) == 1:
            found[fact.line_id] = candidates[0]
        elif fact.sku in by_sku:
            found[fact.line_id] = by_sku[fact.sku]
    return found


def _describe(fact):
    ids = "/".join(i for i in (fact.remote_parent_id, fact.remote_id) if i)
    words = [f"SKU {fact.sku!r}"] if fact.sku else []
    if ids:
        words.append(f"item {ids}")
    return f"line {fact.line_id!r} ({' '.join(words) or 'no ids'})"


# --------------------------------------------------------------------------- steps


def _advance(channel, order, line, stage, applied):
    """Take the line step by step towards `stage` (at most two steps: allocate, then ship)."""
    for _ in range(2):
        step = NEXT.get(stage, {}).get(line.state)
        if step is None:
            return
        before = line.state
        if step == "drop":
            line.state = State.CANCELLED
            applied.notes.append(f"{line.sku}: cancelled before any stock was held")
        elif step == "allocate":
            _allocate(channel, order, line, applied)
        else:
            _move(channel, order, line, step, applied)
        line.save(update_fields=["state", "location", "note"])
        if line.state == before or line.state == State.SHORT:
            return


def _allocate(channel, order, line, applied):
    was_short = line.state == State.SHORT
    candidates = _allocation_locations(channel)
    for location in candidates:
        try:
            movement = _apply(channel, order, line, "allocate", "allocate", location)
        except StockRefused:
            continue
        line.state, line.location, line.note = State.ALLOCATED, location, ""
        applied.movements.append(movement)
        applied.notes.append(f"{line.sku}: {line.quantity} allocated at {location.code}")
        if was_short:
            _short_changed(line)
        return
    where = ", ".join(c.code for c in candidates) or "no location (the channel sells none)"
    line.note = f"no stock to allocate {line.quantity} at {where}"
    applied.notes.append(f"{line.sku}: SHORT, {line.note}")
    if not was_short:
        line.state = State.SHORT
        _short_changed(line)


def _move(channel, order, line, step, applied):
    location = line.location
    if step == "return":
        location = channel.return_location or line.location
    action = {"ship": "ship", "release": "deallocate", "return": "increment"}[step]
    movement = _apply(channel, order, line, step, action, location)
    line.state = {"ship": State.FULFILLED, "release": State.CANCELLED, "return": State.RETURNED}[
        step
    ]
    if step == "return":
        line.location = location
    applied.movements.append(movement)
    words = {"ship": "shipped from", "release": "released at", "return": "returned to"}[step]
    applied.notes.append(f"{line.sku}: {line.quantity} {words} {location.code}")


def _apply(channel, order, line, step, action, location):
    """The step's movement (a replay returns the first); raises StockRefused."""
    if action == "ship":
        lines = [
            StockLine(
                "deallocate", line.quantity, variant_id=line.variant_id, location_id=location.pk
            ),
            StockLine(
                "decrement", line.quantity, variant_id=line.variant_id, location_id=location.pk
            ),
        ]
    else:
        lines = [
            StockLine(action, line.quantity, variant_id=line.variant_id, location_id=location.pk)
        ]
    key = step_key(channel, order.remote_id, line.line_id, step)
    try:
        result = stock_apply(
            lines=lines,
            source=Source.CHANNEL,
            reason=f"{channel.name} order {order.remote_id}: {step}"[:255],
            reference=str(order)[:255],
            key=key,
        )
    except IdempotencyConflict:
        # Applied before with other lines (another location): that movement stands.
        return Movement.objects.get(idempotency_key=key)
    return result.movement


def step_key(channel, order_id, line_id, step):
    """The idempotency key of one step of one line: channel + order + line + step."""
    key = f"order:{channel.pk}:{order_id}:{line_id}:{step}"
    if len(key) <= 255:
        return key
    digest = hashlib.sha256(f"{order_id}\0{line_id}".encode()).hexdigest()
    return f"order:{channel.pk}:sha256:{digest}:{step}"


def _allocation_locations(channel):
    """The channel's locations in the order it allocates at (named codes first, in their
    order, matched whatever their case; then the rest by code)."""
    locations = sorted(channel.locations.all(), key=lambda loc: loc.code)
    named = {code.upper(): i for i, code in enumerate(channel.allocation_codes())}
    return sorted(locations, key=lambda loc: named.get(loc.code.upper(), len(named)))


def _short_changed(line):
    """A line became short or stopped being: every channel listing the variant shows its
    quantity again (0 while a line is short)."""
    listings = Listing.objects.filter(variant_id=line.variant_id)
    if listing_state.mark_pending(listings, forget=True):
        queue.request_on_commit(set(listings.values_list("channel_id", flat=True)))
