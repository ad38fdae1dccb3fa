"""Elastic Path Composable Commerce > Inventories (channels.md §4).

Base URL: the API host without /v2 (https://useast.api.elasticpath.com or
https://euwest.api.elasticpath.com), because the token endpoint is outside /v2; the connector
adds /v2 to API paths (a base URL given with /v2 is accepted and trimmed).
Credentials: "client_id" and "client_secret" of a client_credentials grant (the stock
transactions are for administrators); the token is renewed when expires_in runs out and on a 401.
A token endpoint answering 429 or 5xx is waited out or retried; only a 401, a 403 or a 400
naming the credentials pauses the channel as "bad credentials" (Connector.token_refused).
Settings:
- "location_slug": empty for basic ("legacy") inventories; set, for multi-location mode.
- "untracked_quantity" (default 9999): Elastic Path has no infinite stock, so an untracked
  variant is shown as this many units; reads report it back as untracked (None).
- "development_store": a development store's rate limit is 25 rps instead of 100.

Basic mode (delta): the engine reads `available` (one POST /v2/inventories/multiple per 100
products), then each item that differs gets one POST /v2/inventories/{id}/transactions
increment or decrement of the difference. A transaction is never resent: if its answer is lost
the sync retries the push, which reads again first. A decrement refused for insufficient stock
(a checkout allocated units since the read) is read again and sent again.
Multi-location mode (absolute): the same read with EP-Inventories-Multi-Location: true, then
`set` at the slug. `set` sets the location's total (available + allocated), so we send the
target plus what that location holds allocated (paid orders awaiting shipment): the channel
then shows the target as available, and a checkout that allocates between our read and our set
still counts against it.
Writes are one product per request (batch_max 1); the engine reads 100 at a time.
Rate limit: 100 requests a second for a production store, 25 for a development store; no
rate-limit header is documented, and the SDK waits attempt x 1 s after a 429.

Sales coming back (channels-inbound.md §3; the events and orders are read in orders.py):
- Webhooks are an "integration": register_webhooks lists GET /v2/integrations and updates
  (PUT) the webhook integration already at our URL, deleting any further ones there, or
  creates one (POST), observing orders.OBSERVES, with a secret_key it draws itself
  (secrets.token_urlsafe) and returns as the channel's "webhook_secret".
- Authenticity: Elastic Path sends the secret_key verbatim as X-MOLTIN-SECRET-KEY (no HMAC,
  no timestamp), compared in constant time; a channel without a secret accepts nothing.
  The delivery id is the event's `id`, which redeliveries keep (`attempt` counts them).
- An order event gives the order as its payload shows it now: the stage comes from
  (status, payment, shipping), never from the event's name. A line is an order item:
  line_id its id (the same in GET /v2/orders/{id}/items), remote_id its product_id (the
  inventory key), sku as sent; remote_parent_id is not used.
- Elastic Path holds its paid orders' units itself (allocated at payment, deallocated on
  cancel, decremented at shipping). What we sync is `available`, which already leaves them
  out, as our ledger does once the order is in: nothing is added back.
- poll_orders: GET /v2/orders?filter=gt(updated_at,"<ts>") (page[limit] 100, page[offset]),
  then GET /v2/orders/{id}/items per order (the listing has none). The cursor is one pass
  (orders.Window): where it starts, the offset reached, the newest updated_at seen; a pass
  ends when the listing does, and the next starts OVERLAP before the newest change it saw,
  so an order changed while a pass ran is listed again, never missed.

Choices where the docs are silent ([I], [gap]):
- Stages: shipping fulfilled is `fulfilled` whatever else (a refund after shipping restocks
  nothing, so `returned` never comes from Elastic Path: goods back are booked by staff);
  else status cancelled is `cancelled`; else a payment of authorized, partially_authorized,
  paid, partially_paid or refunded is `open` (Elastic Path keeps the allocation of a refund
  that did not ship until the order is cancelled, so the ledger holds it too); anything else
  (unpaid, or a payment state not documented) is `pending`.
- Items with neither product_id nor sku (custom items, promotions) are not stock: no line.
  A payload without `included` has its items fetched (GET /v2/orders/{id}/items).
- stock-transaction.created carries the movement (an action and its quantity), never the
  level it left, and ours cannot be told from Elastic Path's own (our transaction ids are
  not kept across processes): such an event is read as a note with no StockChange. Sales
  come from their orders; a staff edit is corrected by the next push, which reads first.
- The first poll of a channel (an empty cursor, no `since`) starts OVERLAP before now:
  older orders are taken in only with pull_orders --since.
- Filters use quoted full timestamps (the beta syntax Get all orders takes), not days.
- The listing is taken to be newest-created first; past the 10,000 offset cap a pass goes
  on with le(created_at, the oldest created_at it saw), from offset 0.
- An order that cannot be read is left out of its page, the reason kept on its items
  request's exchange (`error`): one bad order does not hold up the others.
- Registration lists one page of 100 integrations; a store with more webhook integrations
  than that may get a second one at our URL (deliveries are deduplicated by event id).
"""

import secrets
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import quote

from connectors.exceptions import TransientError
from connectors.platforms import inbound
from connectors.platforms.base import (
    ABSOLUTE,
    DELTA,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)
from connectors.platforms.elasticpath import orders
from connectors.platforms.inbound import OrderPage, Registration, Unreadable, Verdict

READ_BATCH = 100  # ids per POST /inventories/multiple: the API's page limit, none documented
MLI_HEADER = "EP-Inventories-Multi-Location"
ITEM_STATUSES = (400, 404, 409, 422)  # the product's own refusal: the others go on
SECRET_HEADER = "X-MOLTIN-SECRET-KEY"
INTEGRATION = "Stock sync"  # the name of the integration register_webhooks keeps


class ElasticPathConnector(Connector):
    platform = "elasticpath"
    uses_token = True
    default_retry_after = 1.0
    unknown_item = "No stock found: the product has no inventory"
    webhooks = True
    polls_orders = True
    registers_webhooks = True
    order_page = 100  # page[limit] of the order listing (its maximum)
    max_offset = 10_000  # the listing's page[offset] cap
    credential_fields = (
        Setting("client_id", "Client id"),
        Setting("client_secret", "Client secret"),
        Setting(
            "webhook_secret",
            "Webhook secret key",
            required=False,
            help="The integration's secret_key, which Elastic Path sends as "
            "X-MOLTIN-SECRET-KEY. Registering the webhooks sets a new one.",
        ),
    )
    setting_fields = (
        Setting(
            "location_slug",
            "Location slug",
            required=False,
            help="Multi-location inventories: the location to set. Empty: basic inventories.",
        ),
        untracked_setting(),
        Setting(
            "development_store",
            "Development store (25 requests/s)",
            required=False,
            kind="bool",
            help="A development store's rate limit is 25 requests a second, not 100.",
        ),
    )

    def __init__(self, *, base_url, **kwargs):
        base_url = base_url.rstrip("/")
        super().__init__(base_url=base_url.removesuffix("/v2"), **kwargs)

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        if len(str(settings.get("location_slug") or "")) > 128:
            problems.append("the location slug is at most 128 characters")
        return problems

    @property
    def slug(self):
        return self.setting("location_slug", "")

    @property
    def capabilities(self):
        return Capabilities(
            writes=ABSOLUTE if self.slug else DELTA,
            batch_max=1,
            reads_levels=True,
            rate_limit=(25 if self.setting("development_store", False) else 100, 1),
            read_max=READ_BATCH,
            read_before_write=bool(self.slug),  # `set` adds what the location has allocated
        )

    def obtain_token(self):
        response = self.send_unauthenticated(
            "POST",
            self.base_url + "/oauth/access_token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
            },
        )
        if response.status_code != 200:
            self.token_refused(response, "the client credentials")
        body = self.token_body(response, "access_token")
        return body["access_token"], int(body.get("expires_in") or 3600)

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        for write in writes:
            self._write(batch, write)
        return batch.result()

    def _write(self, batch, write):
        item, shown = write.item, self.shown(write.item, write.target)
        if self.slug:
            allocated = write.current.detail.get("allocated", 0) if write.current else 0
            attributes = {
                "action": "set",
                "quantity": write.target + allocated,
                "location": self.slug,
            }
            body = {"data": {"type": "stock-transaction", "attributes": attributes}}
        else:
            change = write.change
            if change == 0:
                batch.ok(write, shown)
                return
            body = {
                "data": {
                    "type": "stock-transaction",
                    "quantity": abs(change),
                    "action": "increment" if change > 0 else "decrement",
                }
            }
        response = self.request(
            "POST",
            f"/v2/inventories/{item.remote_id}/transactions",
            purpose="write",
            keys=[item.key],
            json=body,
            headers=self._mode_headers(),
        )
        status, message = response.status_code, _message(response)
        if status in (200, 201):
            batch.ok(write, shown)
        elif status == 404 and self.slug and "location" in message.lower():
            self.channel_error(response, f"does not know the location '{self.slug}'")
        elif status == 422 and "insufficient" in message.lower():
            # A checkout allocated units since our read: read again, then decrement what is
            # still over the target (never forced below what is left).
            self.exchanges[-1].outcome = "rejected"
            batch.stale(write, message)
        elif status in ITEM_STATUSES:
            self.exchanges[-1].outcome = "rejected"
            batch.rejected(write, message)
        else:
            self.channel_error(response, "refused the stock transaction")
        batch.record(self.exchanges[-1], [write])

    # ------------------------------------------------------------------ reads

    def _mode_headers(self):
        return {MLI_HEADER: "true"} if self.slug else {}

    def read(self, items):
        stock = self._stock(items)
        levels = {}
        for item in items:
            level = stock.get(item.remote_id)
            if level is not None:
                detail = MappingProxyType({"allocated": level["allocated"]})
                available = level["available"]
                levels[item.key] = Level(self.shown(item, available), available, detail)
        return levels

    def _stock(self, items):
        """{product id: {"available", "allocated"}} at our location (basic: the product's)."""
        try:
            response = self.request(
                "POST",
                "/v2/inventories/multiple",
                purpose="read",
                keys=[i.key for i in items],
                json={"data": [{"id": i.remote_id} for i in items]},
                headers=self._mode_headers(),
            )
        except TransientError as exc:  # a read applies nothing, though it is a POST
            raise TransientError(str(exc), maybe_applied=False) from exc
        if response.status_code != 200:
            self.channel_error(response, "could not read stock")
        return self._levels(response.json().get("data") or [])

    def _levels(self, rows):
        stock = {}
        for row in rows:
            level = row
            if self.slug:
                located = (row.get("attributes") or {}).get("locations") or {}
                level = located.get(self.slug) or {}  # no stock there yet: set creates it
            stock[str(row.get("id"))] = {
                "available": int(level.get("available") or 0),
                "allocated": int(level.get("allocated") or 0),
            }
        return stock

    # ------------------------------------------------------------------ sales coming back

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        if not secret:
            return Verdict(False, "the channel has no webhook secret key: register the webhooks")
        sent = inbound.header(headers, SECRET_HEADER)
        if not sent:
            return Verdict(False, f"no {SECRET_HEADER} header: not from our integration")
        if not isinstance(sent, str) or not _same(sent, secret):
            return Verdict(False, f"the {SECRET_HEADER} header is not the channel's secret key")
        return Verdict(True, f"the {SECRET_HEADER} header is the channel's secret key")

    @classmethod
    def webhook_envelope(cls, headers, body):
        _, event_id, topic = orders.envelope(body)
        return event_id, topic

    def read_webhook(self, headers, body):
        event, event_id, topic = orders.envelope(body)
        return orders.read_event(event, event_id, topic, self._order_items)

    def poll_orders(self, cursor, since=None):
        now = datetime.now(UTC)
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
            window = orders.Window(since=since, started=now)
        else:
            window = orders.Window.resume(cursor, now)
        response = self.request(
            "GET", "/v2/orders", purpose="orders", params=window.params(self.order_page)
        )
        body = _json(response)
        rows = body.get("data") if response.status_code == 200 else None
        if not isinstance(rows, list):
            self.channel_error(response, "could not list orders")
        found = []
        for row in rows:
            window.saw(row)
            order = self._polled(row)
            if order is not None:
                found.append(order)
        more = window.advance(
            len(rows), _more_rows(body, window.offset, len(rows)), self.max_offset
        )
        return OrderPage(found, window.cursor(), more)

    def _polled(self, row):
        """A listed order with its items, or None (the reason kept on the exchange) when it
        cannot be read."""
        try:
            return orders.read_order(row, self._order_items(orders.order_id(row)))
        except Unreadable as exc:
            record = self.exchanges[-1]
            record.outcome = "rejected"
            record.error = "; ".join(e for e in (record.error, str(exc)) if e)[:2000]
            return None

    def _order_items(self, order_id):
        response = self.request(
            "GET", f"/v2/orders/{quote(order_id, safe='')}/items", purpose="orders"
        )
        items = _json(response).get("data") if response.status_code == 200 else None
        if not isinstance(items, list):
            self.channel_error(response, f"could not read the items of order {order_id}")
        return items

    def register_webhooks(self, url):
        secret = secrets.token_urlsafe(32)
        self.redactor.add(secret)
        data = {
            "type": "integration",
            "name": INTEGRATION,
            "description": "Orders and stock changes for the inventory back-office",
            "enabled": True,
            "integration_type": "webhook",
            "observes": list(orders.OBSERVES),
            "configuration": {"url": url, "secret_key": secret},
        }
        kept, *extra = self._integrations_at(url) or [None]
        if kept is None:
            response = self.request(
                "POST", "/v2/integrations", purpose="webhooks", json={"data": data}
            )
        else:
            path = f"/v2/integrations/{quote(kept, safe='')}"
            response = self.request("PUT", path, purpose="webhooks", json={"data": data})
        if response.status_code not in (200, 201):
            self.channel_error(response, "refused the webhook integration")
        for other in extra:
            self.request("DELETE", f"/v2/integrations/{quote(other, safe='')}", purpose="webhooks")
        integration = orders.text(orders.mapping(_json(response).get("data")).get("id"))
        done = "updated" if kept else "created"
        return Registration(orders.OBSERVES, secret, note=f"integration {integration} {done}")

    def _integrations_at(self, url):
        """The ids of the webhook integrations that deliver to `url`, as listed."""
        response = self.request(
            "GET", "/v2/integrations", purpose="webhooks", params={"page[limit]": 100}
        )
        rows = _json(response).get("data") if response.status_code == 200 else None
        if not isinstance(rows, list):
            self.channel_error(response, "could not list the integrations")
        return [
            str(row.get("id"))
            for row in rows
            if isinstance(row, dict)
            and row.get("integration_type") == "webhook"
            and orders.mapping(row.get("configuration")).get("url") == url
        ]


def _same(sent, secret):
    try:
        return inbound.same(sent, secret)
    except UnicodeError:  # a lone surrogate cannot be any secret we drew
        return False


def _json(response):
    """The answer's JSON object ({} when it is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _more_rows(body, offset, count):
    """Whether the listing goes on past this page: meta.results.total, else links.next."""
    total = orders.mapping(orders.mapping(body.get("meta")).get("results")).get("total")
    if type(total) is int:
        return offset + count < total
    return bool(orders.mapping(body.get("links")).get("next"))


def _message(response):
    """Each error's "title: detail" from Elastic Path's {"errors": [...]} body."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return response.text[:300] or f"HTTP {response.status_code}"
    parts = [": ".join(str(e[k]) for k in ("title", "detail") if e.get(k)) for e in errors]
    return "; ".join(p for p in parts if p) or f"HTTP {response.status_code}"
