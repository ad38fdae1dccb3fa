"""A marketplace implementing Unicommerce's channel contract (channels.md §3.1, direction A).

Our connector plays Uniware: it logs in with GET or POST /authToken, then pushes absolute
stock with POST /updateInventory and the header `apiKey: <accessToken>`. This sandbox is
the marketplace on the other end. It also serves the "elementary" reads GET /products and
GET /productsCount, so the connector can read back what the marketplace holds.

Default credentials: username "uniware", password "uniware-sandbox-password" (seed
{"credentials": {"username", "password"}} replaces them). Seed items:
    {"items": [{"productId", "variantId", "sku"?, "title"?, "parentTitle"?, "brand"?,
                "inventory"?}]}

Choices where channels.md marks a gap ([I]; the "Response Codes" page was never found):
- Bad credentials answer HTTP 401 with {"status": "FAILED"} (GET) or
  {"status": "INVALID_CREDENTIALS"} (POST).
- A missing, unknown or expired apiKey answers 401 {"status": "FAILED", "message": "Invalid
  User/Token", "failedProductList": []} on /updateInventory and 401 {"message": ...} on the
  reads. Tokens last settings token_ttl seconds (default 86400; null never expires).
- /updateInventory answers HTTP 200 for SUCCESS, FAILED and PARTIAL_SUCCESS (like the one
  partner implementation seen); a body that is not {"inventoryList": [...]}, or a list longer
  than settings max_list_size (default 1000), answers 400 FAILED with a "message".
- Per line: productId and variantId are compared as strings; unknown ones fail with "Product
  not found" / "Variant not found"; inventory must be a non-negative integer or a string of
  digits, else "Invalid inventory value". With facilityCode the value is that facility's stock
  (settings facilities, if not empty, lists the codes allowed); the variant's inventory shown by
  /products is the sum over its facilities. Lines apply in order, so a repeated line wins last.
- /products pages over products (pageNumber from 1, pageSize default 50) and filters on
  variant skus (comma separated); publishedStatus is accepted and ignored.

Orders (channels-inbound.md §5; the statuses and moves are in sandbox_orders.py), behind the
same apiKey as the inventory routes:
    GET /orders?pageSize&pageNumber&orderDateFrom&orderDateTo&orderStatus   Get Orders
    GET /orders?pageNumber&pageSize&orderIds=a,b                     Get Order Status
    POST /orders/dispatch {orderItems: [{orderItemId, quantity?}]}   Uniware dispatched them
    POST /orders/cancel {orderId, orderItems: [{orderItemId, ...}]}  Uniware cancelled them
The two POSTs answer {status: SUCCESS|FAILED|PARTIAL_SUCCESS, orderItems: [{orderItemId,
errorMessage}]}, errorMessage null for the items done.

Selling (the control API): POST /_sandbox/orders places a CREATED order (PENDING_VERIFICATION
with "paid": false; "orderDate": an ISO date backdates it) and takes its units off the
listing, as the marketplace does at the sale (§5.6); not enough units is a 409 that changes
nothing. POST /_sandbox/orders/<id> actions:
    pay      PENDING_VERIFICATION -> CREATED (the seller accepts it)
    fulfil   items CREATED -> DISPATCHED (order COMPLETE); again: DISPATCHED -> DELIVERED
    cancel   items CREATED -> CANCELLED; refused once dispatched
    refund   before dispatch: as cancel. After: restock false -> RETURN_REQUESTED (asked,
             not back); restock true -> COURIER_RETURN from DISPATCHED, or a received
             customer return (RETURN_REQUESTED with a returnDate) from DELIVERED or
             RETURN_REQUESTED
POST /_sandbox/stock sets the listing's level as the marketplace's staff would. There is no
event for any of this, nor for /updateInventory: the contract has no webhooks (Uniware polls),
so the outbox never sends and POST /_sandbox/webhooks is refused. GET /_sandbox/state shows
the orders as Get Order Status would.

Choices where the inbound docs are silent ([I]):
- Cancelled items give their units back to the listing (the sale is undone); returns do not:
  the goods go back to the seller, whose Uniware pushes the new level.
- Get Orders without orderStatus lists CREATED orders (what the call is for); any status of
  §5.4 may be asked for. orderDateFrom/To bound orderDate, both ends included, read in the
  forms the connector reads (a "+" turned into a space by an unencoded query is put back).
  Orders come oldest first. With orderIds the dates and status are not applied, unknown ids
  are left out, and the return fields are shown (null until a return is under way).
- settings items_in_list (default true): false lists orders without orderItems, the way a
  marketplace might; Get Order Status always has them.
- An unpaid order takes its units at the sale too: the customer bought them, the seller
  only has to accept.
"""

import re
import time
from collections import Counter

from werkzeug.routing import Rule

from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Refused,
    Sandbox,
    SeedError,
    json_response,
    parse_json,
)
from connectors.platforms.unicommerce import sandbox_orders
from connectors.platforms.unicommerce.orders import parse_date
from connectors.platforms.unicommerce.sandbox_orders import Orders, order_json

DEFAULT_CREDENTIALS = {"username": "uniware", "password": "uniware-sandbox-password"}
DIGITS = re.compile(r"^\s*\d+\s*$")
UNENCODED_OFFSET = re.compile(r" (\d\d:?\d\d)$")  # "+05:30" read from a raw query string
STATUSES = ("CREATED", sandbox_orders.WAITING, "COMPLETE", "CANCELLED")


def failed(status: int, message: str):
    return json_response({"status": "FAILED", "message": message, "failedProductList": []}, status)


class UnicommerceSandbox(Sandbox):
    platform = "unicommerce"
    rules = (
        Rule("/authToken", endpoint="auth_token", methods=["GET", "POST"]),
        Rule("/updateInventory", endpoint="update_inventory", methods=["POST"]),
        Rule("/products", endpoint="list_products", methods=["GET"]),
        Rule("/productsCount", endpoint="count_products", methods=["GET"]),
        Rule("/orders", endpoint="list_orders", methods=["GET"]),
        Rule("/orders/dispatch", endpoint="dispatch_orders", methods=["POST"]),
        Rule("/orders/cancel", endpoint="cancel_orders", methods=["POST"]),
    )
    # No webhooks at all (channels-inbound.md §5.1): nothing is ever sent, so nothing retried.
    webhook_retries = 0
    webhook_retry_on = "none"
    auth_endpoints = frozenset({"auth_token"})
    # retry_after: the Retry-After of an injected 429 (no limit is documented for this contract)
    default_settings = {
        "token_ttl": 86_400,
        "max_list_size": 1000,
        "facilities": [],
        "retry_after": 60,
        "items_in_list": True,
    }

    def reset_state(self) -> None:
        self.credentials = dict(DEFAULT_CREDENTIALS)
        self.products: dict[str, dict] = {}
        self.orders = Orders()
        self.order_count = 0  # orders placed so far, for their ids

    def seed(self, body: dict) -> None:
        self.credentials.update(body.get("credentials") or {})
        for raw in body.get("items") or []:
            product_id, variant_id = str(raw["productId"]), str(raw["variantId"])
            product = self.products.setdefault(
                product_id,
                {"id": product_id, "parentTitle": f"Product {product_id}", "variants": {}},
            )
            product.update({k: raw[k] for k in ("parentTitle", "brand") if k in raw})
            variant = product["variants"].setdefault(
                variant_id, {"variantId": variant_id, "sku": variant_id, "stock": {"": 0}}
            )
            variant.update({k: raw[k] for k in ("sku", "title") if k in raw})
            if "inventory" in raw:
                variant["stock"] = {"": int(raw["inventory"])}

    def state_json(self) -> dict:
        return {
            "platform": self.platform,
            "settings": self.settings,
            "products": {pid: self.product_json(p) for pid, p in self.products.items()},
            "tokens": self.tokens.to_json(),
            "orders": {oid: order_json(o, returns=True) for oid, o in self.orders.items()},
        }

    @staticmethod
    def product_json(product: dict) -> dict:
        variants = []
        for variant in product["variants"].values():
            stock = variant["stock"]
            variants.append(
                {
                    "variantId": variant["variantId"],
                    "title": variant.get("title", product["parentTitle"]),
                    "sku": variant["sku"],
                    "live": True,
                    "inventory": sum(stock.values()),
                    "facilityInventory": {k: v for k, v in stock.items() if k},
                    "blockedInventory": 0,
                    "pendency": 0,
                }
            )
        return {**{k: v for k, v in product.items() if k != "variants"}, "variants": variants}

    # --------------------------------------------------------------- routes
    def auth_token(self, request):
        if request.method == "GET":
            given = request.args
        else:
            body = parse_json(request)
            given = body if isinstance(body, dict) else request.form
        creds = (given.get("username"), given.get("password"))
        if creds != (self.credentials["username"], self.credentials["password"]):
            status = "FAILED" if request.method == "GET" else "INVALID_CREDENTIALS"
            return json_response({"status": status}, 401)
        token, _ = self.tokens.issue(self.settings["token_ttl"], "uc-", username=creds[0])
        return json_response({"status": "SUCCESS", "accessToken": token})

    def update_inventory(self, request):
        if not self.authenticated(request):
            raise Abort(failed(401, "Invalid User/Token"))
        body = parse_json(request)
        lines = body.get("inventoryList") if isinstance(body, dict) else INVALID
        if not isinstance(lines, list):
            raise Abort(failed(400, "inventoryList must be a list"))
        if len(lines) > self.settings["max_list_size"]:
            raise Abort(
                failed(400, f"inventoryList exceeds {self.settings['max_list_size']} items")
            )
        failures = []
        for line in lines:
            message = self.apply(line) if isinstance(line, dict) else "Invalid inventory line"
            if message:
                ids = line if isinstance(line, dict) else {}
                failures.append(
                    {
                        "productId": str(ids.get("productId", "")),
                        "variantId": str(ids.get("variantId", "")),
                        "message": message,
                    }
                )
        status = "SUCCESS"
        if failures:
            status = "FAILED" if len(failures) == len(lines) else "PARTIAL_SUCCESS"
        return json_response({"status": status, "failedProductList": failures})

    def apply(self, line: dict) -> str | None:
        """Apply one line; the failure message, or None."""
        if line.get("productId") in (None, "") or line.get("variantId") in (None, ""):
            return "productId and variantId are required"
        product = self.products.get(str(line["productId"]))
        if product is None:
            return "Product not found"
        variant = product["variants"].get(str(line["variantId"]))
        if variant is None:
            return "Variant not found"
        value = line.get("inventory")
        if isinstance(value, str) and DIGITS.match(value):
            value = int(value)
        if type(value) is not int or value < 0:
            return f"Invalid inventory value: {line.get('inventory')!r}"
        facility = line.get("facilityCode") or ""
        allowed = self.settings["facilities"]
        if facility and allowed and facility not in allowed:
            return f"Unknown facilityCode: {facility}"
        if facility:
            variant["stock"].pop("", None)
        variant["stock"][facility] = value
        return None

    def list_products(self, request):
        if not self.authenticated(request):
            raise Abort(json_response({"message": "Invalid User/Token"}, 401))
        args = request.args
        page, size = self.paging(args)
        products = list(self.products.values())
        if skus := {s.strip() for s in (args.get("skus") or "").split(",") if s.strip()}:
            products = [
                {**p, "variants": {k: v for k, v in p["variants"].items() if v["sku"] in skus}}
                for p in products
            ]
            products = [p for p in products if p["variants"]]
        page_items = products[(page - 1) * size : page * size]
        return json_response({"products": [self.product_json(p) for p in page_items]})

    def count_products(self, request):
        if not self.authenticated(request):
            raise Abort(json_response({"message": "Invalid User/Token"}, 401))
        return json_response({"count": sum(len(p["variants"]) for p in self.products.values())})

    def list_orders(self, request):
        if not self.authenticated(request):
            raise Abort(json_response({"message": "Invalid User/Token"}, 401))
        args = request.args
        page, size = self.paging(args)
        ids = [i.strip() for i in (args.get("orderIds") or "").split(",") if i.strip()]
        if ids:
            chosen = [self.orders[i] for i in dict.fromkeys(ids) if i in self.orders]
        else:
            status = (args.get("orderStatus") or "CREATED").strip().upper()
            if status not in STATUSES:
                raise Abort(failed(400, f"orderStatus must be one of {', '.join(STATUSES)}"))
            start = self.query_date(args, "orderDateFrom", float("-inf"))
            end = self.query_date(args, "orderDateTo", float("inf"))
            chosen = self.orders.listed(status, start, end)
        items = bool(ids) or self.settings["items_in_list"]
        shown = chosen[(page - 1) * size : page * size]
        return json_response({"orders": [order_json(o, items, bool(ids)) for o in shown]})

    def dispatch_orders(self, request):
        return self.item_call(request, sandbox_orders.dispatch)

    def cancel_orders(self, request):
        return self.item_call(request, self.cancel_item)

    def cancel_item(self, order, item):
        self.give(sandbox_orders.cancel(item))

    def item_call(self, request, move):
        """/orders/dispatch and /orders/cancel: `move` each item; the contract's reply."""
        if not self.authenticated(request):
            raise Abort(failed(401, "Invalid User/Token"))
        body = parse_json(request)
        rows = body.get("orderItems") if isinstance(body, dict) else INVALID
        if not isinstance(rows, list) or not rows:
            raise Abort(failed(400, "orderItems must be a non-empty list"))
        answers = []
        for row in rows:
            item_id = str(row.get("orderItemId", "")) if isinstance(row, dict) else ""
            answers.append(
                {"orderItemId": item_id, "errorMessage": self.move_item(body, row, move)}
            )
        errors = sum(1 for a in answers if a["errorMessage"])
        status = "FAILED" if errors == len(answers) else "PARTIAL_SUCCESS" if errors else "SUCCESS"
        return json_response({"status": status, "orderItems": answers})

    def move_item(self, body, row, move) -> str | None:
        """One item of a dispatch or cancel call; its error message, or None."""
        found = (
            self.orders.by_item.get(str(row.get("orderItemId", "")))
            if isinstance(row, dict)
            else None
        )
        if found is None:
            return "Order item not found"
        order, item = found
        if body.get("orderId") not in (None, order["id"]):
            return f"Order item does not belong to order {body['orderId']}"
        if row.get("quantity") is not None and str(row["quantity"]) != str(item["quantity"]):
            return f"quantity must be the item's {item['quantity']}"
        try:
            move(order, item)
        except Refused as exc:
            return str(exc)
        return None

    def paging(self, args) -> tuple[int, int]:
        try:
            return max(1, int(args.get("pageNumber") or 1)), max(1, int(args.get("pageSize") or 50))
        except ValueError:
            raise Abort(
                json_response({"message": "pageNumber and pageSize must be numbers"}, 400)
            ) from None

    @staticmethod
    def query_date(args, name, default) -> float:
        value = (args.get(name) or "").strip()
        if not value:
            return default
        when = parse_date(UNENCODED_OFFSET.sub(r"+\1", value))
        if when is None:
            raise Abort(failed(400, f"{name} is not a date: {value[:40]!r}"))
        return when.timestamp()

    def authenticated(self, request) -> bool:
        return self.tokens.check(request.headers.get("apiKey"))[1] == "ok"

    # ------------------------------------------------------------- selling
    def sell(self, body: dict) -> dict:
        self.order_count += 1
        order_id = str(body.get("id") or f"MP{self.order_count:05d}")
        if order_id in self.orders:
            raise SeedError(f"order {order_id} exists")
        placed = int(time.time())
        if body.get("orderDate") is not None:
            when = parse_date(body["orderDate"])
            if when is None:
                raise SeedError(f"orderDate is not an ISO date: {body['orderDate']!r}")
            placed = int(when.timestamp())
        lines = [(self.find(line), line.get("quantity", 1)) for line in body["lines"]]
        wanted = Counter()
        for (product, variant), quantity in lines:
            wanted[product["id"], variant["variantId"]] += quantity
        for (product, variant), _ in lines:
            left, asked = (
                sum(variant["stock"].values()),
                wanted[product["id"], variant["variantId"]],
            )
            if asked > left:
                raise Refused(f"variant {variant['variantId']} has {left} left, not {asked}")
        for (_, variant), quantity in lines:
            self.take(variant, quantity)
        order = self.orders.place(
            order_id,
            placed,
            verified=bool(body.get("paid", True)),
            lines=[(p["id"], v["variantId"], v["sku"], q) for (p, v), q in lines],
        )
        return {"id": order_id, "order": order_json(order, returns=True)}

    def order_action(self, order_id: str, action: str, restock: bool) -> dict:
        order = self.orders.get(order_id)
        if order is None:
            raise SeedError(f"no order {order_id!r}")
        for item in self.orders.act(order, action, restock, int(time.time())):
            self.give(item)
        return {"id": order_id, "order": order_json(order, returns=True)}

    def edit_stock(self, body: dict) -> dict:
        """Staff set the listing's level on the marketplace; it sends no event (it has none)."""
        product, variant = self.find(body)
        stock, facility = variant["stock"], body.get("facilityCode")
        if facility:
            stock.pop("", None)
        elif len(stock) > 1:
            raise SeedError(f"variant {variant['variantId']} is stocked by facility: say which")
        stock[str(facility) if facility else next(iter(stock))] = body["quantity"]
        return self.product_json(product)

    def subscribe(self, body: dict) -> dict:
        raise SeedError("the Unicommerce contract has no webhooks: Uniware polls GET /orders")

    def find(self, line: dict) -> tuple[dict, dict]:
        """(product, variant) of a control request's line, by variantId (and productId)."""
        variant_id, product_id = str(line["remote_id"]), line.get("remote_parent_id")
        products = [self.products.get(str(product_id))] if product_id else self.products.values()
        found = [
            (p, p["variants"][variant_id]) for p in products if p and variant_id in p["variants"]
        ]
        if len(found) != 1:
            which = "no" if not found else "more than one"
            raise SeedError(f"{which} variant {variant_id!r} (give remote_parent_id)")
        return found[0]

    @staticmethod
    def take(variant: dict, quantity: int) -> None:
        """Take sold units off the listing, from its facilities in turn."""
        stock = variant["stock"]
        for facility in stock:
            taken = min(stock[facility], quantity)
            stock[facility] -= taken
            quantity -= taken

    def give(self, item: dict) -> None:
        """Put a cancelled item's units back on its listing (its first facility)."""
        product = self.products.get(item["productId"])
        variant = product and product["variants"].get(item["variantId"])
        if variant:
            stock = variant["stock"]
            stock[next(iter(stock))] += item["quantity"]

    # ------------------------------------------------------------- hooks
    def error_response(self, status: int, message: str):
        return failed(status, message)

    def throttled_response(self, request):
        response = failed(429, "Too Many Requests")
        response.headers["Retry-After"] = str(self.settings["retry_after"])
        return response
