"""Zettle (PayPal) Inventory API sandbox (channels.md §5), OAuth host included.

One process serves both hosts' paths: POST /token (oauth.zettle.com) and the inventory
paths of inventory.izettle.com, v1/v2 under /organizations/{self|org uuid}/ and v3 under
/v3/. Every write is a movement of a positive `change` between the four system locations
(STORE, SUPPLIER, SOLD, BIN; fixed uuids in zettle_ledger.LOCATION_UUIDS), and each
applied request records an InventoryBalanceChanged event per product, carrying the
request's externalUuid (GET /_sandbox/state, "events").

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
"""

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

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
from connectors.platforms.zettle.sandbox_ledger import (
    LOCATION_UUIDS,
    ORGANIZATION_UUID,
    Ledger,
    ZettleError,
    parse_bulk,
    parse_changes,
)

DEFAULT_CREDENTIALS = {"client_id": "zettle-sandbox-client-id", "api_key": "zettle-sandbox-api-key"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG = "/organizations/<org>"


def rule(path: str, endpoint: str, method: str) -> Rule:
    return Rule(path, endpoint=endpoint, methods=[method])


class ZettleSandbox(Sandbox):
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
        rule("/v3/stock/<location>/products/<product>", "stock_v3", "GET"),
        rule("/v3/movements", "movements_v3", "POST"),
    )
    auth_endpoints = frozenset({"token"})
    default_settings = {
        "token_ttl": 7200,
        "v3_rps": 4,
        "v3_burst": 8,
        "limit_all_paths": False,
        "allow_negative_store": False,
        "balance_strings_in_reads": True,
    }

    def reset_state(self) -> None:
        self.credentials = dict(DEFAULT_CREDENTIALS)
        self.ledger = Ledger(self.credentials["client_id"])

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
        token, _ = self.tokens.issue(ttl, "", organization=ORGANIZATION_UUID)
        return json_response({"access_token": token, "expires_in": ttl})

    def guard(self, request, org: str | None = None) -> None:
        _, status = self.tokens.check(bearer_token(request))
        if status != "ok":
            header = 'Bearer error="invalid_token", error_description="INVALID_ACCESS_TOKEN"'
            if status == "expired":
                header = 'Bearer error="invalid_request", error_description="ACCESS_TOKEN_EXPIRED"'
            elif bearer_token(request) is None:
                header = "Bearer"
            response = zettle_error(ZettleError(401, "Unauthorized", "UNAUTHORIZED"))
            response.headers["WWW-Authenticate"] = header
            raise Abort(response)
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
        rows = [
            r
            for p in sorted(self.ledger.tracked)
            for r in self.ledger.product_balances(location, p)
        ]
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

    def inventories_v3(self, request):
        return json_response(
            [
                {"inventoryUuid": u, "inventoryType": kind, "name": kind.title()}
                for kind, u in LOCATION_UUIDS.items()
            ]
        )

    def stock_v3(self, request, location, product):
        self.ledger.location(location)
        self.ledger.require_tracked(product)
        rows = self.ledger.product_balances(location, product)
        return json_response(
            [{k: r[k] for k in ("productUuid", "variantUuid", "balance")} for r in rows]
        )

    def read_rows(self, rows: list[dict]) -> list[dict]:
        if self.settings["balance_strings_in_reads"]:
            return [{**r, "balance": str(r["balance"])} for r in rows]
        return rows

    # ----------------------------------------------------------- writes
    def start_tracking(self, request, org):
        body = parse_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("productUuid"), str):
            raise ZettleError(400, "productUuid is required")
        self.ledger.track(body["productUuid"], True)
        store = LOCATION_UUIDS["STORE"]
        rows = self.ledger.product_balances(store, body["productUuid"])
        return json_response({"locationUuid": store, "variants": rows})

    def stop_tracking(self, request, org, product):
        self.ledger.track(product, False)
        return Response(status=204)

    def update_v1(self, request, org):
        body = self.json_object(request)
        changes = parse_changes(body.get("changes"), "changes", "v1")
        location = self.return_location(body)
        self.ledger.move(changes, body.get("externalUuid"), self.settings["allow_negative_store"])
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
        for product in starting:
            self.ledger.track(product, True)
        self.ledger.apply(changes, deltas, body.get("externalUuid"))
        for product, status in plan:
            if status == "STOP_TRACKING":
                self.ledger.track(product, False)
        touched = {(c.product, c.variant): None for c in changes}
        rows = [
            {"productUuid": p, "variantUuid": v, "balance": self.ledger.balance(location, p, v)}
            for p, v in touched
        ]
        return json_response({"locationUuid": location, "variants": rows})

    def movements_v3(self, request):
        body = self.json_object(request)
        changes = parse_changes(body.get("movements"), "movements", "v3")
        self.ledger.move(changes, body.get("externalUuid"), self.settings["allow_negative_store"])
        return Response(status=204)

    def json_object(self, request) -> dict:
        body = parse_json(request)
        if body is INVALID or not isinstance(body, dict):
            raise ZettleError(400, "Request body must be a JSON object")
        return body

    def return_location(self, body: dict) -> str:
        location = body.get("returnBalanceForLocationUuid") or LOCATION_UUIDS["STORE"]
        self.ledger.location(location)
        return location

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
