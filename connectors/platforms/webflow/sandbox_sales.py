"""What selling does in the Webflow sandbox: its orders, their moves, and the webhooks that
tell of them (channels-inbound.md §1): functions on its JSON values, and `Selling`, the
sandbox's part that sells (the control API's selling hooks), all called under its lock.

An order is the Order object the orders API returns (§1.2): "orderId", "status", the dates
(acceptedOn, fulfilledOn, refundedOn, disputedOn, disputeUpdatedOn), "purchasedItems" with
"count", "variantId" (the SKU id), "variantSKU", "productId". Its moves, and what refuses
them (Refused: a 409 on the control API, a 409 conflict on the API):

    pay        pending -> unfulfilled               (the stock is taken then)
    fulfill    unfulfilled -> fulfilled             fulfilledOn set
    unfulfill  fulfilled -> unfulfilled             fulfilledOn cleared
    refund     pending, unfulfilled, fulfilled, disputed -> refunded   refundedOn set
    cancel     pending, unfulfilled -> refunded     (Webflow has no cancel: a refund, which
                                                    is refused here once fulfilled)

A webhook is {"id", "triggerType", "url", "workspaceId", "siteId", "filter", "lastTriggered",
"createdOn"} and its "secretKey", which only the answer to its creation shows.
"""

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime

from connectors.platforms.sandbox.base import Refused, SeedError

NEW_ORDER, ORDER_CHANGED = "ecomm_new_order", "ecomm_order_changed"
INVENTORY_CHANGED = "ecomm_inventory_changed"
CONTROL_MOVES = {"pay": "pay", "fulfil": "fulfill", "cancel": "cancel", "refund": "refund"}
MOVES = {
    "pay": (("pending",), "unfulfilled"),
    "fulfill": (("unfulfilled",), "fulfilled"),
    "unfulfill": (("fulfilled",), "unfulfilled"),
    "refund": (("pending", "unfulfilled", "fulfilled", "disputed"), "refunded"),
    "cancel": (("pending", "unfulfilled"), "refunded"),
}
DONE = {"pay": "paid", "fulfill": "fulfilled", "unfulfill": "unfulfilled"}
DONE.update(refund="refunded", cancel="cancelled (refund it instead)")
STATUSES = ("pending", "unfulfilled", "fulfilled", "disputed", "dispute-lost", "refunded")
TRIGGER_TYPES = (
    "form_submission",
    "site_publish",
    "page_created",
    "page_metadata_updated",
    "page_deleted",
    "ecomm_new_order",
    "ecomm_order_changed",
    "ecomm_inventory_changed",
    "user_account_added",
    "user_account_updated",
    "user_account_deleted",
    "collection_item_created",
    "collection_item_changed",
    "collection_item_deleted",
    "collection_item_unpublished",
)
WEBHOOK_LIMIT = 75  # per triggerType per site
WORKSPACE = "wf-sandbox-workspace"


def stamp() -> str:
    """Now, as Webflow writes its dates ("2024-04-10T13:16:21.976Z")."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_id(taken) -> str:
    """A new random id shaped like Webflow's ("7c1-9fd")."""
    while True:
        digits = secrets.token_hex(3)
        candidate = f"{digits[:3]}-{digits[3:]}"
        if candidate not in taken:
            return candidate


def purchased_item(sku_id: str, count: int, product: dict) -> dict:
    price = product.get("price", 1000)
    return {
        "count": count,
        "productId": product.get("productId") or f"prod-{sku_id}",
        "productName": product.get("name") or sku_id,
        "variantId": sku_id,
        "variantName": product.get("name") or sku_id,
        "variantSKU": product.get("sku") or "",
        "variantPrice": {"unit": "USD", "value": price, "string": f"$ {price / 100:.2f} USD"},
        "rowTotal": {
            "unit": "USD",
            "value": price * count,
            "string": f"$ {price * count / 100:.2f} USD",
        },
    }


def new_order(order_id: str, items: list, paid: bool) -> dict:
    return {
        "orderId": order_id,
        "status": "unfulfilled" if paid else "pending",
        "comment": "",
        "orderComment": "",
        "acceptedOn": stamp(),
        "fulfilledOn": None,
        "refundedOn": None,
        "disputedOn": None,
        "disputeUpdatedOn": None,
        "disputeLastStatus": None,
        "customerInfo": {"fullName": "Sandbox Customer", "email": "customer@example.com"},
        "purchasedItems": items,
        "purchasedItemsCount": sum(item["count"] for item in items),
        "paymentProcessor": "stripe",
        "metadata": {"isBuyNow": False},
    }


def check(order: dict, move: str) -> None:
    """Refused when the order's status does not allow the move."""
    if order["status"] not in MOVES[move][0]:
        raise Refused(f"order {order['orderId']} is {order['status']}: it cannot be {DONE[move]}")


def apply(order: dict, move: str) -> None:
    order["status"] = MOVES[move][1]
    if move == "fulfill":
        order["fulfilledOn"] = stamp()
    elif move == "unfulfill":
        order["fulfilledOn"] = None
    elif order["status"] == "refunded":
        order["refundedOn"] = stamp()


def new_webhook(site_id: str, trigger: str, url: str) -> dict:
    return {
        "id": secrets.token_hex(12),
        "triggerType": trigger,
        "url": url,
        "workspaceId": WORKSPACE,
        "siteId": site_id,
        "filter": None,
        "lastTriggered": None,
        "createdOn": stamp(),
        "secretKey": secrets.token_hex(32),
    }


def public(webhook: dict) -> dict:
    """A webhook as listed: its secret is shown only when it is created."""
    return {k: v for k, v in webhook.items() if k != "secretKey"}


def webhook_body(trigger: str, payload: dict) -> bytes:
    return json.dumps({"triggerType": trigger, "payload": payload}, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> dict:
    """Webflow's signature headers, made at each attempt: hex HMAC-SHA256 of "ts:body"."""
    sent = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), sent.encode() + b":" + body, hashlib.sha256)
    return {"x-webflow-timestamp": sent, "x-webflow-signature": digest.hexdigest()}


class Selling:
    """The Webflow sandbox's selling: the control API's hooks (sandbox.base), the moves its
    orders API makes too, and the events they send. Uses the sandbox's sites, collections,
    skus, products, orders and webhooks."""

    def sell(self, body: dict) -> dict:
        paid = body.get("paid", True)
        if not isinstance(paid, bool):
            raise SeedError('"paid" is true or false')
        skus: dict[tuple[str, str], int] = {}
        for line in body["lines"]:
            key = self.find_sku(line["remote_id"], line.get("remote_parent_id"))
            skus[key] = skus.get(key, 0) + line.get("quantity", 1)
        sites = {self.collections[collection_id] for collection_id, _ in skus}
        if len(sites) > 1:
            raise SeedError("an order's SKUs are all on one site")
        site_id = sites.pop()
        if not self.sites[site_id]["ecommerce"]:
            raise SeedError(f"site {site_id} does not have ecommerce enabled")
        order_id = self.new_order_id(body.get("id"))
        self.check_stock(skus)
        items = [purchased_item(k[1], n, self.products.get(k, {})) for k, n in skus.items()]
        order = new_order(order_id, items, paid)
        self.orders[order_id] = {"site": site_id, "skus": skus, "order": order}
        self.emit(site_id, NEW_ORDER, order)
        if paid:
            self.take_stock(skus)
        return {"id": order_id, "order": order}

    def order_action(self, order_id: str, action: str, restock: bool) -> dict:
        """The control API's moves; `restock` changes nothing: Webflow never restocks."""
        record = self.orders.get(order_id)
        if record is None:
            raise SeedError(f"no order {order_id!r}")
        self.move(record, CONTROL_MOVES[action])
        return {"id": order_id, "order": record["order"]}

    def move(self, record: dict, move: str) -> None:
        order, skus = record["order"], record["skus"]
        check(order, move)
        if move == "pay":
            self.check_stock(skus)
        apply(order, move)
        self.emit(record["site"], ORDER_CHANGED, order)
        if move == "pay":
            self.take_stock(skus)

    def edit_stock(self, body: dict) -> dict:
        collection_id, sku_id = self.find_sku(body["remote_id"], body.get("remote_parent_id"))
        item = self.skus[(collection_id, sku_id)]
        self.set_level(collection_id, item, "finite", body["quantity"])
        return item

    def subscriptions(self) -> list:
        return [public(hook) for hook in self.webhooks.values()]

    def new_order_id(self, wanted) -> str:
        if wanted is None:
            return order_id(self.orders)
        if not isinstance(wanted, str) or not 0 < len(wanted) <= 128 or wanted in self.orders:
            raise SeedError(f"an order id is new text of at most 128 characters, not {wanted!r}")
        return wanted

    def find_sku(self, sku_id, collection_id=None) -> tuple[str, str]:
        if collection_id:
            if (collection_id, sku_id) not in self.skus:
                raise SeedError(f"no SKU {sku_id!r} in collection {collection_id!r}")
            return collection_id, sku_id
        keys = [key for key in self.skus if key[1] == sku_id]
        if len(keys) != 1:
            raise SeedError(f"SKU {sku_id!r} is in {len(keys)} collections: give remote_parent_id")
        return keys[0]

    def check_stock(self, skus: dict) -> None:
        """Refused when a finite SKU has fewer than the order wants (the cart takes no more)."""
        for (collection_id, sku_id), count in skus.items():
            item = self.skus[(collection_id, sku_id)]
            if item["inventoryType"] == "finite" and item["quantity"] < count:
                raise Refused(f"SKU {sku_id}: {item['quantity']} in stock, {count} wanted")

    def take_stock(self, skus: dict) -> None:
        """A paid sale: each finite SKU goes down by what was sold."""
        for (collection_id, sku_id), count in skus.items():
            item = self.skus[(collection_id, sku_id)]
            if item["inventoryType"] == "finite":
                self.set_level(collection_id, item, "finite", item["quantity"] - count)

    def set_level(self, collection_id: str, item: dict, kind: str, quantity) -> None:
        """Store a SKU's level; its ecomm_inventory_changed goes out when it changed."""
        before = (item["inventoryType"], item["quantity"])
        item["inventoryType"], item["quantity"] = kind, quantity
        if (kind, quantity) != before:
            self.emit(self.collections[collection_id], INVENTORY_CHANGED, dict(item))

    def emit(self, site_id: str, trigger: str, payload: dict) -> None:
        """Send the event to every webhook of the site for its trigger."""
        body = webhook_body(trigger, payload)
        for hook in self.webhooks.values():
            if (hook["siteId"], hook["triggerType"]) == (site_id, trigger):
                hook["lastTriggered"] = stamp()
                self.outbox.send(hook["url"], trigger, body, sign, hook["secretKey"])
