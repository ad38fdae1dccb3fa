"""What Webflow sends and lists, read as inbound values (channels-inbound.md §1.2, §1.6, §6.1).

A webhook body is {"triggerType", "payload"}: for ecomm_new_order and ecomm_order_changed
the payload is the whole Order, as GET /v2/sites/{site}/orders/{id} shows it; for
ecomm_inventory_changed it is {"id": SKU id, "quantity": the level after, "inventoryType"}.
Everything here raises only Unreadable, with the reason, for anything else.

An Order's stage comes from its status and whether it was fulfilled (its `fulfilledOn`):

    pending                      pending (payment not confirmed: no stock effect yet)
    unfulfilled                  open
    fulfilled                    fulfilled
    refunded, never fulfilled    cancelled (Webflow has no cancel: a cancel is a refund)
    refunded after fulfilment    fulfilled (Webflow never restocks, so nothing came back)
    disputed, dispute-lost       fulfilled if it was fulfilled, else open (no stock effect)

A line is one purchased item: its `variantId` is the SKU id (the listing's remote_id) and
its `variantSKU` the SKU code. Its `productId` is the product's id, not the SKU collection
the listing keeps as remote_parent_id, so lines carry no remote_parent_id. Webflow has no
line ids: a line's id is its SKU id (its SKU code where an item names no SKU id), the same in
a webhook and a poll; two items of one SKU (not seen from Webflow, but not impossible) are
one line of their summed counts.
"""

import json
from datetime import UTC, datetime

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    MAX_QUANTITY,
    OPEN,
    PENDING,
    Event,
    Order,
    OrderLine,
    StockChange,
    Unreadable,
    whole,
)

NEW_ORDER, ORDER_CHANGED = "ecomm_new_order", "ecomm_order_changed"
INVENTORY_CHANGED = "ecomm_inventory_changed"
TOPICS = (NEW_ORDER, ORDER_CHANGED, INVENTORY_CHANGED)
STATUSES = ("pending", "unfulfilled", "fulfilled", "disputed", "dispute-lost", "refunded")
STAGES = {"pending": PENDING, "unfulfilled": OPEN, "fulfilled": FULFILLED}
DATES = ("acceptedOn", "fulfilledOn", "refundedOn", "disputedOn", "disputeUpdatedOn")
MAX_ID = 128  # the longest id a listing or an order keeps
MAX_TOPIC = 64
MAX_DATE = 40


def envelope(body) -> tuple:
    """(triggerType, payload) of a webhook body."""
    if not isinstance(body, bytes | bytearray):
        raise Unreadable("a webhook body is bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 and absurd nesting included
        raise Unreadable("the body is not JSON") from None
    if not isinstance(data, dict):
        raise Unreadable('a Webflow webhook is a JSON object {"triggerType", "payload"}')
    return text(data.get("triggerType"), "triggerType", MAX_TOPIC), data.get("payload")


def read_event(body) -> Event:
    topic, payload = envelope(body)
    if topic in (NEW_ORDER, ORDER_CHANGED):
        return Event(topic=topic, orders=(read_order(payload),))
    if topic == INVENTORY_CHANGED:
        return Event(topic=topic, stock=(read_stock(payload),))
    return Event(topic=topic, note=f"Webflow's {topic} says nothing of orders or stock")


def read_order(data) -> Order:
    """An Order object (a webhook's payload, or one the orders API lists)."""
    if not isinstance(data, dict):
        raise Unreadable("a Webflow order is a JSON object")
    order_id = text(data.get("orderId"), "orderId")
    status = data.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise Unreadable(f"order {order_id!r}: unknown status {shown(status)}")
    dates = {name: date(data.get(name), f"order {order_id!r}: {name}") for name in DATES}
    known = [d for d in dates.values() if d is not None]
    return Order(
        order_id=order_id,
        status=status,
        stage=stage(status, fulfilled=dates["fulfilledOn"] is not None),
        lines=read_lines(order_id, data.get("purchasedItems")),
        placed_at=dates["acceptedOn"],
        updated_at=max(known) if known else None,
    )


def stage(status: str, fulfilled: bool) -> str:
    if status in STAGES:
        return STAGES[status]
    if status == "refunded":
        return FULFILLED if fulfilled else CANCELLED
    return FULFILLED if fulfilled else OPEN  # disputed, dispute-lost


def read_lines(order_id: str, items) -> tuple:
    if not isinstance(items, list) or not items:
        raise Unreadable(f"order {order_id!r} has no purchasedItems")
    lines: dict[str, OrderLine] = {}
    for item in items:
        line = read_line(order_id, item)
        if line.line_id in lines:
            earlier = lines[line.line_id]
            line = OrderLine(
                line.line_id, earlier.quantity + line.quantity, line.remote_id, sku=line.sku
            )
        lines[line.line_id] = line
    return tuple(lines.values())


def read_line(order_id: str, item) -> OrderLine:
    where = f"order {order_id!r}: a purchased item"
    if not isinstance(item, dict):
        raise Unreadable(f"{where} is not an object")
    sku_id = optional_text(item.get("variantId"), f"{where}'s variantId")
    sku = optional_text(item.get("variantSKU"), f"{where}'s variantSKU")
    if not (sku_id or sku):
        raise Unreadable(f"{where} names no SKU (no variantId, no variantSKU)")
    count = number(item.get("count"), f"{where}'s count")
    return OrderLine(sku_id or f"sku:{sku}", count, remote_id=sku_id, sku=sku)


def read_stock(payload) -> StockChange:
    """An ecomm_inventory_changed payload (v2 `id`; v1 sent `_id`)."""
    if not isinstance(payload, dict):
        raise Unreadable("an ecomm_inventory_changed payload is a JSON object")
    sku_id = text(payload.get("id") or payload.get("_id"), "the SKU id")
    kind = payload.get("inventoryType")
    if kind == "infinite":
        return StockChange(remote_id=sku_id, quantity=None)
    if kind != "finite":
        raise Unreadable(f"SKU {sku_id!r}: inventoryType {shown(kind)} is not finite or infinite")
    quantity = number(payload.get("quantity"), f"SKU {sku_id!r}: quantity")
    if not 0 <= quantity <= MAX_QUANTITY:
        raise Unreadable(f"SKU {sku_id!r}: quantity {quantity} is not between 0 and 1,000,000")
    return StockChange(remote_id=sku_id, quantity=quantity)


# ---------------------------------------------------------------------- values


def text(value, what: str, limit: int = MAX_ID) -> str:
    """A non-empty printable string of at most `limit` characters (what a column keeps)."""
    if not isinstance(value, str) or not value:
        raise Unreadable(f"{what} is missing or not text ({shown(value)})")
    if len(value) > limit or not value.isprintable():
        raise Unreadable(f"{what} {shown(value)} is not an id (printable, at most {limit})")
    return value


def optional_text(value, what: str) -> str:
    return "" if value is None or value == "" else text(value, what)


def number(value, what: str) -> int:
    """A whole number of units, sent as a number or a string (inbound.whole)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unreadable(f"{what}: {shown(value)} is not a quantity")
    return whole(value, what)


def date(value, what: str) -> datetime | None:
    """An ISO 8601 timestamp ("2024-04-10T13:16:21.976Z"), aware (UTC when it says no zone)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DATE:
        raise Unreadable(f"{what} is not a timestamp ({shown(value)})")
    try:
        when = datetime.fromisoformat(value)
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # not a timestamp, or one outside years 1-9999 in UTC
        raise Unreadable(f"{what} {shown(value)} is not an ISO 8601 timestamp") from None


def shown(value) -> str:
    """A value in a message: a string's start, or a type's name (never a whole structure)."""
    if isinstance(value, str):
        return repr(value[:40])
    if value is None or isinstance(value, bool | int | float):
        return repr(value)[:40]
    return f"a {type(value).__name__}"
