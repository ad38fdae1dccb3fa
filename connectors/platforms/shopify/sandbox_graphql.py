"""The GraphQL face of the Shopify sandbox: what each field resolves to (shopify.md §3, §4).

graphql-core runs the document; every object is a dict whose keys are its fields, and a
field with arguments (or one read lazily) is a callable `(info, **args)`. The root dict holds
the query and mutation fields, so a document is dispatched on its root field names, never
on its operation name.
"""

import base64
import json
from datetime import datetime

from graphql import GraphQLError
from graphql.execution.values import get_directive_values

from connectors.platforms.shopify.sandbox_inventory import MESSAGES, NAMES, gid_number, quantity

IDEMPOTENT = ("inventorySetQuantities", "inventoryAdjustQuantities", "inventoryActivate")
APP = {"id": "gid://shopify/App/1", "title": "Back-office", "handle": "back-office"}


def field_resolver(source, info, **args):
    value = source.get(info.field_name) if isinstance(source, dict) else None
    return value(info, **args) if callable(value) else value


def top_level(message: str, code: str, **extensions) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def encode_cursor(key) -> str:
    return base64.b64encode(json.dumps({"last_id": key}).encode()).decode()


def decode_cursor(cursor: str):
    try:
        return json.loads(base64.b64decode(cursor, validate=True))["last_id"]
    except (ValueError, TypeError, KeyError):
        raise top_level(
            f"Invalid cursor for current pagination sort: {cursor!r}", "BAD_REQUEST"
        ) from None


def connection(rows, args) -> dict:
    """rows: [(cursor key, node)], in order; Relay paging with first/after/last/before."""
    keys = [k for k, _ in rows]
    lo, hi = 0, len(rows)
    for name in ("after", "before"):
        if args.get(name) is None:
            continue
        key = decode_cursor(args[name])
        if key not in keys:
            raise top_level(
                f"Invalid cursor for current pagination sort: {args[name]!r}", "BAD_REQUEST"
            )
        if name == "after":
            lo = keys.index(key) + 1
        else:
            hi = keys.index(key)
    hi = max(lo, hi)
    if args.get("first") is not None:
        hi = min(hi, lo + args["first"])
    if args.get("last") is not None:
        lo = max(lo, hi - args["last"])
    edges = [{"node": node, "cursor": encode_cursor(key)} for key, node in rows[lo:hi]]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": hi < len(rows),
            "hasPreviousPage": lo > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


# ------------------------------------------------------------------ search syntax
def split_terms(query: str) -> list[str]:
    terms, current, quote = [], "", None
    for char in query:
        if quote:
            if char == quote:
                quote = None
            else:
                current += char
        elif char in "'\"":
            quote = char
        elif char.isspace():
            if current:
                terms.append(current)
            current = ""
        else:
            current += char
    if current:
        terms.append(current)
    return terms


def parse_search(query):
    """(any_of, terms): terms [(field, op, value)]; "OR" between terms makes any_of."""
    tokens = split_terms(query or "")
    any_of = "OR" in tokens
    terms = []
    for token in tokens:
        if token in ("OR", "AND"):
            continue
        field, sep, value = token.partition(":")
        if not sep:
            field, value = "", token
        op = "="
        for candidate in (">=", "<=", ">", "<"):
            if value.startswith(candidate):
                op, value = candidate, value[len(candidate) :]
                break
        terms.append((field.lower(), op, value))
    return any_of, terms


def parse_time(value: str):
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.now().astimezone().tzinfo)


def compare(actual, op: str, wanted) -> bool:
    return {
        "=": actual == wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
        "<": actual < wanted,
        "<=": actual <= wanted,
    }[op]


def matches(query, fields: dict, warnings: list) -> bool:
    """fields: name -> value (str, or an ISO time for *_at). Unknown fields and bad values
    are ignored with a search warning, as Shopify does."""
    any_of, terms = parse_search(query)
    results = []
    for field, op, value in terms:
        if field not in fields:
            warnings.append(
                {
                    "path": ["query"],
                    "query": query,
                    "message": f"Invalid search field for this query: {field or value!r}",
                }
            )
            continue
        actual = fields[field]
        if field.endswith("_at"):
            wanted, actual = parse_time(value), parse_time(actual or "")
            if wanted is None or actual is None:
                warnings.append(
                    {
                        "path": ["query"],
                        "query": query,
                        "message": f"Input {value!r} is not a valid date",
                    }
                )
                continue
            results.append(compare(actual, op, wanted))
        elif value.endswith("*"):
            results.append(str(actual or "").lower().startswith(value[:-1].lower()))
        else:
            results.append(compare(str(actual or "").lower(), op, value.lower()))
    if not results:
        return True
    return any(results) if any_of else all(results)


class Graph:
    """Builds the GraphQL objects from a ShopifySandbox's state (read under its lock)."""

    def __init__(self, sandbox):
        self.sb = sandbox

    def root(self) -> dict:
        return {
            "shop": lambda info: self.shop(),
            "publicApiVersions": lambda info: self.sb.api_versions(),
            "node": lambda info, id: self.node(id),
            "nodes": lambda info, ids: [self.node(i) for i in ids],
            "location": lambda info, id=None: self.location(
                id or next(iter(self.sb.locations), None)
            ),
            "locations": self.locations,
            "inventoryItem": lambda info, id: self.item(id),
            "inventoryItems": self.inventory_items,
            "inventoryLevel": lambda info, id: self.node(id, "InventoryLevel"),
            "order": lambda info, id: self.node(id, "Order"),
            "orders": self.orders,
            "webhookSubscription": lambda info, id: self.node(id, "WebhookSubscription"),
            "webhookSubscriptions": self.webhook_subscriptions,
            "inventorySetQuantities": self.set_quantities,
            "inventoryAdjustQuantities": self.adjust_quantities,
            "inventoryActivate": self.activate,
            "inventoryItemUpdate": self.item_update,
            "webhookSubscriptionCreate": self.webhook_create,
            "webhookSubscriptionUpdate": self.webhook_update,
            "webhookSubscriptionDelete": self.webhook_delete,
        }

    # ------------------------------------------------------------ objects
    def shop(self) -> dict:
        domain = self.sb.settings["shop_domain"]
        return {
            "__typename": "Shop",
            "id": "gid://shopify/Shop/1",
            "name": self.sb.settings["shop_name"],
            "email": "owner@example.com",
            "myshopifyDomain": domain,
            "url": f"https://{domain}",
            "currencyCode": "EUR",
            "ianaTimezone": "Etc/UTC",
        }

    def node(self, gid, kind=None):
        if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
            raise top_level(f"Invalid global id '{gid}'", "argumentLiteralsIncompatible")
        kind_of = gid.split("/")[3] if gid.count("/") >= 4 else ""
        if kind and kind_of != kind:
            return None
        if kind_of == "InventoryItem":
            return self.item(gid)
        if kind_of == "Location":
            return self.location(gid)
        if kind_of == "InventoryLevel":
            loc = gid_number(gid, "InventoryLevel")
            item = gid.partition("?inventory_item_id=")[2]
            key = (f"gid://shopify/InventoryItem/{item}", f"gid://shopify/Location/{loc}")
            return self.level(*key) if key in self.sb.levels else None
        if kind_of == "ProductVariant":
            return next(
                (self.variant(i) for i, v in self.sb.items.items() if v["variant_id"] == gid), None
            )
        if kind_of == "Order":
            record = self.sb.orders.get(gid_number(gid, "Order"))
            return self.order(record) if record else None
        if kind_of == "Refund":
            for order in self.sb.orders.values():
                for refund in order["refunds"]:
                    if refund["admin_graphql_api_id"] == gid:
                        return self.refund(order, refund)
            return None
        if kind_of == "WebhookSubscription":
            sub = self.sb.webhooks.get(gid)
            return self.webhook(sub) if sub else None
        if kind_of == "InventoryAdjustmentGroup":
            return next((self.group(g) for g in self.sb.adjustments if g["id"] == gid), None)
        if kind_of == "Shop":
            return self.shop()
        return None

    def item(self, gid):
        data = self.sb.items.get(gid)
        if data is None:
            return None
        number = gid_number(gid, "InventoryItem")

        def level_at(info, locationId):
            return self.level(gid, locationId) if (gid, locationId) in self.sb.levels else None

        def levels(info, **args):
            rows = [(loc, self.level(gid, loc)) for (i, loc) in self.sb.levels if i == gid]
            return self.filtered_levels(info, rows, args)

        return {
            "__typename": "InventoryItem",
            "id": gid,
            "legacyResourceId": number,
            "sku": data["sku"],
            "tracked": data["tracked"],
            "requiresShipping": data["requires_shipping"],
            "createdAt": data["created_at"],
            "updatedAt": data["updated_at"],
            "variant": lambda info: self.variant(gid),
            "inventoryLevel": level_at,
            "inventoryLevels": levels,
        }

    def variant(self, item_gid):
        data = self.sb.items[item_gid]
        return {
            "__typename": "ProductVariant",
            "id": data["variant_id"],
            "legacyResourceId": gid_number(data["variant_id"], "ProductVariant"),
            "sku": data["sku"],
            "title": data["title"],
            "inventoryItem": lambda info: self.item(item_gid),
        }

    def location(self, gid):
        data = self.sb.locations.get(gid)
        if data is None:
            return None

        def level_of(info, inventoryItemId):
            return (
                self.level(inventoryItemId, gid)
                if (inventoryItemId, gid) in self.sb.levels
                else None
            )

        def levels(info, **args):
            rows = [(item, self.level(item, gid)) for (item, loc) in self.sb.levels if loc == gid]
            return self.filtered_levels(info, rows, args)

        return {
            "__typename": "Location",
            "id": gid,
            "legacyResourceId": gid_number(gid, "Location"),
            "name": data["name"],
            "isActive": data["active"],
            "fulfillsOnlineOrders": True,
            "inventoryLevel": level_of,
            "inventoryLevels": levels,
        }

    def filtered_levels(self, info, rows, args):
        warnings = info.context.warnings
        kept = []
        for key, node in rows:
            fields = {
                "updated_at": node["updatedAt"],
                "created_at": node["createdAt"],
                "inventory_item_id": gid_number(node["_item"], "InventoryItem"),
                "location_id": gid_number(node["_location"], "Location"),
            }
            if matches(args.get("query"), fields, warnings):
                kept.append((key, node))
        if args.get("reverse"):
            kept.reverse()
        return connection(kept, args)

    def level(self, item_gid, location_gid):
        data = self.sb.levels[(item_gid, location_gid)]
        loc, item = gid_number(location_gid, "Location"), gid_number(item_gid, "InventoryItem")

        def quantities(info, names):
            unknown = [n for n in names if n not in NAMES]
            if unknown:
                raise top_level(
                    f"The quantity name {unknown[0]!r} is not valid; valid names: "
                    f"{', '.join(NAMES)}",
                    "BAD_REQUEST",
                )
            return [
                {
                    "id": f"gid://shopify/InventoryQuantity/{loc}?inventory_item_id={item}&name={n}",
                    "name": n,
                    "quantity": quantity(data, n),
                    "updatedAt": data["updated_at"],
                }
                for n in names
            ]

        return {
            "__typename": "InventoryLevel",
            "id": f"gid://shopify/InventoryLevel/{loc}?inventory_item_id={item}",
            "_item": item_gid,
            "_location": location_gid,
            "quantities": quantities,
            "item": lambda info: self.item(item_gid),
            "location": lambda info: self.location(location_gid),
            "createdAt": data["created_at"],
            "updatedAt": data["updated_at"],
            "canDeactivate": True,
        }

    def group(self, group):
        if group is None:
            return None

        def changes(info, inventoryItemIds=None, locationIds=None, quantityNames=None):
            return [
                {**row, "item": self.item(row["item"]), "location": self.location(row["location"])}
                for row in group["changes"]
                if (inventoryItemIds is None or row["item"] in inventoryItemIds)
                and (locationIds is None or row["location"] in locationIds)
                and (quantityNames is None or row["name"] in quantityNames)
            ]

        return {
            "__typename": "InventoryAdjustmentGroup",
            "id": group["id"],
            "createdAt": group["createdAt"],
            "reason": group["reason"],
            "referenceDocumentUri": group["referenceDocumentUri"],
            "app": APP,
            "changes": changes,
        }

    # ------------------------------------------------------------ lists
    def locations(self, info, **args):
        rows = [
            (gid, self.location(gid))
            for gid, loc in self.sb.locations.items()
            if loc["active"] or args.get("includeInactive")
        ]
        rows = [
            (k, n)
            for k, n in rows
            if matches(
                args.get("query"),
                {"name": n["name"], "id": n["legacyResourceId"]},
                info.context.warnings,
            )
        ]
        if args.get("reverse"):
            rows.reverse()
        return connection(rows, args)

    def inventory_items(self, info, **args):
        rows = []
        for gid in sorted(self.sb.items, key=lambda g: int(gid_number(g, "InventoryItem"))):
            data = self.sb.items[gid]
            fields = {
                "sku": data["sku"],
                "id": gid_number(gid, "InventoryItem"),
                "updated_at": data["updated_at"],
                "created_at": data["created_at"],
            }
            if matches(args.get("query"), fields, info.context.warnings):
                rows.append((gid, self.item(gid)))
        if args.get("reverse"):
            rows.reverse()
        return connection(rows, args)

    def orders(self, info, **args):
        records = list(self.sb.orders.values())
        kept = []
        for order in records:
            fields = {
                "updated_at": order["updated_at"],
                "created_at": order["created_at"],
                "id": str(order["id"]),
                "name": order["name"],
                "financial_status": order["financial_status"],
                "fulfillment_status": order["fulfillment_status"] or "unfulfilled",
                "status": "cancelled" if order["cancelled_at"] else "open",
            }
            if matches(args.get("query"), fields, info.context.warnings):
                kept.append(order)
        sort = {
            "UPDATED_AT": "updated_at",
            "CREATED_AT": "created_at",
            "PROCESSED_AT": "created_at",
        }.get(args.get("sortKey"))
        kept.sort(key=lambda o: (o[sort], o["id"]) if sort else (o["id"],))
        if args.get("reverse"):
            kept.reverse()
        return connection([(o["id"], self.order(o)) for o in kept], args)

    def order(self, record):
        def line_items(info, **args):
            return connection(
                [(line["id"], self.line_item(line)) for line in record["line_items"]], args
            )

        status = record["financial_status"]
        return {
            "__typename": "Order",
            "id": record["admin_graphql_api_id"],
            "legacyResourceId": str(record["id"]),
            "name": record["name"],
            "createdAt": record["created_at"],
            "updatedAt": record["updated_at"],
            "processedAt": record["created_at"],
            "cancelledAt": record["cancelled_at"],
            "closed": record["closed_at"] is not None,
            "displayFinancialStatus": status.upper() if status else None,
            "displayFulfillmentStatus": (record["fulfillment_status"] or "unfulfilled").upper(),
            "lineItems": line_items,
            "refunds": lambda info, first=None: [
                self.refund(record, refund) for refund in record["refunds"][:first]
            ],
        }

    def refund(self, order, refund):
        lines = {line["id"]: line for line in order["line_items"]}

        def refund_line_items(info, **args):
            rows = [
                (row["id"], self.refund_line(row, lines[row["line_item_id"]]))
                for row in refund["refund_line_items"]
            ]
            if args.get("reverse"):
                rows.reverse()
            return connection(rows, args)

        return {
            "__typename": "Refund",
            "id": refund["admin_graphql_api_id"],
            "legacyResourceId": str(refund["id"]),
            "createdAt": refund["created_at"],
            "note": refund["note"],
            "refundLineItems": refund_line_items,
        }

    def refund_line(self, row, line):
        location = f"gid://shopify/Location/{row['location_id']}"
        return {
            "__typename": "RefundLineItem",
            "id": f"gid://shopify/RefundLineItem/{row['id']}",
            "quantity": row["quantity"],
            "restockType": row["restock_type"].upper(),
            "restocked": row["restock_type"] != "no_restock",
            "lineItem": self.line_item(line),
            "location": lambda info: self.location(location),
        }

    def line_item(self, line):
        item_gid = line["_inventory_item"]
        return {
            "__typename": "LineItem",
            "id": line["admin_graphql_api_id"],
            "name": line["name"],
            "title": line["title"],
            "sku": line["sku"],
            "quantity": line["quantity"],
            "currentQuantity": line["current_quantity"],
            "unfulfilledQuantity": line["fulfillable_quantity"],
            "refundableQuantity": line["current_quantity"],
            "variant": lambda info: self.variant(item_gid) if item_gid in self.sb.items else None,
        }

    def webhook_subscriptions(self, info, **args):
        rows = []
        for gid, sub in self.sb.webhooks.items():
            if args.get("topics") and sub["topic"] not in args["topics"]:
                continue
            wanted = args.get("uri") or args.get("callbackUrl")
            if wanted and sub["uri"] != wanted:
                continue
            rows.append((int(gid_number(gid, "WebhookSubscription")), self.webhook(sub)))
        return connection(rows, args)

    def webhook(self, sub):
        if sub is None:
            return None
        uri = sub["uri"]
        if uri.startswith("arn:"):
            endpoint = {"__typename": "WebhookEventBridgeEndpoint", "arn": uri}
        elif uri.startswith("pubsub://"):
            project, _, topic = uri.removeprefix("pubsub://").partition(":")
            endpoint = {
                "__typename": "WebhookPubSubEndpoint",
                "pubSubProject": project,
                "pubSubTopic": topic,
            }
        else:
            endpoint = {"__typename": "WebhookHttpEndpoint", "callbackUrl": uri}
        version = self.sb.webhook_version()
        return {
            "__typename": "WebhookSubscription",
            **{k: v for k, v in sub.items() if not k.startswith("_")},
            "legacyResourceId": gid_number(sub["id"], "WebhookSubscription"),
            "callbackUrl": uri if endpoint["__typename"] == "WebhookHttpEndpoint" else None,
            "endpoint": endpoint,
            "apiVersion": {"handle": version, "displayName": version, "supported": True},
        }

    # ------------------------------------------------------------ mutations
    def idempotent(self, info, name, args, run, failed):
        """Apply `run()` once per idempotency key: a replay with the same arguments answers
        what the first call did; other arguments answer IDEMPOTENCY_KEY_PARAMETER_MISMATCH."""
        directive = info.schema.get_directive("idempotent")
        values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
        key = (values or {}).get("key")
        ctx = info.context
        if key is None:
            if not ctx.modern or not self.sb.settings["require_idempotency"]:
                return run()
            raise top_level(
                f"The @idempotent directive is required for {name} from API version 2026-04: "
                f'add @idempotent(key: "<uuid>") to the field.',
                "BAD_REQUEST",
            )
        fingerprint = json.dumps(args, sort_keys=True, default=str)
        stored = self.sb.idempotency.get((name, key))
        if stored is not None:
            if stored["fingerprint"] != fingerprint:
                return failed("IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
            stored["replays"] += 1
            return stored["payload"]
        payload = run()
        self.sb.idempotency[(name, key)] = {
            "fingerprint": fingerprint,
            "payload": payload,
            "replays": 0,
        }
        return payload

    def require_change_from(self, info, rows, list_name):
        if not info.context.modern or self.sb.settings["change_from_quantity_missing"] == "accept":
            return
        for i, row in enumerate(rows):
            if "changeFromQuantity" not in row:
                raise top_level(
                    f"changeFromQuantity is required on input.{list_name}[{i}] from API version "
                    "2026-04: give the quantity you last read, or null to skip the check.",
                    "BAD_REQUEST",
                    field=["input", list_name, str(i), "changeFromQuantity"],
                )

    def inventory_mutation(self, info, name, input, list_name, write):
        def run():
            self.require_change_from(info, input[list_name], list_name)
            return write(input, not info.context.modern)

        def failed(code):
            return {
                "inventoryAdjustmentGroup": None,
                "userErrors": [{"field": None, "message": MESSAGES[code], "code": code}],
            }

        payload = self.idempotent(info, name, {"input": input}, run, failed)
        return {
            **payload,
            "inventoryAdjustmentGroup": self.group(payload["inventoryAdjustmentGroup"]),
        }

    def set_quantities(self, info, input):
        return self.inventory_mutation(
            info, "inventorySetQuantities", input, "quantities", self.sb.set_quantities
        )

    def adjust_quantities(self, info, input):
        return self.inventory_mutation(
            info, "inventoryAdjustQuantities", input, "changes", self.sb.adjust_quantities
        )

    def activate(self, info, **args):
        def failed(code):
            return {
                "inventoryLevel": None,
                "userErrors": [{"field": None, "message": MESSAGES[code]}],
            }

        payload = self.idempotent(
            info, "inventoryActivate", args, lambda: self.sb.activate(args), failed
        )
        level = payload["inventoryLevel"]
        return {
            **payload,
            "inventoryLevel": self.level(*level) if level and level in self.sb.levels else None,
        }

    def item_update(self, info, **args):
        payload = self.sb.item_update(args)
        return {
            **payload,
            "inventoryItem": self.item(payload["inventoryItem"])
            if payload["inventoryItem"]
            else None,
        }

    def webhook_create(self, info, topic, webhookSubscription):
        payload = self.sb.webhook_create(topic, webhookSubscription)
        return {**payload, "webhookSubscription": self.webhook(payload["webhookSubscription"])}

    def webhook_update(self, info, id, webhookSubscription):
        payload = self.sb.webhook_update(id, webhookSubscription)
        return {**payload, "webhookSubscription": self.webhook(payload["webhookSubscription"])}

    def webhook_delete(self, info, id):
        return self.sb.webhook_delete(id)
