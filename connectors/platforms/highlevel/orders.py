"""HighLevel's order and price payloads read as inbound values (channels-inbound.md §2).

A webhook body is one flat JSON object: `type` (the event's name), `webhookId`, `timestamp`
and the resource's own fields. `OrderCreate` and `OrderStatusUpdate` carry the whole order
(items with `qty`, `price._id` the priceId, `product._id`); `PriceUpdate` carries the price
(`_id` the priceId, `availableQuantity`, `allowOutOfStockPurchases`, `trackInventory`). The
polled orders (GET /payments/orders/{id}) have the same shape.

An order's stage comes from its state, never from the event's name (§6.1):

    fulfillmentStatus fulfilled                    fulfilled (a later refund leaves it so)
    fulfillmentStatus partially_fulfilled          open; where the fulfilments are known
                                                   (polls), each fully shipped line is
                                                   fulfilled, the others follow the order
    status cancelled, or refunded (status or       cancelled (the allocation is released)
    paymentStatus) before any fulfilment
    status completed or paymentStatus paid         open
    anything else (pending, unpaid, partially_paid) pending

HighLevel never says goods came back, so no order is `returned`: a return is booked by staff.
"""

import hashlib
from dataclasses import replace

from connectors.platforms.highlevel.signatures import parse_time
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
    json_object,
    whole,
)

ORDER_EVENTS = ("OrderCreate", "OrderStatusUpdate")
PRICE_EVENT = "PriceUpdate"
# The documented PriceUpdate example carries the price's own `type` where the event's name
# would be: a body typed so is a price event.
PRICE_TYPES = ("one_time", "recurring")
CLOSED_STATUSES = ("cancelled", "canceled", "refunded")
MAX_ID, MAX_TOPIC = 128, 64


def payload(body: bytes) -> dict:
    """The body as a JSON object; Unreadable otherwise."""
    return json_object(body, "HighLevel")


def envelope(data: dict) -> tuple:
    """(webhookId or "", the event's name)."""
    topic = data.get("type")
    if topic in PRICE_TYPES:
        topic = PRICE_EVENT
    if not isinstance(topic, str) or not topic.strip() or len(topic) > MAX_TOPIC:
        raise Unreadable(f"the body has no event name in 'type' (at most {MAX_TOPIC} characters)")
    delivery = data.get("webhookId")
    if delivery is None:
        return "", topic
    if isinstance(delivery, int) and not isinstance(delivery, bool):
        delivery = str(delivery)
    if not isinstance(delivery, str) or len(delivery) > MAX_ID:
        raise Unreadable(f"'webhookId' is not an id of at most {MAX_ID} characters")
    return delivery, topic


def event(data: dict, location_id: str = "") -> Event:
    """The delivery as an Event; one for another location carries only a note (an app's
    webhooks reach one URL for every location it is installed in)."""
    delivery, topic = envelope(data)
    where = data.get("locationId", data.get("altId"))
    if location_id and where is not None and where != location_id:
        note = f"for location {str(where)[:40]!r}, not this channel's {location_id!r}"
        return Event(delivery, topic, note=note)
    if topic in ORDER_EVENTS:
        return Event(delivery, topic, orders=(order(data),))
    if topic == PRICE_EVENT:
        change, note = stock_change(data)
        return Event(delivery, topic, stock=(change,) if change else (), note=note)
    return Event(delivery, topic, note=f"HighLevel's {topic[:40]} carries no order or stock")


def order(data: dict, fulfilled: dict | None = None) -> Order:
    """The order in `data`; `fulfilled` ({priceId: units shipped}, from its fulfilments)
    gives a partly fulfilled order's lines their own stages."""
    order_id = _id(data.get("_id"), "the order's _id")
    items = data.get("items")
    if not isinstance(items, list):
        raise Unreadable(f"order {order_id}: no 'items' list (its lines cannot be told)")
    words = state_words(data)
    lines = _lines(order_id, items)
    if words[2] == "partially_fulfilled" and fulfilled is not None:
        rest = CANCELLED if _closed(words) else OPEN
        lines = [
            replace(
                line, stage=FULFILLED if fulfilled.get(line.remote_id, 0) >= line.quantity else rest
            )
            for line in lines
        ]
    return Order(
        order_id=order_id,
        status="/".join(w for w in words if w)[:64],
        stage=stage(words),
        lines=tuple(lines),
        placed_at=parse_time(data.get("createdAt")),
        updated_at=parse_time(data.get("updatedAt")),
    )


def stage(words) -> str:
    """The stage of (status, paymentStatus, fulfillmentStatus), as in the module's table."""
    status, paid, shipped = words
    if shipped == "fulfilled":
        return FULFILLED
    if shipped == "partially_fulfilled":
        return OPEN
    if _closed(words):
        return CANCELLED
    if status == "completed" or paid == "paid":
        return OPEN
    return PENDING


def _closed(words):
    status, paid, _ = words
    return status in CLOSED_STATUSES or paid == "refunded"


def state_words(data):
    """(status, paymentStatus, fulfillmentStatus), lower-case ("" where absent)."""
    return tuple(
        str(data.get(k) or "").strip().lower()[:40]
        for k in ("status", "paymentStatus", "fulfillmentStatus")
    )


def _lines(order_id, items):
    """One line per priceId (HighLevel fulfils by priceId and qty), in the order's order."""
    merged = {}
    for index, item in enumerate(items):
        what = f"order {order_id}, item {index}"
        if not isinstance(item, dict):
            raise Unreadable(f"{what} is not an object")
        price = item.get("price")
        price_id = price.get("_id") if isinstance(price, dict) else price
        price_id = "" if price_id is None else _id(price_id, f"{what}: price._id")
        sku = item.get("sku") or (price.get("sku") if isinstance(price, dict) else "")
        sku = sku.strip()[:MAX_ID] if isinstance(sku, str) else ""
        line_id = price_id or f"item-{index}"
        quantity, known_sku, _ = merged.get(line_id, (0, "", price_id))
        quantity += whole(item.get("qty"), f"{what}: qty")
        merged[line_id] = (quantity, known_sku or sku, price_id)
    return [
        OrderLine(line_id=line_id, quantity=quantity, remote_id=price_id, sku=sku)
        for line_id, (quantity, sku, price_id) in merged.items()
    ]


def stock_change(data: dict) -> tuple:
    """(the price's level after a PriceUpdate, "") or (None, why it gives none).

    A price that keeps selling when out of stock (allowOutOfStockPurchases), or whose stock
    is not counted (trackInventory false), gives none: its availableQuantity limits nothing,
    and the body cannot tell an untracked variant (which we send as "keep selling", leaving
    the number as it was) from a tracked one with backorders allowed (sent with its number):
    read either way, our own write's echo would differ from what we sent, and be pushed
    again, and echo again, without end."""
    price_id = _id(data.get("_id"), "the price's _id")
    if data.get("allowOutOfStockPurchases") is True or data.get("trackInventory") is False:
        return None, f"price {price_id} keeps selling when out of stock: its level limits nothing"
    if data.get("availableQuantity") is None:
        return None, f"price {price_id}: an update without a stock level"
    quantity = whole(data["availableQuantity"], f"price {price_id}: availableQuantity")
    if abs(quantity) > MAX_QUANTITY:
        raise Unreadable(f"price {price_id}: availableQuantity {quantity} is past {MAX_QUANTITY:,}")
    return StockChange(remote_id=price_id, quantity=quantity), ""


def fulfilled_units(data) -> dict:
    """{priceId: units shipped} from a GET …/fulfillments answer ({"data": [fulfilment]})."""
    shipped = {}
    rows = data.get("data") if isinstance(data, dict) else None
    for fulfilment in rows if isinstance(rows, list) else []:
        items = fulfilment.get("items") if isinstance(fulfilment, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            price = item.get("price")
            price_id = item.get("_id") or (price.get("_id") if isinstance(price, dict) else None)
            if isinstance(price_id, str):
                shipped[price_id] = shipped.get(price_id, 0) + whole(
                    item.get("qty"), "fulfilled qty"
                )
    return shipped


def fingerprint(row: dict) -> str:
    """What tells a summary row's order changed: (status, paymentStatus, fulfillmentStatus,
    updatedAt), hashed short (the poll keeps one per order of its window)."""
    words = [str(row.get(k)) for k in ("status", "paymentStatus", "fulfillmentStatus")]
    text = "|".join([*words, str(row.get("updatedAt"))])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _id(value, what):
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
        raise Unreadable(f"{what} is not an id of 1 to {MAX_ID} characters")
    return value.strip()
