"""Elastic Path's integration events and orders, read as inbound values (channels-inbound.md §3).

An event is {"id", "triggered_by", "attempt", "integration", "payload", "resources",
"configuration"}; an order event's payload is {"data": order, "included": {"items": [...]}}.
The stage comes from the order's state in the payload (§3.4: an old order.paid may arrive
after order.fulfilled), never from `triggered_by`. Nothing here sends a request: the
connector passes in how to fetch an order's items when a payload carries none.

The poll's window (Window) lives here too, so the connector only sends what it says.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    Event,
    Order,
    OrderLine,
    Unreadable,
    whole,
)

STOCK_TOPIC = "stock-transaction.created"
# What register_webhooks observes (§3.1, with order.authorized: it allocates too, §6.1).
OBSERVES = (
    "order.created",
    "order.authorized",
    "order.paid",
    "order.fulfilled",
    "order.cancelled",
    "order.refunded",
    STOCK_TOPIC,
)
# Payment states under which Elastic Path holds the order's units allocated (§3.7: it
# allocates at the first completed or authorised payment and deallocates only on a failed
# payment or a cancel; a refund alone leaves the allocation).
HELD = ("authorized", "partially_authorized", "paid", "partially_paid", "refunded")
MAX_ID = 128  # ids, like the columns that keep them
MAX_SKU = 64
OVERLAP = timedelta(minutes=5)  # each pass starts this much before the newest change seen


def loads(body):
    """The JSON value of a body; Unreadable for anything that is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, TypeError, RecursionError):  # bad UTF-8, huge numbers, deep nesting
        raise Unreadable("the body is not JSON") from None


def envelope(body):
    """(event, its id, its topic) of an integration event; Unreadable when it is not one."""
    event = loads(body)
    if not isinstance(event, dict):
        raise Unreadable("an Elastic Path event is a JSON object")
    event_id, topic = event.get("id"), event.get("triggered_by")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID:
        raise Unreadable(f"the event has no id of 1 to {MAX_ID} characters")
    if not isinstance(topic, str) or not 0 < len(topic) <= 64:
        raise Unreadable("the event does not say what triggered it (triggered_by)")
    return event, event_id, topic


def read_event(event, event_id, topic, items_of):
    """The event as an inbound.Event; `items_of(order id)` fetches an order's items."""
    if topic == STOCK_TOPIC:
        return Event(event_id, topic, note=stock_note(payload(event)))
    if not topic.startswith("order."):
        return Event(event_id, topic, note=f"{topic} is not an order or stock event")
    body = payload(event)
    data = body.get("data")
    if data is None and "id" in body:  # a deleted resource is only {"type", "id"}
        return Event(event_id, topic, note=f"{topic}: the payload is only a deleted order's id")
    if not isinstance(data, dict):
        raise Unreadable(f"{topic}: the payload has no order under data")
    included = body.get("included")
    if included is None:
        items = items_of(order_id(data))
    elif isinstance(included, dict) and isinstance(included.get("items"), list):
        items = included["items"]
    else:
        raise Unreadable(f"{topic}: included is not {{'items': [...]}}")
    return Event(event_id, topic, orders=(read_order(data, items),))


def payload(event):
    """The event's payload object (the deprecated `resources` string where it has none)."""
    body = event.get("payload")
    if body is None and isinstance(event.get("resources"), str):
        body = loads(event["resources"])
    if not isinstance(body, dict):
        raise Unreadable("the event has no payload object")
    return body


def stock_note(body):
    """Why a stock transaction event changes nothing here: it carries the movement, never
    the level it left, and whose it was cannot be told (module docstring of the connector)."""
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    fields = data.get("attributes") if isinstance(data.get("attributes"), dict) else data
    action, product = text(fields.get("action"))[:20], text(fields.get("product_id"))[:MAX_ID]
    quantity = fields.get("quantity")
    moved = f"{action or 'a transaction'} of {quantity if type(quantity) is int else '?'}"
    return (
        f"stock transaction: {moved} on product {product or '?'}; Elastic Path does not say "
        "the level it left (the next push reads it), and sales come from their orders"
    )


def order_id(data):
    value = mapping(data).get("id")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID:
        raise Unreadable(f"an order needs an id of 1 to {MAX_ID} characters")
    return value


def read_order(data, items):
    """An order object and its items as an inbound.Order."""
    if not isinstance(data, dict):
        raise Unreadable("an order is a JSON object")
    oid = order_id(data)
    if data.get("type", "order") != "order":
        raise Unreadable(f"order {oid!r}: the resource is not an order")
    if not isinstance(items, list):
        raise Unreadable(f"order {oid!r}: its items are not a list")
    status, payment, shipping = (text(data.get(k)) for k in ("status", "payment", "shipping"))
    timestamps = mapping(mapping(data.get("meta")).get("timestamps"))
    lines = (read_line(oid, item) for item in items)
    return Order(
        order_id=oid,
        status=" / ".join((w or "?")[:20] for w in (status, payment, shipping)),
        stage=stage(status, payment, shipping),
        lines=tuple(line for line in lines if line is not None),
        placed_at=when(timestamps.get("created_at")),
        updated_at=when(timestamps.get("updated_at")),
    )


def read_line(oid, item):
    """One order item as an OrderLine; None for an item that is no product (a custom item,
    a promotion or shipping line: neither product_id nor sku)."""
    if not isinstance(item, dict):
        raise Unreadable(f"order {oid!r}: an item is not a JSON object")
    product, sku = text(item.get("product_id")), text(item.get("sku"))
    if not product and not sku:
        return None
    line_id = text(item.get("id")) or f"product:{product or sku}"
    if len(line_id) > MAX_ID or len(product) > MAX_ID:
        raise Unreadable(f"order {oid!r}: an item's ids are over {MAX_ID} characters")
    quantity = whole(item.get("quantity"), f"order {oid!r} item {line_id!r}")
    # A SKU longer than any of ours cannot name a listing: matched by product id alone.
    return OrderLine(line_id, quantity, remote_id=product, sku=sku if len(sku) <= MAX_SKU else "")


def stage(status, payment, shipping):
    """Where the order's stock stands on Elastic Path (channels-inbound.md §6.1, §3.7)."""
    if shipping == "fulfilled":
        return FULFILLED  # shipped (a refund after it restocks nothing: it stays so)
    if status == "cancelled":
        return CANCELLED
    if payment in HELD:
        return OPEN
    return PENDING  # unpaid (or a payment state not documented): no stock held yet


def text(value):
    return value if isinstance(value, str) else ""


def mapping(value):
    return value if isinstance(value, dict) else {}


def when(value):
    """An ISO 8601 timestamp as an aware datetime (UTC when it has no offset); None when
    it is none."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def wire(moment):
    """A datetime as the quoted timestamp operand of Elastic Path's filters."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Window:
    """One pass over the orders updated after `since`, page by page (page[offset]), then the
    next pass from the newest change seen, OVERLAP earlier (never before `since`).

    The listing is newest-created first [I]. Past the offset cap a pass goes on with
    le(created_at, the oldest created_at seen) at offset 0, so a catch-up of more than
    10,000 orders is still read whole."""

    since: datetime
    started: datetime | None = None  # our clock when the pass's first page was asked for
    offset: int = 0
    seen: datetime | None = None  # the newest updated_at of the pass
    oldest: datetime | None = None  # the oldest created_at of the pass
    before: datetime | None = None  # the created_at bound once past the cap

    KEYS = ("since", "started", "seen", "oldest", "before")

    @classmethod
    def resume(cls, cursor, now):
        """The window a stored cursor describes (a fresh one from `now` if it holds none)."""
        cursor = mapping(cursor)
        since = when(cursor.get("since"))
        if since is None:
            return cls(since=now - OVERLAP, started=now)
        offset = cursor.get("offset")
        return cls(
            since=since,
            started=when(cursor.get("started")) or now,
            offset=offset if type(offset) is int and offset >= 0 else 0,
            seen=when(cursor.get("seen")),
            oldest=when(cursor.get("oldest")),
            before=when(cursor.get("before")),
        )

    def params(self, limit):
        filters = [f'gt(updated_at,"{wire(self.since)}")']
        if self.before is not None:
            filters.append(f'le(created_at,"{wire(self.before)}")')
        return {"filter": ":".join(filters), "page[limit]": limit, "page[offset]": self.offset}

    def saw(self, row):
        """Note one listed order's timestamps."""
        timestamps = mapping(mapping(mapping(row).get("meta")).get("timestamps"))
        updated, created = when(timestamps.get("updated_at")), when(timestamps.get("created_at"))
        if updated is not None and (self.seen is None or updated > self.seen):
            self.seen = updated
        if created is not None and (self.oldest is None or created < self.oldest):
            self.oldest = created

    def advance(self, count, more_rows, max_offset):
        """Move past a page of `count` orders; True when the pass has another page now."""
        offset = self.offset + count
        if count and more_rows:
            if offset <= max_offset:
                self.offset = offset
                return True
            if self.oldest is not None and self.oldest != self.before:
                self.before, self.offset = self.oldest, 0
                return True
        if self.seen is not None:
            self.since = max(self.since, min(self.seen, self.started or self.seen) - OVERLAP)
        self.started, self.offset, self.seen, self.oldest, self.before = (None, 0, None, None, None)
        return False

    def cursor(self):
        kept = {key: wire(getattr(self, key)) for key in self.KEYS if getattr(self, key)}
        return {**kept, "offset": self.offset}
