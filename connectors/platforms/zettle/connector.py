"""Zettle (PayPal) Inventory API, v1/v2 paths (channels.md §5).

Delta writes: Zettle cannot set a balance, it moves a positive `change` between locations.
Per batch the engine reads the STORE right before writing: GET
.../inventory/locations/{STORE}, one request that also lists `trackedProducts` (it returns
the whole STORE; POST .../inventory/products would read only the batch but cannot tell
untracked from zero). Then one PUT /organizations/self/inventory moves the differences,
SUPPLIER -> STORE to add and STORE -> BIN to remove, with a fresh externalUuid (it only
correlates the webhooks Zettle sends back; it does not deduplicate).
(The v1 PUT, not the v2 bulk, because only it documents externalUuid.) The STORE balances
it returns are the quantities we report. A movement is never resent: a write that fails or
loses its answer is retried by the sync, which reads again first. A 422 (tracking stopped,
or a sale since our read) answers "stale": the engine reads again and moves what is still
missing, up to three rounds; the fresh read makes that safe even if Zettle applied part of
the refused request. A 400/404 naming an item fails that item with Zettle's developerMessage.

Products are tracked per product. Those not tracked yet are started with a v2 bulk
START_TRACKING *without* variantChanges and answered "stale", so that the engine reads again
before moving: Zettle keeps the levels of a product whose tracking stopped, so starting and
moving from an assumed 0 in one call would add our target on top of the kept level (the
doubling of channels.md §6).

Untracked variants (quantity None) get the setting "untracked_quantity" (default 9999) at
STORE: STOP_TRACKING is product-wide and would make the variant's tracked siblings unlimited
too. A product that Zettle does not track already sells without limit, so its untracked
variants are left alone.

Credentials: "client_id" and "api_key" (the assertion of the JWT-bearer grant; the token lasts
7200 s, has no refresh token and is granted again when it expires or on a 401).
Settings: "oauth_url", the OAuth host: https://oauth.zettle.com when the base URL is the real
inventory host, else the base URL itself (the sandbox serves both on one port).
Items: remote_parent_id = productUuid, remote_id = variantUuid. The four system location uuids
are read once and kept in auth_state["locations"]. Rate limit: 4 rps, documented for v3 only;
assumed for v1/v2 too. A 429 waits Retry-After, else 1 s. Batches of 100 changes [I].

Sales coming back (channels-inbound.md §4): Pusher webhooks and the Purchase API, on their
own hosts (settings "pusher_url" and "purchase_url", defaulting like "oauth_url").
- register_webhooks subscribes our URL (POST pusher /organizations/self/subscriptions, a
  fresh uuid v1) to PurchaseCreated, InventoryBalanceChanged and InventoryTracking
  Started/Stopped, with the setting "contact_email" Zettle requires. A subscription of the
  same URL is deleted first (its key cannot be read again), so registering twice never
  doubles deliveries; the signingKey of the create is the channel's credential
  "webhook_secret", and is kept out of the recorded exchanges.
- verify_webhook: X-iZettle-Signature over `timestamp + "." + payload` (pusher.py); Zettle
  has no timestamp window, so `now` is unused and a replay is caught by its messageUuid,
  the delivery id. Zettle retries any non-2xx.
- read_webhook: PurchaseCreated is an order (purchases.py: a purchase is fulfilled at once;
  a restocked refund returns the original's lines); InventoryBalanceChanged is the STORE
  level of each variant, `ours` when it carries an externalUuid (only our PUT sends one) or
  our client id in updated.clientUuid, `sale` when it moved stock to or from SOLD; other
  events carry a note.
- poll_orders: GET purchase /purchases/v2, ascending, from the cursor {"startDate",
  "lastPurchaseHash"}; a purchase is immutable and a refund is a new purchase, so listing
  what came after the last hash misses no change.

Choices where the docs are silent:
- The TestMessage is accepted without a signature check: Zettle sends it while the
  subscription is being made, before we hold its key, and a non-2xx would fail the create.
  It carries nothing, and no delivery id (a forged one cannot take a real message's).
- A refund restocked when its rows' toLocationUuid is the STORE (the sandbox writes SOLD ->
  STORE; a refund without restock names no location). A restocked refund is read as the
  original purchase's order (fetched, with its other refunds, from the Purchase API), whose
  lines the restocked refunds cover in full are returned: our ledger returns a line whole.
  A partial restock stays fulfilled for staff to count in; a refund without restock, or of
  a purchase Zettle cannot find, is a note. Zettle moves no stock for an untracked product,
  so its refunds never count back in.
- InventoryBalanceChanged of a sale lists the SOLD balances beside the STORE's (how the
  sandbox tells a sale from a staff edit); without them a sale reads as a remote change.
- A row sold by measure ("1.5") or without a variant or SKU (a custom amount) is no line.
- The first poll (empty cursor) reaches back FIRST_POLL_REACH (one hour): older purchases
  predate the channel's counts; `pull_orders --since` reaches further. startDate is sent as
  UTC "YYYY-MM-DDTHH:MM:SSZ", pages hold POLL_LIMIT purchases.
- A purchase uploaded late by a till that was offline sorts before the cursor; only its
  webhook brings it.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from urllib.parse import quote

from connectors.exceptions import AuthError, ConfigError
from connectors.platforms import inbound
from connectors.platforms.base import (
    DELTA,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)
from connectors.platforms.zettle import purchases, pusher

REAL_INVENTORY = "https://inventory.izettle.com"
REAL_OAUTH = "https://oauth.zettle.com"
REAL_PUSHER = "https://pusher.izettle.com"
REAL_PURCHASE = "https://purchase.izettle.com"
EVENTS = (
    "PurchaseCreated",
    "InventoryBalanceChanged",
    "InventoryTrackingStarted",
    "InventoryTrackingStopped",
)
POLL_LIMIT = 100
FIRST_POLL_REACH = timedelta(hours=1)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG = "/organizations/self"
CHANGE_INDEX = re.compile(r"^changes\[(\d+)\]")
TRACKED = MappingProxyType({"tracked": True})
NOT_TRACKED = MappingProxyType({"tracked": False})


class ZettleConnector(Connector):
    platform = "zettle"
    capabilities = Capabilities(
        writes=DELTA, batch_max=100, reads_levels=True, rate_limit=(4, 1), read_max=100
    )
    credential_fields = (
        Setting("client_id", "Client id"),
        Setting("api_key", "API key", help="Sent as the assertion of the JWT-bearer grant."),
        Setting(
            "webhook_secret",
            "Webhook signing key",
            required=False,
            help="The signingKey Zettle gave the webhook subscription; registering the "
            "webhook fills it in.",
        ),
    )
    setting_fields = (
        Setting(
            "oauth_url",
            "OAuth URL",
            required=False,
            help="Default: https://oauth.zettle.com for the real inventory host.",
        ),
        Setting(
            "pusher_url",
            "Pusher URL",
            required=False,
            help="Webhook subscriptions. Default: https://pusher.izettle.com for the real "
            "inventory host.",
        ),
        Setting(
            "purchase_url",
            "Purchase URL",
            required=False,
            help="Purchases polled. Default: https://purchase.izettle.com for the real "
            "inventory host.",
        ),
        Setting(
            "contact_email",
            "Webhook contact email",
            required=False,
            help="Zettle writes to it when deliveries fail; needed to register the webhook.",
        ),
        untracked_setting(),
    )
    uses_token = True
    default_retry_after = 1.0
    webhooks = True
    stock_events = True
    polls_orders = True
    registers_webhooks = True
    store_failed_status = 503  # Zettle retries any non-2xx
    webhook_secret_field = "webhook_secret"

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        for field in cls.setting_fields:
            url = settings.get(field.name) if field.name.endswith("_url") else None
            if url and not str(url).startswith(("http://", "https://")):
                problems.append(f"setting '{field.label}' must start with http:// or https://")
        return problems

    def host(self, name, real):
        """A host setting, by default the real host beside the real inventory host, else the
        base URL (the sandbox serves every host on one port)."""
        default = real if self.base_url == REAL_INVENTORY else self.base_url
        return (self.setting(name) or default).rstrip("/")

    @property
    def oauth_url(self):
        return self.host("oauth_url", REAL_OAUTH)

    @property
    def pusher_url(self):
        return self.host("pusher_url", REAL_PUSHER)

    @property
    def purchase_url(self):
        return self.host("purchase_url", REAL_PURCHASE)

    def obtain_token(self):
        response = self.send_unauthenticated(
            "POST",
            self.oauth_url + "/token",
            data={
                "grant_type": JWT_GRANT,
                "client_id": self.credentials["client_id"],
                "assertion": self.credentials["api_key"],
            },
        )
        if response.status_code == 429 or response.status_code >= 500:
            self.judge(response)
        if response.status_code != 200:
            self.exchanges[-1].outcome = "auth"
            raise AuthError(
                f"zettle refused the API key ({response.status_code}): {response.text[:200]}"
            )
        body = response.json()
        return body["access_token"], int(body.get("expires_in", 7200))

    def problem(self, item):
        if not (item.remote_parent_id and item.remote_id):
            return "the listing has no Zettle productUuid and variantUuid"
        return ""

    # ------------------------------------------------------------------ locations and reads

    def locations(self):
        """{type: uuid} of the system locations, read once per channel."""
        if not self.auth_state.get("locations"):
            response = self.request("GET", f"{ORG}/locations", purpose="locations")
            if response.status_code != 200:
                self.channel_error(response, "could not list locations")
            self.auth_state["locations"] = {r["type"]: r["uuid"] for r in response.json()}
            self.keep_auth_state()
        return self.auth_state["locations"]

    def _read(self):
        """(tracked product uuids, {(product, variant): STORE balance})."""
        store = self.locations()["STORE"]
        response = self.request("GET", f"{ORG}/inventory/locations/{store}", purpose="read")
        if response.status_code != 200:
            self.channel_error(response, "could not read the STORE balances")
        body = response.json()
        balances = {
            (r["productUuid"], r["variantUuid"]): int(r["balance"])
            for r in body.get("variants") or []
        }
        return set(body.get("trackedProducts") or []), balances

    def read(self, items):
        """Every item with its ids: a variant of a product Zettle does not track sells without
        limit (None); one it does holds its STORE balance (0 when Zettle lists none)."""
        tracked, balances = self._read()
        levels = {}
        for item in items:
            if self.problem(item):
                continue
            if item.remote_parent_id not in tracked:
                levels[item.key] = Level(None, None, NOT_TRACKED)
                continue
            balance = balances.get((item.remote_parent_id, item.remote_id), 0)
            levels[item.key] = Level(self.shown(item, balance), balance, TRACKED)
        return levels

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        untracked = [w for w in writes if w.current is not None and not w.current.detail["tracked"]]
        if untracked:
            self._start_tracking(batch, untracked)
        loc, moves, changes = self.locations(), [], []
        for write in writes:
            if write in untracked:
                continue
            change = write.change
            if change == 0:
                batch.ok(write, write.current.shown)
                continue
            moves.append(write)
            changes.append(
                {
                    "productUuid": write.item.remote_parent_id,
                    "variantUuid": write.item.remote_id,
                    "fromLocationUuid": loc["SUPPLIER"] if change > 0 else loc["STORE"],
                    "toLocationUuid": loc["STORE"] if change > 0 else loc["BIN"],
                    "change": abs(change),
                }
            )
        if changes:
            self._move(batch, moves, changes)
        return batch.result()

    def _start_tracking(self, batch, writes):
        """Start tracking the writes' products, then have them read again (a product's kept
        level shows once it is tracked)."""
        products = sorted({w.item.remote_parent_id for w in writes})
        response = self.request(
            "POST",
            f"{ORG}/v2/inventory/bulk",
            purpose="track",
            json={
                "productChanges": [
                    {"productUuid": p, "trackingStatusChange": "START_TRACKING"} for p in products
                ]
            },
        )
        if response.status_code < 300:
            for write in writes:
                batch.stale(write, "tracking started: read again before moving")
            return
        message = _message(response)
        named = [p for p in products if p in message]  # e.g. a product Zettle does not know
        if not named:
            self.channel_error(response, "refused to start tracking " + ", ".join(products))
        self.exchanges[-1].outcome = "partial"
        for write in writes:
            if write.item.remote_parent_id in named:
                batch.rejected(write, message)
            else:
                batch.retry(write, "the product did not start tracking")

    def _move(self, batch, moves, changes):
        store = self.locations()["STORE"]
        response = self.request(
            "PUT",
            f"{ORG}/inventory",
            purpose="write",
            keys=[w.key for w in moves],
            json={
                "changes": changes,
                "returnBalanceForLocationUuid": store,
                "externalUuid": str(uuid.uuid4()),
            },
        )
        status = response.status_code
        if status in (200, 201):
            rows = response.json().get("variants") or []
            after = {(r["productUuid"], r["variantUuid"]): int(r["balance"]) for r in rows}
            for write in moves:  # a variant moved to 0 may be left out: only non-zero are listed
                ids = (write.item.remote_parent_id, write.item.remote_id)
                batch.ok(write, self.shown(write.item, after.get(ids, 0)))
        elif status == 422:
            # Tracking stopped or a sale moved stock since our read: read again (whatever
            # was applied shows then) and move what is still missing.
            self.exchanges[-1].outcome = "rejected"
            for write in moves:
                batch.stale(write, _message(response))
        elif 400 <= status < 500:
            refused = self._refused(response, moves)
            if not refused:
                if status == 404:  # a location we cached may be gone
                    self.auth_state.pop("locations", None)
                self.channel_error(response, "refused the inventory movement")
            for write in moves:  # the request was refused whole: the others go again
                if write in refused:
                    batch.rejected(write, refused[write])
                else:
                    batch.stale(write, "a batch-mate was refused")
        else:
            self.channel_error(response, "answered the inventory movement unexpectedly")
        batch.record(self.exchanges[-1], moves)

    def _refused(self, response, moves):
        """{write: message} for the items an error's violations or message point at."""
        message, refused = _message(response), {}
        for v in _body(response).get("violations") or []:
            match = CHANGE_INDEX.match(str(v.get("propertyName", "")))
            if match and int(match.group(1)) < len(moves):
                detail = f"{v.get('propertyName')} {v.get('developerMessage', '')}"
                refused[moves[int(match.group(1))]] = f"{message}: {detail}".strip()
        for write in moves:
            item = write.item
            if write not in refused and (
                item.remote_id in message or item.remote_parent_id in message
            ):
                refused[write] = message
        self.exchanges[-1].outcome = "partial" if refused else "rejected"
        return refused

    # ------------------------------------------------------------------ sales coming back

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        return pusher.verdict(headers, body, secret)

    @classmethod
    def webhook_envelope(cls, headers, body):
        return pusher.ids(pusher.parse(body))

    def read_webhook(self, headers, body):
        message = pusher.parse(body)
        event_id, topic = pusher.ids(message)
        if topic == "PurchaseCreated":
            orders, note = self._orders(pusher.payload(message))
            return inbound.Event(event_id, topic, orders=tuple(orders), note=note)
        if topic == "InventoryBalanceChanged":
            places = self.locations()
            stock = pusher.stock_changes(
                pusher.payload(message),
                places["STORE"],
                places["SOLD"],
                self.credentials.get("client_id", ""),
            )
            note = "" if stock else "the balance change lists no STORE balance"
            return inbound.Event(event_id, topic, stock=stock, note=note)
        return inbound.Event(event_id, topic, note=pusher.note(topic, message))

    def _orders(self, purchase, known=None):
        """([inbound.Order], note) of one purchase; `known`: purchases by id at hand."""
        pid = purchases.purchase_id(purchase)
        if not purchases.is_refund(purchase):
            order = purchases.sale(purchase)
            if not order.lines:
                return [], f"purchase {pid} sold no product variant: nothing to count"
            return [order], ""
        store = self.locations()["STORE"]
        if not purchases.restocked(purchase, store):
            return [], f"refund {pid}: no goods went back to stock, nothing to count"
        known = {**(known or {}), pid: purchase}
        original_id = purchases.refunded_id(purchase)
        original = self._known(original_id, known) if original_id else None
        if original is None:
            return [], f"refund {pid}: Zettle shows no purchase it refunds; count its goods in"
        refunds = {pid: purchase}
        for refund_id in purchases.refunds_of(original):
            other = self._known(refund_id, known)
            if other is not None:
                refunds[refund_id] = other
        return [purchases.returns(original, list(refunds.values()), store)], ""

    def _known(self, purchase_id, known):
        """A purchase from those at hand, else read from Zettle (None: Zettle has none)."""
        return known[purchase_id] if purchase_id in known else self.purchase(purchase_id)

    def purchase(self, purchase_id):
        """One purchase from the Purchase API (None when Zettle does not know it)."""
        path = f"/purchase/v2/{quote(purchase_id, safe='')}"
        response = self.request("GET", path, url=self.purchase_url + path, purpose="orders")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self.channel_error(response, f"could not read purchase {purchase_id}")
        return _body(response)

    def poll_orders(self, cursor, since=None):
        """Purchases after the cursor's lastPurchaseHash, oldest first; `since` starts a
        listing of its own from that moment (the cursor continues it)."""
        cursor = cursor if isinstance(cursor, dict) else {}
        if since is not None:
            start = _utc(since)
            after = cursor.get("lastPurchaseHash") if cursor.get("startDate") == start else None
        else:
            start = cursor.get("startDate") or _utc(datetime.now(UTC) - FIRST_POLL_REACH)
            after = cursor.get("lastPurchaseHash")
        params = {"limit": POLL_LIMIT, "descending": "false", "startDate": start}
        if after:
            params["lastPurchaseHash"] = after
        path = "/purchases/v2"
        response = self.request(
            "GET", path, url=self.purchase_url + path, purpose="orders", params=params
        )
        if response.status_code != 200:
            self.channel_error(response, "could not list purchases")
        body = _body(response)
        rows = body.get("purchases")
        if not isinstance(rows, list):
            self.channel_error(response, "answered the purchase listing without purchases")
        known = {purchases.purchase_id(p): p for p in rows}
        orders = [order for p in rows for order in self._orders(p, known)[0]]
        last = body.get("lastPurchaseHash") or after
        next_cursor = {"startDate": start, **({"lastPurchaseHash": last} if last else {})}
        return inbound.OrderPage(orders, next_cursor, more=len(rows) >= POLL_LIMIT)

    def register_webhooks(self, url):
        email = self.setting("contact_email")
        if not email:
            raise ConfigError(
                "zettle: set the channel's 'Webhook contact email' (Zettle requires one) "
                "before registering the webhook"
            )
        path = f"{ORG}/subscriptions"
        listing = self.request("GET", path, url=self.pusher_url + path, purpose="webhooks")
        if listing.status_code != 200:
            self.channel_error(listing, "could not list the webhook subscriptions")
        found = _json(listing)
        subscriptions = [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []
        self._keep_secret(s.get("signingKey") for s in subscriptions)
        replaced = [
            s["uuid"]
            for s in subscriptions
            if s.get("destination") == url and isinstance(s.get("uuid"), str)
        ]
        for sid in replaced:
            gone = f"{path}/uuid/{quote(sid, safe='')}"
            response = self.request("DELETE", gone, url=self.pusher_url + gone, purpose="webhooks")
            if response.status_code not in (200, 204, 404):
                self.channel_error(response, f"could not delete subscription {sid}")
        response = self.request(
            "POST",
            path,
            url=self.pusher_url + path,
            purpose="webhooks",
            json={
                "uuid": str(uuid.uuid1()),
                "transportName": "WEBHOOK",
                "eventNames": list(EVENTS),
                "destination": url,
                "contactEmail": email,
            },
        )
        if response.status_code != 200:
            self.channel_error(response, "refused the webhook subscription")
        key = _body(response).get("signingKey")
        if not isinstance(key, str) or not key:
            self.channel_error(response, "answered the subscription without its signingKey")
        self._keep_secret([key])
        note = f"replaced {len(replaced)} subscription(s) of this URL" if replaced else ""
        return inbound.Registration(EVENTS, key, note)

    def _keep_secret(self, keys):
        """Signing keys are secrets: out of the exchange just recorded, and of any later."""
        self.redactor.add(*keys)
        record = self.exchanges[-1]
        record.response_body = self.redactor.text(record.response_body)


def _utc(moment):
    """A moment as the Purchase API's startDate [I]."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _body(response):
    body = _json(response)
    return body if isinstance(body, dict) else {}


def _message(response):
    """Zettle's developerMessage: what an item failure says."""
    return _body(response).get("developerMessage") or response.text[:200]
