"""Selling on the Elastic Path sandbox (channels-inbound.md §3): orders and what they do to
its stock, integrations and the events they deliver. A mixin of ElasticPathSandbox, which
keeps the stock (`self.stocks`), the routes, the guard and the paging.

Stock, as §3.7 tells it: a sale is refused when short (the cart and checkout checks);
payment allocates (refused when short, and the order stays unpaid); a cancel deallocates;
fulfilment ships the allocated units (allocated and total drop); a refund changes no stock.
Every such move is a stock transaction that fires stock-transaction.created, as do the
transactions of the inventory API and staff edits (POST /_sandbox/stock).

Choices where the docs are silent ([I], [gap]):
- A sale takes each product's units from one bucket: the order's "location" when the control
  body names one, else the unlocated bucket, else the first location, that can cover them.
  A product with no stock record is not tracked: it sells without limit or transaction.
- Payment makes the order complete / paid; fulfilment (paid orders only) sets shipping
  fulfilled; a cancel (not once fulfilled) keeps the payment as it was; a refund (paid orders
  only) sets payment refunded and keeps any allocation (only a cancel deallocates). The
  control route's `restock` is ignored: Elastic Path restocks nothing on a refund.
- Each change fires its event (order.paid, order.fulfilled, order.cancelled, order.refunded)
  and order.updated; a sale fires order.created first. Own moves are recorded as basic
  transactions (allocate, deallocate, and decrement for a shipment).
- Integrations are enabled and of type webhook unless the body says otherwise; each
  delivery has its own event id per integration, and is retried on any failure
  (webhook_retries of ElasticPathSandbox) with the same id and the next `attempt`.
- Delivery logs (GET /v2/integrations[/{id}]/logs) are the outbox's attempts, matched to
  an integration by its URL; a delivery dropped on purpose is never attempted, so not logged.
- A control order with "after_read": true waits until the next stock read (POST
  /v2/inventories/multiple, GET /v2/inventories/{id}) has been answered, then is placed: the
  checkout that lands between a client's read and its transaction.
- Order timestamps carry milliseconds; the listing is newest-created first; page[offset]
  stops at the "max_offset" setting (10,000).
"""

import contextlib
import math
import uuid
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from connectors.platforms.elasticpath.sandbox_orders import (
    FilterError,
    ep_error,
    event_body,
    integration_fields,
    integration_json,
    matches,
    new_order,
    now_ms,
    order_document,
    order_json,
    parse_filter,
    sign,
    validation_error,
)
from connectors.platforms.elasticpath.sandbox_stock import (
    INSUFFICIENT,
    StockError,
    Stocks,
    stock_json,
    transaction_json,
)
from connectors.platforms.sandbox.base import (
    INVALID,
    Abort,
    Refused,
    SeedError,
    json_response,
    parse_json,
)

STOCK_TOPIC = "stock-transaction.created"
SHIPPED = "decrement"  # the transaction a shipment records (§3.7: "decrement")


class Selling:
    def reset_selling(self) -> None:
        self.orders: dict[str, dict] = {}
        self.integrations: dict[str, dict] = {}
        self.after_read: list[dict] = []  # sales waiting for the next stock read

    # ------------------------------------------------------------ control hooks
    def sell(self, body: dict) -> dict:
        if body.get("after_read"):
            # A checkout between a client's read and its write: placed (and paid) right
            # after the next stock read is answered, so the write meets the sale.
            self.after_read.append({k: v for k, v in body.items() if k != "after_read"})
            return {"after_read": len(self.after_read)}
        order_id = str(body.get("id") or uuid.uuid4())
        if order_id in self.orders:
            raise SeedError(f"order {order_id!r} exists already")
        location = self.location_of(body)
        order = new_order(order_id, body["lines"], location)
        self.plan(order)  # the cart and checkout checks
        self.orders[order_id] = order
        self.emit_order(order, "order.created")
        if body.get("paid", True):
            self.pay(order)
        return {"id": order_id, "order": order_document(order)}

    def sell_after_read(self) -> None:
        """Place the sales that waited for a stock read (one refused when short is dropped,
        as a checkout that finds no stock is)."""
        waiting, self.after_read = self.after_read, []
        for body in waiting:
            with contextlib.suppress(Refused):
                self.sell(body)

    def order_action(self, order_id: str, action: str, restock: bool) -> dict:
        order = self.orders.get(order_id)
        if order is None:
            raise SeedError(f"no order {order_id!r}")
        if order["status"] == "cancelled":
            raise Refused("the order is cancelled")
        transitions = {
            "pay": self.pay_order,
            "fulfil": self.fulfil,
            "cancel": self.cancel,
            "refund": self.refund,
        }
        transitions[action](order)
        return {"id": order_id, "order": order_document(order)}

    def edit_stock(self, body: dict) -> dict:
        """Staff set a product's available units in Commerce Manager (at "location", when
        given): one increment or decrement of the difference."""
        product_id = str(body["remote_id"])
        stock = self.stocks.get(product_id)
        if stock is None:
            raise SeedError(f"no stock for product {product_id!r}")
        location = self.location_of(body)
        bucket = stock["buckets"].get(location or "") or {"available": 0}
        change = body["quantity"] - bucket["available"]
        if change:
            action = "increment" if change > 0 else "decrement"
            self.own_move(product_id, location or "", abs(change), action)
        return {"id": product_id, "stock": stock_json(product_id, stock, mli=True)["attributes"]}

    def location_of(self, body: dict):
        """The control body's "location" slug (None: not given)."""
        location = body.get("location")
        if location is not None and (
            not isinstance(location, str) or location not in self.stocks.locations
        ):
            raise SeedError(f"no location {location!r}")
        return location

    def subscriptions(self) -> list:
        return [integration_json(i) for i in self.integrations.values()]

    # ------------------------------------------------------------ order transitions
    def pay_order(self, order: dict) -> None:
        if order["payment"] != "unpaid":
            raise Refused(f"the order is {order['payment']} already")
        self.pay(order)

    def pay(self, order: dict) -> None:
        """Allocate, then take the payment; when short, the payment fails, nothing held."""
        try:
            allocations = self.plan(order)
        except Refused as exc:
            raise Refused(f"payment failed: {exc}") from None
        for allocation in allocations:
            self.own_move(*allocation, action="allocate")
        order.update(allocations=allocations, status="complete", payment="paid")
        self.changed(order, "order.paid")

    def fulfil(self, order: dict) -> None:
        if order["shipping"] == "fulfilled":
            raise Refused("the order is fulfilled already")
        if order["payment"] != "paid":
            raise Refused("only a paid order can be fulfilled")
        for allocation in order["allocations"]:
            self.own_move(*allocation, action="ship")
        order.update(allocations=[], shipping="fulfilled")
        self.changed(order, "order.fulfilled")

    def cancel(self, order: dict) -> None:
        if order["shipping"] == "fulfilled":
            raise Refused("a fulfilled order cannot be cancelled")
        for allocation in order["allocations"]:
            self.own_move(*allocation, action="deallocate")
        order.update(allocations=[], status="cancelled")
        self.changed(order, "order.cancelled")

    def refund(self, order: dict) -> None:
        if order["payment"] != "paid":
            raise Refused("only a paid order can be refunded")
        order["payment"] = "refunded"
        self.changed(order, "order.refunded")

    def changed(self, order: dict, topic: str) -> None:
        order["updated_at"] = now_ms()
        self.emit_order(order, topic)
        self.emit_order(order, "order.updated")

    # ------------------------------------------------------------ stock
    def plan(self, order: dict) -> list:
        """[(product id, bucket, quantity)] the order's units come from; Refused when a
        tracked product cannot cover them."""
        wanted = {}
        for item in order["items"]:
            wanted[item["product_id"]] = wanted.get(item["product_id"], 0) + item["quantity"]
        plan = []
        for product_id, quantity in wanted.items():
            stock = self.stocks.get(product_id)
            if stock is None:
                continue  # no inventory: not tracked
            buckets = stock["buckets"]
            keys = [order["location"]] if order["location"] else ["", *(k for k in buckets if k)]
            enough = [k for k in keys if buckets.get(k, {"available": 0})["available"] >= quantity]
            bucket = enough[0] if enough else None
            if bucket is None:
                raise Refused(f"{INSUFFICIENT} (product {product_id}, {quantity} wanted)")
            plan.append((product_id, bucket, quantity))
        return plan

    def own_move(self, product_id, bucket, quantity, action) -> None:
        """One transaction Elastic Path itself makes (or staff do), and its event."""
        stock = self.stocks[product_id]
        try:
            Stocks.apply(stock, action, quantity, bucket)
        except StockError as exc:  # the API moved the units since (a deallocate, a set)
            raise Refused(f"{exc} (product {product_id})") from None
        recorded = SHIPPED if action == "ship" else action
        self.record(stock, transaction_json(product_id, recorded, quantity, bucket, bool(bucket)))

    def record(self, stock: dict, transaction: dict) -> None:
        stock["transactions"].append(transaction)
        self.emit(STOCK_TOPIC, {"data": transaction})

    # ------------------------------------------------------------ events
    def emit_order(self, order: dict, topic: str) -> None:
        self.emit(topic, order_document(order))

    def emit(self, topic: str, payload: dict) -> None:
        """Queue one event to every enabled webhook integration observing `topic`."""
        for integration in self.integrations.values():
            if not (
                integration["enabled"]
                and integration["integration_type"] == "webhook"
                and topic in integration["observes"]
            ):
                continue
            config = integration["configuration"]
            event_id = str(uuid.uuid4())
            body = event_body(event_id, topic, integration, payload)
            self.outbox.send(
                config["url"], topic, body, sign, config.get("secret_key", ""), event_id
            )

    # ------------------------------------------------------------ order routes
    def list_orders(self, request):
        self.guard(request, write=True)  # every order: a client_credentials token
        limit, offset = self.paging(request)
        try:
            filters = parse_filter(request.args.get("filter", ""))
        except FilterError:
            raise Abort(
                ep_error(400, "Bad Request", "Could not parse the supplied filter")
            ) from None
        rows = [o for o in reversed(self.orders.values()) if matches(o, filters)]
        return json_response(
            {
                "data": [order_json(o) for o in rows[offset : offset + limit]],
                **page_of(request, len(rows), limit, offset),
            }
        )

    def get_order(self, request, order_id: str):
        self.guard(request, write=True)
        return json_response({"data": order_json(self.order(order_id))})

    def order_items(self, request, order_id: str):
        self.guard(request, write=True)
        return json_response({"data": list(self.order(order_id)["items"])})

    def order(self, order_id: str) -> dict:
        order = self.orders.get(order_id)
        if order is None:
            raise Abort(ep_error(404, "Not Found", "Order not found"))
        return order

    # ------------------------------------------------------------ integration routes
    def list_integrations(self, request):
        self.guard(request, write=True)
        limit, offset = self.paging(request)
        rows = self.subscriptions()
        return json_response(
            {"data": rows[offset : offset + limit], **page_of(request, len(rows), limit, offset)}
        )

    def create_integration(self, request):
        self.guard(request, write=True)
        fields = self.integration_body(request, partial=False)
        stamp = now_ms()
        integration = {
            "id": str(uuid.uuid4()),
            "description": "",
            "enabled": True,
            "integration_type": "webhook",
            **fields,
            "created_at": stamp,
            "updated_at": stamp,
        }
        self.integrations[integration["id"]] = integration
        return json_response({"data": integration_json(integration)})

    def get_integration(self, request, integration_id: str):
        self.guard(request, write=True)
        return json_response({"data": integration_json(self.integration(integration_id))})

    def update_integration(self, request, integration_id: str):
        self.guard(request, write=True)
        integration = self.integration(integration_id)
        integration.update(self.integration_body(request, partial=True), updated_at=now_ms())
        return json_response({"data": integration_json(integration)})

    def delete_integration(self, request, integration_id: str):
        self.guard(request, write=True)
        del self.integrations[self.integration(integration_id)["id"]]
        return Response(status=200)

    def integration_logs(self, request, integration_id: str | None = None):
        self.guard(request, write=True)
        by_url = {i["configuration"]["url"]: i["id"] for i in self.integrations.values()}
        if integration_id is not None:
            self.integration(integration_id)
        logs = [
            delivery_log(entry, by_url.get(entry["url"]))
            for entry in self.outbox.to_json()["deliveries"]
            if entry["attempt"]
            and (integration_id is None or by_url.get(entry["url"]) == integration_id)
        ]
        return json_response({"data": logs, "results": {"total": len(logs)}})

    def integration(self, integration_id: str) -> dict:
        integration = self.integrations.get(integration_id)
        if integration is None:
            raise Abort(ep_error(404, "Not Found", "The resource could not be found"))
        return integration

    @staticmethod
    def integration_body(request, partial: bool) -> dict:
        body = parse_json(request)
        data = body.get("data") if isinstance(body, dict) else INVALID
        try:
            return integration_fields(data, partial=partial)
        except ValueError as exc:
            raise validation_error(str(exc)) from None


def page_of(request, total: int, limit: int, offset: int) -> dict:
    """The listing's links (each with the request's other arguments) and meta."""
    pages = max(1, math.ceil(total / limit))

    def link(at: int) -> str:
        args = {**request.args.to_dict(), "page[offset]": at, "page[limit]": limit}
        return f"{request.base_url}?{urlencode(args, safe='[]')}"

    links = {
        "current": link(offset),
        "first": link(0),
        "last": link((pages - 1) * limit),
        "next": link(offset + limit) if offset + limit < total else None,
        "prev": link(max(offset - limit, 0)) if offset else None,
    }
    page = {"limit": limit, "offset": offset, "current": offset // limit + 1, "total": pages}
    return {"links": links, "meta": {"page": page, "results": {"total": total}}}


def delivery_log(entry: dict, integration_id) -> dict:
    status = entry["status"]
    ok = status is not None and 200 <= status < 300
    return {
        "id": entry["event_id"],
        "type": "integration",
        "succeeded": ok,
        "attempt": entry["attempt"],
        "body": "",
        "status_code": status,
        "error_detail": "" if ok else entry["fault"] or f"answered {status}",
        "relationships": {"integration": {"data": {"id": integration_id, "type": "integration"}}},
    }
