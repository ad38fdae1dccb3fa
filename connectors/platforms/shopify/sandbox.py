"""Shopify GraphQL Admin API sandbox: inventory, orders and webhooks (shopify.md §7).

Serves:
    POST /admin/api/{version}/graphql.json   (and /admin/api/graphql.json: the oldest
                                             supported version) - graphql-core parses and
                                             validates against sandbox_schema's SDL subset
    POST /admin/oauth/access_token           client credentials grant -> {"access_token",
                                             "scope", "expires_in": 86399}
    GET|DELETE /admin/api/{version}/inventory_levels.json, POST .../inventory_levels/
    set.json | adjust.json | connect.json    the legacy REST subset (sandbox_rest.py)
Control API (sandbox.base) plus:
    POST /_sandbox/orders                    {"line_items": [{"inventory_item_id": gid or
                                             sku, "quantity"}], "location_id"?, "paid"?}
                                             (or base's {"lines": [{"remote_id", ...}]})
    POST /_sandbox/orders/{id}/pay | fulfil | cancel | refund
                                             cancel {"restock"?: true}; refund {"line_items":
                                             [{"line_item_id", "quantity", "restock_type"}]}
    POST /_sandbox/levels                    {"inventory_item_id", "location_id", "available"}:
                                             a merchant's edit (inventory_levels/update)
    POST /_sandbox/failures                  base's switches plus throttle_next, stale_next,
                                             internal_error_next, bucket {"maximumAvailable",
                                             "restoreRate", "currentlyAvailable"}

Credentials: the token "shpat_sandbox_token" (a legacy custom app's: it does not expire, but
expire-tokens revokes it until a reset or a seed of "credentials"); client_id
"shopify-sandbox-client-id" and client_secret "shopify-sandbox-client-secret" get 24 h
tokens; the client secret signs the webhooks. Seed {"credentials": {"client_id",
"client_secret", "tokens": [...]}}, {"locations": [...], "items": [...]} (sandbox_inventory).

Settings (seed {"settings": {...}}): api_versions, release_candidate, retired_versions,
require_idempotency, change_from_quantity_missing ("error" | "accept"), all_or_nothing,
untracked_writes ("error" | "ignore" | "apply"), oversell, delete_failing_subscriptions,
webhook_retry_seconds, webhook_api_version, shop_name, shop_domain, scope.

Choices where shopify.md marks a gap ([I], §9):
- Versions: 2026-01, 2026-04, 2026-07, 2026-10, the release candidate 2027-01 and unstable
  are served. The retired versions (every quarter from 2019-04 to 2025-10 by default: 2025-10
  is included because 2026-01 is the oldest supported on 2026-12-01) fall forward to 2026-01.
  Anything else (malformed, or a well-formed version Shopify never released) is 404
  {"errors":"Not Found"}. X-Shopify-API-Version names the version served.
- From 2026-04, a mutation among set/adjust/activate without @idempotent is a top-level error
  (code BAD_REQUEST, its data field null; nothing applied); require_idempotency false accepts
  it (a user saw Shopify accept it [D2:T5]). Same for an omitted changeFromQuantity
  (change_from_quantity_missing). In 2026-01 both are optional and compareQuantity /
  ignoreCompareQuantity are honoured (COMPARE_QUANTITY_REQUIRED / _STALE).
- Idempotency keys are kept until a reset, per (mutation, key); a replay with the same
  arguments answers the stored payload (userErrors included) and applies nothing; other
  arguments: IDEMPOTENCY_KEY_PARAMETER_MISMATCH (no field). Mutations run one at a time, so
  IDEMPOTENCY_CONCURRENT_REQUEST never arises.
- A batch with any userError applies nothing (all_or_nothing). userError fields are paths
  like ["input", "quantities", "0", "changeFromQuantity"].
- Untracked items (gap 6): a set or adjust on one is the userError INVALID_INVENTORY_ITEM
  with the message "The specified inventory item is not tracked." (untracked_writes "error");
  "ignore" accepts it and changes nothing, "apply" changes the level as if tracked. Orders
  never move an untracked item's stock; reads show what the level holds.
- A set whose quantity equals the current one still returns a group, with delta 0 rows; an
  adjust with delta 0 gives no row, and a null group when every delta is 0.
- inventory_levels/update fires whenever a level's `available` changes, our own writes
  included (gap 4); not when only committed or on_hand move (a fulfilment).
- An order takes its stock at the location given, else the first location stocking the item
  (gap 8); it is refused (409) when available is short, unless settings.oversell.
- Throttling: one bucket per token; THROTTLED at HTTP 200 without data; settings can resize.
  rate_limit_next answers HTTP 429 {"errors": "Exceeded 2 calls per second ..."} with
  Retry-After: 2.0; error_next answers the status with {"errors": "..."} (503 with
  Retry-After: 1); internal_error_next answers INTERNAL_SERVER_ERROR at HTTP 200.
- A body that is not a JSON object with a "query" string is 400 {"errors": {"query":
  "Required parameter missing or invalid"}}; application/graphql bodies are the query itself.
"""

import re

from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from werkzeug.routing import Rule

from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Sandbox,
    SeedError,
    json_response,
    parse_json,
    read_form,
)
from connectors.platforms.sandbox.faults import REDACTED
from connectors.platforms.shopify import sandbox_cost as cost
from connectors.platforms.shopify.sandbox_graphql import Graph, field_resolver
from connectors.platforms.shopify.sandbox_inventory import Inventory
from connectors.platforms.shopify.sandbox_orders import Selling, ShopifyOutbox, public
from connectors.platforms.shopify.sandbox_rest import REST_RULES, Rest
from connectors.platforms.shopify.sandbox_schema import schema as build_schema_for

DEFAULT_TOKEN = "shpat_sandbox_token"
DEFAULT_CREDENTIALS = {
    "client_id": "shopify-sandbox-client-id",
    "client_secret": "shopify-sandbox-client-secret",
}
STABLE = ["2026-01", "2026-04", "2026-07", "2026-10"]
RETIRED = [f"{y}-{m}" for y in range(2019, 2026) for m in ("01", "04", "07", "10")]
RETIRED = [v for v in RETIRED if "2019-04" <= v <= "2025-10"]
VERSION = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
TOKEN_HEADER = "X-Shopify-Access-Token"
SHOPIFY_SWITCHES = {"throttle_next": 0, "stale_next": 0, "internal_error_next": 0}
BUCKET_KEYS = {"maximumAvailable", "restoreRate", "currentlyAvailable"}
MAX_TOKENS = 20_000  # a parse that long is refused, not run


class Context:
    def __init__(self, version: str, token: str):
        self.version = version
        self.modern = version >= "2026-04"  # "unstable" sorts after every date
        self.token = token
        self.warnings: list = []


class LoggedRequest:
    """What the request log records of a request, with the Shopify token redacted."""

    def __init__(self, request):
        self._request = request
        self.method, self.path = request.method, request.path
        self.query_string, self.mimetype = request.query_string, request.mimetype
        self.headers = {
            k: REDACTED if k.lower() == TOKEN_HEADER.lower() else v
            for k, v in request.headers.items()
        }

    def get_data(self, cache=True):
        return self._request.get_data(cache=True)


class ShopifySandbox(Rest, Inventory, Selling, Sandbox):
    platform = "shopify"
    rules = (
        Rule("/admin/api/<version>/graphql.json", endpoint="graphql", methods=["POST"]),
        Rule("/admin/api/graphql.json", endpoint="graphql", methods=["POST"]),
        Rule("/admin/oauth/access_token", endpoint="access_token", methods=["POST"]),
        Rule(
            "/_sandbox/orders/<order_id>/<action>",
            endpoint="control_order_action",
            methods=["POST"],
        ),
        Rule("/_sandbox/levels", endpoint="control_levels", methods=["POST"]),
        *REST_RULES,
    )
    auth_endpoints = frozenset({"access_token"})
    default_settings = {
        "api_versions": STABLE,
        "release_candidate": "2027-01",
        "retired_versions": RETIRED,
        "require_idempotency": True,
        "change_from_quantity_missing": "error",
        "all_or_nothing": True,
        "untracked_writes": "error",
        "oversell": False,
        "delete_failing_subscriptions": True,
        "webhook_retry_seconds": 1.0,
        "webhook_api_version": "2026-10",
        "shop_name": "Sandbox Shop",
        "shop_domain": "sandbox-shop.myshopify.com",
        "scope": "read_inventory,write_inventory,read_products,read_orders,read_locations",
    }
    SETTING_CHOICES = {
        "change_from_quantity_missing": ("error", "accept"),
        "untracked_writes": ("error", "ignore", "apply"),
    }
    webhook_retries = 8
    webhook_retry_on = "any"
    outbox_class = ShopifyOutbox

    def reset_state(self) -> None:
        self.shopify_switches = dict(SHOPIFY_SWITCHES)
        self.bucket_size = {"maximumAvailable": 2000.0, "restoreRate": 100.0}
        self.last_bucket = None
        self.pending_available = None
        self.credentials = dict(DEFAULT_CREDENTIALS)
        self.tokens.add(DEFAULT_TOKEN, None, app="legacy custom app")
        self.idempotency: dict = {}
        self.rest_buckets: dict = {}
        self.internal_errors: list = []
        self.counter = 100
        self.outbox.retry_seconds = self.settings["webhook_retry_seconds"]
        self.graph = Graph(self)
        self.reset_inventory()
        self.reset_selling()

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def switch_take(self, name: str) -> bool:
        if self.shopify_switches[name] > 0:
            self.shopify_switches[name] -= 1
            self.failures.injected[name.removesuffix("_next")] += 1
            return True
        return False

    # ------------------------------------------------------------ control
    def seed(self, body: dict) -> None:
        creds = body.get("credentials")
        if creds is not None:
            if not isinstance(creds, dict):
                raise SeedError('"credentials" is an object')
            for key in ("client_id", "client_secret"):
                if key in creds:
                    if not isinstance(creds[key], str) or not creds[key]:
                        raise SeedError(f"{key} is a non-empty string")
                    self.credentials[key] = creds[key]
            tokens = creds.get("tokens", [DEFAULT_TOKEN])
            if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
                raise SeedError('"tokens" is a list of token strings')
            for token in tokens:
                self.tokens.add(token, None, app="seeded")
        self.seed_inventory(body)

    def control_seed(self, request, body):
        settings = body.get("settings")
        if settings is not None:
            self.check_settings(settings)
        result = super().control_seed(request, body)
        self.outbox.retry_seconds = self.settings["webhook_retry_seconds"]
        return result

    def check_settings(self, settings) -> None:
        if not isinstance(settings, dict):
            raise SeedError('"settings" is an object')
        for key, value in settings.items():
            if key not in self.default_settings:
                raise SeedError(f"unknown setting {key!r}; known: {sorted(self.default_settings)}")
            default = self.default_settings[key]
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, float):
                ok = type(value) in (int, float) and value >= 0
            elif isinstance(default, list):
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            else:
                ok = isinstance(value, str) and value in self.SETTING_CHOICES.get(key, (value,))
            if not ok:
                raise SeedError(f"bad value for setting {key!r}: {value!r}")

    def control_failures(self, request, body):
        if request.method == "DELETE":
            self.shopify_switches = dict(SHOPIFY_SWITCHES)
        if request.method == "POST":
            own = {k: body.pop(k) for k in list(body) if k in SHOPIFY_SWITCHES or k == "bucket"}
            for key, value in own.items():
                if key == "bucket":
                    if (
                        not isinstance(value, dict)
                        or not set(value) <= BUCKET_KEYS
                        or not all(type(v) in (int, float) and v >= 0 for v in value.values())
                    ):
                        raise SeedError(f"bucket takes {sorted(BUCKET_KEYS)} (numbers >= 0)")
                elif type(value) is not int or value < 0:
                    raise SeedError(f"bad value for {key!r}: {value!r}")
            result = super().control_failures(request, body)  # checks the rest first
            bucket = own.pop("bucket", None)
            self.shopify_switches.update(own)
            if bucket is not None:
                self.resize_buckets(bucket)
        else:
            result = super().control_failures(request, body)
        return {**result, **self.shopify_switches, "bucket": self.bucket_status()}

    def resize_buckets(self, bucket: dict) -> None:
        for key in ("maximumAvailable", "restoreRate"):
            if key in bucket:
                self.bucket_size[key] = float(bucket[key])
        for limiter in self.limiters.values():
            limiter.resize(
                bucket.get("maximumAvailable"),
                bucket.get("restoreRate"),
                bucket.get("currentlyAvailable"),
            )
        if "currentlyAvailable" in bucket:
            self.pending_available = float(bucket["currentlyAvailable"])

    def bucket_for(self, token: str) -> cost.LeakyBucket:
        bucket = self.limiters.get(token)
        if bucket is None:
            bucket = self.limiters[token] = cost.LeakyBucket(
                float(self.bucket_size["maximumAvailable"]), float(self.bucket_size["restoreRate"])
            )
            if self.pending_available is not None:
                bucket.resize(available=self.pending_available)
        self.last_bucket = bucket
        return bucket

    def bucket_status(self) -> dict:
        if self.last_bucket is not None:
            return self.last_bucket.status()
        return {
            "maximumAvailable": self.bucket_size["maximumAvailable"],
            "currentlyAvailable": int(
                self.bucket_size["maximumAvailable"]
                if self.pending_available is None
                else self.pending_available
            ),
            "restoreRate": self.bucket_size["restoreRate"],
        }

    def state_json(self) -> dict:
        self.purge_exhausted()
        return {
            "platform": self.platform,
            "settings": self.settings,
            "credentials": {"client_id": self.credentials["client_id"]},
            "tokens": self.tokens.to_json(),
            **self.inventory_json(),
            "orders": {number: public(o) for number, o in self.orders.items()},
            "webhooks": self.subscriptions(),
            "bucket": self.bucket_status(),
            "idempotency": [
                {"mutation": m, "key": k, "replays": v["replays"]}
                for (m, k), v in self.idempotency.items()
            ],
            "internal_errors": self.internal_errors[-20:],
        }

    def webhook_version(self) -> str:
        return self.served_version(self.settings["webhook_api_version"]) or STABLE[-1]

    def api_versions(self) -> list:
        stable = [
            {"handle": v, "displayName": v, "supported": True}
            for v in self.settings["api_versions"]
        ]
        rc = self.settings["release_candidate"]
        extra = (
            [{"handle": rc, "displayName": f"{rc} (Release candidate)", "supported": False}]
            if rc
            else []
        )
        return [
            *stable,
            *extra,
            {"handle": "unstable", "displayName": "unstable", "supported": False},
        ]

    # ------------------------------------------------------------ requests
    def _control(self, request, endpoint, args):
        try:
            return super()._control(request, endpoint, args)
        except Exception as exc:  # a sandbox bug: a 400 naming it, never a traceback
            self.internal_errors.append(f"{endpoint}: {type(exc).__name__}: {exc}")
            return json_response({"error": f"the sandbox could not apply this: {exc!r}"}, 400)

    def _record(self, request, status, fault, started) -> None:
        super()._record(LoggedRequest(request), status, fault, started)

    def handle(self, request, endpoint, args):
        self.purge_exhausted()
        try:
            return super().handle(request, endpoint, args)
        except Abort:
            raise
        except Exception as exc:  # a sandbox bug: answered as Shopify's own internal error
            self.internal_errors.append(f"{type(exc).__name__}: {exc}")
            return self.internal_error()

    def served_version(self, version):
        supported = list(self.settings["api_versions"])
        if version is None:
            return min(supported) if supported else None
        if (
            version == "unstable"
            or version in supported
            or version == self.settings["release_candidate"]
        ):
            return version
        if VERSION.match(version) and version in self.settings["retired_versions"] and supported:
            return min(supported)
        return None

    def authorize(self, request) -> str:
        token = request.headers.get(TOKEN_HEADER)
        _, status = self.tokens.check(token)
        if status != "ok":
            raise Abort(json_response({"errors": UNAUTHORIZED}, 401))
        return token

    def access_token(self, request):
        form = read_form(request)
        if form.get("grant_type", "client_credentials") != "client_credentials":
            raise Abort(
                json_response(
                    {
                        "error": "unsupported_grant_type",
                        "error_description": "grant_type must be client_credentials",
                    },
                    400,
                )
            )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.credentials["client_id"],
            self.credentials["client_secret"],
        ):
            raise Abort(
                json_response(
                    {
                        "error": "invalid_client",
                        "error_description": "Client authentication failed",
                    },
                    401,
                )
            )
        token, _ = self.tokens.issue(86400, prefix="shpat_", app="client credentials")
        return json_response(
            {"access_token": token, "scope": self.settings["scope"], "expires_in": 86399}
        )

    def read_body(self, request):
        if request.mimetype == "application/graphql":
            return request.get_data(as_text=True), {}, None
        body = parse_json(request)
        if (
            body is INVALID
            or not isinstance(body, dict)
            or not isinstance(body.get("query"), str)
            or not body["query"].strip()
        ):
            raise Abort(
                json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400)
            )
        variables, name = body.get("variables"), body.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            raise Abort(json_response({"errors": {"variables": "must be a JSON object"}}, 400))
        if name is not None and not isinstance(name, str):
            raise Abort(json_response({"errors": {"operationName": "must be a string"}}, 400))
        return body["query"], variables or {}, name or None

    def graphql(self, request, version=None):
        served = self.served_version(version)
        if served is None:
            raise Abort(self.error_response(404, "Not Found"))
        request.reply_headers["X-Shopify-API-Version"] = served
        token = self.authorize(request)
        query, variables, name = self.read_body(request)
        bucket = self.bucket_for(token)
        if self.switch_take("internal_error_next"):
            return self.internal_error()
        ctx = Context(served, token)
        schema = build_schema_for(not ctx.modern)
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as exc:
            return self.answer({"errors": [exc.formatted]}, bucket, 0, 0)
        errors = validate(schema, document, max_errors=50)
        if errors:
            return self.answer({"errors": [validation_json(e) for e in errors]}, bucket, 0, 0)
        operation, problem = pick_operation(document, name)
        if problem:
            return self.answer({"errors": [{"message": problem}]}, bucket, 0, 0)
        if operation.operation.value == "subscription":
            return self.answer(
                {"errors": [{"message": "Subscriptions are not supported"}]}, bucket, 0, 0
            )
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
        if isinstance(coerced, list):
            return self.answer({"errors": [e.formatted for e in coerced]}, bucket, 0, 0)
        try:
            requested = cost.requested_cost(schema, operation, fragments, coerced)
        except (cost.CostError, GraphQLError) as exc:
            error = exc.error if isinstance(exc, cost.CostError) else exc.formatted
            return self.answer({"errors": [error]}, bucket, 0, 0)
        if requested > cost.MAX_COST:
            return self.answer(
                {"errors": [cost.max_cost_error(requested)]}, bucket, requested, None
            )
        throttled = self.switch_take("throttle_next")
        if throttled or (self.rate_limits_on and not bucket.take(requested)):
            return self.answer({"errors": [cost.THROTTLED_ERROR]}, bucket, requested, None)
        result = execute(
            schema,
            document,
            root_value=self.graph.root(),
            context_value=ctx,
            variable_values=variables,
            operation_name=name,
            field_resolver=field_resolver,
        )
        actual = cost.actual_cost(schema, operation, fragments, coerced, result.data)
        if self.rate_limits_on:
            bucket.refund(requested - actual)
        body = {"data": result.data}
        if result.errors:
            body["errors"] = [self.error_json(e) for e in result.errors]
        if ctx.warnings:
            body.setdefault("extensions", {})["search"] = ctx.warnings
        return self.answer(body, bucket, requested, actual)

    def error_json(self, error: GraphQLError) -> dict:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            self.internal_errors.append(f"{type(original).__name__}: {original}")
            return {
                "message": "Internal error. Looks like something went wrong on our end.",
                "path": error.path,
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        return error.formatted

    def answer(self, body, bucket, requested, actual):
        status = bucket.status()
        body.setdefault("extensions", {})["cost"] = {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status,
        }
        return json_response(body)

    def internal_error(self):
        return json_response(
            {
                "errors": [
                    {
                        "message": "Internal error. Looks like something went wrong on our end.\n"
                        "Request ID: sandbox-internal-error (include this in support requests).",
                        "extensions": {
                            "code": "INTERNAL_SERVER_ERROR",
                            "requestId": "sandbox-internal-error",
                        },
                    }
                ]
            }
        )

    # ------------------------------------------------------------ error shapes
    def error_response(self, status: int, message: str):
        body = {404: "Not Found", 405: "Method Not Allowed"}.get(status, message)
        if status >= 500:
            body = {
                500: "Internal Server Error",
                502: "Bad Gateway",
                503: "Service Unavailable",
            }.get(status, message)
        response = json_response({"errors": body}, status)
        if status == 503:
            response.headers["Retry-After"] = "1"
        return response

    def throttled_response(self, request):
        response = json_response(
            {
                "errors": "Exceeded 2 calls per second for api client. Reduce request "
                "rates to resume uninterrupted service."
            },
            429,
        )
        response.headers["Retry-After"] = "2.0"
        return response


UNDEFINED_FIELD = re.compile(r"^Cannot query field '(\w+)' on type '(\w+)'\.")


def validation_json(error: GraphQLError) -> dict:
    """graphql-core's validation error, in Shopify's words where they are known (§3.5)."""
    body = error.formatted
    match = UNDEFINED_FIELD.match(error.message)
    if match:
        field, type_name = match.groups()
        body["message"] = f"Field '{field}' doesn't exist on type '{type_name}'"
        body["extensions"] = {"code": "undefinedField", "typeName": type_name, "fieldName": field}
    return body


def pick_operation(document, name):
    """(operation, None) or (None, the error message)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        found = [op for op in operations if op.name and op.name.value == name]
        return (found[0], None) if found else (None, f'No operation named "{name}"')
    if len(operations) > 1:
        return None, "An operation name is required"
    return operations[0], None
