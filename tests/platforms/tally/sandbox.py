"""Tally's sandbox: levels by id, set absolutely (or compare-and-set), read by ids.

Default key "tally-key" (expire-tokens revokes it; a reset brings it back). Seed:
{"items": [{"id", "quantity"?, "unlimited"?}]}. A write line whose "expected" differs from
the level's quantity is refused with code "stale"; an unknown id "not_found"; a negative
quantity "invalid". Every error body is {"error": {"message"}}. Setting "moving": a sale
lands on a level just before each compare-and-set write, which is then always stale.

It sells too: a paid sale takes the units off its own level (refused when short), every
order change and level change is a webhook to each URL subscribed with POST /v1/webhooks,
and GET /v1/orders?after=SEQ lists the orders changed after that sequence number."""

import json
import secrets
import time
import uuid

from werkzeug.routing import Rule

from connectors.platforms import inbound
from connectors.platforms.sandbox.base import (
    Abort,
    Refused,
    Sandbox,
    SeedError,
    json_response,
    parse_json,
)

KEY = "tally-key"


def error(status, message, headers=None):
    return json_response({"error": {"message": message}}, status, headers)


class TallySandbox(Sandbox):
    platform = "tally"
    # moving: a sale lands on a level just before each compare-and-set write reaches it.
    default_settings = {"moving": False}
    rules = (
        Rule("/v1/levels", endpoint="get_levels", methods=["GET"]),
        Rule("/v1/levels", endpoint="set_levels", methods=["POST"]),
        Rule("/v1/orders", endpoint="list_orders", methods=["GET"]),
        Rule("/v1/webhooks", endpoint="add_webhook", methods=["POST"]),
    )
    PAGE = 50

    def reset_state(self):
        self.levels = {}
        self.orders = {}
        self.hooks = {}  # url -> secret
        self.seq = 0
        self.tokens.add(KEY)

    def seed(self, body):
        for raw in body.get("items") or []:
            self.levels[str(raw["id"])] = {
                "quantity": int(raw.get("quantity") or 0),
                "unlimited": bool(raw.get("unlimited")),
            }

    def state_json(self):
        return {
            "platform": self.platform,
            "levels": self.levels,
            "orders": self.orders,
            "webhooks": sorted(self.hooks),
        }

    def handle(self, request, endpoint, args):
        if self.tokens.check(request.headers.get("X-Api-Key"))[1] != "ok":
            raise Abort(error(401, "unknown or revoked API key"))
        return super().handle(request, endpoint, args)

    def get_levels(self, request):
        ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        return json_response(
            {"levels": [{"id": i, **self.levels[i]} for i in ids if i in self.levels]}
        )

    def set_levels(self, request):
        body = parse_json(request)
        lines = body.get("levels") if isinstance(body, dict) else None
        if not isinstance(lines, list) or len(lines) > 50:
            raise Abort(error(400, "levels must be a list of at most 50"))
        return json_response({"results": [self._set(line) for line in lines]})

    def _set(self, line):
        level_id = str(line.get("id"))
        level = self.levels.get(level_id)
        if level is None:
            return {
                "id": level_id,
                "ok": False,
                "code": "not_found",
                "error": f"no level {level_id}",
            }
        if "expected" in line and self.settings["moving"] and level["quantity"] > 0:
            level["quantity"] -= 1
        if "expected" in line and line["expected"] != level["quantity"]:
            message = f"expected {line['expected']}, holds {level['quantity']}"
            return {"id": level_id, "ok": False, "code": "stale", "error": message}
        if line.get("unlimited"):
            level["unlimited"] = True
        else:
            quantity = line.get("quantity")
            if not isinstance(quantity, int) or quantity < 0:
                return {"id": level_id, "ok": False, "code": "invalid", "error": "bad quantity"}
            level.update(quantity=quantity, unlimited=False)
        self._emit("level", {"level": {"id": level_id, "actor": "api", **level}})
        return {"id": level_id, "ok": True, **level}

    # ------------------------------------------------------------------ selling
    def list_orders(self, request):
        after = request.args.get("after", 0, type=int)
        changed = sorted(
            (o for o in self.orders.values() if o["seq"] > after), key=lambda o: o["seq"]
        )
        page = changed[: self.PAGE]
        nxt = page[-1]["seq"] if page else after
        return json_response({"orders": page, "next": nxt, "more": len(changed) > self.PAGE})

    def add_webhook(self, request):
        body = parse_json(request)
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith("http"):
            raise Abort(error(400, "url must be an http(s) URL"))
        self.hooks[url] = secrets.token_hex(16)
        return json_response({"url": url, "secret": self.hooks[url]})

    def sell(self, body):
        order_id = str(body.get("id") or uuid.uuid4().hex[:10])
        if order_id in self.orders:
            raise SeedError(f"order {order_id} exists")
        lines = []
        for i, line in enumerate(body["lines"], start=1):
            level = self.levels.get(str(line["remote_id"]))
            if level is None:
                raise SeedError(f"no level {line['remote_id']}")
            lines.append(
                {
                    "id": f"{order_id}-{i}",
                    "level_id": str(line["remote_id"]),
                    "quantity": line.get("quantity", 1),
                }
            )
        order = {
            "id": order_id,
            "status": "placed",
            "lines": lines,
            "shipped": False,
            "restocked": False,
            "seq": 0,
        }
        self.orders[order_id] = order
        if body.get("paid", True):
            self._pay(order)
        else:
            self._changed(order)
        return {"id": order_id, "order": order}

    def order_action(self, order_id, action, restock):
        order = self.orders.get(order_id)
        if order is None:
            raise SeedError(f"no order {order_id}")
        status = order["status"]
        if action == "pay":
            if status != "placed":
                raise Refused(f"order {order_id} is {status}")
            self._pay(order)
        elif action == "fulfil":
            if status != "paid":
                raise Refused(f"order {order_id} is {status}, not paid")
            order.update(status="shipped", shipped=True)
            self._changed(order)
        elif action == "cancel":
            if status not in ("placed", "paid"):
                raise Refused(f"order {order_id} is {status}")
            if status == "paid":
                self._restock(order)
            order["status"] = "cancelled"
            self._changed(order)
        else:
            if status not in ("paid", "shipped"):
                raise Refused(f"order {order_id} is {status}")
            if restock or status == "paid":
                self._restock(order)
            order.update(status="refunded", restocked=restock)
            self._changed(order)
        return {"id": order_id, "order": order}

    def edit_stock(self, body):
        level = self.levels.setdefault(str(body["remote_id"]), {"quantity": 0, "unlimited": False})
        level.update(quantity=body["quantity"], unlimited=False)
        self._emit("level", {"level": {"id": str(body["remote_id"]), "actor": "staff", **level}})
        return {"level": level}

    def _pay(self, order):
        for line in order["lines"]:
            level = self.levels[line["level_id"]]
            if not level["unlimited"] and level["quantity"] < line["quantity"]:
                raise Refused(f"level {line['level_id']} holds {level['quantity']}")
        for line in order["lines"]:
            level = self.levels[line["level_id"]]
            if not level["unlimited"]:
                level["quantity"] -= line["quantity"]
                self._emit("level", {"level": {"id": line["level_id"], "actor": "sale", **level}})
        order["status"] = "paid"
        self._changed(order)

    def _restock(self, order):
        for line in order["lines"]:
            level = self.levels[line["level_id"]]
            if not level["unlimited"]:
                level["quantity"] += line["quantity"]

    def _changed(self, order):
        self.seq += 1
        order["seq"] = self.seq
        self._emit("order", {"order": dict(order)})

    def _emit(self, topic, payload):
        event_id = uuid.uuid4().hex
        body = json.dumps({"id": event_id, "topic": topic, **payload}).encode()
        for url, secret in self.hooks.items():
            self.outbox.send(url, topic, body, sign, secret, event_id=event_id)

    def error_response(self, status, message):
        return error(status, message)

    def throttled_response(self, request):
        return error(429, "slow down", {"Retry-After": "2"})


def sign(body, secret):
    stamp = str(int(time.time()))
    signature = inbound.hmac_hex(secret, stamp.encode() + b"." + body)
    return {"X-Tally-Timestamp": stamp, "X-Tally-Signature": signature}
