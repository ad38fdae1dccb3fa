"""Webflow Data API v2 Ecommerce > Inventory sandbox (channels.md §2).

Serves GET and PATCH /v2/collections/{sku_collection_id}/items/{sku_id}/inventory.

Default credentials (seed {"credentials": {"tokens": {token: {"scopes": [...]}}}} adds more):
    "wf-sandbox-site-token"      scopes ecommerce:read, ecommerce:write
    "wf-sandbox-readonly-token"  scope ecommerce:read only (PATCH answers 403 missing_scopes)
Default site "wf-sandbox-site" with ecommerce enabled. Seed:
    {"sites": {site_id: {"ecommerce": bool}},
     "items": [{"collectionId", "skuId", "quantity", "inventoryType", "siteId"?}]}

Choices where channels.md marks a gap ([I]):
- Checks run in this order: 401 not_authorized, 429, 403 missing_scopes, 400 (body), 404
  resource_not_found (collection, then SKU), 409 ecommerce_not_enabled (the SKU's site).
- 400 validation_error carries details [{"param", "description"}]: inventoryType missing or
  not finite|infinite; quantity with updateQuantity; either with infinite; a non-number;
  a negative quantity, or an updateQuantity that would take the stock below zero.
- finite with neither field only switches the type; infinite keeps the stored quantity.
- ecommerce:write implies ecommerce:read. expire-tokens revokes every token (Webflow site
  tokens do not expire, but a revoked one is how a connector meets a 401); re-seeding the
  credentials or a reset brings them back.
- Rate limit: a fixed 60 s window per token (settings rate_per_minute, default 60; 120 for
  CMS/eCommerce plans) with X-RateLimit-Limit/Remaining on every answer, and Retry-After
  (settings retry_after, default 60) on a 429.
"""

from werkzeug.routing import Rule

from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Sandbox,
    bearer_token,
    json_response,
    parse_json,
)
from connectors.platforms.sandbox.limits import FixedWindow

DEFAULT_SITE = "wf-sandbox-site"
READ, WRITE = "ecommerce:read", "ecommerce:write"
DEFAULT_TOKENS = {
    "wf-sandbox-site-token": {"scopes": [READ, WRITE]},
    "wf-sandbox-readonly-token": {"scopes": [READ]},
}
INVENTORY_PATH = "/v2/collections/<collection_id>/items/<sku_id>/inventory"


def wf_error(status: int, code: str, message: str, details=None):
    body = {"code": code, "message": message, "externalReference": None, "details": details or []}
    return json_response(body, status)


def invalid(param: str, description: str):
    details = [{"param": param, "description": description}]
    return Abort(wf_error(400, "validation_error", "Validation Error", details))


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class WebflowSandbox(Sandbox):
    platform = "webflow"
    rules = (
        Rule(INVENTORY_PATH, endpoint="get_inventory", methods=["GET"]),
        Rule(INVENTORY_PATH, endpoint="update_inventory", methods=["PATCH"]),
    )
    default_settings = {"rate_per_minute": 60, "retry_after": 60}

    def reset_state(self) -> None:
        self.sites = {DEFAULT_SITE: {"ecommerce": True}}
        self.collections: dict[str, str] = {}  # sku collection id -> site id
        self.skus: dict[tuple[str, str], dict] = {}
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
        item["inventoryType"], item["quantity"] = kind, quantity
        return json_response(item)

    def find(self, collection_id: str, sku_id: str) -> dict:
        site_id = self.collections.get(collection_id)
        if site_id is None:
            raise Abort(not_found("The collection cannot be found"))
        item = self.skus.get((collection_id, sku_id))
        if item is None:
            raise Abort(not_found("The item cannot be found"))
        if not self.sites[site_id]["ecommerce"]:
            message = "The site does not have ecommerce enabled"
            raise Abort(wf_error(409, "ecommerce_not_enabled", message))
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
        if scope not in claims["scopes"] and not (scope == READ and WRITE in claims["scopes"]):
            message = f"OAuthForbidden: You are missing the following scopes - {scope}"
            raise Abort(wf_error(403, "missing_scopes", message))

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
