"""The legacy REST InventoryLevel subset of the Shopify sandbox (shopify.md §4.3, §5.2).

    GET    /admin/api/{v}/inventory_levels.json   inventory_item_ids and/or location_ids
           (comma-separated numbers, at most 50 each), limit (1-250, default 50),
           updated_at_min; pages by `Link: <...page_info=...>; rel="next"`
    POST   /admin/api/{v}/inventory_levels/set.json      {location_id, inventory_item_id,
           available}: connects the level first when it is not stocked
    POST   /admin/api/{v}/inventory_levels/adjust.json   {..., available_adjustment}
    POST   /admin/api/{v}/inventory_levels/connect.json  {location_id, inventory_item_id}
    DELETE /admin/api/{v}/inventory_levels.json?inventory_item_id=&location_id=

Every answer carries X-Shopify-Shop-Api-Call-Limit (used/40); a token's 40-request bucket
leaks 2 a second, and a full one answers 429 with Retry-After: 2.0. No CAS and no
idempotency, as on Shopify. Refusals are 422 {"errors": [...]} ([I]: Shopify's words are not
documented), a body that is not a JSON object is 400.
"""

import base64
import json

from werkzeug.routing import Rule

from connectors.platforms.sandbox.base import INVALID, Abort, json_response, parse_json
from connectors.platforms.sandbox.limits import TokenBucket
from connectors.platforms.shopify.sandbox_graphql import parse_time
from connectors.platforms.shopify.sandbox_inventory import SET_MAX, gid_number, now_iso

LEVELS = "/admin/api/<version>/inventory_levels"
REST_RULES = (
    Rule(LEVELS + ".json", endpoint="rest_levels", methods=["GET"]),
    Rule(LEVELS + ".json", endpoint="rest_delete", methods=["DELETE"]),
    Rule(LEVELS + "/set.json", endpoint="rest_set", methods=["POST"]),
    Rule(LEVELS + "/adjust.json", endpoint="rest_adjust", methods=["POST"]),
    Rule(LEVELS + "/connect.json", endpoint="rest_connect", methods=["POST"]),
)
CAPACITY, LEAK = 40, 2.0


def unprocessable(*messages: str):
    return Abort(json_response({"errors": list(messages)}, 422))


def ids_arg(raw, name: str) -> list[str]:
    if raw is None or raw == "":
        return []
    ids = raw.split(",")
    if not all(i.strip().isdigit() for i in ids) or len(ids) > 50:
        raise Abort(
            json_response({"errors": {name: ["must be at most 50 comma-separated ids"]}}, 422)
        )
    return [i.strip() for i in ids]


class Rest:
    """The REST half of ShopifySandbox (a mixin)."""

    def rest_guard(self, request, version: str) -> None:
        served = self.served_version(version)
        if served is None:
            raise Abort(self.error_response(404, "Not Found"))
        request.reply_headers["X-Shopify-API-Version"] = served
        token = self.authorize(request)
        bucket = self.rest_buckets.get(token)
        if bucket is None:
            bucket = self.rest_buckets[token] = TokenBucket(CAPACITY, LEAK)
        if self.rate_limits_on and not bucket.take():
            raise Abort(self.throttled_response(request))
        used = CAPACITY - bucket.remaining
        request.reply_headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{CAPACITY}"

    def rest_body(self, request) -> dict:
        body = parse_json(request)
        if body is INVALID or not isinstance(body, dict):
            raise Abort(json_response({"errors": "Required parameter missing or invalid"}, 400))
        return body

    def rest_pair(self, body: dict, stocked=True) -> tuple[str, str]:
        item, loc = body.get("inventory_item_id"), body.get("location_id")
        if isinstance(item, bool) or not isinstance(item, int | str) or not str(item).isdigit():
            raise unprocessable("inventory_item_id is required")
        if isinstance(loc, bool) or not isinstance(loc, int | str) or not str(loc).isdigit():
            raise unprocessable("location_id is required")
        pair = (f"gid://shopify/InventoryItem/{item}", f"gid://shopify/Location/{loc}")
        if pair[0] not in self.items:
            raise unprocessable("Inventory item does not exist")
        if pair[1] not in self.locations:
            raise unprocessable("Location does not exist")
        if stocked and pair not in self.levels:
            raise unprocessable("Inventory level does not exist: connect the item to the location")
        return pair

    def rest_level(self, pair, status=200):
        return json_response({"inventory_level": self.level_json(*pair)}, status)

    def rest_levels(self, request, version):
        self.rest_guard(request, version)
        args, offset = dict(request.args), 0
        if args.get("page_info"):
            try:
                state = json.loads(base64.urlsafe_b64decode(args["page_info"]))
                offset = int(state.pop("offset"))
            except (ValueError, TypeError, KeyError, AttributeError):
                raise unprocessable("page_info is invalid") from None
            args = {**state, "limit": args.get("limit")}
        items = ids_arg(args.get("inventory_item_ids"), "inventory_item_ids")
        locations = ids_arg(args.get("location_ids"), "location_ids")
        if not items and not locations:
            raise unprocessable("inventory_item_ids, location_ids or both must be given")
        limit = args.get("limit") or "50"
        if not str(limit).isdigit() or not 1 <= int(limit) <= 250:
            raise unprocessable("limit must be between 1 and 250")
        since = parse_time(args["updated_at_min"]) if args.get("updated_at_min") else None
        if args.get("updated_at_min") and since is None:
            raise unprocessable("updated_at_min is not a valid time")
        rows = [
            self.level_json(item, loc)
            for item, loc in self.levels
            if (not items or gid_number(item, "InventoryItem") in items)
            and (not locations or gid_number(loc, "Location") in locations)
            and (since is None or parse_time(self.levels[(item, loc)]["updated_at"]) >= since)
        ]
        limit = int(limit)
        page = rows[offset : offset + limit]
        response = json_response({"inventory_levels": page})
        if offset + limit < len(rows):
            state = {
                "inventory_item_ids": ",".join(items),
                "location_ids": ",".join(locations),
                "updated_at_min": args.get("updated_at_min"),
                "offset": offset + limit,
            }
            cursor = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            url = f"{request.host_url.rstrip('/')}{request.path}?limit={limit}&page_info={cursor}"
            response.headers["Link"] = f'<{url}>; rel="next"'
        return response

    def rest_set(self, request, version):
        self.rest_guard(request, version)
        body = self.rest_body(request)
        pair = self.rest_pair(body, stocked=False)
        available = body.get("available")
        if isinstance(available, bool) or not isinstance(available, int):
            raise unprocessable("available must be a whole number")
        if not -SET_MAX <= available <= SET_MAX:
            raise unprocessable("available is out of range")
        if not self.items[pair[0]]["tracked"]:
            raise unprocessable("Inventory item does not have inventory tracking enabled")
        if pair not in self.levels:
            self.levels[pair] = self.seed_level({})
            self.emit_level(*pair, topic="inventory_levels/connect")
        level = self.levels[pair]
        changes = self.change_level(*pair, "available", available - level["available"])
        self.record_group("correction", None, changes, source="rest")
        return self.rest_level(pair)

    def rest_adjust(self, request, version):
        self.rest_guard(request, version)
        body = self.rest_body(request)
        pair = self.rest_pair(body)
        delta = body.get("available_adjustment")
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise unprocessable("available_adjustment must be a whole number")
        if not self.items[pair[0]]["tracked"]:
            raise unprocessable("Inventory item does not have inventory tracking enabled")
        after = self.levels[pair]["available"] + delta
        if not -SET_MAX <= after <= SET_MAX:
            raise unprocessable("available would be out of range")
        changes = self.change_level(*pair, "available", delta)
        if delta:
            self.record_group("correction", None, changes, source="rest")
        return self.rest_level(pair)

    def rest_connect(self, request, version):
        self.rest_guard(request, version)
        pair = self.rest_pair(self.rest_body(request), stocked=False)
        if pair not in self.levels:
            self.levels[pair] = self.seed_level({})
            self.emit_level(*pair, topic="inventory_levels/connect")
        return self.rest_level(pair, 201)

    def rest_delete(self, request, version):
        self.rest_guard(request, version)
        pair = self.rest_pair(dict(request.args))
        self.levels.pop(pair)
        item, loc = gid_number(pair[0], "InventoryItem"), gid_number(pair[1], "Location")
        self.emit(
            "inventory_levels/disconnect",
            {"inventory_item_id": int(item), "location_id": int(loc), "updated_at": now_iso()},
        )
        return json_response({})
