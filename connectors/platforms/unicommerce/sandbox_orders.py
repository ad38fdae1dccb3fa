"""The marketplace's orders, for the Unicommerce sandbox: the statuses of channels-inbound.md
§5.4 and the moves between them.

An order is {"id", "displayOrderNumber", "placed" (epoch seconds), "verified" (False while it
awaits the seller's acceptance), "items"}; an item is {"orderItemId", "status", "productId",
"variantId", "sku", "quantity"} and, once a return is under way, the return fields of Get
Order Status (§5.3). The orderStatus follows from the items: PENDING_VERIFICATION (not
verified) or CREATED while an item is CREATED, CANCELLED when every item is, COMPLETE
(dispatched) otherwise.

Item moves, and what refuses them (Refused: a 409 on the control API, an errorMessage on
/orders/dispatch and /orders/cancel):
    CREATED -> DISPATCHED                 only once the order is verified
    DISPATCHED -> DELIVERED
    CREATED -> CANCELLED                  never after dispatch
    DISPATCHED | DELIVERED -> RETURN_REQUESTED   the customer asks (no returnDate yet)
    DISPATCHED -> COURIER_RETURN          the courier brought it back (returnDate set)
    DELIVERED | RETURN_REQUESTED -> RETURN_REQUESTED with a returnDate: the return received
"""

from datetime import UTC, datetime

from connectors.platforms.sandbox.base import Refused

WAITING = "PENDING_VERIFICATION"
RETURN_FIELDS = ("returnReason", "returnDate", "returnAWB", "returnShippingProvider")
COURIER = "Sandbox Courier"


def wire_date(epoch: int) -> str:
    """An orderDate as the Post Orders schema writes it ("2022-12-05 08:12:53", UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def order_status(order: dict) -> str:
    statuses = {item["status"] for item in order["items"]}
    if "CREATED" in statuses:
        return "CREATED" if order["verified"] else WAITING
    return "CANCELLED" if statuses == {"CANCELLED"} else "COMPLETE"


def order_json(order: dict, items: bool = True, returns: bool = False) -> dict:
    """The order as the API shows it: Get Orders (`items` False: without them, where the
    marketplace lists orders bare) or Get Order Status (`returns`: with the return fields)."""
    shown = {
        "id": order["id"],
        "displayOrderNumber": order["displayOrderNumber"],
        "orderDate": wire_date(order["placed"]),
        "orderStatus": order_status(order),
        "paymentType": "PREPAID" if order["verified"] else "COD",
        "orderPrice": {"currency": "INR", "totalDiscount": 0, "totalShippingCharges": 0},
    }
    if items:
        fields = ("orderItemId", "status", "productId", "variantId", "sku", "quantity")
        fields += RETURN_FIELDS if returns else ()
        shown["orderItems"] = [{f: item.get(f) for f in fields} for item in order["items"]]
    return shown


class Orders(dict):
    """order id -> order, in the order placed; `by_item` finds an item by its orderItemId."""

    def __init__(self):
        super().__init__()
        self.by_item: dict[str, tuple[dict, dict]] = {}

    def place(self, order_id: str, placed: int, verified: bool, lines: list) -> dict:
        """A new order of `lines`: [(productId, variantId, sku, quantity)]."""
        order = {
            "id": order_id,
            "displayOrderNumber": f"#{order_id}",
            "placed": placed,
            "verified": verified,
            "items": [],
        }
        for n, (product_id, variant_id, sku, quantity) in enumerate(lines, 1):
            item = {
                "orderItemId": f"{order_id}-{n}",
                "status": "CREATED",
                "productId": product_id,
                "variantId": variant_id,
                "sku": sku,
                "quantity": quantity,
            }
            order["items"].append(item)
            self.by_item[item["orderItemId"]] = (order, item)
        self[order_id] = order
        return order

    def listed(self, status: str, start: float, end: float) -> list:
        """Get Orders: the orders in `status` placed within [start, end], oldest first."""
        chosen = [
            o for o in self.values() if order_status(o) == status and start <= o["placed"] <= end
        ]
        return sorted(chosen, key=lambda o: o["placed"])

    # ------------------------------------------------------------------ the control API
    def act(self, order: dict, action: str, restock: bool, now: int) -> list:
        """Apply the control API's action to every item it fits; the items cancelled (their
        units go back on the listing). Refused when it fits none."""
        if action == "pay":
            if order["verified"]:
                raise Refused(f"order {order['id']} is already accepted")
            order["verified"] = True
            return []
        items = order["items"]
        created = [item for item in items if item["status"] == "CREATED"]
        if action == "fulfil":
            moved = [dispatch(order, item) for item in created]
            moved = moved or [deliver(item) for item in items if item["status"] == "DISPATCHED"]
            if not moved:
                raise Refused(f"order {order['id']} has nothing left to dispatch or deliver")
            return []
        if created or action == "cancel":
            # A refund before dispatch is a cancellation.
            if not created:
                raise Refused(f"order {order['id']} is dispatched or cancelled: nothing to cancel")
            return [cancel(item) for item in created]
        moved = [
            receive(item, now) if restock else request_return(item)
            for item in items
            if returnable(item, restock)
        ]
        if not moved:
            raise Refused(f"order {order['id']} has nothing to refund")
        return []


def dispatch(order: dict, item: dict) -> dict:
    if not order["verified"]:
        raise Refused(f"order {order['id']} awaits verification: accept it first")
    _expect(item, "CREATED")
    item["status"] = "DISPATCHED"
    return item


def deliver(item: dict) -> dict:
    item["status"] = "DELIVERED"
    return item


def cancel(item: dict) -> dict:
    _expect(item, "CREATED")
    item["status"] = "CANCELLED"
    return item


def returnable(item: dict, received: bool) -> bool:
    if item["status"] in ("DISPATCHED", "DELIVERED"):
        return True
    return received and item["status"] == "RETURN_REQUESTED" and not item.get("returnDate")


def request_return(item: dict) -> dict:
    """The customer asks to return it: refunded, the goods not back yet."""
    item.update(
        status="RETURN_REQUESTED",
        returnReason="Customer return",
        returnAWB=f"RT-{item['orderItemId']}",
        returnShippingProvider=COURIER,
    )
    return item


def receive(item: dict, now: int) -> dict:
    """The goods are back: a courier return (before delivery) or a customer return received."""
    if item["status"] == "DISPATCHED":
        item.update(status="COURIER_RETURN", returnReason="Undelivered")
    else:
        item.setdefault("returnReason", "Customer return")
        item["status"] = "RETURN_REQUESTED"
    item.update(returnDate=wire_date(now), returnShippingProvider=COURIER)
    item.setdefault("returnAWB", f"RT-{item['orderItemId']}")
    return item


def _expect(item: dict, status: str) -> None:
    if item["status"] != status:
        raise Refused(f"item {item['orderItemId']} is {item['status']}, not {status}")
