"""The selling half of HighLevel's sandbox (channels-inbound.md §2.9): the order routes, the
control API's sales and stock edits, the app-level webhook config and the signed webhooks.

Routes (the inventory routes' auth, Version header and rate limits; scopes
payments/orders.readonly, and .write to fulfil):
    GET  /payments/orders?altId&altType=location&startAt&endAt&status&paymentStatus
         &paymentMode&limit&offset      {"data": [order without items], "totalCount"}
    GET  /payments/orders/{id}?altId&altType      the order with its items (400 "Order not
                                                  found", as the spec has it)
    GET  /payments/orders/{id}/fulfillments?altId&altType   {"status": true, "data": [...]}
    POST /payments/orders/{id}/fulfillments  {altId, altType, trackings, items: [{priceId,
                                             qty}], notifyCustomer} -> {"status", "data"}

Webhooks go to the URLs set with POST /_sandbox/webhooks {"url", "events"?} (HighLevel has no
API for it: a Marketplace app's settings hold one URL and the events it wants; posting the
same URL again replaces its events), each signed twice over the raw body: x-ghl-signature
(Ed25519) and x-wh-signature (RSA PKCS#1 v1.5 SHA-256), with keys made when the sandbox
starts; GET /_sandbox/state shows the public keys as PEM ("webhook_public_keys"). A forged
delivery (the outbox's bad_signature switch) is signed with another pair. HighLevel retries a
delivery only after a 429: 6 attempts in all; a 5xx drops it.

Choices where the docs are silent: the body is the resource's fields with `type` (the event's
name, over a price's own `type`), `locationId`, `timestamp` and a fresh `webhookId` per
delivery; a price event's `userId` is the staff user for a back-office edit and null for a
sale or an API write. Start and end dates of the order listing are UTC days, both included;
`limit` is 10 by default, at most 100 (0: all).
"""

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime, time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.routing import Rule

from connectors.platforms.highlevel.sandbox_orders import OrderBook, summary
from connectors.platforms.highlevel.sandbox_replies import (
    hl_error,
    iso,
    location_errors,
    now_iso,
    unprocessable,
)
from connectors.platforms.sandbox.base import (
    Abort,
    Refused,
    SeedError,
    json_response,
    parse_json,
)

EVENTS = ("OrderCreate", "OrderStatusUpdate", "PriceUpdate")
ORDERS_READ, ORDERS_WRITE = "payments/orders.readonly", "payments/orders.write"
SIGNED = "hl-sandbox-signing-keys"  # the outbox's secret; any other one signs as a forger
STAFF_USER = "hl-sandbox-staff-user"
MAX_LIMIT = 100
ORDER_RULES = (
    Rule("/payments/orders", endpoint="list_orders", methods=["GET"]),
    Rule("/payments/orders/<order_id>", endpoint="get_order", methods=["GET"]),
    Rule(
        "/payments/orders/<order_id>/fulfillments",
        endpoint="list_fulfillments",
        methods=["GET"],
    ),
    Rule(
        "/payments/orders/<order_id>/fulfillments",
        endpoint="create_fulfillment",
        methods=["POST"],
    ),
)


class SigningKeys:
    """A test Ed25519 and RSA key pair (RSA 2048: HighLevel's is 4096, slower to make)."""

    def __init__(self):
        self.ed25519 = Ed25519PrivateKey.generate()
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def headers(self, body: bytes) -> dict:
        rsa_signature = self.rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return {
            "x-ghl-signature": base64.b64encode(self.ed25519.sign(body)).decode(),
            "x-wh-signature": base64.b64encode(rsa_signature).decode(),
        }

    def public_pem(self) -> dict:
        return {
            "ed25519": _pem(self.ed25519.public_key()),
            "rsa": _pem(self.rsa.public_key()),
        }


class Selling:
    """Mixed into HighLevelSandbox, whose locations, settings, outbox, auth and limits it uses."""

    def make_keys(self) -> None:
        self.signing_keys, self.forger_keys = SigningKeys(), SigningKeys()

    def reset_selling(self) -> None:
        self.book = OrderBook(self.locations, self.settings)
        self.webhook_config: dict[str, dict] = {}

    def selling_state(self) -> dict:
        return {
            "orders": self.book.orders,
            "fulfillments": self.book.fulfillments,
            "subscriptions": self.subscriptions(),
            "webhook_public_keys": self.signing_keys.public_pem(),
        }

    # ------------------------------------------------------------- control hooks
    def sell(self, body: dict) -> dict:
        order_id = body.get("id") or secrets.token_hex(12)
        if not isinstance(order_id, str) or len(order_id) > 64:
            raise SeedError('"id" is a string of at most 64 characters')
        lines = [(str(line["remote_id"]), line.get("quantity", 1)) for line in body["lines"]]
        order, events = self.book.sell(order_id, lines, body.get("paid", True) is not False)
        self.send(events)
        return {"id": order_id, "order": order}

    def order_action(self, order_id: str, action: str, restock: bool) -> dict:
        """`restock` is not HighLevel's to do (sandbox_orders.py): it changes nothing."""
        order = self.book.orders.get(order_id)
        if order is None:
            raise SeedError(f"no order {order_id!r}")
        if action == "fulfil":
            self.send(self.book.fulfil(order)[1])
        else:
            self.send(getattr(self.book, action)(order))
        return {"id": order_id, "order": order}

    def edit_stock(self, body: dict) -> dict:
        remote_id = str(body["remote_id"])
        alt_id = self.book.location_of([remote_id])
        item = self.locations[alt_id][remote_id]
        item["availableQuantity"] = body["quantity"]
        item["updatedAt"] = now_iso()
        self.price_changed(alt_id, item, STAFF_USER)
        return item

    def subscribe(self, body: dict) -> dict:
        events = body.get("events", list(EVENTS))
        if not isinstance(events, list) or any(e not in EVENTS for e in events):
            raise SeedError(f'"events" is a list of {", ".join(EVENTS)}')
        self.webhook_config[body["url"]] = {
            "url": body["url"],
            "events": list(dict.fromkeys(events)),
        }
        return self.webhook_config[body["url"]]

    def subscriptions(self) -> list:
        return list(self.webhook_config.values())

    # ------------------------------------------------------------- webhooks
    def price_changed(self, alt_id: str, item: dict, user_id: str | None = None) -> None:
        self.send([("PriceUpdate", alt_id, {**item, "userId": user_id})])

    def send(self, events: list) -> None:
        """Queue each (event, altId, fields) to every subscription that wants it."""
        for name, alt_id, fields in events:
            for subscription in self.webhook_config.values():
                if name not in subscription["events"]:
                    continue
                delivery = str(uuid.uuid4())
                body = {
                    **fields,
                    "type": name,
                    "locationId": alt_id,
                    "timestamp": now_iso(),
                    "webhookId": delivery,
                }
                raw = json.dumps(body, separators=(",", ":")).encode()
                self.outbox.send(subscription["url"], name, raw, self.sign, SIGNED, delivery)

    def sign(self, body: bytes, secret: str) -> dict:
        keys = self.signing_keys if secret == SIGNED else self.forger_keys
        return keys.headers(body)

    # ------------------------------------------------------------- routes
    def list_orders(self, request):
        args = request.args
        self.rate_limit(request, args.get("altId"))
        self.authenticate(request, ORDERS_READ)
        errors = location_errors(args)
        paging = {}
        for name, default in (("limit", 10), ("offset", 0)):
            try:
                paging[name] = max(int(args.get(name) or default), 0)
            except ValueError:
                errors.append(f"{name} must be a number conforming to the specified constraints")
                paging[name] = default
        if paging["limit"] > MAX_LIMIT:
            errors.append(f"limit must not be greater than {MAX_LIMIT}")
        window = [_day(args.get(k), k, k == "endAt", errors) for k in ("startAt", "endAt")]
        if errors:
            raise Abort(unprocessable(errors))
        self.location(args["altId"])
        filters = {k: args[k] for k in ("status", "paymentStatus") if args.get(k)}
        if args.get("paymentMode"):
            filters["liveMode"] = args["paymentMode"] == "live"
        rows = self.book.listed(args["altId"], *window, filters)
        start, limit = paging["offset"], paging["limit"]
        page = rows[start : start + limit] if limit else rows[start:]
        return json_response({"data": [summary(o) for o in page], "totalCount": len(rows)})

    def get_order(self, request, order_id):
        return json_response(self.located_order(request, order_id, ORDERS_READ))

    def list_fulfillments(self, request, order_id):
        order = self.located_order(request, order_id, ORDERS_READ)
        return json_response({"status": True, "data": self.book.fulfillments[order["_id"]]})

    def create_fulfillment(self, request, order_id):
        body = parse_json(request)
        alt_id = body.get("altId") if isinstance(body, dict) else None
        self.rate_limit(request, alt_id if isinstance(alt_id, str) else None)
        self.authenticate(request, ORDERS_WRITE)
        if not isinstance(body, dict):
            raise Abort(hl_error(400, "Bad Request"))
        wanted = _fulfilment_request(body)
        order = self.located_order(request, order_id, None, alt_id)
        try:
            fulfilment, events = self.book.fulfil(order, wanted)
        except Refused as exc:
            raise Abort(hl_error(400, str(exc), "Bad Request")) from None
        self.send(events)
        return json_response({"status": True, "data": fulfilment})

    def located_order(self, request, order_id, scope, alt_id=None):
        """The order of this location, after the route's checks (scope None: done)."""
        if scope is not None:
            alt_id = request.args.get("altId")
            self.rate_limit(request, alt_id)
            self.authenticate(request, scope)
            errors = location_errors(request.args)
            if errors:
                raise Abort(unprocessable(errors))
        self.location(alt_id)
        order = self.book.find(order_id, alt_id)
        if order is None:
            raise Abort(hl_error(400, "Order not found", "Bad Request"))
        return order


def _day(value, name, end, errors):
    """A listing bound as an ISO time: a date is its whole UTC day; None when absent."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        errors.append(f"{name} must be a valid ISO 8601 date string")
        return None
    if len(value) == 10:  # a date: from the start of the day, or to its end
        when = datetime.combine(when.date(), time.max if end else time.min)
    return iso(when if when.tzinfo else when.replace(tzinfo=UTC))


def _fulfilment_request(body) -> dict:
    """{priceId: qty} of a valid CreateFulfillmentDto; a 422 otherwise."""
    errors = location_errors(body)
    if not isinstance(body.get("trackings"), list):
        errors.append("trackings must be an array")
    if not isinstance(body.get("notifyCustomer"), bool):
        errors.append("notifyCustomer must be a boolean value")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        errors.append("items must be a non-empty array")
        items = []
    wanted = {}
    for i, item in enumerate(items):
        price_id = item.get("priceId") if isinstance(item, dict) else None
        qty = item.get("qty") if isinstance(item, dict) else None
        if not isinstance(price_id, str) or not price_id:
            errors.append(f"items.{i}.priceId must be a string")
        elif type(qty) is not int or qty < 1:
            errors.append(f"items.{i}.qty must be a positive number")
        else:
            wanted[price_id] = wanted.get(price_id, 0) + qty
    if errors:
        raise Abort(unprocessable(errors))
    return wanted


def _pem(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
