"""Webflow Data API v2 sandbox: Ecommerce > Inventory (channels.md §2), its orders and its
webhooks (channels-inbound.md §1).

Serves:
    GET|PATCH /v2/collections/{sku_collection_id}/items/{sku_id}/inventory
    GET  /v2/sites/{site_id}/orders          ?status=&offset=&limit= (at most 100) ->
                                             {"orders", "pagination": {limit, offset, total}}
    GET  /v2/sites/{site_id}/orders/{order_id}
    POST /v2/sites/{site_id}/orders/{order_id}/fulfill | unfulfill | refund
    GET|POST /v2/sites/{site_id}/webhooks    (75 per triggerType and site; the secretKey is
                                             in the answer to POST only)
    GET|DELETE /v2/webhooks/{webhook_id}
and the control API's selling routes (sandbox.base): a sale takes a paid order's units off
its finite SKUs at once and is refused (409) when one has fewer; "paid": false makes a
pending order, whose units are taken when it is paid. Webhooks (ecomm_new_order,
ecomm_order_changed, ecomm_inventory_changed) go to every webhook of the site for the
trigger, as {"triggerType", "payload"}, signed with its secretKey (x-webflow-timestamp in
ms, x-webflow-signature); a failed delivery is tried 3 more times (Webflow fails any answer
but a 200; the shared outbox takes any 2xx as delivered). The moves of an order
are in webflow.sandbox_sales.

Default credentials (seed {"credentials": {"tokens": {token: {"scopes": [...]}}}} adds more):
    "wf-sandbox-site-token"      scopes ecommerce:read, ecommerce:write, sites:read,
                                 sites:write
    "wf-sandbox-readonly-token"  scope ecommerce:read only (PATCH answers 403 missing_scopes)
Default site "wf-sandbox-site" with ecommerce enabled. Seed:
    {"sites": {site_id: {"ecommerce": bool}},
     "items": [{"collectionId", "skuId", "quantity", "inventoryType", "siteId"?,
                "sku"?, "productId"?, "name"?, "price"? (cents)}]}
The state shows "orders" per site and the "webhooks" (without their secrets).

Choices where channels.md marks a gap ([I]):
- Checks run in this order: 401 not_authorized, 429, 403 missing_scopes, 400 (body), 404
  resource_not_found (collection, then SKU), 409 ecommerce_not_enabled (the SKU's site).
- 400 validation_error carries details [{"param", "description"}]: inventoryType missing or
  not finite|infinite; quantity with updateQuantity; either with infinite; a non-number;
  a negative quantity, or an updateQuantity that would take the stock below zero.
- finite with neither field only switches the type; infinite keeps the stored quantity.
- A write scope implies its read (ecommerce:, sites:). expire-tokens revokes every token
  (Webflow site tokens do not expire, but a revoked one is how a connector meets a 401);
  re-seeding the credentials or a reset brings them back.
- Rate limit: a fixed 60 s window per token (settings rate_per_minute, default 60; 120 for
  CMS/eCommerce plans) with X-RateLimit-Limit/Remaining on every answer, and Retry-After
  (settings retry_after, default 60) on a 429.

Choices where channels-inbound.md marks a gap ([I], [gap]):
- Orders are listed in the order they were placed. A pending order (not paid) is placed
  with the stock it needs but takes none until it is paid; ecomm_new_order is sent when it
  is placed, ecomm_order_changed at every move.
- Nothing restocks: not a refund (the control API's "restock" is ignored: Webflow keeps no
  such flag), not an unfulfil. A move the status does not allow is a 409 "conflict".
- ecomm_inventory_changed is sent when a SKU's level or type actually changes: a sale, a
  staff edit (control POST /_sandbox/stock), and our own PATCH (Webflow presumably fires it
  for API writes too); the payload is the level after the change.
- Webhook scopes: sites:read lists and reads, sites:write creates and deletes. A webhook
  without a valid "triggerType" or an http(s) "url", with a "filter" for another trigger
  than form_submission, or past the limit of 75, is a 400 validation_error.
- Retries come 1 s apart (the outbox's clock), not 10 minutes.
"""

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Refused,
    Sandbox,
    bearer_token,
    json_response,
    parse_json,
)
from connectors.platforms.sandbox.limits import FixedWindow
from connectors.platforms.webflow import sandbox_sales as sales

DEFAULT_SITE = "wf-sandbox-site"
READ, WRITE = "ecommerce:read", "ecommerce:write"
SITES_READ, SITES_WRITE = "sites:read", "sites:write"
DEFAULT_TOKENS = {
    "wf-sandbox-site-token": {"scopes": [READ, WRITE, SITES_READ, SITES_WRITE]},
    "wf-sandbox-readonly-token": {"scopes": [READ]},
}
INVENTORY_PATH = "/v2/collections/<collection_id>/items/<sku_id>/inventory"
ORDERS_PATH = "/v2/sites/<site_id>/orders"
ORDER_PATH = ORDERS_PATH + "/<order_id>"


def wf_error(status: int, code: str, message: str, details=None):
    body = {"code": code, "message": message, "externalReference": None, "details": details or []}
    return json_response(body, status)


def invalid(param: str, description: str):
    details = [{"param": param, "description": description}]
    return Abort(wf_error(400, "validation_error", "Validation Error", details))


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class WebflowSandbox(sales.Selling, Sandbox):
    platform = "webflow"
    rules = (
        Rule(INVENTORY_PATH, endpoint="get_inventory", methods=["GET"]),
        Rule(INVENTORY_PATH, endpoint="update_inventory", methods=["PATCH"]),
        Rule(ORDERS_PATH, endpoint="list_orders", methods=["GET"]),
        Rule(ORDER_PATH, endpoint="get_order", methods=["GET"]),
        Rule(ORDER_PATH + "/fulfill", endpoint="fulfill_order", methods=["POST"]),
        Rule(ORDER_PATH + "/unfulfill", endpoint="unfulfill_order", methods=["POST"]),
        Rule(ORDER_PATH + "/refund", endpoint="refund_order", methods=["POST"]),
        Rule("/v2/sites/<site_id>/webhooks", endpoint="list_webhooks", methods=["GET"]),
        Rule("/v2/sites/<site_id>/webhooks", endpoint="create_webhook", methods=["POST"]),
        Rule("/v2/webhooks/<webhook_id>", endpoint="get_webhook", methods=["GET"]),
        Rule("/v2/webhooks/<webhook_id>", endpoint="delete_webhook", methods=["DELETE"]),
    )
    default_settings = {"rate_per_minute": 60, "retry_after": 60}
    webhook_retries = 3  # "3 more attempts" after the first failure, whatever it was
    webhook_retry_on = "not 200"  # a 201 or a redirect is a failure to Webflow too

    def reset_state(self) -> None:
        self.sites = {DEFAULT_SITE: {"ecommerce": True}}
        self.collections: dict[str, str] = {}  # sku collection id -> site id
        self.skus: dict[tuple[str, str], dict] = {}
        self.products: dict[tuple[str, str], dict] = {}  # a SKU's code, product id, name, price
        self.orders: dict[str, dict] = {}  # order id -> {"site", "skus", "order"}
        self.webhooks: dict[str, dict] = {}  # webhook id -> webhook (with its secretKey)
        self.seed({"credentials": {"tokens": DEFAULT_TOKENS}})

    def seed(self, body: dict) -> None:
        for token, claims in ((body.get("credentials") or {}).get("tokens") or {}).items():
            self.tokens.add(token, None, scopes=list(claims.get("scopes", [READ, WRITE])))
        for site_id, flags in (body.get("sites") or {}).items():
            self.sites.setdefault(site_id, {"ecommerce": True}).update(flags)
        for raw in body.get("items") or []:
            collection_id, sku_id = str(raw["collectionId"]), str(raw["skuId"])
            site_id = raw.get("siteId") or self.collections.get(collection_id) or DEFAULT_SITE
            self.sites.setdefault(site_id, {"ecommerce": True})
            self.collections[collection_id] = site_id
            item = self.skus.setdefault(
                (collection_id, sku_id), {"id": sku_id, "quantity": 0, "inventoryType": "finite"}
            )
            item.update({k: raw[k] for k in ("quantity", "inventoryType") if k in raw})
            product = self.products.setdefault((collection_id, sku_id), {})
            product.update({k: raw[k] for k in ("sku", "productId", "name", "price") if k in raw})

    def state_json(self) -> dict:
        collections: dict[str, dict] = {}
        for (collection_id, sku_id), item in self.skus.items():
            collections.setdefault(collection_id, {})[sku_id] = item
        return {
            "platform": self.platform,
            "settings": self.settings,
            "sites": self.sites,
            "collections": {
                cid: {"siteId": site, "items": collections.get(cid, {})}
                for cid, site in self.collections.items()
            },
            "tokens": self.tokens.to_json(),
            "orders": {
                site: [r["order"] for r in self.orders.values() if r["site"] == site]
                for site in self.sites
            },
            "webhooks": self.subscriptions(),
        }

    # --------------------------------------------------------------- routes
    def get_inventory(self, request, collection_id: str, sku_id: str):
        self.authorize(request, READ)
        return json_response(self.find(collection_id, sku_id))

    def update_inventory(self, request, collection_id: str, sku_id: str):
        self.authorize(request, WRITE)
        body = parse_json(request)
        if body is INVALID or not isinstance(body, dict):
            raise Abort(wf_error(400, "bad_request", "Request body must be a JSON object"))
        kind = body.get("inventoryType")
        if kind not in ("finite", "infinite"):
            raise invalid("inventoryType", "inventoryType is required: finite or infinite")
        given = [f for f in ("quantity", "updateQuantity") if body.get(f) is not None]
        if len(given) == 2:
            raise invalid("quantity", "quantity and updateQuantity cannot be sent together")
        if given and kind == "infinite":
            raise invalid(given[0], f"{given[0]} only applies to finite inventory")
        if given and not is_number(body[given[0]]):
            raise invalid(given[0], f"{given[0]} must be a number")
        item = self.find(collection_id, sku_id)
        quantity = item["quantity"]
        if given == ["quantity"]:
            quantity = body["quantity"]
        elif given == ["updateQuantity"]:
            quantity += body["updateQuantity"]
        if quantity < 0:
            raise invalid(given[0], "the resulting quantity cannot be negative")
        self.set_level(collection_id, item, kind, quantity)
        return json_response(item)

    def find(self, collection_id: str, sku_id: str) -> dict:
        site_id = self.collections.get(collection_id)
        if site_id is None:
            raise Abort(not_found("The collection cannot be found"))
        item = self.skus.get((collection_id, sku_id))
        if item is None:
            raise Abort(not_found("The item cannot be found"))
        self.shop(site_id)
        return item

    def authorize(self, request, scope: str) -> None:
        token = bearer_token(request)
        limit = self.settings["rate_per_minute"]
        window = self.limiters.get(token)
        if window is None:
            window = self.limiters[token] = FixedWindow(limit, 60)
        claims, status = self.tokens.check(token)
        if status != "ok":
            request.reply_headers.update(limit_headers(limit, window.remaining))
            raise Abort(wf_error(401, "not_authorized", "Request not authorized"))
        if self.rate_limits_on and not window.take():
            raise Abort(self.throttled_response(request))
        request.reply_headers.update(limit_headers(limit, window.remaining))
        implied = scope.replace(":read", ":write")  # a write scope lets its reads through
        if scope not in claims["scopes"] and implied not in claims["scopes"]:
            message = f"OAuthForbidden: You are missing the following scopes - {scope}"
            raise Abort(wf_error(403, "missing_scopes", message))

    # --------------------------------------------------------------- orders
    def list_orders(self, request, site_id: str):
        self.authorize(request, READ)
        self.shop(site_id)
        status = request.args.get("status")
        if status is not None and status not in sales.STATUSES:
            raise invalid("status", f"status must be one of {', '.join(sales.STATUSES)}")
        offset = int_arg(request, "offset", 0, 0, None)
        limit = int_arg(request, "limit", 100, 1, 100)
        orders = [
            r["order"]
            for r in self.orders.values()
            if r["site"] == site_id and status in (None, r["order"]["status"])
        ]
        pagination = {"limit": limit, "offset": offset, "total": len(orders)}
        return json_response({"orders": orders[offset : offset + limit], "pagination": pagination})

    def get_order(self, request, site_id: str, order_id: str):
        self.authorize(request, READ)
        return json_response(self.site_order(site_id, order_id)["order"])

    def fulfill_order(self, request, site_id: str, order_id: str):
        return self.move_by_api(request, site_id, order_id, "fulfill")

    def unfulfill_order(self, request, site_id: str, order_id: str):
        return self.move_by_api(request, site_id, order_id, "unfulfill")

    def refund_order(self, request, site_id: str, order_id: str):
        return self.move_by_api(request, site_id, order_id, "refund")

    def move_by_api(self, request, site_id, order_id, move):
        self.authorize(request, WRITE)
        if parse_json(request) is INVALID:
            raise Abort(wf_error(400, "bad_request", "Request body must be JSON"))
        record = self.site_order(site_id, order_id)
        try:
            self.move(record, move)
        except Refused as exc:
            raise Abort(wf_error(409, "conflict", str(exc))) from None
        return json_response(record["order"])

    def shop(self, site_id: str) -> None:
        """The site exists and sells (404, 409 otherwise)."""
        self.site(site_id)
        if not self.sites[site_id]["ecommerce"]:
            message = "The site does not have ecommerce enabled"
            raise Abort(wf_error(409, "ecommerce_not_enabled", message))

    def site(self, site_id: str) -> None:
        if site_id not in self.sites:
            raise Abort(not_found("The site cannot be found"))

    def site_order(self, site_id: str, order_id: str) -> dict:
        self.shop(site_id)
        record = self.orders.get(order_id)
        if record is None or record["site"] != site_id:
            raise Abort(not_found("The order cannot be found"))
        return record

    # ------------------------------------------------------------- webhooks
    def list_webhooks(self, request, site_id: str):
        self.authorize(request, SITES_READ)
        self.site(site_id)
        hooks = [sales.public(h) for h in self.webhooks.values() if h["siteId"] == site_id]
        pagination = {"limit": len(hooks), "offset": 0, "total": len(hooks)}
        return json_response({"webhooks": hooks, "pagination": pagination})

    def create_webhook(self, request, site_id: str):
        self.authorize(request, SITES_WRITE)
        self.site(site_id)
        body = parse_json(request)
        if body is INVALID or not isinstance(body, dict):
            raise Abort(wf_error(400, "bad_request", "Request body must be a JSON object"))
        trigger, url = body.get("triggerType"), body.get("url")
        if trigger not in sales.TRIGGER_TYPES:
            raise invalid("triggerType", "triggerType must be a known trigger type")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("url", "url must be an http(s) URL")
        if body.get("filter") is not None and trigger != "form_submission":
            raise invalid("filter", "filter is only supported for form_submission")
        same_trigger = [
            h
            for h in self.webhooks.values()
            if (h["siteId"], h["triggerType"]) == (site_id, trigger)
        ]
        if len(same_trigger) >= sales.WEBHOOK_LIMIT:
            raise invalid("triggerType", "Limit of 75 registrations per triggerType per site")
        webhook = sales.new_webhook(site_id, trigger, url)
        self.webhooks[webhook["id"]] = webhook
        return json_response(webhook)

    def get_webhook(self, request, webhook_id: str):
        self.authorize(request, SITES_READ)
        return json_response(sales.public(self.webhook(webhook_id)))

    def delete_webhook(self, request, webhook_id: str):
        self.authorize(request, SITES_WRITE)
        del self.webhooks[self.webhook(webhook_id)["id"]]
        return Response(status=204)

    def webhook(self, webhook_id: str) -> dict:
        if webhook_id not in self.webhooks:
            raise Abort(not_found("The webhook cannot be found"))
        return self.webhooks[webhook_id]

    # ------------------------------------------------------------- hooks
    def error_response(self, status: int, message: str):
        if status == 404:
            return not_found("The route cannot be found")
        code = "internal_error" if status >= 500 else "bad_request"
        return wf_error(status, code, message)

    def throttled_response(self, request):
        response = wf_error(429, "too_many_requests", "Too Many Requests")
        limit = self.settings["rate_per_minute"]
        response.headers.update(limit_headers(limit, 0))
        response.headers["Retry-After"] = str(self.settings["retry_after"])
        return response


def not_found(detail: str):
    return wf_error(404, "resource_not_found", f"Requested resource not found: {detail}")


def limit_headers(limit: int, remaining: int) -> dict:
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}


def int_arg(request, name: str, default: int, least: int, most: int | None) -> int:
    """A whole-number query argument within its bounds (400 validation_error otherwise)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
    if value is None or value < least or (most is not None and value > most):
        bounds = f"from {least}" + (f" to {most}" if most is not None else "")
        raise invalid(name, f"{name} must be a whole number {bounds}")
    return value
