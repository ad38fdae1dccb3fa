"""One marketplace order, as Get Orders / Get Order Status show it, read as an inbound.Order
(channels-inbound.md §5.2-5.4, §6.1).

The marketplace's order: {id, displayOrderNumber, orderDate, orderStatus, orderItems: [{
orderItemId, status, productId, variantId, sku?, quantity?, returnReason?, returnDate?,
returnAWB?, returnShippingProvider?}]}. Each item carries its own status, so each line carries
its own stage:

    CREATED                                 open (pending while the order is
                                            PENDING_VERIFICATION: not accepted yet)
    PENDING_VERIFICATION                    pending
    DISPATCHED, DELIVERED, RETURN_REQUESTED fulfilled
    CANCELLED                               cancelled
    COURIER_RETURN                          returned
    RETURN_REQUESTED with a returnDate      returned (the customer's return was received)

The order's stage is its least advanced line's (in inbound.STAGES order): items only move
forward, so the order's stage never goes back either, and the core takes every newer view.

Choices where the docs are silent ([gap] in §5.2, §5.3):
- An item without `quantity` is one unit (Uniware's sale order items are one unit each); a
  quantity given as "2" or 2.0 is read too.
- A customer return shows as received when its item, still RETURN_REQUESTED, carries a
  `returnDate` (the date the goods came back); without one it is only requested.
- `orderDate` is read in both documented forms, "2022-12-05 08:12:53" (UTC, as the reader notes
  say) and ISO 8601 with an offset ("2023-02-02T16:13:44+05:30"); one that is neither leaves
  placed_at unknown rather than the order unreadable.
- `productId` is the listing's remote_parent_id and `variantId` its remote_id, the ids
  /updateInventory takes (§5.2); `sku` is read where the item has one.
"""

from datetime import UTC, datetime

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    RETURNED,
    STAGES,
    Order,
    OrderLine,
    Unreadable,
    whole,
)

WAITING = "PENDING_VERIFICATION"  # the order status of an order the seller has not accepted
ITEM_STAGES = {
    "CREATED": OPEN,
    WAITING: PENDING,
    "DISPATCHED": FULFILLED,
    "DELIVERED": FULFILLED,
    "RETURN_REQUESTED": FULFILLED,
    "CANCELLED": CANCELLED,
    "COURIER_RETURN": RETURNED,
}
FINAL = frozenset({CANCELLED, RETURNED})  # an order whose stage is one of these is done


def read_order(raw) -> Order:
    """The marketplace's order object as an inbound.Order; Unreadable, with the reason, for
    anything else."""
    if not isinstance(raw, dict):
        raise Unreadable("an order is not a JSON object")
    order_id = text(raw.get("id"))
    status = text(raw.get("orderStatus")).upper()
    items = raw.get("orderItems")
    if not isinstance(items, list) or not items:
        raise Unreadable(f"order {order_id[:128]!r} has no orderItems")
    lines = tuple(_line(item, order_id, status == WAITING) for item in items)
    return Order(
        order_id=order_id,
        status=status[:64] or "(none)",
        stage=min((line.stage for line in lines), key=STAGES.index),
        lines=lines,
        placed_at=parse_date(raw.get("orderDate")),
    )


def _line(item, order_id, waiting):
    what = f"order {order_id[:128]!r}"
    if not isinstance(item, dict):
        raise Unreadable(f"{what}: an item is not a JSON object")
    line_id = text(item.get("orderItemId"))
    if not line_id or len(line_id) > 128:
        raise Unreadable(f"{what}: an item needs an orderItemId of at most 128 characters")
    status = text(item.get("status")).upper()
    stage = ITEM_STAGES.get(status)
    if stage is None:
        raise Unreadable(f"{what}, item {line_id!r}: unknown status {status[:40]!r}")
    if stage == OPEN and waiting:
        stage = PENDING
    if status == "RETURN_REQUESTED" and item.get("returnDate"):
        stage = RETURNED
    return OrderLine(
        line_id=line_id,
        quantity=whole(item.get("quantity", 1), f"{what}, item {line_id!r}"),
        remote_id=text(item.get("variantId")),
        remote_parent_id=text(item.get("productId")),
        sku=text(item.get("sku")),
        stage=stage,
    )


def text(value) -> str:
    """An id or a word sent as a string or a number ("" for anything else)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**128:
        return str(value)
    return ""


def parse_date(value) -> datetime | None:
    """An orderDate in either documented form, aware (UTC where it has no offset); None
    when it is neither."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
