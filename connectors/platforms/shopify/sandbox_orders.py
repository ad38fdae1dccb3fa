"""Orders, merchant edits and webhooks of the Shopify sandbox (shopify.md §6).

Stock moves (§6.4): an order placed takes available -q, committed +q at its location;
fulfilled: committed -q (so on_hand -q); cancelled with restock: committed -q, available +q
(without restock the units leave on_hand); a refund line `return` puts fulfilled units back
(available +q, on_hand +q), `cancel` puts unfulfilled ones back (committed -q, available +q),
`no_restock` releases unfulfilled ones (committed -q) and returns nothing.

Webhooks go to every subscription of the topic whose uri is http(s) (pubsub:// and arn: are
stored, not delivered), as the REST JSON of §6.1, with X-Shopify-Topic, -Hmac-Sha256 (base64
HMAC-SHA256 of the exact body with the client secret), -Shop-Domain, -API-Version,
-Webhook-Id (new at every attempt and copy), -Event-Id (one per event: the same across
duplicates and retries) and -Triggered-At. A delivery is retried 8 times
(settings.webhook_retry_seconds apart, 1 s by default instead of Shopify's 4 hours); when
all 9 attempts fail, its subscription is deleted (settings.delete_failing_subscriptions).
"""

import base64
import hashlib
import hmac
import json
import re
import uuid

from connectors.platforms.sandbox.base import Refused, SeedError
from connectors.platforms.sandbox.webhooks import Outbox
from connectors.platforms.shopify.sandbox_inventory import gid_number, now_iso

HTTP_URI = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
PUBSUB_URI = re.compile(r"^pubsub://[^\s:]+:[^\s]+$")
ARN_URI = re.compile(r"^arn:aws:events:[^\s]+$")
RESTOCK_TYPES = ("return", "cancel", "no_restock")


def topic_name(enum: str) -> str:
    """ORDERS_CREATE -> orders/create, INVENTORY_LEVELS_UPDATE -> inventory_levels/update."""
    head, _, tail = enum.lower().rpartition("_")
    return f"{head}/{tail}"


def public(record: dict) -> dict:
    """A stored order or line without the sandbox's own keys (those starting with _)."""
    out = {}
    for key, value in record.items():
        if key.startswith("_"):
            continue
        if isinstance(value, list):
            value = [public(v) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out


def hmac_b64(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifyOutbox(Outbox):
    """The shared outbox, noting the deliveries that used up every retry (their
    subscriptions are deleted by the sandbox at its next request, under its own lock)."""

    def reset(self) -> None:
        self.exhausted: list[tuple[str, str]] = []
        super().reset()

    def _note(self, url, topic, event_id, attempt, status, fault):
        super()._note(url, topic, event_id, attempt, status, fault)
        if attempt > self.retries and self._should_retry(status):
            self.exhausted.append((url, topic))


class Selling:
    """The orders and webhooks half of ShopifySandbox (a mixin)."""

    def reset_selling(self) -> None:
        self.orders: dict[str, dict] = {}
        self.webhooks: dict[str, dict] = {}
        self.order_number = 1000

    # ------------------------------------------------------------ webhooks (GraphQL)
    def check_uri(self, data: dict, current=None):
        field = "uri" if data.get("uri") is not None else "callbackUrl"
        uri = data.get("uri") or data.get("callbackUrl") or current
        if not uri:
            return None, [
                {"field": ["webhookSubscription", field], "message": "Address can't be blank"}
            ]
        if not (HTTP_URI.match(uri) or PUBSUB_URI.match(uri) or ARN_URI.match(uri)):
            return None, [
                {"field": ["webhookSubscription", field], "message": "Address is invalid"}
            ]
        return uri, []

    def webhook_create(self, topic: str, data: dict) -> dict:
        uri, errors = self.check_uri(data)
        if not errors and any(
            s["topic"] == topic and s["uri"] == uri for s in self.webhooks.values()
        ):
            errors = [
                {
                    "field": ["webhookSubscription", "callbackUrl"],
                    "message": "Address for this topic has already been taken",
                }
            ]
        if errors:
            return {"webhookSubscription": None, "userErrors": errors}
        gid = f"gid://shopify/WebhookSubscription/{self.next_id()}"
        stamp = now_iso()
        self.webhooks[gid] = {
            "id": gid,
            "topic": topic,
            "uri": uri,
            "format": data.get("format") or "JSON",
            "includeFields": list(data.get("includeFields") or []),
            "metafieldNamespaces": list(data.get("metafieldNamespaces") or []),
            "filter": data.get("filter"),
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        return {"webhookSubscription": self.webhooks[gid], "userErrors": []}

    def webhook_update(self, gid: str, data: dict) -> dict:
        sub = self.webhooks.get(gid)
        if sub is None:
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        uri, errors = self.check_uri(data, sub["uri"])
        if errors:
            return {"webhookSubscription": None, "userErrors": errors}
        sub["uri"] = uri
        for key in ("format", "includeFields", "metafieldNamespaces", "filter"):
            if data.get(key) is not None:
                sub[key] = data[key]
        sub["updatedAt"] = now_iso()
        return {"webhookSubscription": sub, "userErrors": []}

    def webhook_delete(self, gid: str) -> dict:
        if self.webhooks.pop(gid, None) is None:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        return {"deletedWebhookSubscriptionId": gid, "userErrors": []}

    def purge_exhausted(self) -> None:
        with self.outbox._cond:  # the delivery thread appends under it
            failed, self.outbox.exhausted[:] = list(self.outbox.exhausted), []
        if not failed:
            return
        if not self.settings["delete_failing_subscriptions"]:
            return
        for url, topic in failed:
            for gid, sub in list(self.webhooks.items()):
                if sub["uri"] == url and topic_name(sub["topic"]) == topic:
                    del self.webhooks[gid]

    def subscriptions(self) -> list:
        return list(self.webhooks.values())

    # ------------------------------------------------------------ sending
    def emit(self, topic: str, payload: dict) -> None:
        event_id = str(uuid.uuid4())
        triggered = now_iso()
        domain, version = self.settings["shop_domain"], self.webhook_version()
        for sub in self.webhooks.values():
            if topic_name(sub["topic"]) != topic or not HTTP_URI.match(sub["uri"]):
                continue
            shown = payload
            if sub["includeFields"]:
                shown = {k: v for k, v in payload.items() if k in sub["includeFields"]}
            body = json.dumps(shown, separators=(",", ":")).encode()

            def sign(raw, secret, topic=topic):
                return {
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Hmac-Sha256": hmac_b64(raw, secret),
                    "X-Shopify-Shop-Domain": domain,
                    "X-Shopify-API-Version": version,
                    "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                    "X-Shopify-Event-Id": event_id,
                    "X-Shopify-Triggered-At": triggered,
                }

            self.outbox.send(
                sub["uri"], topic, body, sign, self.credentials["client_secret"], event_id
            )

    def level_json(self, item_id, location_id) -> dict:
        """A level in the REST shape (inventory_levels/update, REST InventoryLevel)."""
        level = self.levels[(item_id, location_id)]
        item, loc = gid_number(item_id, "InventoryItem"), gid_number(location_id, "Location")
        return {
            "inventory_item_id": int(item),
            "location_id": int(loc),
            "available": level["available"] if self.items[item_id]["tracked"] else None,
            "updated_at": level["updated_at"],
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{loc}?inventory_item_id={item}",
        }

    def emit_level(self, item_id, location_id, topic="inventory_levels/update") -> None:
        self.emit(topic, self.level_json(item_id, location_id))

    def emit_order(self, order: dict, *topics: str) -> None:
        for topic in topics:
            self.emit(topic, public(order))

    # ------------------------------------------------------------ control: orders
    def control_orders(self, request, body):
        if "line_items" in body:
            lines = [
                self.order_line(line, body.get("location_id"))
                for line in self.lines_of(body, "line_items")
            ]
        else:
            lines = [
                self.order_line(
                    {
                        "inventory_item_id": line.get("remote_id"),
                        "quantity": line.get("quantity", 1),
                    },
                    line.get("remote_parent_id") or body.get("location_id"),
                )
                for line in self.lines_of(body, "lines")
            ]
        return self.sell_lines(lines, body.get("paid", True) is not False)

    @staticmethod
    def lines_of(body, key):
        lines = body.get(key)
        if not isinstance(lines, list) or not lines or not all(isinstance(x, dict) for x in lines):
            raise SeedError(f'an order needs "{key}": [{{"inventory_item_id", "quantity"}}, ...]')
        return lines

    def find_item(self, ref) -> str:
        if not isinstance(ref, str):
            raise SeedError(f"an inventory item is its gid or its sku (a string), not {ref!r}")
        if ref in self.items:
            return ref
        for gid, item in self.items.items():
            if ref is not None and ref in (item["sku"], item["variant_id"]):
                return gid
        raise SeedError(f"no inventory item {ref!r} (give its gid or its sku)")

    def order_line(self, raw: dict, location_id) -> dict:
        item_id = self.find_item(raw.get("inventory_item_id"))
        q = raw.get("quantity", 1)
        if isinstance(q, bool) or not isinstance(q, int) or q < 1:
            raise SeedError(f"a line's quantity must be a whole number >= 1, not {q!r}")
        if location_id is not None:
            if not isinstance(location_id, str) or location_id not in self.locations:
                raise SeedError(f"no location {location_id!r}")
            if (item_id, location_id) not in self.levels:
                raise Refused(f"{item_id} is not stocked at {location_id}")
        else:
            stocked = [loc for loc in self.locations if (item_id, loc) in self.levels]
            if not stocked:
                raise Refused(f"{item_id} is not stocked at any location")
            location_id = stocked[0]
        return {"item": item_id, "location": location_id, "quantity": q}

    def sell_lines(self, lines: list, paid: bool) -> dict:
        need: dict = {}
        for line in lines:
            key = (line["item"], line["location"])
            need[key] = need.get(key, 0) + line["quantity"]
        for (item_id, location_id), q in need.items():
            available = self.levels[(item_id, location_id)]["available"]
            if self.items[item_id]["tracked"] and available < q and not self.settings["oversell"]:
                raise Refused(
                    f"not enough stock of {item_id} at {location_id}: {available} available"
                )
        self.order_number += 1
        number = str(self.order_number - 1000)
        stamp = now_iso()
        order = {
            "id": int(number),
            "admin_graphql_api_id": f"gid://shopify/Order/{number}",
            "name": f"#{self.order_number}",
            "order_number": self.order_number,
            "created_at": stamp,
            "updated_at": stamp,
            "processed_at": stamp,
            "cancelled_at": None,
            "cancel_reason": None,
            "closed_at": None,
            "financial_status": "paid" if paid else "pending",
            "fulfillment_status": None,
            "currency": "EUR",
            "test": True,
            "location_id": int(gid_number(lines[0]["location"], "Location")),
            "line_items": [],
            "refunds": [],
        }
        for line in lines:
            item = self.items[line["item"]]
            line_id = self.next_id()
            order["line_items"].append(
                {
                    "id": line_id,
                    "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                    "variant_id": int(gid_number(item["variant_id"], "ProductVariant")),
                    "product_id": None,
                    "sku": item["sku"],
                    "name": item["title"],
                    "title": item["title"],
                    "quantity": line["quantity"],
                    "current_quantity": line["quantity"],
                    "fulfillable_quantity": line["quantity"],
                    "fulfillment_status": None,
                    "requires_shipping": item["requires_shipping"],
                    "_inventory_item": line["item"],
                    "_location": line["location"],
                }
            )
        self.orders[number] = order
        changes = []
        for line in order["line_items"]:
            changes += self.move_units(
                line, ("available", -line["quantity"]), ("committed", line["quantity"])
            )
        self.note_moves("order", order, changes)
        self.emit_order(order, "orders/create", *(["orders/paid"] if paid else []))
        return {"id": number, "order": public(order)}

    def move_units(self, line, *moves) -> list:
        """Apply (name, delta) moves to a line's level (none for an untracked item)."""
        item_id, location_id = line["_inventory_item"], line["_location"]
        if (
            not self.items.get(item_id, {}).get("tracked")
            or (item_id, location_id) not in self.levels
        ):
            return []
        rows = []
        for name, delta in moves:
            if delta:
                rows += self.change_level(item_id, location_id, name, delta)
        return rows

    def note_moves(self, reason, order, changes) -> None:
        if changes:
            self.record_group(reason, order["admin_graphql_api_id"], changes, source="shopify")

    def find_order(self, order_id) -> dict:
        number = gid_number(order_id, "Order") or str(order_id)
        order = self.orders.get(number)
        if order is None:
            raise SeedError(f"no order {order_id!r}")
        return order

    def control_order_action(self, request, body, order_id, action):
        if action not in ("pay", "fulfil", "fulfill", "cancel", "refund"):
            raise SeedError(f"unknown order action {action!r}: pay, fulfil, cancel or refund")
        order = self.find_order(order_id)
        if action == "refund" and "line_items" in body:
            return self.refund(order, self.lines_of(body, "line_items"))
        restock = body.get("restock", True) is not False
        return self.order_action(order_id, "fulfil" if action == "fulfill" else action, restock)

    def order_action(self, order_id, action: str, restock: bool) -> dict:
        order = self.find_order(order_id)
        if order["cancelled_at"] and action != "refund":
            raise Refused(f"order {order['name']} is cancelled")
        if action == "pay":
            if order["financial_status"] != "pending":
                raise Refused(f"order {order['name']} is {order['financial_status']}, not pending")
            order["financial_status"] = "paid"
            return self.order_changed(order, "orders/paid")
        if action == "fulfil":
            lines = [line for line in order["line_items"] if line["fulfillable_quantity"]]
            if not lines:
                raise Refused(f"order {order['name']} has nothing left to fulfil")
            changes = []
            for line in lines:
                changes += self.move_units(line, ("committed", -line["fulfillable_quantity"]))
                line["fulfillable_quantity"], line["fulfillment_status"] = 0, "fulfilled"
            order["fulfillment_status"] = "fulfilled"
            self.note_moves("order_fulfilled", order, changes)
            return self.order_changed(order, "orders/fulfilled")
        if action == "cancel":
            changes = []
            for line in order["line_items"]:
                units = line["fulfillable_quantity"]
                back = ("available", units if restock else 0)
                changes += self.move_units(line, ("committed", -units), back)
                line["fulfillable_quantity"] = 0
                line["current_quantity"] -= units
            order["cancelled_at"], order["cancel_reason"] = now_iso(), "customer"
            if order["financial_status"] == "paid":
                order["financial_status"] = "refunded"
            elif order["financial_status"] == "pending":
                order["financial_status"] = "voided"
            self.note_moves("order_cancelled", order, changes)
            return self.order_changed(order, "orders/cancelled")
        lines = []
        for line in order["line_items"]:
            unfulfilled, fulfilled = (
                line["fulfillable_quantity"],
                line["current_quantity"] - line["fulfillable_quantity"],
            )
            if unfulfilled:
                lines.append(
                    {
                        "line_item_id": line["id"],
                        "quantity": unfulfilled,
                        "restock_type": "cancel" if restock else "no_restock",
                    }
                )
            if fulfilled:
                lines.append(
                    {
                        "line_item_id": line["id"],
                        "quantity": fulfilled,
                        "restock_type": "return" if restock else "no_restock",
                    }
                )
        if not lines:
            raise Refused(f"order {order['name']} has nothing left to refund")
        return self.refund(order, lines)

    def order_changed(self, order, topic) -> dict:
        order["updated_at"] = now_iso()
        self.emit_order(order, topic, "orders/updated")
        return {"id": str(order["id"]), "order": public(order)}

    def refund(self, order: dict, raw_lines: list) -> dict:
        by_id = {line["id"]: line for line in order["line_items"]}
        planned, taken = [], {}
        for raw in raw_lines:
            line_item_id = raw.get("line_item_id")
            line = by_id.get(line_item_id) if isinstance(line_item_id, int) else None
            if line is None:
                raise SeedError(
                    f"order {order['name']} has no line item {raw.get('line_item_id')!r}"
                )
            q, kind = raw.get("quantity", 1), raw.get("restock_type", "return")
            if kind not in RESTOCK_TYPES:
                raise SeedError(
                    f"restock_type must be one of {', '.join(RESTOCK_TYPES)}, not {kind!r}"
                )
            if isinstance(q, bool) or not isinstance(q, int) or q < 1:
                raise SeedError(f"a refund line's quantity must be a whole number >= 1, not {q!r}")
            used = taken.setdefault(line["id"], {"unfulfilled": 0, "total": 0})
            unfulfilled_left = line["fulfillable_quantity"] - used["unfulfilled"]
            fulfilled_left = (
                line["current_quantity"]
                - line["fulfillable_quantity"]
                - (used["total"] - used["unfulfilled"])
            )
            if kind == "return" and q > fulfilled_left:
                raise Refused(
                    f"only {fulfilled_left} fulfilled unit(s) of line {line['id']} are returnable"
                )
            if kind == "cancel" and q > unfulfilled_left:
                raise Refused(
                    f"only {unfulfilled_left} unfulfilled unit(s) of line {line['id']} can go back"
                )
            if kind == "no_restock" and q > unfulfilled_left + fulfilled_left:
                raise Refused(
                    f"only {unfulfilled_left + fulfilled_left} unit(s) of line {line['id']} "
                    "are refundable"
                )
            from_unfulfilled = (
                q if kind == "cancel" else (min(q, unfulfilled_left) if kind == "no_restock" else 0)
            )
            used["unfulfilled"] += from_unfulfilled
            used["total"] += q
            planned.append((line, q, kind, from_unfulfilled))
        changes, refund_lines = [], []
        for line, q, kind, from_unfulfilled in planned:
            if kind == "return":
                changes += self.move_units(line, ("available", q))
            elif kind == "cancel":
                changes += self.move_units(line, ("committed", -q), ("available", q))
            else:
                changes += self.move_units(line, ("committed", -from_unfulfilled))
            line["fulfillable_quantity"] -= from_unfulfilled
            line["current_quantity"] -= q
            line_id = self.next_id()
            refund_lines.append(
                {
                    "id": line_id,
                    "line_item_id": line["id"],
                    "quantity": q,
                    "location_id": int(gid_number(line["_location"], "Location")),
                    "restock_type": kind,
                    "subtotal": 0.0,
                    "total_tax": 0.0,
                    "line_item": public(line),
                }
            )
        refund_id = self.next_id()
        refund = {
            "id": refund_id,
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
            "order_id": order["id"],
            "created_at": now_iso(),
            "processed_at": now_iso(),
            "note": None,
            "restock": any(r["restock_type"] != "no_restock" for r in refund_lines),
            "refund_line_items": refund_lines,
        }
        order["refunds"].append(refund)
        left = sum(line["current_quantity"] for line in order["line_items"])
        order["financial_status"] = "partially_refunded" if left else "refunded"
        self.note_moves("restock", order, changes)
        self.emit("refunds/create", refund)
        self.order_changed(order, "orders/updated")
        return {"id": str(order["id"]), "refund": refund, "order": public(order)}

    # ------------------------------------------------------------ control: merchant edits
    def control_levels(self, request, body):
        return self.merchant_edit(
            body.get("inventory_item_id"), body.get("location_id"), body.get("available")
        )

    def edit_stock(self, body: dict) -> dict:
        return self.merchant_edit(
            body.get("remote_id"), body.get("remote_parent_id"), body.get("quantity")
        )

    def merchant_edit(self, item_ref, location_id, available) -> dict:
        item_id = self.find_item(item_ref)
        if location_id is not None and not isinstance(location_id, str):
            raise SeedError(f"a location is its gid, not {location_id!r}")
        if location_id is None:
            location_id = next(
                (loc for loc in self.locations if (item_id, loc) in self.levels), None
            )
        if (item_id, location_id) not in self.levels:
            raise SeedError(f"{item_id} is not stocked at {location_id!r}")
        if isinstance(available, bool) or not isinstance(available, int):
            raise SeedError(f'"available" must be a whole number, not {available!r}')
        level = self.levels[(item_id, location_id)]
        changes = self.change_level(
            item_id, location_id, "available", available - level["available"]
        )
        if changes[0]["delta"]:
            self.record_group("correction", None, changes, source="merchant")
        return {
            "inventory_item_id": item_id,
            "location_id": location_id,
            "available": level["available"],
        }
