"""HighLevel (LeadConnector) Products > Inventory (channels.md §1).

Absolute writes: POST /products/inventory sets availableQuantity per priceId, in batches.
Credentials: a Private Integration Token ("token"), or an OAuth app ("client_id",
"client_secret", "refresh_token"), whose refresh token rotates on every use (the newest is
kept in auth_state); a token endpoint answering 429 or 5xx is waited out or retried, and
only a 400 naming the grant or client (invalid_grant), a 401 or a 403 is "bad credentials"
(Connector.token_refused). Settings: "location_id", the altId of the sub-account.
Untracked variants are sent as allowOutOfStockPurchases=true without a quantity: HighLevel's
way of saying "keep selling".
Rate limit: a bucket of 100 requests per 10 s (and 200,000 a day) per app and location; every
answer says what is left (X-RateLimit-Remaining, X-RateLimit-Daily-Remaining).

Sales coming back (channels-inbound.md §2): the Marketplace app's webhooks (OrderCreate,
OrderStatusUpdate, PriceUpdate), set in the app's settings since there is no API to register
them, signed with HighLevel's keys (signatures.py) and read by orders.py; and a poll of
GET /payments/orders (polling.py), which HighLevel's lossy webhooks make the safety net:
they are retried only after a 429, so a delivery we cannot store is answered 429.

Choices where the docs are silent:
- Signatures: the Ed25519 header wins when the channel holds an Ed25519 key, with no fallback
  (the SDKs' rule); else the RSA header. A body without an ISO `timestamp` is refused, as is
  one more than 5 minutes off, so a retry HighLevel sends 10 minutes later is refused too:
  the poll finds its order.
- An event whose locationId is not this channel's is read as a note (one app URL serves every
  location the app is installed in).
- Lines are one per priceId (HighLevel fulfils by priceId and qty); line_id is the priceId,
  remote_parent_id stays blank, sku is filled where an item carries one.
- A PriceUpdate of a price that keeps selling when out of stock (or is not tracked) gives no
  stock change, only a note: nothing tells an untracked variant from a tracked one with
  backorders allowed, and either reading would make our own echo look like a change
  (orders.stock_change). Staff turning "keep selling" on there goes unnoticed until we push.
- Polls: a creation window of `order_window_days` (30 by default) ending tomorrow, 100 rows a
  page, a detail read for each new or changed order and, for a partly fulfilled one, its
  fulfilments. A detail answered 400 or 404 (the spec's "Order not found") or unreadable is
  skipped and tried again on the next pass (the exchange says why).
"""

import re
from datetime import UTC, datetime
from urllib.parse import quote

from connectors.platforms.base import (
    ABSOLUTE,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
)
from connectors.platforms.highlevel import orders, signatures
from connectors.platforms.highlevel.polling import OrderPoll
from connectors.platforms.inbound import OrderPage, Unreadable

VERSION = "2021-07-28"
ITEM_INDEX = re.compile(r"^items\.(\d+)\.")
PAGE = 100
ORDER_PAGE = 100
ORDER_WINDOW_DAYS = 30


class HighLevelConnector(Connector):
    platform = "highlevel"
    # Reads page through the location's whole inventory once, however many items are asked.
    capabilities = Capabilities(
        writes=ABSOLUTE,
        batch_max=100,
        reads_levels=True,
        rate_limit=(100, 10),
        infinite=True,
        read_max=100_000,
    )
    credential_fields = (
        Setting("token", "Private Integration Token", required=False),
        Setting("client_id", "OAuth client id", required=False),
        Setting("client_secret", "OAuth client secret", required=False),
        Setting("refresh_token", "OAuth refresh token", required=False),
        Setting(
            "webhook_public_key",
            "Webhook public keys (PEM)",
            required=False,
            help="HighLevel's RSA key from its webhook docs and/or its Ed25519 key; both may "
            "be pasted, and old and new ones during a rotation.",
        ),
    )
    setting_fields = (
        Setting("location_id", "Location id (altId)", help="The sub-account whose stock it is."),
        Setting(
            "order_window_days",
            "Days of orders polled",
            required=False,
            kind="int",
            minimum=1,
            maximum=365,
            help=f"Orders created this many days back are polled for changes; "
            f"{ORDER_WINDOW_DAYS} by default.",
        ),
    )
    webhooks = True
    stock_events = True
    polls_orders = True
    store_failed_status = 429  # HighLevel retries a delivery only after a 429
    webhook_secret_field = "webhook_public_key"

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        oauth = all(credentials.get(k) for k in ("client_id", "client_secret", "refresh_token"))
        if not credentials.get("token") and not oauth:
            problems.append(
                "give a Private Integration Token, or an OAuth client id, secret and refresh token"
            )
        return problems

    @property
    def uses_token(self):
        return not self.credentials.get("token")

    def auth_headers(self):
        token = self.credentials.get("token") or self.auth_state["access_token"]
        return {
            "Authorization": f"Bearer {token}",
            "Version": VERSION,
            "Accept": "application/json",
        }

    def obtain_token(self):
        refresh = self.auth_state.get("refresh_token") or self.credentials["refresh_token"]
        response = self.send_unauthenticated(
            "POST",
            self.base_url + "/oauth/token",
            data={
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "user_type": "Location",
            },
        )
        if response.status_code != 200:
            self.token_refused(response, "the OAuth client or refresh token")
        body = self.token_body(response, "access_token", "refresh_token")
        self.auth_state["refresh_token"] = body["refresh_token"]
        self.redactor.add(body["refresh_token"])
        return body["access_token"], int(body.get("expires_in", 86_400))

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        pending = list(writes)
        while pending:
            response = self.request(
                "POST",
                "/products/inventory",
                purpose="write",
                keys=[w.key for w in pending],
                json={
                    "altId": self.settings["location_id"],
                    "altType": "location",
                    "items": [self._line(w) for w in pending],
                },
            )
            if response.status_code in (200, 201):
                for write in pending:
                    batch.ok(write, write.target)
                break
            if response.status_code == 422:
                refused = self._refused(response, pending)
                if not refused:  # nothing we can pin on one item: the request itself is wrong
                    self.channel_error(response, "refused the inventory update")
                for write, message in refused.items():
                    batch.rejected(write, message)
                # The whole request was refused: send the others again without the culprits.
                pending = [w for w in pending if w not in refused]
                continue
            self.channel_error(response, "refused the inventory update")
        batch.record(self.exchanges[-1])
        return batch.result()

    @staticmethod
    def _line(write):
        if write.target is None:
            return {"priceId": write.item.remote_id, "allowOutOfStockPurchases": True}
        return {
            "priceId": write.item.remote_id,
            "availableQuantity": write.target,
            "allowOutOfStockPurchases": write.item.allow_backorder,
        }

    def _refused(self, response, writes):
        """{write: message} for the items a 422's messages point at ("items.3.priceId …")."""
        messages = response.json().get("message") or []
        refused = {}
        for message in messages if isinstance(messages, list) else [messages]:
            match = ITEM_INDEX.match(str(message))
            if match and int(match.group(1)) < len(writes):
                refused[writes[int(match.group(1))]] = str(message)
        self.exchanges[-1].outcome = "partial" if refused else "rejected"
        return refused

    # ------------------------------------------------------------------ reads

    def read(self, items):
        wanted = {i.remote_id: i for i in items}
        found, offset = {}, 0
        while len(found) < len(wanted):
            response = self.request(
                "GET",
                "/products/inventory",
                purpose="read",
                params={
                    "altId": self.settings["location_id"],
                    "altType": "location",
                    "limit": PAGE,
                    "offset": offset,
                },
            )
            if response.status_code != 200:
                self.channel_error(response, "could not list inventory")
            page = response.json().get("inventory") or []
            for row in page:
                item = wanted.get(row.get("_id"))
                if item is None:
                    continue
                quantity = int(row.get("availableQuantity") or 0)
                # "Keep selling" is how an untracked variant shows; a quantity is then moot.
                keeps_selling = item.quantity is None and row.get("allowOutOfStockPurchases")
                found[item.key] = Level(None if keeps_selling else quantity, quantity)
            offset += PAGE
            if len(page) < PAGE:
                break
        return found

    def probe(self):
        response = self.request(
            "GET",
            "/products/inventory",
            purpose="read",
            params={"altId": self.settings["location_id"], "altType": "location", "limit": 1},
        )
        if response.status_code != 200:
            self.channel_error(response, "could not list inventory")
        return "authenticated"

    # ------------------------------------------------------------------ rate limits

    def retry_after(self, response):
        headers = response.headers
        if headers.get("X-RateLimit-Daily-Remaining") == "0":
            return 3600.0, True  # the daily quota: try again in an hour, not in a second
        interval = headers.get("X-RateLimit-Interval-Milliseconds")
        if interval and interval.isdigit():
            return max(int(interval) / 1000, 1.0), False
        return super().retry_after(response)

    def rate_hold(self, response):
        if response.headers.get("X-RateLimit-Daily-Remaining") == "0":
            return 3600.0  # nothing more today: the sweeper finds the listings again later
        return super().rate_hold(response)

    def reset_after(self, response, window_began):
        # A bucket, not a window: one more request is allowed once a token drips back in.
        interval = response.headers.get("X-RateLimit-Interval-Milliseconds", "")
        size = response.headers.get("X-RateLimit-Max", "")
        if interval.isdigit() and size.isdigit() and int(size):
            return int(interval) / 1000 / int(size)
        return super().reset_after(response, window_began)

    # ------------------------------------------------------------------ sales coming back

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        return signatures.verify(headers, body, secret, now)

    @classmethod
    def webhook_envelope(cls, headers, body):
        return orders.envelope(orders.payload(body))

    def read_webhook(self, headers, body):
        return orders.event(orders.payload(body), self.settings.get("location_id", ""))

    def poll_orders(self, cursor, since=None):
        days = self.setting("order_window_days", ORDER_WINDOW_DAYS)
        poll = OrderPoll.resume(cursor, since, datetime.now(UTC), days)
        body = self._orders_json(
            "/payments/orders",
            "could not list orders",
            startAt=poll.start,
            endAt=poll.end,
            limit=ORDER_PAGE,
            offset=poll.offset,
        )
        rows = body.get("data") if isinstance(body.get("data"), list) else []
        rows = [r for r in rows if isinstance(r, dict) and isinstance(r.get("_id"), str)]
        found = []
        for row in rows:
            if not poll.changed(row):
                continue
            order = self._order(row)
            if order is not None:
                found.append(order)
                poll.saw(row)
        more = poll.advance(len(rows), body.get("totalCount"), ORDER_PAGE)
        return OrderPage(orders=found, cursor=poll.cursor(), more=more)

    def _order(self, row):
        """The full order of a summary row, or None where it cannot be had now (gone, or
        unreadable: the exchange says why)."""
        path = f"/payments/orders/{quote(row['_id'], safe='')}"
        detail = self._orders_json(path, "could not read an order", gone=(400, 404))
        if detail is None:
            return None
        try:
            fulfilled = None
            if orders.state_words(detail)[2] == "partially_fulfilled":
                listed = self._orders_json(f"{path}/fulfillments", "could not list fulfilments")
                fulfilled = orders.fulfilled_units(listed)
            return orders.order(detail, fulfilled)
        except Unreadable as exc:
            self.exchanges[-1].outcome = "rejected"
            self.exchanges[-1].error = f"order {row['_id']} skipped: {exc}"
            return None

    def _orders_json(self, path, what, gone=(), **params):
        """The JSON object a payments route answers (None for a status in `gone`)."""
        response = self.request(
            "GET",
            path,
            purpose="orders",
            params={"altId": self.settings["location_id"], "altType": "location", **params},
        )
        if response.status_code in gone:
            self.exchanges[-1].outcome = "rejected"
            return None
        if response.status_code != 200:
            self.channel_error(response, what)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.channel_error(response, f"{what}: the answer is not a JSON object")
        return body
