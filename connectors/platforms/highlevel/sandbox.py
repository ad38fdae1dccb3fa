"""HighLevel (LeadConnector) Products > Inventory sandbox (channels.md §1).

Serves GET/POST /products/inventory and POST /oauth/token; orders, fulfilments and the
webhooks of sales and stock changes are sandbox_selling.py's (and sandbox_orders.py's).

Default credentials (POST /_sandbox/seed {"credentials": {...}} merges over them):
    Private Integration Token  "pit-hl-sandbox-token" (never expires until expire-tokens)
    OAuth client               client_id "hl-sandbox-client-id", client_secret
                               "hl-sandbox-client-secret", refresh_token
                               "hl-sandbox-refresh-token", code "hl-sandbox-auth-code"
    location                   "6578278e879ad2646715ba9c" (the docs' example altId)

Seed items: {"items": [{"priceId", "altId"?, "name", "sku", "product", "productName",
"availableQuantity", "allowOutOfStockPurchases", "image", "trackInventory"}]}; altId defaults
to the first location, and seeding an item for a new altId grants the tokens access to it.
Seed orders as they stand, without stock changes or webhooks: {"orders": [{"_id"?, "items":
[{"priceId", "qty"}], "status"?, "paymentStatus"?, "fulfillmentStatus"?, "createdAt"?,
"updatedAt"?}]}. Settings: "stock_on", "paid" (default) or "create", when a sale takes stock;
"fulfilment_event" (default false), whether a fulfilment sends an OrderStatusUpdate.

Choices where channels.md marks a gap ([I]):
- A missing or wrong `Version` header answers 400 {"statusCode":400,"message":"Version header
  was not found"} (or "...is invalid"), before the token is checked. 2021-07-28 and v3 are
  taken, and 2023-02-21 (the npm SDK's, in no spec) with a warning in the log.
- An unknown priceId fails the whole batch with a 422 naming it, e.g. "items.1.priceId
  65f0... was not found in location 6578..."; setting unknown_price="ignore" skips it silently.
- An altId the credentials were never seeded with answers 403 "The token does not have access
  to this location."; a token without the route's scope answers 401.
- The 429 body is {"statusCode":429,"message":"Too Many Requests"}; every answer of the two
  inventory routes carries the five X-RateLimit-* headers (injected 5xx and drops aside).
  A daily 429 has X-RateLimit-Daily-Remaining: 0, a burst 429 has X-RateLimit-Remaining: 0.
  The buckets are keyed by altId (per location), else by the token.
- GET limit 0 or absent returns every match (MongoDB's limit(0)); `search` matches name, sku or
  productName, case-insensitively; `total` is the match count before paging.
- POST sets availableQuantity (absolute) and allowOutOfStockPurchases when given, whatever the
  price's trackInventory; negative quantities are stored as sent.
- /oauth/token errors are HighLevel's {statusCode, message} (400 "Invalid grant: refresh
  token is invalid", 401 for a wrong client, 422 naming an unknown grant type, in the
  spelling the request used); a refresh token is single use and each use returns a new one.
  The form's fields may be spelled in snake_case (v2) or camelCase (v3: clientId, grantType,
  refreshToken, ...), form-encoded or JSON, and the answer is spelled as the request was
  (with userId, which the v3 token answer requires).
- Our POST /products/inventory sends a PriceUpdate for each price it sets, as HighLevel
  presumably does (channels-inbound.md §2.7), with userId null.
"""

import logging
import secrets

from werkzeug.routing import Rule

from connectors.platforms.highlevel.sandbox_replies import (
    hl_error,
    now_iso,
    unprocessable,
)
from connectors.platforms.highlevel.sandbox_selling import (
    ORDER_RULES,
    ORDERS_READ,
    ORDERS_WRITE,
    Selling,
)
from connectors.platforms.sandbox.base import (
    Abort,
    Sandbox,
    bearer_token,
    json_response,
    parse_json,
    read_form,
)
from connectors.platforms.sandbox.limits import FixedWindow, TokenBucket

log = logging.getLogger(__name__)
VERSIONS = ("2021-07-28", "v3", "2023-02-21")
UNSPECIFIED_VERSION = "2023-02-21"
DEFAULT_LOCATION = "6578278e879ad2646715ba9c"
READ_SCOPE, WRITE_SCOPE = "products/prices.readonly", "products/prices.write"
ITEM_FIELDS = ("name", "sku", "product", "productName", "image", "trackInventory")
GRANTS = "authorization_code, refresh_token, client_credentials"
DEFAULT_CREDENTIALS = {
    "private_token": "pit-hl-sandbox-token",
    "client_id": "hl-sandbox-client-id",
    "client_secret": "hl-sandbox-client-secret",
    "refresh_token": "hl-sandbox-refresh-token",
    "auth_code": "hl-sandbox-auth-code",
    "scopes": [READ_SCOPE, WRITE_SCOPE, ORDERS_READ, ORDERS_WRITE],
    "location_ids": [DEFAULT_LOCATION],
}
# The token request's fields, v2's snake_case spelling and v3's camelCase one.
OAUTH_FIELDS = {
    "client_id": "clientId",
    "client_secret": "clientSecret",
    "grant_type": "grantType",
    "refresh_token": "refreshToken",
    "code": "code",
    "user_type": "userType",
}
TOKEN_FIELDS = {
    "access_token": "accessToken",
    "token_type": "tokenType",
    "expires_in": "expiresIn",
    "refresh_token": "refreshToken",
}


class HighLevelSandbox(Selling, Sandbox):
    platform = "highlevel"
    rules = (
        Rule("/products/inventory", endpoint="list_inventory", methods=["GET"]),
        Rule("/products/inventory", endpoint="update_inventory", methods=["POST"]),
        Rule("/oauth/token", endpoint="oauth_token", methods=["POST"]),
        *ORDER_RULES,
    )
    # Retried only after a 429, every 10 minutes: 6 attempts in all (channels-inbound.md §2.3).
    webhook_retries = 5
    webhook_retry_on = "429"
    auth_endpoints = frozenset({"oauth_token"})
    default_settings = {
        "burst_max": 100,
        "burst_interval_ms": 10_000,
        "daily_max": 200_000,
        "access_token_ttl": 86_399,
        "unknown_price": "reject",
        "stock_on": "paid",
        "fulfilment_event": False,
    }

    def __init__(self):
        self.make_keys()  # once: a channel keeps the public keys across resets
        self.warned_of_version = False
        super().__init__()

    def reset_state(self) -> None:
        self.locations: dict[str, dict[str, dict]] = {DEFAULT_LOCATION: {}}
        self.reset_credentials()
        self.reset_selling()

    def seed(self, body: dict) -> None:
        self.seed_credentials(body.get("credentials") or {})
        for raw in body.get("items") or []:
            price_id = str(raw.get("priceId") or raw.get("_id"))
            alt_id = raw.get("altId") or self.credentials["location_ids"][0]
            if alt_id not in self.credentials["location_ids"]:
                self.credentials["location_ids"].append(alt_id)
            item = self.locations.setdefault(alt_id, {}).setdefault(price_id, {"_id": price_id})
            item.update({k: raw[k] for k in ITEM_FIELDS if k in raw})
            item.setdefault("name", f"Price {price_id}")
            item.setdefault("sku", price_id)
            item.setdefault("product", f"product-{price_id}")
            item["availableQuantity"] = raw.get(
                "availableQuantity", item.get("availableQuantity", 0)
            )
            item["allowOutOfStockPurchases"] = raw.get(
                "allowOutOfStockPurchases", item.get("allowOutOfStockPurchases", False)
            )
            item["updatedAt"] = now_iso()
        for raw in body.get("orders") or []:
            self.book.seed(raw)

    def state_json(self) -> dict:
        return {
            "platform": self.platform,
            "settings": self.settings,
            "locations": self.locations,
            "tokens": self.tokens.to_json(),
            **self.selling_state(),
        }

    # --------------------------------------------------------------- routes
    def list_inventory(self, request):
        args = request.args
        self.rate_limit(request, args.get("altId"))
        self.authenticate(request, READ_SCOPE)
        errors = []
        if not args.get("altId"):
            errors.append("altId should not be empty")
        if args.get("altType") != "location":
            errors.append("altType must be one of the following values: location")
        paging = {}
        for name in ("limit", "offset"):
            try:
                paging[name] = int(args.get(name) or 0)
            except ValueError:
                errors.append(f"{name} must be a number conforming to the specified constraints")
        if errors:
            raise Abort(unprocessable(errors))
        items = self.location(args["altId"]).values()
        if search := (args.get("search") or "").lower():
            keys = ("name", "sku", "productName")
            items = [i for i in items if any(search in str(i.get(k, "")).lower() for k in keys)]
        items = list(items)
        start = paging["offset"]
        page = items[start : start + paging["limit"]] if paging["limit"] else items[start:]
        return json_response({"inventory": page, "total": {"total": len(items)}})

    def update_inventory(self, request):
        body = parse_json(request)
        alt_id = body.get("altId") if isinstance(body, dict) else None
        self.rate_limit(request, alt_id if isinstance(alt_id, str) else None)
        self.authenticate(request, WRITE_SCOPE)
        if not isinstance(body, dict):
            raise Abort(hl_error(400, "Bad Request"))
        self.validate_update(body)
        stock = self.location(alt_id)
        updates = []
        for index, line in enumerate(body["items"]):
            item = stock.get(line["priceId"])
            if item is None:
                if self.settings["unknown_price"] == "ignore":
                    continue
                message = (
                    f"items.{index}.priceId {line['priceId']} was not found in location {alt_id}"
                )
                raise Abort(unprocessable([message]))
            updates.append((item, line))
        stamp = now_iso()
        for item, line in updates:
            for field in ("availableQuantity", "allowOutOfStockPurchases"):
                if field in line:
                    item[field] = line[field]
            item["updatedAt"] = stamp
            self.price_changed(alt_id, item)
        return json_response({"status": True, "message": "Successfully created"}, 201)

    @staticmethod
    def validate_update(body: dict) -> None:
        errors = []
        if not isinstance(body.get("altId"), str) or not body["altId"]:
            errors.append("altId must be a string")
        if body.get("altType") != "location":
            errors.append("altType must be one of the following values: location")
        items = body.get("items")
        if not isinstance(items, list):
            errors.append("items must be an array")
            items = []
        for i, line in enumerate(items):
            if not isinstance(line, dict):
                errors.append(f"items.{i} must be an object")
                continue
            if not isinstance(line.get("priceId"), str) or not line["priceId"]:
                errors.append(f"items.{i}.priceId must be a string")
            qty = line.get("availableQuantity", 0)
            if isinstance(qty, bool) or not isinstance(qty, int | float):
                errors.append(
                    f"items.{i}.availableQuantity must be a number conforming to the "
                    "specified constraints"
                )
            if not isinstance(line.get("allowOutOfStockPurchases", False), bool):
                errors.append(f"items.{i}.allowOutOfStockPurchases must be a boolean value")
        if errors:
            raise Abort(unprocessable(errors))

    def location(self, alt_id: str) -> dict:
        if alt_id not in self.credentials["location_ids"]:
            raise Abort(hl_error(403, "The token does not have access to this location."))
        return self.locations.setdefault(alt_id, {})

    # ---------------------------------------------------- auth and limits
    def reset_credentials(self) -> None:
        self.credentials = {
            k: list(v) if isinstance(v, list) else v for k, v in DEFAULT_CREDENTIALS.items()
        }
        self.refresh_tokens = set()
        self.seed_credentials({})

    def seed_credentials(self, changes: dict) -> None:
        self.credentials.update(changes)
        c = self.credentials
        self.tokens.add(c["private_token"], None, scopes=c["scopes"], kind="private")
        if "refresh_token" in changes or not self.refresh_tokens:
            self.refresh_tokens.add(c["refresh_token"])

    def oauth_token(self, request):
        sent, c = read_form(request), self.credentials
        camel = any(v in sent for k, v in OAUTH_FIELDS.items() if k != v)
        form = {k: sent.get(v if camel else k) for k, v in OAUTH_FIELDS.items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            c["client_id"],
            c["client_secret"],
        ):
            return hl_error(401, "Invalid client: client credentials are invalid")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return hl_error(400, "Invalid grant: refresh token is invalid")
            self.refresh_tokens.discard(form["refresh_token"])
        elif grant == "authorization_code":
            if form.get("code") != c["auth_code"]:
                return hl_error(400, "Invalid grant: authorization code is invalid")
        elif grant != "client_credentials":
            field = OAUTH_FIELDS["grant_type"] if camel else "grant_type"
            return unprocessable([f"{field} must be one of the following values: {GRANTS}"])
        ttl = self.settings["access_token_ttl"]
        token, _ = self.tokens.issue(ttl, "hl-at-", scopes=c["scopes"], kind="oauth")
        refresh = "hl-rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh)
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "scope": " ".join(c["scopes"]),
            "userType": form.get("user_type") or "Location",
            "locationId": c["location_ids"][0],
            "companyId": "hl-sandbox-company",
            "userId": "hl-sandbox-user",
        }
        if camel:
            answer = {TOKEN_FIELDS.get(k, k): v for k, v in answer.items()}
        return json_response(answer)

    def authenticate(self, request, scope: str) -> dict:
        version = request.headers.get("Version")
        if version not in VERSIONS:
            message = "Version header was not found" if not version else "Version header is invalid"
            raise Abort(hl_error(400, message))
        if version == UNSPECIFIED_VERSION and not self.warned_of_version:
            self.warned_of_version = True
            log.warning("Version %s is the npm SDK's default, in no HighLevel spec", version)
        claims, status = self.tokens.check(bearer_token(request))
        if status != "ok":
            raise Abort(hl_error(401, "Invalid token: access token is invalid", "Unauthorized"))
        writes = scope.replace(".readonly", ".write")  # a write scope reads as well
        if scope not in claims["scopes"] and writes not in claims["scopes"]:
            raise Abort(
                hl_error(401, "The token is not authorized for this scope.", "Unauthorized")
            )
        return claims

    def rate_limit(self, request, alt_id: str | None) -> None:
        """Count the request against its location's buckets; the headers go on every answer."""
        s = self.settings
        key = alt_id or bearer_token(request) or "anonymous"
        if key not in self.limiters:
            interval = s["burst_interval_ms"] / 1000
            self.limiters[key] = (
                TokenBucket(s["burst_max"], s["burst_max"] / interval),
                FixedWindow(s["daily_max"], 86_400),
            )
        burst, daily = self.limiters[key]
        if self.rate_limits_on and daily.remaining == 0:
            request.reply_headers.update(self.limit_headers(burst.remaining, 0))
            raise Abort(hl_error(429, "Too Many Requests"))
        if self.rate_limits_on and not burst.take():
            request.reply_headers.update(self.limit_headers(0, daily.remaining))
            raise Abort(hl_error(429, "Too Many Requests"))
        if self.rate_limits_on:
            daily.take()
        request.reply_headers.update(self.limit_headers(burst.remaining, daily.remaining))

    def limit_headers(self, remaining: int, daily_remaining: int) -> dict:
        s = self.settings
        return {
            "X-RateLimit-Limit-Daily": str(s["daily_max"]),
            "X-RateLimit-Daily-Remaining": str(daily_remaining),
            "X-RateLimit-Interval-Milliseconds": str(s["burst_interval_ms"]),
            "X-RateLimit-Max": str(s["burst_max"]),
            "X-RateLimit-Remaining": str(remaining),
        }

    # ------------------------------------------------------------- hooks
    def error_response(self, status: int, message: str):
        return hl_error(status, message)

    def throttled_response(self, request):
        response = hl_error(429, "Too Many Requests")
        response.headers.update(self.limit_headers(0, self.settings["daily_max"]))
        return response
