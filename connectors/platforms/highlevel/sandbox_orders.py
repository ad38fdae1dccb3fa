"""HighLevel's orders in the sandbox: what a sale, a payment, a fulfilment, a cancellation and
a refund do to an order and to the prices' stock (channels-inbound.md §2.4 to §2.6), and what
a real store refuses. Each change returns the webhooks it raises, as (event, altId, fields),
for the sandbox to send (sandbox_selling.py).

An order is OrderResponseSchema's shape with its items (GetOrderResponseSchema): `status`
pending → completed (paid) → cancelled or refunded, `paymentStatus` unpaid → paid →
refunded, `fulfillmentStatus` unfulfilled → partially_fulfilled → fulfilled. A fulfilment is
{_id, altId, altType, trackings, items: [{_id: priceId, name, product, price, qty}], ...}.

Choices where the docs are silent:
- Stock: a price is tracked unless its trackInventory is false. Setting "stock_on" ("paid", the
  default, or "create") says when availableQuantity drops; it stops at 0 for a price that
  keeps selling (allowOutOfStockPurchases). A tracked price that does not keep selling
  refuses a sale, or a payment, it has too few units for. Nothing ever restocks: HighLevel's
  orders have no restock flag, so `restock` is ignored and staff put goods back themselves.
- Webhooks: OrderCreate when an order is placed (pending, unpaid), OrderStatusUpdate when its
  status changes (payment, cancellation, refund), PriceUpdate when a price's stock changes.
  A fulfilment changes fulfillmentStatus only and sends nothing (none was found: §2.1); a poll
  finds it. Setting "fulfilment_event": true sends an OrderStatusUpdate for it as well, for
  a test of a HighLevel that turns out to tell.
- Refusals (409 on the control API, 400 on the fulfilment route): paying a non-pending order,
  fulfilling an unpaid, cancelled or refunded one or more units than are left, cancelling one
  with a fulfilment or already closed, refunding one that is not paid.
- Every unit costs 10.00 USD; orders are test-mode (liveMode false).
"""

import copy
import secrets
from datetime import UTC, datetime

from connectors.platforms.highlevel.sandbox_replies import iso, later_than, now_iso
from connectors.platforms.sandbox.base import Refused, SeedError

UNIT_AMOUNT = 10.0
CLOSED = ("cancelled", "refunded")
SOURCE = {"type": "website", "subType": "store", "id": "hl-sandbox-store", "name": "Sandbox Store"}
SUMMARY_FIELDS = (
    "_id",
    "altId",
    "altType",
    "contactId",
    "contactName",
    "currency",
    "amount",
    "status",
    "paymentStatus",
    "fulfillmentStatus",
    "liveMode",
    "createdAt",
    "updatedAt",
)


class OrderBook:
    """The orders of every location, and the stock rules of a sale (callers hold the lock)."""

    def __init__(self, locations: dict, settings: dict):
        self.locations = locations  # the sandbox's {altId: {priceId: item}}
        self.settings = settings
        self.orders: dict[str, dict] = {}
        self.fulfillments: dict[str, list] = {}

    # ------------------------------------------------------------------ changes
    def sell(self, order_id: str, lines: list, paid: bool) -> tuple:
        """Place an order for [(remote_id, quantity)] (and pay it when `paid`)."""
        if order_id in self.orders:
            raise SeedError(f"order {order_id!r} exists already")
        alt_id = self.location_of([remote_id for remote_id, _ in lines])
        order = self.new_order(order_id, alt_id, lines)
        self.check_stock(order)  # the store does not let a sold-out price into a checkout
        self.orders[order_id] = order
        self.fulfillments[order_id] = []
        events = [_event("OrderCreate", alt_id, order)]
        if self.settings["stock_on"] == "create":
            events += self.take_stock(order)
        if paid:
            events += self.pay(order)
        return order, events

    def pay(self, order: dict) -> list:
        if (order["status"], order["paymentStatus"]) != ("pending", "unpaid"):
            raise Refused(f"order {order['_id']} is {order['status']}: there is nothing to pay")
        on_payment = self.settings["stock_on"] != "create"
        if on_payment:
            self.check_stock(order)
        self.touch(order, status="completed", paymentStatus="paid")
        events = [_event("OrderStatusUpdate", order["altId"], order)]
        return events + (self.take_stock(order) if on_payment else [])

    def fulfil(self, order: dict, wanted: dict | None = None) -> tuple:
        """Ship {priceId: qty} (default: every unit left); the fulfilment made, and the
        webhooks (none, unless setting "fulfilment_event" asks for an OrderStatusUpdate)."""
        if order["status"] in CLOSED or order["paymentStatus"] != "paid":
            raise Refused(f"order {order['_id']} is {order['status']}: only paid orders ship")
        left = self.unshipped(order)
        wanted = wanted or {pid: qty for pid, qty in left.items() if qty > 0}
        if not wanted:
            raise Refused(f"order {order['_id']} is fulfilled already")
        for price_id, qty in wanted.items():
            if qty > left.get(price_id, 0):
                raise Refused(f"price {price_id}: {qty} to fulfil, {left.get(price_id, 0)} left")
        items = {item["price"]["_id"]: item for item in order["items"]}
        stamp = now_iso()
        fulfilment = {
            "_id": secrets.token_hex(12),
            "altId": order["altId"],
            "altType": "location",
            "trackings": [],
            "items": [{**_shipped(items[pid]), "qty": qty} for pid, qty in wanted.items()],
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.fulfillments[order["_id"]].append(fulfilment)
        done = all(qty <= 0 for qty in self.unshipped(order).values())
        self.touch(order, fulfillmentStatus="fulfilled" if done else "partially_fulfilled")
        told = self.settings["fulfilment_event"]
        return fulfilment, [_event("OrderStatusUpdate", order["altId"], order)] if told else []

    def cancel(self, order: dict) -> list:
        if self.fulfillments[order["_id"]]:
            raise Refused(f"order {order['_id']} has shipped units: it cannot be cancelled")
        if order["status"] in CLOSED:
            raise Refused(f"order {order['_id']} is {order['status']} already")
        self.touch(order, status="cancelled")
        return [_event("OrderStatusUpdate", order["altId"], order)]

    def refund(self, order: dict) -> list:
        if order["paymentStatus"] != "paid":
            raise Refused(f"order {order['_id']} is {order['paymentStatus']}: nothing to refund")
        self.touch(order, status="refunded", paymentStatus="refunded")
        return [_event("OrderStatusUpdate", order["altId"], order)]

    def seed(self, raw: dict) -> None:
        """An order as it stands, with no stock change and no webhook (an old order, say)."""
        items = raw.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SeedError('a seeded order needs "items": [{"priceId", "qty"}, ...]')
        lines = [(str(i.get("priceId")), i.get("qty", 1)) for i in items]
        if not all(type(qty) is int and qty > 0 for _, qty in lines):
            raise SeedError("a seeded order's qty is a whole number >= 1")
        order_id = str(raw.get("_id") or secrets.token_hex(12))
        order = self.new_order(order_id, self.location_of([pid for pid, _ in lines]), lines)
        for key in ("status", "paymentStatus", "fulfillmentStatus"):
            order[key] = str(raw.get(key, order[key]))
        for key in ("createdAt", "updatedAt"):
            if key in raw:
                order[key] = _stamp(raw[key])
        self.orders[order_id] = order
        self.fulfillments[order_id] = []

    @staticmethod
    def touch(order: dict, **changes) -> None:
        order.update(changes, updatedAt=later_than(order["updatedAt"]))

    # ------------------------------------------------------------------ stock
    def check_stock(self, order: dict) -> None:
        for price_id, qty in self.wanted(order).items():
            item = self.locations[order["altId"]][price_id]
            available = item.get("availableQuantity") or 0
            if _tracked(item) and not item.get("allowOutOfStockPurchases") and available < qty:
                raise Refused(f"price {price_id} has {available} available, not {qty}")

    def take_stock(self, order: dict) -> list:
        """Take the order's units off its tracked prices; the PriceUpdates that raises."""
        events = []
        for price_id, qty in self.wanted(order).items():
            item = self.locations[order["altId"]][price_id]
            if _tracked(item):
                item["availableQuantity"] = max((item.get("availableQuantity") or 0) - qty, 0)
                item["updatedAt"] = now_iso()
                events.append(_event("PriceUpdate", order["altId"], {**item, "userId": None}))
        return events

    @staticmethod
    def wanted(order: dict) -> dict:
        units = {}
        for item in order["items"]:
            units[item["price"]["_id"]] = units.get(item["price"]["_id"], 0) + item["qty"]
        return units

    def unshipped(self, order: dict) -> dict:
        left = self.wanted(order)
        for fulfilment in self.fulfillments[order["_id"]]:
            for item in fulfilment["items"]:
                left[item["_id"]] -= item["qty"]
        return left

    # ------------------------------------------------------------------ reading
    def location_of(self, price_ids: list) -> str:
        """The one location selling all these prices (SeedError otherwise)."""
        for alt_id, prices in self.locations.items():
            if all(pid in prices for pid in price_ids):
                return alt_id
        raise SeedError(f"no location sells all of {sorted(set(price_ids))} (seed them first)")

    def new_order(self, order_id: str, alt_id: str, lines: list) -> dict:
        items = [_item(self.locations[alt_id][pid], qty) for pid, qty in lines]
        stamp = now_iso()
        return {
            "_id": order_id,
            "altId": alt_id,
            "altType": "location",
            "contactId": "hl-sandbox-contact",
            "contactName": "Sandbox Customer",
            "currency": "USD",
            "amount": sum(UNIT_AMOUNT * qty for _, qty in lines),
            "status": "pending",
            "paymentStatus": "unpaid",
            "fulfillmentStatus": "unfulfilled",
            "liveMode": False,
            "source": dict(SOURCE),
            "items": items,
            "createdAt": stamp,
            "updatedAt": stamp,
        }

    def listed(self, alt_id: str, start, end, filters: dict) -> list:
        """The location's orders created in [start, end] matching `filters`, newest first
        (the later placed first where two share a millisecond)."""
        rows = [
            (o["createdAt"], n, o)
            for n, o in enumerate(self.orders.values())
            if o["altId"] == alt_id
            and (start is None or o["createdAt"] >= start)
            and (end is None or o["createdAt"] <= end)
            and all(o.get(k) == v for k, v in filters.items())
        ]
        return [o for *_, o in sorted(rows, key=lambda row: row[:2], reverse=True)]

    def find(self, order_id: str, alt_id: str) -> dict | None:
        order = self.orders.get(order_id)
        return order if order is not None and order["altId"] == alt_id else None


def summary(order: dict) -> dict:
    """A row of GET /payments/orders: no items."""
    row = {k: order.get(k) for k in SUMMARY_FIELDS}
    source = order.get("source") or {}
    row.update(
        sourceType=source.get("type"),
        sourceSubType=source.get("subType"),
        sourceName=source.get("name"),
        sourceId=source.get("id"),
        totalProducts=len(order["items"]),
    )
    return row


def _event(name: str, alt_id: str, fields: dict) -> tuple:
    """A webhook to send, with the fields as they are now (later changes are not its own)."""
    return name, alt_id, copy.deepcopy(fields)


def _stamp(value) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise SeedError(f"{value!r} is not an ISO 8601 time") from None
    return iso(when if when.tzinfo else when.replace(tzinfo=UTC))


def _tracked(item: dict) -> bool:
    return item.get("trackInventory") is not False


def _item(price: dict, qty: int) -> dict:
    return {
        "name": f"{price.get('productName') or price['name']} - {price['name']}",
        "qty": qty,
        "product": {"_id": price["product"], "name": price.get("productName") or price["name"]},
        "price": {
            "_id": price["_id"],
            "name": price["name"],
            "type": "one_time",
            "currency": "USD",
            "amount": UNIT_AMOUNT,
        },
    }


def _shipped(item: dict) -> dict:
    """A fulfilment's item: FulfilledItem's fields, `_id` the priceId."""
    return {
        "_id": item["price"]["_id"],
        "name": item["name"],
        "product": item["product"],
        "price": item["price"],
    }
