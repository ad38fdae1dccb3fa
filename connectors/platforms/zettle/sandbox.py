"""Zettle (PayPal) sandbox: Inventory API (channels.md §5), with the OAuth, Pusher and
Purchase hosts (channels-inbound.md §4).

One process serves all four hosts' paths: POST /token (oauth.zettle.com); the inventory
paths of inventory.izettle.com, v1/v2 under /organizations/{self|org uuid}/ and v3 under
/v3/ (its lists paged by a Link header, sandbox_v3); the subscriptions of pusher.izettle.com
under /organizations/{self|org}/subscriptions (sandbox_pusher); and GET /purchases/v2, GET
/purchase/v2/{uuid} of purchase.izettle.com (sandbox_sales). Every write is a movement of a
positive `change` between the four system locations (STORE, SUPPLIER, SOLD, BIN; fixed uuids
in sandbox_ledger.LOCATION_UUIDS), and each applied request records an
InventoryBalanceChanged event per product, carrying the request's externalUuid and, in
`updated.clientUuid`, the client id of the token that made it (GET /_sandbox/state,
"events"). Every event goes to the subscriptions that name it.

Selling (the control API): POST /_sandbox/orders is a purchase at the till (paid and handed
over at once; STORE -> SOLD for tracked products; 409 when a tracked variant lacks the
stock, unless allow_negative_store). POST /_sandbox/orders/{uuid} "refund" refunds the rest
of the purchase as a new refund purchase ("restock": true moves its tracked goods SOLD ->
STORE); Zettle has no payment, fulfilment or cancel step: pay and fulfil change nothing (the
purchase is both already) and cancel answers 409. POST /_sandbox/stock is a staff edit in
the back-office (SUPPLIER -> STORE or STORE -> BIN, by the back-office's client). Deliveries
are retried on any failure, 19 times (Zettle's 10 at 1 min and 9 at 10 min, on the outbox's
clock; its hourly tail and the deletion of a failing subscription are left out).

Default credentials: client_id "zettle-sandbox-client-id", API key (the `assertion`)
"zettle-sandbox-api-key". Seed:
    {"items": [{"productUuid", "tracked"?: true, "variants": {variantUuid: store_balance}}]}
(a seeded STORE balance is moved in from SUPPLIER, as the real service would need).

Choices where channels.md marks a gap ([I]):
- The product library is another API, so any product uuid may be tracked; the sandbox learns
  variants from seeds and movements. Starting tracking twice is a no-op (200).
- Schema errors (change not an integer > 0, a missing uuid, from == to) answer 400 with
  violations; an unknown location 404 ENTITY_NOT_FOUND; an untracked product 422
  PRODUCT_NOT_TRACKED (balance reads of one product too); a STORE balance below zero 422
  INSUFFICIENT_STOCK unless settings allow_negative_store. A request applies all or nothing.
- GET balance reads give `balance` as a string, as the fetch examples do (settings
  balance_strings_in_reads); write answers give integers, as the update examples do.
- POST /v3/movements answers 204; v3 paths share one soft limit per organisation
  (settings v3_rps, default 4, averaged over a burst of v3_burst, default 8) and answer 429
  with Retry-After: 1. v1/v2 paths are not rate limited unless settings limit_all_paths is
  true (the connector assumes the v3 limit for them too; the benchmarks turn it on).
- 401s carry Zettle's error body; WWW-Authenticate says error="invalid_request",
  error_description="ACCESS_TOKEN_EXPIRED" for an expired token and error="invalid_token"
  for an unknown one. /token errors are RFC 6749 bodies with status 400.
- A token holds the scopes of settings "scopes" (default READ:PRODUCT, WRITE:PRODUCT and
  READ:PURCHASE): the purchase paths need READ:PURCHASE, a subscription the scope of each
  event it names, else 403.
- The TestMessage of a new subscription goes through the outbox like any delivery, so a
  create never fails on its destination (Zettle answers 400 or 500 when it cannot reach it).
- Our own movements are published like any other; a subscription's destination may be
  http:// (Zettle asks for HTTPS).
"""

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Refused,
    Sandbox,
    SeedError,
    bearer_token,
    json_response,
    parse_json,
    read_form,
)
from connectors.platforms.sandbox.limits import TokenBucket
from connectors.platforms.zettle.sandbox_ledger import (
    BACK_OFFICE,
    LOCATION_UUIDS,
    ORGANIZATION_UUID,
    Change,
    Ledger,
    ZettleError,
    parse_bulk,
    parse_changes,
)
from connectors.platforms.zettle.sandbox_pusher import Pusher
from connectors.platforms.zettle.sandbox_sales import Purchases
from connectors.platforms.zettle.sandbox_v3 import V3Reads

DEFAULT_CREDENTIALS = {"client_id": "zettle-sandbox-client-id", "api_key": "zettle-sandbox-api-key"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG = "/organizations/<org>"
SUBSCRIPTIONS = f"{ORG}/subscriptions"
PURCHASE_SCOPE = "READ:PURCHASE"


def rule(path: str, endpoint: str, method: str) -> Rule:
    return Rule(path, endpoint=endpoint, methods=[method])


class ZettleSandbox(V3Reads, Sandbox):
    platform = "zettle"
    rules = (
        rule("/token", "token", "POST"),
        rule(f"{ORG}/locations", "list_locations", "GET"),
        rule(f"{ORG}/inventory", "start_tracking", "POST"),
        rule(f"{ORG}/inventory", "update_v1", "PUT"),
        rule(f"{ORG}/inventory/products/<product>", "stop_tracking", "DELETE"),
        rule(f"{ORG}/inventory/locations", "balances_by_type", "GET"),
        rule(f"{ORG}/inventory/locations/<location>", "balances_at", "GET"),
        rule(f"{ORG}/inventory/locations/<location>/products/<product>", "product_at", "GET"),
        rule(f"{ORG}/inventory/products", "products_at", "POST"),
        rule(f"{ORG}/v2/inventory/bulk", "bulk_v2", "POST"),
        rule(f"{ORG}/v2/inventory/bulk/", "bulk_v2", "POST"),  # SwagPayPal's spelling
        rule("/v3/inventories", "inventories_v3", "GET"),
        rule("/v3/stock/<location>", "stock_at_v3", "GET"),
        rule("/v3/stock/<location>/products/<product>", "stock_v3", "GET"),
        rule("/v3/movements", "movements_v3", "POST"),
        rule(SUBSCRIPTIONS, "list_subscriptions", "GET"),
        rule(SUBSCRIPTIONS, "create_subscription", "POST"),
        rule(f"{SUBSCRIPTIONS}/uuid/<sid>", "get_subscription", "GET"),
        rule(f"{SUBSCRIPTIONS}/uuid/<sid>", "update_subscription", "PUT"),
        rule(f"{SUBSCRIPTIONS}/<sid>", "update_subscription", "PUT"),
        rule(f"{SUBSCRIPTIONS}/uuid/<sid>", "delete_subscription", "DELETE"),
        rule(f"{SUBSCRIPTIONS}/<sid>", "delete_subscription", "DELETE"),
        rule("/purchases/v2", "list_purchases", "GET"),
        rule("/purchases/v2/", "list_purchases", "GET"),  # the docs' linkUrls spelling
        rule("/purchase/v2/<purchase>", "get_purchase", "GET"),
    )
    auth_endpoints = frozenset({"token"})
    default_settings = {
        "token_ttl": 7200,
        "v3_rps": 4,
        "v3_burst": 8,
        "limit_all_paths": False,
        "allow_negative_store": False,
        "balance_strings_in_reads": True,
        "scopes": ["READ:PRODUCT", "WRITE:PRODUCT", PURCHASE_SCOPE],
    }
    webhook_retries = 19
    webhook_retry_on = "any"

    def reset_state(self) -> None:
        self.credentials = dict(DEFAULT_CREDENTIALS)
        self.pusher = Pusher(self.outbox)
        self.ledger = Ledger(self.credentials["client_id"], publish=self.pusher.publish)
        self.purchases = Purchases(self.ledger)

    def seed(self, body: dict) -> None:
        self.credentials.update(body.get("credentials") or {})
        self.ledger.client_id = self.credentials["client_id"]
        store, supplier = LOCATION_UUIDS["STORE"], LOCATION_UUIDS["SUPPLIER"]
        for raw in body.get("items") or []:
            product = raw["productUuid"]
            variants = self.ledger.variants.setdefault(product, {})
            for variant, wanted in (raw.get("variants") or {}).items():
                variants[variant] = None
                # Seeded stock arrives from SUPPLIER, so the ledger still sums to zero.
                diff = int(wanted) - self.ledger.balance(store, product, variant)
                self.ledger.balances[(store, product, variant)] = int(wanted)
                self.ledger.balances[(supplier, product, variant)] = (
                    self.ledger.balance(supplier, product, variant) - diff
                )
            # Seeding sets the scene quietly: no tracking events, unlike the API.
            tracked = self.ledger.tracked
            (tracked.add if raw.get("tracked", True) else tracked.discard)(product)

    def state_json(self) -> dict:
        return {
            "platform": self.platform,
            "settings": self.settings,
            **self.ledger.to_json(),
            "purchases": self.purchases.to_json(),
            "subscriptions": self.pusher.to_json(),
            "tokens": self.tokens.to_json(),
        }

    # ----------------------------------------------------------------- auth
    def token(self, request):
        form = read_form(request)
        if form.get("grant_type") != JWT_GRANT:
            return oauth_error("unsupported_grant_type", "Unsupported grant type")
        if form.get("client_id") != self.credentials["client_id"]:
            return oauth_error("invalid_client", "Invalid client_id")
        if form.get("assertion") != self.credentials["api_key"]:
            return oauth_error("invalid_grant", "Invalid or revoked API key")
        ttl = self.settings["token_ttl"]
        token, _ = self.tokens.issue(
            ttl, "", organization=ORGANIZATION_UUID, client=form["client_id"]
        )
        return json_response({"access_token": token, "expires_in": ttl})

    def guard(self, request, org: str | None = None) -> None:
        claims, status = self.tokens.check(bearer_token(request))
        if status != "ok":
            header = 'Bearer error="invalid_token", error_description="INVALID_ACCESS_TOKEN"'
            if status == "expired":
                header = 'Bearer error="invalid_request", error_description="ACCESS_TOKEN_EXPIRED"'
            elif bearer_token(request) is None:
                header = "Bearer"
            response = zettle_error(ZettleError(401, "Unauthorized", "UNAUTHORIZED"))
            response.headers["WWW-Authenticate"] = header
            raise Abort(response)
        request.claims = claims
        if org not in (None, "self", ORGANIZATION_UUID):
            raise ZettleError(404, "Organization not found", "ENTITY_NOT_FOUND")
        limited = request.path.startswith("/v3/") or self.settings["limit_all_paths"]
        if limited and self.rate_limits_on:
            bucket = self.limiters.get(ORGANIZATION_UUID)
            if bucket is None:
                s = self.settings
                bucket = self.limiters[ORGANIZATION_UUID] = TokenBucket(s["v3_burst"], s["v3_rps"])
            if not bucket.take():
                raise Abort(self.throttled_response(request))

    def handle(self, request, endpoint: str, args: dict):
        try:
            if endpoint != "token":
                self.guard(request, args.get("org"))
            return super().handle(request, endpoint, args)
        except ZettleError as exc:
            return zettle_error(exc)

    # ------------------------------------------------------------ reads
    def list_locations(self, request, org):
        return json_response(list(self.ledger.locations.values()))

    def balances_by_type(self, request, org):
        kind = request.args.get("type", "STORE")
        if kind not in LOCATION_UUIDS:
            raise ZettleError(400, "type must be STORE, SUPPLIER, SOLD or BIN")
        return self.balances_at(request, org, LOCATION_UUIDS[kind])

    def balances_at(self, request, org, location):
        self.ledger.location(location)
        rows = self.ledger.tracked_balances(location)
        body = {
            "locationUuid": location,
            "trackedProducts": sorted(self.ledger.tracked),
            "variants": self.read_rows(rows),
            "latest": self.ledger.latest,
        }
        return json_response(body)

    def product_at(self, request, org, location, product):
        self.ledger.location(location)
        self.ledger.require_tracked(product)
        rows = self.ledger.product_balances(location, product)
        return json_response({"locationUuid": location, "variants": self.read_rows(rows)})

    def products_at(self, request, org):
        body = parse_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("productUuids"), list):
            raise ZettleError(400, "productUuids is required")
        location = LOCATION_UUIDS.get(body.get("locationType", "STORE"))
        if location is None:
            raise ZettleError(400, "locationType must be STORE, SUPPLIER, SOLD or BIN")
        tracked = [p for p in body["productUuids"] if p in self.ledger.tracked]
        rows = [r for p in tracked for r in self.ledger.product_balances(location, p)]
        return json_response({"locationUuid": location, "variants": self.read_rows(rows)})

    def read_rows(self, rows: list[dict]) -> list[dict]:
        if self.settings["balance_strings_in_reads"]:
            return [{**r, "balance": str(r["balance"])} for r in rows]
        return rows

    # ----------------------------------------------------------- writes
    def start_tracking(self, request, org):
        body = parse_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("productUuid"), str):
            raise ZettleError(400, "productUuid is required")
        self.ledger.track(body["productUuid"], True, self.caller(request))
        store = LOCATION_UUIDS["STORE"]
        rows = self.ledger.product_balances(store, body["productUuid"])
        return json_response({"locationUuid": store, "variants": rows})

    def stop_tracking(self, request, org, product):
        self.ledger.track(product, False, self.caller(request))
        return Response(status=204)

    def update_v1(self, request, org):
        body = self.json_object(request)
        changes = parse_changes(body.get("changes"), "changes", "v1")
        location = self.return_location(body)
        self.ledger.move(
            changes,
            body.get("externalUuid"),
            self.settings["allow_negative_store"],
            self.caller(request),
        )
        touched = {(c.product, c.variant): None for c in changes}
        rows = [
            self.ledger.row(location, p, v, self.ledger.balance(location, p, v)) for p, v in touched
        ]
        return json_response({"locationUuid": location, "variants": rows})

    def bulk_v2(self, request, org):
        body = self.json_object(request)
        location = self.return_location(body)
        plan, changes = parse_bulk(body.get("productChanges"))
        starting = {p for p, status in plan if status == "START_TRACKING"}
        deltas = self.ledger.check(changes, self.settings["allow_negative_store"], starting)
        by = self.caller(request)
        for product in starting:
            self.ledger.track(product, True, by)
        self.ledger.apply(changes, deltas, body.get("externalUuid"), by)
        for product, status in plan:
            if status == "STOP_TRACKING":
                self.ledger.track(product, False, by)
        touched = {(c.product, c.variant): None for c in changes}
        rows = [
            {"productUuid": p, "variantUuid": v, "balance": self.ledger.balance(location, p, v)}
            for p, v in touched
        ]
        return json_response({"locationUuid": location, "variants": rows})

    def movements_v3(self, request):
        body = self.json_object(request)
        changes = parse_changes(body.get("movements"), "movements", "v3")
        self.ledger.move(
            changes,
            body.get("externalUuid"),
            self.settings["allow_negative_store"],
            self.caller(request),
        )
        return Response(status=204)

    def caller(self, request) -> dict:
        """`by` of a change made through the API: the client the token was granted to."""
        return self.ledger.api((request.claims or {}).get("client"))

    # ------------------------------------------------------ pusher.izettle.com
    def list_subscriptions(self, request, org):
        return json_response(self.pusher.listing())

    def create_subscription(self, request, org):
        body = parse_json(request)
        return json_response(self.pusher.create(body, self.settings["scopes"]))

    def get_subscription(self, request, org, sid):
        return json_response(self.pusher.shown(self.pusher.get(sid)))

    def update_subscription(self, request, org, sid):
        self.pusher.update(sid, parse_json(request), self.settings["scopes"])
        return Response(status=200)

    def delete_subscription(self, request, org, sid):
        self.pusher.delete(sid)
        return Response(status=204)

    # ----------------------------------------------------- purchase.izettle.com
    def list_purchases(self, request):
        self.require_scope(PURCHASE_SCOPE)
        return json_response(self.purchases.page(request.args))

    def get_purchase(self, request, purchase):
        self.require_scope(PURCHASE_SCOPE)
        return json_response(self.purchases.get(purchase))

    def require_scope(self, scope: str) -> None:
        if scope not in self.settings["scopes"]:
            raise ZettleError(403, f"Missing scope {scope}", "FORBIDDEN")

    def json_object(self, request) -> dict:
        body = parse_json(request)
        if body is INVALID or not isinstance(body, dict):
            raise ZettleError(400, "Request body must be a JSON object")
        return body

    def return_location(self, body: dict) -> str:
        location = body.get("returnBalanceForLocationUuid") or LOCATION_UUIDS["STORE"]
        self.ledger.location(location)
        return location

    # ------------------------------------------------------- selling hooks
    def sell(self, body: dict) -> dict:
        if body.get("paid") is False:
            raise Refused("a Zettle purchase is paid at the till: it cannot be left unpaid")
        purchase = self.purchases.sell(
            body["lines"], body.get("id"), self.settings["allow_negative_store"]
        )
        return {"id": purchase["purchaseUUID1"], "order": purchase}

    def order_action(self, order_id: str, action: str, restock: bool) -> dict:
        """A purchase is paid and handed over at the till: pay and fulfil find it so already
        (nothing changes, nothing is sent); it cannot be cancelled, only refunded."""
        purchase = self.purchases.by_id.get(order_id)
        if purchase is None:
            raise SeedError(f"no purchase {order_id}")
        if action == "cancel":
            raise Refused(f"purchase {order_id} was handed over at the till: refund it instead")
        if action != "refund":
            return {"id": order_id, "order": purchase}
        refund = self.purchases.refund(order_id, restock, self.settings["allow_negative_store"])
        return {"id": order_id, "order": purchase, "refund": refund}

    def edit_stock(self, body: dict) -> dict:
        variant, wanted = body["remote_id"], body["quantity"]
        product = self.purchases.product_of(body)
        if product not in self.ledger.tracked:
            raise Refused(f"product {product} is not tracked: its stock cannot be edited")
        store = LOCATION_UUIDS["STORE"]
        diff = wanted - self.ledger.balance(store, product, variant)
        if diff:
            source, target = (
                (LOCATION_UUIDS["SUPPLIER"], store) if diff > 0 else (store, LOCATION_UUIDS["BIN"])
            )
            self.ledger.move(
                [Change(product, variant, source, target, abs(diff))], None, True, BACK_OFFICE
            )
        return {"productUuid": product, "variantUuid": variant, "balance": wanted}

    def subscriptions(self) -> list:
        return self.pusher.to_json()

    # ------------------------------------------------------------- hooks
    def error_response(self, status: int, message: str):
        return zettle_error(ZettleError(status, message))

    def throttled_response(self, request):
        response = zettle_error(ZettleError(429, "Too many requests", "TOO_MANY_REQUESTS"))
        response.headers["Retry-After"] = "1"
        return response


def zettle_error(exc: ZettleError):
    return json_response(exc.body(), exc.status)


def oauth_error(error: str, description: str):
    return json_response({"error": error, "error_description": description}, 400)
