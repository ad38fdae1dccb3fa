"""Shopify GraphQL Admin API, inventory part (shopify.md).

Base URL: the shop, https://{shop}.myshopify.com (a URL given with /admin... is trimmed);
every call is POST {base}/admin/api/{version}/graphql.json. The version is the setting
"api_version" (default 2026-10). Shopify serves a retired version as the oldest supported one
without a word (§1.3, "fall forward"), so before its first call a connector asks
`publicApiVersions` (then every 6 hours: the time of the check is kept in the channel's
auth_state, so its other workers do not ask again) and refuses, as a ConfigError, a version
the shop does not list as supported; an answer whose X-Shopify-API-Version is not the
version asked for is refused the same way.

Auth (§1.2): header X-Shopify-Access-Token, either the credential "access_token" (a legacy
admin-created app's token, which never expires: a 401 is an AuthError), or the client
credentials grant of a Dev Dashboard app (credentials "client_id" and "client_secret":
POST {base}/admin/oauth/access_token, a 24-hour token kept in auth_state, renewed a minute
before it expires and on a 401). Webhooks are signed with the app's client secret: the
credential "webhook_secret" holds it (registering the webhooks copies the client secret
there; an admin-created app's API secret key is entered by hand).

Listings: remote_id = the InventoryItem GID (a bare number is read as one), remote_parent_id
= the Location GID, or blank for the channel's setting "location_id".

Reads (§4.1): nodes(ids:) { ... on InventoryItem { tracked inventoryLevel(locationId:)
{ quantities(names: ["available"]) } } }, READ_BATCH (125) ids a query (Shopify's cost stays far
under its 1,000 a query), per location. An item Shopify does not track (tracked: false)
sells without limit: it reads as unlimited (None). An item not stocked at the location reads
as 0 (nothing to sell there).

Writes (§3.1, compare-and-set): inventorySetQuantities, name "available", reason
"correction", up to 250 quantities a call, referenceDocumentUri
gid://backoffice/StockMovement/{the newest ledger entry the quantities reflect}, and for each
quantity changeFromQuantity = what Shopify last confirmed (the engine's `expected`: our last
push's quantityAfterChange, or what a read found). The @idempotent key is a hash of the shop,
the listings, the whole input and the connector's own random part: a request this
connector sends again (after THROTTLED) has the same key, the next run's another (see
idempotency_key: a deterministic key would have a store's restored level answered "done").
Shopify lowers available on every order and keeps its committed
itself: CHANGE_FROM_QUANTITY_STALE means it moved since (a sale) and is answered "stale": the
engine takes in the channel's orders, reads, and sends the new target from what it read
(strategy.push's `moved`), never an unchecked set. A batch with a refused quantity applies
nothing (§3.1 [I]): its other quantities are sent again at once without it.
ITEM_NOT_STOCKED_AT_LOCATION: with the setting "activate_missing", inventoryActivate stocks
the item there with available = the target; without it, the item is refused with words.
Other userErrors refuse the item with Shopify's code and message.

Cost and throttling (§5.1): every answer's extensions.cost says what the query cost
(requestedQueryCost) and what the bucket holds (throttleStatus: currentlyAvailable,
maximumAvailable, restoreRate). Before each request, the connector waits until the bucket,
refilling at its restoreRate since that answer, holds what this query cost the last time
(a first guess before that); when an answer leaves less than its own cost, the channel's
pacer is held for the refill too, so the other workers wait with it. THROTTLED (at HTTP 200,
nothing applied) waits for the refill and sends again, at most THROTTLE_RETRIES times; a
refill longer than the pacer's patience (5 s) is RateLimited with that wait.
MAX_COST_EXCEEDED is a bug of ours: a ChannelError saying so. HTTP 401/403 AuthError; 402
(unpaid), 423 (locked) and 404 (no such shop or version path) ChannelError; 429 RateLimited
(Retry-After); 5xx TransientError; INTERNAL_SERVER_ERROR at 200 TransientError (maybe
applied, for a mutation: the retry is the same request, with the same key).

Sales coming back (§6): webhooks orders/create, orders/paid, orders/fulfilled,
orders/cancelled, refunds/create and inventory_levels/update, registered with
webhookSubscriptionCreate (an existing subscription of ours for a topic is kept). A delivery
is valid when X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body under the
webhook secret (compared in constant time; no secret, nothing valid). Its id is
X-Shopify-Event-Id (the same across duplicates), else X-Shopify-Webhook-Id. Order and
refund webhooks are read for the order's id, and the order is read as it stands now
(shopify.orders; an order's id is its number, as the admin shows it). poll_orders lists
orders(sortKey: UPDATED_AT, query: "updated_at:>'…'"),
10 a page (each with 25 line items, more read on: about 800 points), with a cursor; each pass
starts OVERLAP (5 minutes) before the newest change it saw.

Choices where the docs are silent ([I]):
- inventory_levels/update does not say whose change it was: a level equal to what we last
  confirmed is our echo (the core's rule); any other is a change on Shopify's side, which
  may be an order's: the push that follows is compare-and-set, so it finds the sale
  (stale), takes in the orders and sends the target as they leave it. A channel that
  accepts remote changes as counts may count an order's change before its order arrives.
- Untracked variants (ours) are sent as `untracked_quantity` (default 9999), as Shopify's
  own "unlimited" (tracked: false) is an item setting, changed only in Shopify.
- Idempotency keys are per connector (one sync run): compare-and-set is what keeps a
  resend from applying twice (its changeFromQuantity is stale once the first one landed).
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from connectors.exceptions import (
    AuthError,
    ChannelError,
    ConfigError,
    RateLimited,
    TransientError,
)
from connectors.platforms.base import (
    COMPARE_AND_SET,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)
from connectors.platforms.inbound import (
    Event,
    OrderPage,
    Registration,
    Unreadable,
    Verdict,
    header,
)
from connectors.platforms.shopify import orders

API_VERSION = "2026-10"
VERSION_PATTERN = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
BATCH_MAX = 250  # quantities per inventorySetQuantities (every input array's limit)
READ_BATCH = 125  # ids per nodes(ids:) read: about 375 points, far under 1,000; 2 a batch
MAX_QUERY_COST = 1000  # Shopify's most for one query
REFILL_MARGIN = 0.05  # seconds added to a computed refill
REASON = "correction"
THROTTLE_RETRIES = 4  # THROTTLED answers waited out for one request
VERSION_CHECK_EVERY = 6 * 3600.0  # seconds a supported version is believed
CHECKED = "api_version_checked"  # auth_state: {version: epoch seconds of the last check}
ORDER_PAGE = orders.ORDER_PAGE
OVERLAP = timedelta(minutes=5)
HMAC_HEADER = "x-shopify-hmac-sha256"
STALE_CODES = ("CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE")
NOT_STOCKED = "ITEM_NOT_STOCKED_AT_LOCATION"
BUSY = "IDEMPOTENCY_CONCURRENT_REQUEST"
TOPIC_ENUMS = {topic: topic.upper().replace("/", "_") for topic in orders.TOPICS}
MAX_SECRETS = 4  # webhook secrets tried (a rotation keeps the old one for up to an hour)

_checked = {}  # (shop URL, version): when the shop last listed it supported (this process)
_checked_lock = threading.Lock()

VERSIONS = "query ApiVersions { publicApiVersions { handle supported } }"
SHOP = "query Shop { shop { id name } }"
LEVELS = """
query Levels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem { id tracked
      inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
    }
  }
}
"""
SET = """
mutation PushStock($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id createdAt
      changes(quantityNames: ["available"]) {
        name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}
"""
ACTIVATE = """
mutation Activate($item: ID!, $location: ID!, $available: Int, $key: String!) {
  inventoryActivate(inventoryItemId: $item, locationId: $location, available: $available)
    @idempotent(key: $key) {
    inventoryLevel { id quantities(names: ["available"]) { name quantity } }
    userErrors { field message }
  }
}
"""
ORDERS = f"""
query Orders($query: String!, $after: String) {{
  orders(first: {ORDER_PAGE}, after: $after, sortKey: UPDATED_AT, query: $query) {{
    nodes {{ {orders.ORDER_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
ORDER = f"query Order($id: ID!) {{ order(id: $id) {{ {orders.ORDER_FIELDS} }} }}"
LINES = f"""
query Lines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {orders.LINE_PAGE}, after: $after) {{
      nodes {{ {orders.LINE_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""
REFUNDS = f"""
query Refunds($id: ID!) {{
  order(id: $id) {{ refunds(first: {orders.REFUNDS_FIRST}) {{ {orders.REFUND_FIELDS} }} }}
}}
"""
REFUND_LINES = f"""
query RefundLines($id: ID!, $after: String) {{
  node(id: $id) {{
    ... on Refund {{
      refundLineItems(first: {orders.REFUND_LINE_PAGE}, after: $after) {{
        nodes {{ {orders.REFUND_LINE_FIELDS} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
  }}
}}
"""
SUBSCRIPTIONS = """
query Subscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""
SUBSCRIBE = """
mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


class ShopifyConnector(Connector):
    platform = "shopify"
    default_retry_after = 2.0
    unknown_item = "Shopify has no such inventory item"
    webhooks = True
    stock_events = True
    polls_orders = True
    registers_webhooks = True
    store_failed_status = 503  # Shopify retries any non-2xx (8 times over 4 hours)
    webhook_secret_field = "webhook_secret"
    credential_fields = (
        Setting(
            "access_token",
            "Admin API access token",
            required=False,
            help="An admin-created custom app's token (shpat_…). Leave blank to use the "
            "client credentials grant below.",
        ),
        Setting(
            "client_id",
            "Client id",
            required=False,
            help="A Dev Dashboard app installed on this store: its client id.",
        ),
        Setting(
            "client_secret",
            "Client secret",
            required=False,
            help="The app's client secret (also what signs its webhooks).",
        ),
        Setting(
            "webhook_secret",
            "Webhook signing secret",
            required=False,
            help="The app's client secret (API secret key for an admin-created app); "
            "registering the webhooks of a client-credentials app sets it.",
        ),
    )
    setting_fields = (
        Setting(
            "api_version",
            "API version",
            required=False,
            help=f"Shopify's API version (default {API_VERSION}); checked against the "
            "versions the shop supports at start-up.",
        ),
        Setting(
            "location_id",
            "Location",
            required=False,
            help="The Location GID (gid://shopify/Location/…) of listings whose remote "
            "parent id is blank.",
        ),
        Setting(
            "activate_missing",
            "Stock items at the location when missing",
            required=False,
            kind="bool",
            help="An item not stocked at the location is stocked there (inventoryActivate) "
            "instead of refused.",
        ),
        untracked_setting(),
    )

    def __init__(self, *, base_url, **kwargs):
        base_url = base_url.rstrip("/")
        if "/admin" in base_url:
            base_url = base_url[: base_url.index("/admin")]
        super().__init__(base_url=base_url, **kwargs)
        self.version = self.setting("api_version", API_VERSION)
        self.graphql_url = f"{self.base_url}/admin/api/{self.version}/graphql.json"
        self.throttled = 0  # THROTTLED answers this connector waited out
        self.cost_spent = 0  # actual query cost of its answers
        self._learned = {}  # query text: the requestedQueryCost Shopify last gave it
        self._bucket = None  # (currentlyAvailable, restoreRate, maximumAvailable, monotonic)
        self._sending = None  # the query of the request on its way
        self._run = secrets.token_hex(8)  # this connector's part of its idempotency keys

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        token = credentials.get("access_token")
        pair = credentials.get("client_id"), credentials.get("client_secret")
        if not token and not all(pair):
            problems.append(
                "credential 'Admin API access token', or both 'Client id' and "
                "'Client secret', are required"
            )
        version = str(settings.get("api_version") or API_VERSION).strip()
        if not VERSION_PATTERN.match(version):
            problems.append(
                f"setting 'API version' {version[:20]!r} is not a Shopify version "
                "(YYYY-01, -04, -07, -10, or unstable)"
            )
        location = settings.get("location_id")
        if location and not orders.gid("Location", str(location)):
            problems.append("setting 'Location' must be a Location GID (gid://shopify/Location/…)")
        return problems

    @property
    def uses_token(self):
        return not self.credentials.get("access_token")

    @property
    def capabilities(self):
        return Capabilities(
            writes=COMPARE_AND_SET,
            batch_max=BATCH_MAX,
            reads_levels=True,
            # Requests are not what Shopify counts (query cost is: rate_hold below); this
            # only keeps a burst of small requests in step with what its bucket refills.
            rate_limit=(40, 1),
            read_max=READ_BATCH,
        )

    # ------------------------------------------------------------------ auth

    def auth_headers(self):
        token = (
            self.auth_state["access_token"] if self.uses_token else self.credentials["access_token"]
        )
        return {"X-Shopify-Access-Token": token, "Accept": "application/json"}

    def obtain_token(self):
        response = self.send_unauthenticated(
            "POST",
            self.base_url + "/admin/oauth/access_token",
            json={
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "grant_type": "client_credentials",
            },
        )
        if response.status_code != 200:
            self.token_refused(response, "the client credentials")
        body = self.token_body(response, "access_token")
        lifetime = body.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = 86399
        return body["access_token"], float(lifetime)

    def probe(self):
        shop = self.graphql(SHOP, {}, purpose="probe").get("shop") or {}
        return f"authenticated; shop {shop.get('name') or shop.get('id') or '?'}"

    # ------------------------------------------------------------------ GraphQL

    def graphql(self, query, variables, *, purpose, keys=(), cost=None, mutation=False):
        """The `data` of one GraphQL call, after the version check, paced by query cost;
        THROTTLED waited out; every other error raised as its kind."""
        if purpose != "version":
            self._check_version()
        body = {"query": query, "variables": variables}
        expected = self._learned.get(query, cost or 10)
        for _ in range(THROTTLE_RETRIES + 1):
            self._wait_for_bucket(expected)
            self._sending = query
            try:
                response = self.request(
                    "POST", "", url=self.graphql_url, purpose=purpose, keys=keys, json=body
                )
            except TransientError as exc:
                if mutation:
                    raise
                raise TransientError(str(exc), maybe_applied=False) from exc
            answer = self._answer(response)
            errors = answer.get("errors")
            if not errors:
                return answer.get("data") or {}
            codes = [_code(e) for e in errors] if isinstance(errors, list) else []
            if "THROTTLED" not in codes:
                self._refused(response, errors, codes, mutation)
            self.throttled += 1
            self.exchanges[-1].outcome = "rate_limited"
            expected = max(expected, _number(_cost(answer).get("requestedQueryCost")) or 0)
            wait = self._refill(expected)
            if wait > self.pacer.max_wait:
                raise RateLimited(
                    f"{self.platform} throttled the query; its bucket refills in {wait:.0f} s",
                    retry_after=wait,
                )
            # The next send waits for the refill (rate_hold held the pacer, _wait_for_bucket).
        raise RateLimited(
            f"{self.platform} throttled the query {THROTTLE_RETRIES + 1} times",
            retry_after=max(self._refill(expected), 1.0),
        )

    def _answer(self, response):
        status = response.status_code
        if status == 404:
            self.channel_error(
                response,
                f"has no shop or API version at {self.graphql_url} (check the base URL and "
                "the API version)",
            )
        if status == 402:
            self.channel_error(response, "the shop is frozen for an unpaid bill (402)")
        if status == 423:
            self.channel_error(response, "the shop is locked (423)")
        if status != 200:
            self.channel_error(response, "answered the GraphQL call unexpectedly")
        served = response.headers.get("X-Shopify-API-Version", "").strip()
        if served and served != self.version and self.version != "unstable":
            self.exchanges[-1].outcome = "channel"
            raise ConfigError(
                f"{self.platform} channel: asked for API version {self.version}, Shopify "
                f"served {served[:20]}: it silently serves another version for one it no "
                "longer supports. Set 'API version' to a supported one"
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self.channel_error(response, "answered with no JSON object")
        cost = _cost(answer)
        actual = cost.get("actualQueryCost")
        if isinstance(actual, int | float) and not isinstance(actual, bool):
            self.cost_spent += actual
        return answer

    def _refused(self, response, errors, codes, mutation):
        record = self.exchanges[-1]
        words = "; ".join(
            str(e.get("message") if isinstance(e, dict) else e)[:200]
            for e in (errors if isinstance(errors, list) else [errors])
        )
        if "ACCESS_DENIED" in codes:
            record.outcome = "auth"
            raise AuthError(f"{self.platform} denied access (a scope is missing?): {words}")
        if "INTERNAL_SERVER_ERROR" in codes:
            record.outcome = "transient"
            raise TransientError(
                f"{self.platform} had an internal error: {words}", maybe_applied=mutation
            )
        if "MAX_COST_EXCEEDED" in codes:
            record.outcome = "channel"
            raise ChannelError(
                f"{self.platform}: a query of ours costs more than Shopify allows at once "
                f"(a bug in the connector, please report it): {words}"
            )
        if "SHOP_INACTIVE" in codes:
            self.channel_error(response, "the shop is inactive")
        record.outcome = "channel"
        raise ChannelError(
            f"{self.platform} refused the query (a bug in the connector, or an API version "
            f"it does not match): {words}"
        )

    def rate_hold(self, response):
        """Seconds nobody should send to the shop (the pacer's hold, shared by the channel's
        workers): what its bucket lacks for another request like this one, at its restore
        rate; a 429: its Retry-After. Every answer's throttleStatus is kept for the next
        request's own wait (_wait_for_bucket)."""
        if response.status_code == 429:
            return self.retry_after(response)[0]
        try:
            answer = response.json()
        except ValueError:
            return 0.0
        cost = _cost(answer) if isinstance(answer, dict) else {}
        status = cost.get("throttleStatus") if isinstance(cost.get("throttleStatus"), dict) else {}
        available, rate = (
            _number(status.get("currentlyAvailable")),
            _number(status.get("restoreRate")),
        )
        if available is None or not rate:
            return 0.0
        maximum = _number(status.get("maximumAvailable")) or available
        self._bucket = (available, rate, maximum, time.monotonic())
        requested = _number(cost.get("requestedQueryCost"))
        if requested is not None and self._sending:
            self._learned[self._sending] = requested
        return self._refill(requested or 0)

    def _refill(self, need):
        """Seconds until the bucket, as last seen, holds `need` points (0: it does now), with
        a margin for the clocks between us."""
        if self._bucket is None:
            return 0.0
        available, rate, maximum, seen = self._bucket
        now = min(maximum, available + rate * (time.monotonic() - seen))
        if now >= need:
            return 0.0
        return (need - now) / rate + REFILL_MARGIN

    def _wait_for_bucket(self, need):
        """Before a request expected to cost `need`: wait until the bucket holds it (longer
        than the pacer's patience: RateLimited, nothing sent)."""
        wait = self._refill(min(need, MAX_QUERY_COST))
        if wait > self.pacer.max_wait:
            raise RateLimited(
                f"{self.platform}'s cost bucket refills in {wait:.0f} s",
                retry_after=wait,
                paced=True,
            )
        if wait > 0:
            time.sleep(wait)
            self.pacer.waited += wait

    def _check_version(self):
        """Once per VERSION_CHECK_EVERY for the shop (kept in auth_state, so every worker of
        the channel sees it, and in this process)."""
        kept = self.auth_state.get(CHECKED)
        stamp = kept.get(self.version) if isinstance(kept, dict) else None
        if _number(stamp) is not None and 0 <= time.time() - stamp < VERSION_CHECK_EVERY:
            return
        with _checked_lock:
            stamp = _checked.get((self.base_url, self.version), 0.0)
        if time.time() - stamp < VERSION_CHECK_EVERY:  # checked here for another channel
            self._checked_at(stamp)
            return
        data = self.graphql(VERSIONS, {}, purpose="version", cost=2)
        rows = data.get("publicApiVersions")
        rows = rows if isinstance(rows, list) else []
        versions = {r.get("handle"): r.get("supported") for r in rows if isinstance(r, dict)}
        if self.version != "unstable" and versions.get(self.version) is not True:
            supported = sorted(h for h, ok in versions.items() if ok and isinstance(h, str))
            state = "is no longer supported" if self.version in versions else "is not offered"
            raise ConfigError(
                f"{self.platform} channel: API version {self.version} {state} by this shop; "
                f"Shopify would silently serve another version instead. Set 'API version' "
                f"to one of {', '.join(supported) or '(none listed)'}"
            )
        with _checked_lock:
            _checked[(self.base_url, self.version)] = time.time()
        self._checked_at(time.time())

    def _checked_at(self, stamp):
        self.auth_state[CHECKED] = {self.version: stamp}  # a number: never redacted
        self.keep_auth_state()

    # ------------------------------------------------------------------ items

    def location(self, item):
        return orders.gid("Location", item.remote_parent_id) or orders.gid(
            "Location", self.setting("location_id", "")
        )

    def problem(self, item):
        if not orders.gid("InventoryItem", item.remote_id):
            return (
                "the listing's remote id is not an InventoryItem GID "
                "(gid://shopify/InventoryItem/…)"
            )
        if not self.location(item):
            return (
                "the listing names no location: its remote parent id or the channel's "
                "'Location' setting must be a Location GID"
            )
        return ""

    # ------------------------------------------------------------------ reads

    def read(self, items):
        levels = {}
        by_location = {}
        for item in items:
            if not self.problem(item):
                by_location.setdefault(self.location(item), []).append(item)
        for location, group in by_location.items():
            for start in range(0, len(group), READ_BATCH):
                levels.update(self._read(location, group[start : start + READ_BATCH]))
        return levels

    def _read(self, location, items):
        ids = list(dict.fromkeys(orders.gid("InventoryItem", i.remote_id) for i in items))
        data = self.graphql(
            LEVELS,
            {"ids": ids, "location": location},
            purpose="read",
            keys=[i.key for i in items],
            cost=len(ids) * 3 + 2,
        )
        nodes = data.get("nodes")
        found = {}
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                found[node["id"]] = node
        levels = {}
        for item in items:
            node = found.get(orders.gid("InventoryItem", item.remote_id))
            if node is not None:
                levels[item.key] = self._level(item, node)
        return levels

    def _level(self, item, node):
        if node.get("tracked") is False:
            return Level(None, None, MappingProxyType({"tracked": False}))
        level = node.get("inventoryLevel")
        if not isinstance(level, dict):  # not stocked at the location: nothing sells there
            return Level(0, None, MappingProxyType({"stocked": False}))
        available = _available(level)
        return Level(self.shown(item, available), available)

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        todo = []
        for write in writes:
            current = write.current
            if current is not None and current.detail.get("tracked") is False:
                batch.rejected(
                    write,
                    "Shopify does not track this item's quantity (Track quantity is off): it "
                    "sells without limit there; turn tracking on in Shopify to sync it",
                )
            elif current is not None and current.detail.get("stocked") is False:
                self._not_stocked(batch, write)
            elif write.expected is None:
                batch.stale(write, "what Shopify holds is not known: read it first")
            else:
                todo.append(write)
        for _ in range(3):  # a refused quantity fails its whole batch: the rest again
            if not todo:
                break
            todo = self._set(batch, todo)
        for write in todo:
            batch.retry(write, "not applied: its batch-mates kept being refused")
        return batch.result()

    def _set(self, batch, writes):
        """One inventorySetQuantities; returns the writes to send again (not applied because
        a batch-mate was refused)."""
        quantities = [
            {
                "inventoryItemId": orders.gid("InventoryItem", w.item.remote_id),
                "locationId": self.location(w.item),
                "quantity": w.target,
                "changeFromQuantity": w.expected,
            }
            for w in writes
        ]
        entries = [w.item.ledger_entry for w in writes if w.item.ledger_entry is not None]
        reference = (
            f"gid://backoffice/StockMovement/{max(entries)}"
            if entries
            else f"gid://backoffice/Listing/{writes[0].item.key}"
        )
        payload = {
            "name": "available",
            "reason": REASON,
            "referenceDocumentUri": reference,
            "quantities": quantities,
        }
        keys = [w.key for w in writes]
        key = self.idempotency_key("set", keys, payload)
        data = self.graphql(
            SET,
            {"input": payload, "key": key},
            purpose="write",
            keys=keys,
            cost=10,
            mutation=True,
        )
        result = data.get("inventorySetQuantities")
        if not isinstance(result, dict):
            raise ChannelError(f"{self.platform}: inventorySetQuantities answered no payload")
        record = self.exchanges[-1]
        refused = self._user_errors(result.get("userErrors"), writes)
        group = result.get("inventoryAdjustmentGroup")
        after = _after(group)
        again = []
        for index, write in enumerate(writes):
            error = refused.get(index)
            if error is not None:
                self._refusal(batch, write, *error)
            elif group is None and refused:
                again.append(write)  # all or nothing: not applied for a batch-mate
            else:
                raw = after.get(
                    (quantities[index]["inventoryItemId"], quantities[index]["locationId"])
                )
                raw = write.target if raw is None else raw
                batch.ok(write, self.shown(write.item, raw))
        if refused:
            record.outcome = "rejected" if len(refused) == len(writes) else "partial"
        batch.record(record, writes)
        return again

    def _user_errors(self, errors, writes):
        """{index of the write: (code, message)} of a payload's userErrors."""
        refused = {}
        for error in errors if isinstance(errors, list) else []:
            if not isinstance(error, dict):
                continue
            code = str(error.get("code") or "")
            message = str(error.get("message") or "")[:300]
            index = _index(error.get("field"), len(writes))
            if index is None:
                if len(writes) != 1:
                    raise ChannelError(
                        f"{self.platform} refused the batch: {code} {message}".strip()
                    )
                index = 0
            refused.setdefault(index, (code, message))
        return refused

    def _refusal(self, batch, write, code, message):
        words = f"{code}: {message}" if code else message
        if code in STALE_CODES:
            batch.stale(write, f"Shopify's level moved since it was confirmed ({words})")
        elif code == NOT_STOCKED:
            self._not_stocked(batch, write)
        elif code == BUSY:
            batch.retry(write, words)
        else:
            batch.rejected(write, words)

    def _not_stocked(self, batch, write):
        location = self.location(write.item)
        if not self.setting("activate_missing", False):
            batch.rejected(
                write,
                f"the item is not stocked at {location}: stock it there in Shopify, or turn on "
                "the channel's 'Stock items at the location when missing'",
            )
            return
        item = orders.gid("InventoryItem", write.item.remote_id)
        variables = {"item": item, "location": location, "available": write.target}
        variables["key"] = self.idempotency_key("activate", [write.key], variables)
        data = self.graphql(
            ACTIVATE, variables, purpose="write", keys=[write.key], cost=10, mutation=True
        )
        result = data.get("inventoryActivate")
        result = result if isinstance(result, dict) else {}
        errors = [e for e in result.get("userErrors") or [] if isinstance(e, dict)]
        level = result.get("inventoryLevel")
        if errors or not isinstance(level, dict):
            self.exchanges[-1].outcome = "rejected"
            words = "; ".join(str(e.get("message"))[:200] for e in errors) or "no level"
            batch.rejected(write, f"Shopify refused to stock the item at {location}: {words}")
        else:
            available = _available(level)
            batch.ok(
                write, self.shown(write.item, write.target if available is None else available)
            )
        batch.record(self.exchanges[-1], [write])

    def idempotency_key(self, what, keys, variables):
        """The key of a request: the same request (shop, listings, every number and
        reference) sent again by this connector has the same key; another connector (the
        next sync run) draws another. Shopify answers a key it has seen with the stored
        answer of the first request and applies nothing: the same numbers sent again later,
        after the store's level came back to them (a store that lost its levels, then Push
        now), would be answered "done" and not applied. A resend of a request whose answer
        was lost needs no key to be safe: its changeFromQuantity no longer matches if the
        first one landed (stale: read, already at the target)."""
        material = json.dumps(
            [self.base_url, self.version, what, sorted(keys), variables, self._run],
            sort_keys=True,
            separators=(",", ":"),
        )
        return f"backoffice-{what}-{hashlib.sha256(material.encode()).hexdigest()[:40]}"

    # ------------------------------------------------------------------ sales coming back

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        candidates = (
            [s for s in secret.split() if s.isprintable()] if isinstance(secret, str) else []
        )
        if not candidates:
            return Verdict(
                False,
                "the channel has no webhook signing secret (the app's client secret): "
                "register the webhooks or enter it",
            )
        sent = header(headers, HMAC_HEADER)
        if not isinstance(sent, str) or not sent.strip():
            return Verdict(False, "no X-Shopify-Hmac-Sha256 header: not signed by Shopify")
        if not isinstance(body, bytes | bytearray):
            return Verdict(False, "the body is not bytes")
        sent = sent.strip()
        if not sent.isascii():
            return Verdict(False, "X-Shopify-Hmac-Sha256 is not base64")
        for candidate in candidates[:MAX_SECRETS]:
            digest = hmac.new(candidate.encode(), bytes(body), hashlib.sha256).digest()
            if hmac.compare_digest(base64.b64encode(digest), sent.encode()):
                return Verdict(True, "X-Shopify-Hmac-Sha256 matches the body and the secret")
        return Verdict(False, "X-Shopify-Hmac-Sha256 does not match the body and the secret")

    @classmethod
    def webhook_envelope(cls, headers, body):
        topic = header(headers, "x-shopify-topic").strip()
        if not topic or len(topic) > 64 or not topic.isprintable():
            raise Unreadable("no X-Shopify-Topic header: not a Shopify webhook")
        orders.loads(body)
        event_id = (
            header(headers, "x-shopify-event-id") or header(headers, "x-shopify-webhook-id")
        ).strip()
        if len(event_id) > 128 or not event_id.isprintable():
            raise Unreadable("X-Shopify-Event-Id is not an id of at most 128 characters")
        return event_id, topic

    def read_webhook(self, headers, body):
        event_id, topic = self.webhook_envelope(headers, body)
        payload = orders.loads(body)
        if topic == orders.LEVEL_TOPIC:
            change = orders.read_level(payload, self._parent_of)
            if change is None:
                return Event(event_id, topic, note="the level has no available quantity")
            return Event(event_id, topic, stock=(change,))
        if topic in orders.ORDER_TOPICS or topic == orders.REFUND_TOPIC:
            order_id = orders.order_gid(topic, payload)
            returned = orders.refund_returns(payload) if topic == orders.REFUND_TOPIC else {}
            node = self.graphql(ORDER, {"id": order_id}, purpose="orders", cost=80).get("order")
            if node is None:
                return Event(event_id, topic, note=f"{topic}: Shopify no longer shows {order_id}")
            return Event(event_id, topic, orders=(self._order(node, returned),))
        return Event(event_id, topic, note=f"{topic} is not an order or stock topic")

    def _order(self, node, returned=None):
        """An Order node, read whole (every line; its refunds' returns where a line has less
        left than ordered), as an inbound.Order. `returned`: what a refunds/create body
        restocked, which a read just after it may not show yet."""
        node = self._whole(node)
        returned = dict(returned or {})
        if orders.refunded(node):
            for line, units in self._returns(node.get("id")).items():
                returned[line] = max(units, returned.get(line, 0))
        return orders.read_order(node, returned)

    def _returns(self, order_id):
        """{line item GID: units} the order's refunds restocked as returned goods."""
        data = self.graphql(REFUNDS, {"id": order_id}, purpose="orders", cost=850)
        order = data.get("order") if isinstance(data.get("order"), dict) else {}
        refunds = order.get("refunds")
        if not isinstance(refunds, list):
            return {}
        rows = []
        for refund in refunds:
            if not isinstance(refund, dict):
                raise Unreadable(f"order {order_id}: a refund is not a JSON object")
            rows += self._read_on(
                refund.get("refundLineItems"),
                REFUND_LINES,
                refund.get("id"),
                ("node", "refundLineItems"),
                cost=205,
            )
        return orders.refund_rows_returned(rows, order_id)

    def _whole(self, node):
        """The order node with every line item (an order of more than LINES_FIRST lines is
        read on, page by page)."""
        if not isinstance(node, dict) or not isinstance(node.get("lineItems"), dict):
            return node
        rows = self._read_on(
            node["lineItems"], LINES, node.get("id"), ("order", "lineItems"), cost=305
        )
        return {**node, "lineItems": {"nodes": rows}}

    def _read_on(self, connection, query, node_id, path, *, cost):
        """Every node of a connection: those it came with, then the pages after them, read
        with `query` ($id: the node holding the connection; `path`: where the answer has
        the connection, e.g. ("order", "lineItems")), 10,000 at most."""
        connection = connection if isinstance(connection, dict) else {}
        root, field = path
        rows = list(connection.get("nodes") or [])
        info = connection.get("pageInfo") if isinstance(connection.get("pageInfo"), dict) else {}
        for _ in range(100):
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not isinstance(after, str):
                break
            more = self.graphql(
                query, {"id": node_id, "after": after}, purpose="orders", cost=cost
            ).get(root)
            more = (more or {}).get(field) if isinstance(more, dict) else None
            if not isinstance(more, dict):
                break
            rows += more.get("nodes") or []
            info = more.get("pageInfo") if isinstance(more.get("pageInfo"), dict) else {}
        return rows

    def _parent_of(self, location):
        """The remote_parent_id listings at `location` carry: blank for the channel's
        own location (listings may leave it blank), else the Location GID."""
        own = orders.gid("Location", self.setting("location_id", ""))
        return "" if location == own else location

    def poll_orders(self, cursor, since=None):
        now = datetime.now(UTC)
        cursor = cursor if isinstance(cursor, dict) else {}
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
            start, after, seen = since, None, None
        else:
            start = orders.when(cursor.get("since")) or now - OVERLAP
            after = cursor.get("after") if isinstance(cursor.get("after"), str) else None
            seen = orders.when(cursor.get("seen"))
        query = f"updated_at:>'{orders.wire(start)}'"
        data = self.graphql(
            ORDERS, {"query": query, "after": after}, purpose="orders", cost=ORDER_PAGE * 60
        )
        listing = data.get("orders")
        if not isinstance(listing, dict) or not isinstance(listing.get("nodes"), list):
            raise ChannelError(f"{self.platform}: the orders listing has no nodes")
        found = []
        for node in listing["nodes"]:
            updated = orders.when(node.get("updatedAt")) if isinstance(node, dict) else None
            if updated is not None and (seen is None or updated > seen):
                seen = updated
            order = self._order(node)
            if order.lines:
                found.append(order)
        info = listing.get("pageInfo") if isinstance(listing.get("pageInfo"), dict) else {}
        more = bool(info.get("hasNextPage")) and isinstance(info.get("endCursor"), str)
        if more:
            kept = {"since": orders.wire(start), "after": info["endCursor"]}
            if seen is not None:
                kept["seen"] = orders.wire(seen)
        else:
            # The next pass: from the newest change seen (none: when this page was asked
            # for), never past then, OVERLAP before.
            newest = min(seen, now) if seen is not None else now
            kept = {"since": orders.wire(max(start, newest - OVERLAP))}
        return OrderPage(found, kept, more)

    def register_webhooks(self, url):
        existing = self._subscriptions()
        made = []
        for topic in orders.TOPICS:
            enum = TOPIC_ENUMS[topic]
            if any(s.get("topic") == enum and s.get("uri") == url for s in existing):
                continue
            data = self.graphql(
                SUBSCRIBE,
                {"topic": enum, "sub": {"uri": url, "format": "JSON"}},
                purpose="webhooks",
                cost=10,
                mutation=True,
            )
            result = data.get("webhookSubscriptionCreate")
            result = result if isinstance(result, dict) else {}
            errors = [e for e in result.get("userErrors") or [] if isinstance(e, dict)]
            if errors or not isinstance(result.get("webhookSubscription"), dict):
                words = "; ".join(str(e.get("message"))[:200] for e in errors) or "no subscription"
                self.exchanges[-1].outcome = "channel"
                raise ChannelError(f"{self.platform} refused the {topic} webhook: {words}")
            made.append(topic)
        kept = len(orders.TOPICS) - len(made)
        note = f"{len(made)} subscribed" + (f", {kept} already there" if kept else "")
        # A client-credentials app's webhooks are signed with its client secret.
        return Registration(orders.TOPICS, self.credentials.get("client_secret") or None, note)

    def _subscriptions(self):
        found, after = [], None
        for _ in range(10):
            data = self.graphql(SUBSCRIPTIONS, {"after": after}, purpose="webhooks", cost=110)
            listing = data.get("webhookSubscriptions")
            listing = listing if isinstance(listing, dict) else {}
            found += [n for n in listing.get("nodes") or [] if isinstance(n, dict)]
            info = listing.get("pageInfo") if isinstance(listing.get("pageInfo"), dict) else {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not isinstance(after, str):
                break
        return found


def _cost(answer):
    extensions = answer.get("extensions") if isinstance(answer, dict) else None
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    return cost if isinstance(cost, dict) else {}


def _throttled(answer):
    errors = answer.get("errors")
    return isinstance(errors, list) and any(_code(e) == "THROTTLED" for e in errors)


def _code(error):
    extensions = error.get("extensions") if isinstance(error, dict) else None
    return str(extensions.get("code") or "") if isinstance(extensions, dict) else ""


def _number(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and value >= 0 else None


def _available(level):
    """The `available` of an InventoryLevel's quantities (None when it lists none)."""
    for row in level.get("quantities") or []:
        if isinstance(row, dict) and row.get("name") == "available":
            quantity = row.get("quantity")
            if isinstance(quantity, int) and not isinstance(quantity, bool):
                return quantity
    return None


def _after(group):
    """{(item GID, location GID): available after the change} of an adjustment group."""
    after = {}
    changes = group.get("changes") if isinstance(group, dict) else None
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict) or change.get("name") != "available":
            continue
        item = (
            (change.get("item") or {}).get("id") if isinstance(change.get("item"), dict) else None
        )
        location = (
            change["location"].get("id") if isinstance(change.get("location"), dict) else None
        )
        quantity = change.get("quantityAfterChange")
        if item and location and isinstance(quantity, int) and not isinstance(quantity, bool):
            after[(item, location)] = quantity
    return after


def _index(field, count):
    """The quantity a userError's field path names (["input", "quantities", "3", ...])."""
    if not isinstance(field, list):
        return None
    for position, part in enumerate(field[:-1]):
        if part == "quantities":
            following = str(field[position + 1])
            if following.isdigit() and int(following) < count:
                return int(following)
    return None
