"""Elastic Path Composable Commerce > Inventories sandbox (channels.md §4).

Serves POST /oauth/access_token and, under /v2: GET /inventories, POST /inventories/multiple,
GET/POST/DELETE /inventories/{product_id}, GET/POST /inventories/{product_id}/transactions,
GET /inventories/{product_id}/transactions/{transaction_id}, and the multi-location calls of
sandbox_mli.py (POST /inventories, PUT /inventories/{product_id}, the locations' CRUD). The
header `EP-Inventories-Multi-Location: true` switches a request to the multi-location (MLI)
shapes.

Default credentials: client_id "ep-sandbox-client-id", client_secret
"ep-sandbox-client-secret" (grant_type=client_credentials; grant_type=implicit with the
client_id alone gives a read-only token). Seed:
    {"locations": [{"slug", "name"?}],
     "items": [{"id", "available"?, "allocated"?,
                "locations"?: {slug: {"available", "allocated"?}}}]}

Stock model: per product, buckets of {available, allocated}: "" holds the stock without a
location, one bucket per location slug; total = available + allocated, and the product's
figures are the sums over its buckets.

Choices where channels.md marks a gap ([I]):
- Basic transactions (no header) act on the unlocated bucket. MLI transactions act on
  `location`'s bucket, or the unlocated one when it is omitted; an unknown slug is a 404
  "No location found". `set` sets the bucket's total: available = quantity - allocated, and a
  quantity below allocated is the 422 "insufficient stock levels", like a decrement or an
  allocate beyond available or a deallocate beyond allocated.
- An MLI transaction's `type` may stand in its attributes instead of beside them, and its
  attributes may repeat the product_id (the JS SDK sends both so); another product_id is a 400.
- A transaction is read back by its id from the product's latest 1,000 (404 "No transaction
  found" otherwise).
- Validation errors answer 400 "Validation Error" with a detail naming the field. Error
  `status` values are strings, as in the current spec.
- POST /inventories/{id} on a product that already has stock answers 409.
- A missing, unknown or expired token answers 401; an implicit token on a write answers 403.
- Rate limit: one store-wide token bucket of settings rps (default 100; 25 for a dev store)
  requests per second, without rate-limit headers (none are documented); 429 when empty.
- page[limit] defaults to 100 (maximum 100) and page[offset] may not exceed the
  "max_offset" setting (10,000, the documented cap; lower it to test a client's paging).

Selling (channels-inbound.md §3, sandbox_selling.py): GET /v2/orders (filter, page[]),
GET /v2/orders/{id}, GET /v2/orders/{id}/items; integrations: GET/POST /v2/integrations,
GET/PUT/DELETE /v2/integrations/{id}, GET /v2/integrations/logs and /{id}/logs; and the
control API's orders, order actions and stock edits. Every stock transaction, ours through
the API included, fires stock-transaction.created to the integrations observing it. Orders
and integrations need the client_credentials token (an implicit one is 403).
"""

import uuid

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.platforms.elasticpath.sandbox_mli import MLI_RULES, MultiLocation, is_mli
from connectors.platforms.elasticpath.sandbox_orders import (
    AttemptOutbox,
    ep_error,
    order_document,
    validation_error,
)
from connectors.platforms.elasticpath.sandbox_selling import Selling, page_of
from connectors.platforms.elasticpath.sandbox_stock import (
    StockError,
    Stocks,
    stock_json,
    transaction_json,
)
from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Sandbox,
    bearer_token,
    json_response,
    parse_json,
    read_form,
)
from connectors.platforms.sandbox.limits import TokenBucket

DEFAULT_CREDENTIALS = {
    "client_id": "ep-sandbox-client-id",
    "client_secret": "ep-sandbox-client-secret",
}
BASIC_ACTIONS = ("increment", "decrement", "allocate", "deallocate")


class ElasticPathSandbox(MultiLocation, Selling, Sandbox):
    platform = "elasticpath"
    # Retries are not documented [gap]: any failure (a non-2xx, or no answer in 10 s, the
    # outbox's timeout) is tried again, four times.
    webhook_retries = 4
    webhook_retry_on = "any"
    rules = (
        Rule("/oauth/access_token", endpoint="access_token", methods=["POST"]),
        Rule("/v2/inventories", endpoint="list_stock", methods=["GET"]),
        Rule("/v2/inventories/multiple", endpoint="multiple_stock", methods=["POST"]),
        *MLI_RULES,
        Rule("/v2/inventories/<product_id>", endpoint="get_stock", methods=["GET"]),
        Rule("/v2/inventories/<product_id>", endpoint="create_stock", methods=["POST"]),
        Rule("/v2/inventories/<product_id>", endpoint="delete_stock", methods=["DELETE"]),
        Rule("/v2/inventories/<product_id>/transactions", endpoint="transact", methods=["POST"]),
        Rule(
            "/v2/inventories/<product_id>/transactions",
            endpoint="list_transactions",
            methods=["GET"],
        ),
        Rule(
            "/v2/inventories/<product_id>/transactions/<transaction_id>",
            endpoint="get_transaction",
            methods=["GET"],
        ),
        Rule("/v2/orders", endpoint="list_orders", methods=["GET"]),
        Rule("/v2/orders/<order_id>", endpoint="get_order", methods=["GET"]),
        Rule("/v2/orders/<order_id>/items", endpoint="order_items", methods=["GET"]),
        Rule("/v2/integrations", endpoint="list_integrations", methods=["GET"]),
        Rule("/v2/integrations", endpoint="create_integration", methods=["POST"]),
        Rule("/v2/integrations/logs", endpoint="integration_logs", methods=["GET"]),
        Rule("/v2/integrations/<integration_id>", endpoint="get_integration", methods=["GET"]),
        Rule("/v2/integrations/<integration_id>", endpoint="update_integration", methods=["PUT"]),
        Rule(
            "/v2/integrations/<integration_id>",
            endpoint="delete_integration",
            methods=["DELETE"],
        ),
        Rule(
            "/v2/integrations/<integration_id>/logs",
            endpoint="integration_logs",
            methods=["GET"],
        ),
    )
    auth_endpoints = frozenset({"access_token"})
    # Elastic Path's body says which attempt it is: an outbox that rewrites it.
    outbox_class = AttemptOutbox
    default_settings = {"rps": 100, "token_ttl": 3600, "max_offset": 10_000}

    def reset_state(self) -> None:
        self.credentials = dict(DEFAULT_CREDENTIALS)
        self.stocks = Stocks()
        self.reset_selling()

    def seed(self, body: dict) -> None:
        self.credentials.update(body.get("credentials") or {})
        for location in body.get("locations") or []:
            self.stocks.locations[location["slug"]] = {
                "id": str(uuid.uuid4()),
                "slug": location["slug"],
                "name": location.get("name", location["slug"]),
            }
        for raw in body.get("items") or []:
            self.stocks.seed(raw)

    def state_json(self) -> dict:
        return {
            "platform": self.platform,
            "settings": self.settings,
            "locations": self.stocks.locations,
            "stock": {
                pid: stock_json(pid, s, mli=True)["attributes"] for pid, s in self.stocks.items()
            },
            "tokens": self.tokens.to_json(),
            "orders": {
                oid: {**order_document(o), "allocations": o["allocations"]}
                for oid, o in self.orders.items()
            },
            "integrations": self.subscriptions(),
        }

    # --------------------------------------------------------------- routes
    def access_token(self, request):
        form, c = read_form(request), self.credentials
        grant = form.get("grant_type")
        if grant == "client_credentials":
            ok = (form.get("client_id"), form.get("client_secret")) == (
                c["client_id"],
                c["client_secret"],
            )
        elif grant == "implicit":
            ok = form.get("client_id") == c["client_id"]
        else:
            return ep_error(
                400, "Validation Error", "grant_type must be client_credentials or implicit"
            )
        if not ok:
            return ep_error(401, "Unauthorized", "Invalid client credentials")
        ttl = self.settings["token_ttl"]
        token, record = self.tokens.issue(ttl, "", write=grant == "client_credentials")
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "expires": int(record["expires_at"]),
            "identifier": grant,
        }
        return json_response(body)

    def list_stock(self, request):
        self.guard(request)
        limit, offset = self.paging(request)
        ids = list(self.stocks.keys())
        mli = is_mli(request)
        data = [
            stock_json(pid, self.stocks[pid], mli, listed=True)
            for pid in ids[offset : offset + limit]
        ]
        return json_response({"data": data, **page_of(request, len(ids), limit, offset)})

    def multiple_stock(self, request):
        self.guard(request)
        body = parse_json(request)
        refs = body.get("data") if isinstance(body, dict) else INVALID
        if not isinstance(refs, list) or not all(isinstance(r, dict) and "id" in r for r in refs):
            raise validation_error('data must be a list of {"id": ...}')
        mli = is_mli(request)
        found = [r["id"] for r in refs if r["id"] in self.stocks]
        answer = json_response({"data": [stock_json(pid, self.stocks[pid], mli) for pid in found]})
        self.sell_after_read()
        return answer

    def get_stock(self, request, product_id: str):
        self.guard(request)
        answer = json_response(
            {"data": stock_json(product_id, self.find(product_id), is_mli(request))}
        )
        self.sell_after_read()
        return answer

    def create_stock(self, request, product_id: str):
        self.guard(request, write=True)
        body = parse_json(request)
        data = body.get("data", body) if isinstance(body, dict) else INVALID
        quantity = data.get("quantity") if isinstance(data, dict) else None
        if type(quantity) is not int or quantity < 0:
            raise validation_error("data.quantity must be an integer of at least 0")
        if product_id in self.stocks:
            raise Abort(ep_error(409, "Conflict", "Stock already exists for this product"))
        stock = self.stocks.seed({"id": product_id, "available": quantity})
        return json_response({"data": stock_json(product_id, stock, is_mli(request))}, 201)

    def delete_stock(self, request, product_id: str):
        self.guard(request, write=True)
        self.find(product_id)
        del self.stocks[product_id]
        return Response(status=204)

    def list_transactions(self, request, product_id: str):
        self.guard(request)
        return json_response({"data": list(self.find(product_id)["transactions"])})

    def get_transaction(self, request, product_id: str, transaction_id: str):
        self.guard(request)
        for transaction in self.find(product_id)["transactions"]:
            if transaction["id"] == transaction_id:
                return json_response({"data": transaction})
        raise Abort(ep_error(404, "Not Found", "No transaction found"))

    def transact(self, request, product_id: str):
        self.guard(request, write=True)
        mli = is_mli(request)
        body = parse_json(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise validation_error("data is required")
        fields = data.get("attributes") if mli else data
        if not isinstance(fields, dict):
            raise validation_error("data.attributes is required")
        # The JS SDK's MLI calls put the type (and the product id) inside the attributes.
        if data.get("type", fields.get("type") if mli else None) != "stock-transaction":
            raise validation_error('data.type must be "stock-transaction"')
        if mli and fields.get("product_id", product_id) != product_id:
            raise validation_error("data.attributes.product_id is not the product of the path")
        action, quantity = fields.get("action"), fields.get("quantity")
        actions = (*BASIC_ACTIONS, "set") if mli else BASIC_ACTIONS
        if action not in actions:
            raise validation_error(f"action must be one of: {', '.join(actions)}")
        minimum = 0 if mli else 1
        if type(quantity) is not int or quantity < minimum:
            raise validation_error(f"quantity must be an integer of at least {minimum}")
        location = fields.get("location") if mli else None
        if location is not None and not (isinstance(location, str) and 1 <= len(location) <= 128):
            raise validation_error("location must be a slug of 1 to 128 characters")
        stock = self.find(product_id)
        if location is not None and location not in self.stocks.locations:
            raise Abort(ep_error(404, "Not Found", "No location found"))
        try:
            self.stocks.apply(stock, action, quantity, location or "")
        except StockError as exc:
            raise Abort(ep_error(422, "Cannot complete request", str(exc))) from None
        data = transaction_json(product_id, action, quantity, location, mli)
        self.record(stock, data)  # and its stock-transaction.created
        return json_response({"data": data}, 201 if mli else 200)

    def paging(self, request) -> tuple:
        """(page[limit], page[offset]): at most 100, and at most the offset cap."""
        cap = self.settings["max_offset"]
        try:
            limit = int(request.args.get("page[limit]", 100))
            offset = int(request.args.get("page[offset]", 0))
        except ValueError:
            raise validation_error("page[limit] and page[offset] must be integers") from None
        if not 1 <= limit <= 100 or not 0 <= offset <= cap:
            raise validation_error(f"page[limit] must be 1-100 and page[offset] 0-{cap}")
        return limit, offset

    def find(self, product_id: str) -> dict:
        stock = self.stocks.get(product_id)
        if stock is None:
            raise Abort(ep_error(404, "Not Found", "No stock found"))
        return stock

    def guard(self, request, write: bool = False) -> None:
        bucket = self.limiters.get("store")
        if bucket is None:
            rps = self.settings["rps"]
            bucket = self.limiters["store"] = TokenBucket(rps, rps)
        if self.rate_limits_on and not bucket.take():
            raise Abort(self.throttled_response(request))
        claims, status = self.tokens.check(bearer_token(request))
        if status != "ok":
            raise Abort(ep_error(401, "Unauthorized", "Unable to validate access token"))
        if write and not claims["write"]:
            raise Abort(ep_error(403, "Forbidden", "An implicit token cannot write"))

    # ------------------------------------------------------------- hooks
    def error_response(self, status: int, message: str):
        titles = {404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}
        return ep_error(status, titles.get(status, message), message)

    def throttled_response(self, request):
        return ep_error(429, "Too Many Requests", "Rate limit exceeded")
