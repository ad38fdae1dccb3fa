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
"""

import re

from werkzeug.routing import Rule

from connectors.platforms.sandbox.base import INVALID, Abort, Sandbox, json_response, parse_json

DEFAULT_CREDENTIALS = {"username": "uniware", "password": "uniware-sandbox-password"}
DIGITS = re.compile(r"^\s*\d+\s*$")


def failed(status: int, message: str):
    return json_response({"status": "FAILED", "message": message, "failedProductList": []}, status)


class UnicommerceSandbox(Sandbox):
    platform = "unicommerce"
    rules = (
        Rule("/authToken", endpoint="auth_token", methods=["GET", "POST"]),
        Rule("/updateInventory", endpoint="update_inventory", methods=["POST"]),
        Rule("/products", endpoint="list_products", methods=["GET"]),
        Rule("/productsCount", endpoint="count_products", methods=["GET"]),
    )
    auth_endpoints = frozenset({"auth_token"})
    # retry_after: the Retry-After of an injected 429 (no limit is documented for this contract)
    default_settings = {
        "token_ttl": 86_400,
        "max_list_size": 1000,
        "facilities": [],
        "retry_after": 60,
    }

    def reset_state(self) -> None:
        self.credentials = dict(DEFAULT_CREDENTIALS)
        self.products: dict[str, dict] = {}

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
        try:
            page = max(1, int(args.get("pageNumber") or 1))
            size = max(1, int(args.get("pageSize") or 50))
        except ValueError:
            raise Abort(
                json_response({"message": "pageNumber and pageSize must be numbers"}, 400)
            ) from None
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

    def authenticated(self, request) -> bool:
        return self.tokens.check(request.headers.get("apiKey"))[1] == "ok"

    # ------------------------------------------------------------- hooks
    def error_response(self, status: int, message: str):
        return failed(status, message)

    def throttled_response(self, request):
        response = failed(429, "Too Many Requests")
        response.headers["Retry-After"] = str(self.settings["retry_after"])
        return response
