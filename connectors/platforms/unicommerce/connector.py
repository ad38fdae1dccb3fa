"""Unicommerce's marketplace contract, with us as Uniware (channels.md §3.1; DESIGN.md
"Unicommerce's direction").

The marketplace hosts the contract and our connector calls it as Uniware would: it logs in at
/authToken with the seller's marketplace login, then POSTs /updateInventory with the header
`apiKey: <accessToken>` (raw, no "Bearer") and {"inventoryList": [{"productId":
remote_parent_id, "variantId": remote_id, "inventory": "<N>", "facilityCode"?}]}. The value is
absolute, sent as a string of digits as the current docs show (negative targets as "0"). The
answer's status (SUCCESS, FAILED, PARTIAL_SUCCESS) and failedProductList are mapped to
exactly the failed lines, with the marketplace's message.

Credentials: "username", "password". The marketplace decides how long its token lasts and
does not say, so it is kept until a call answers 401, when the base logs in again.
Settings (all optional):
- "auth_method": "POST" (the default: a JSON body, kept out of the marketplace's access logs)
  or "GET" (the login in the query string, both documented forms; http.Redactor strips it
  from stored exchanges, and config/settings.py keeps urllib3's request-line log quiet).
- "facility_code": the marketplace's warehouse code, sent as facilityCode on every line and
  used to read that facility's stock back.
- "batch_max": lines per request, the marketplace's maximum (1000 unless it says otherwise).
- "untracked_quantity": the contract has no "infinite", so an untracked variant is sent as
  this number (9999 by default) and read back as untracked when the marketplace shows at
  least that.
hsnCode is not sent: a listing carries no HSN code.

Reads use the "elementary" GET /products (pageSize 50), filtered by SKU where we know it.

Sales come back by polling only (channels-inbound.md §5): the contract has no webhooks, the
marketplace never calls us, so webhooks and registers_webhooks are False (the base's
verify_webhook and read_webhook refuse every delivery) and there is no signing secret. The
marketplace takes a sale off its listing, and our next absolute push sets the level again
(§5.6), once the poll has booked the order.

poll_orders plays Uniware's two order calls, one request (or one batch of status checks) per
call, `more` until a pass is done:
1. Get Orders: GET /orders?pageSize=50&pageNumber=N&orderDateFrom&orderDateTo&orderStatus for
   CREATED, then PENDING_VERIFICATION, each paged until a short page, over the 15 days before
   the pass began (from `since` when given). An order listed without items is fetched by id.
2. Get Order Status: GET /orders?pageNumber=1&pageSize=5&orderIds=a,b,... for the orders the
   cursor tracks and this pass has not seen: open and pending ones on every pass (to see
   cancellations and dispatch), dispatched ones every 3 days (to see returns), as §5.3 does.
The cursor: {"polled_at": when the last whole pass began, "passes": how many were made,
"tracked": {order id: [placed, "pending"|"open"|"fulfilled", last checked (epoch seconds),
the pass that last saw it]}, "pass": where the pass under way stands}. An order leaves it
once cancelled or returned (every line), or TRACK_DAYS after it was placed, so it stays
bounded by the orders of a month.

Choices where the docs are silent ([I], [gap]):
- Dates are sent as ISO 8601 in UTC with the offset ("2023-02-02T16:13:44+00:00"), the form
  of the Get Orders sample; orderDate is read in both documented forms (orders.py).
- Orders are tracked for TRACK_DAYS (30) after they were placed, past the 15-day listing
  window, so that a return within a marketplace's usual return period is seen; later
  changes are staff's to book.
- When the last pass began more than 15 days ago (an outage), the window reaches back to it
  (an hour earlier, for clocks) so nothing placed in between is missed.
- An order the marketplace answers but that cannot be read (an unknown item status, no
  items) is left out of the page, and the reason is kept on that request's exchange
  (`error`): one bad order does not stop every other sale from coming back.
- A listing page whose first order is the previous page's first (a marketplace ignoring
  pageNumber) ends that listing, rather than paging forever.
- Orders seen again are returned again: the core applies each line's transition once.
"""

import time
from datetime import UTC, datetime

from connectors.exceptions import AuthError
from connectors.platforms.base import (
    ABSOLUTE,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)
from connectors.platforms.inbound import FULFILLED, OrderPage, Unreadable
from connectors.platforms.unicommerce.orders import FINAL, WAITING, read_order, text

DEFAULT_BATCH = 1000
# No expiry is announced; a 401 renews the token, so this only bounds how stale it gets.
TOKEN_LIFETIME = 30 * 86_400
PAGE = 50
DAY = 86_400
WINDOW = 15 * DAY  # Get Orders looks this far back (§5.2: "generally 15 days")
TRACK_DAYS = 30  # an order's status is checked this long after it was placed [I]
RECHECK_DISPATCHED = 3 * DAY  # §5.3: dispatched orders are checked every 3 days
CLOCK_MARGIN = 3600  # a window reaching back to the last pass starts this much earlier
STATUS_PAGE = 5  # Get Order Status: ids per request (§5.3)
CHECKS = 50  # tracked orders checked per call (ten requests)
LISTED = ("CREATED", WAITING)  # the orderStatus values Get Orders is asked for, in turn
CHECKING = "status"  # the pass's last step: Get Order Status for the tracked orders


class UnicommerceConnector(Connector):
    platform = "unicommerce"
    credential_fields = (
        Setting("username", "Marketplace username"),
        Setting("password", "Marketplace password"),
    )
    setting_fields = (
        Setting(
            "auth_method",
            "Login method",
            required=False,
            kind="choice",
            choices=("POST", "GET"),
            help="POST (default: a JSON body) or GET (the login in the query string).",
        ),
        Setting(
            "facility_code",
            "Facility code",
            required=False,
            help="The marketplace's warehouse code, sent on every line and read back.",
        ),
        Setting(
            "batch_max",
            "Lines per request",
            required=False,
            kind="int",
            minimum=1,
            help=f"The marketplace's maximum; {DEFAULT_BATCH} by default.",
        ),
        Setting(
            "recheck_dispatched_hours",
            "Check shipped orders every (hours)",
            required=False,
            kind="int",
            minimum=0,
            help="How often a shipped order is asked for again, to see a return: 72 (Uniware's "
            "3 days) by default.",
        ),
        untracked_setting(),
    )
    uses_token = True
    webhooks = False  # the contract has no webhooks: Uniware (we) pulls
    polls_orders = True
    registers_webhooks = False

    @property
    def _recheck(self):
        """Seconds between checks of a shipped order (to see a return)."""
        return self.setting("recheck_dispatched_hours", RECHECK_DISPATCHED // 3600) * 3600

    @property
    def capabilities(self):
        # Uniware itself pushes every 10 minutes; the contract states no request limit, so
        # a request a second is our own courtesy pace [I]. Reads scan the catalogue once.
        return Capabilities(
            writes=ABSOLUTE,
            batch_max=self.setting("batch_max", DEFAULT_BATCH),
            reads_levels=True,
            rate_limit=(60, 60),
            read_max=100_000,
        )

    # ------------------------------------------------------------------ auth

    def obtain_token(self):
        login = {"username": self.credentials["username"], "password": self.credentials["password"]}
        url, accept = self.base_url + "/authToken", {"Accept": "application/json"}
        if self.setting("auth_method", "POST").upper() == "GET":
            response = self.send_unauthenticated("GET", url, params=login, headers=accept)
        else:
            response = self.send_unauthenticated("POST", url, json=login, headers=accept)
        if response.status_code == 429 or response.status_code >= 500:
            self.judge(response)
        body = _json(response)
        if response.status_code not in (200, 401, 403):
            self.channel_error(response, "has no usable /authToken at this address")
        if body.get("status") != "SUCCESS" or not body.get("accessToken"):
            self.exchanges[-1].outcome = "auth"
            raise AuthError(
                f"unicommerce marketplace refused the login ({response.status_code}: "
                f"{body.get('status') or 'no token'})"
            )
        return body["accessToken"], TOKEN_LIFETIME

    def auth_headers(self):
        return {"apiKey": self.auth_state["access_token"], "Accept": "application/json"}

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        response = self.request(
            "POST",
            "/updateInventory",
            purpose="write",
            keys=[w.key for w in writes],
            json={"inventoryList": [self._line(w) for w in writes]},
        )
        body = _json(response)
        failures = [f for f in body.get("failedProductList") or [] if isinstance(f, dict)]
        status = str(body.get("status") or "").upper()
        if not failures and (response.status_code != 200 or status != "SUCCESS"):
            # Nothing pinned on a line: the request itself was refused (too long, malformed).
            self.channel_error(response, "refused the inventory update")
        batch = Batch(writes)
        unmatched = []
        for row in failures:
            ids = (str(row.get("productId", "")), str(row.get("variantId", "")))
            culprits = [
                w for w in writes if (str(w.item.remote_parent_id), str(w.item.remote_id)) == ids
            ]
            for write in culprits:
                batch.rejected(write, str(row.get("message") or "refused by the marketplace"))
            if not culprits:
                unmatched.append(str(row.get("message") or ids))
        for write in writes:
            if write.key in batch.outcomes:
                continue
            if status == "FAILED" or unmatched:
                # Not refused itself, but not known to be applied: an absolute resend is safe.
                batch.retry(write, "the marketplace failed the batch: " + "; ".join(unmatched))
            else:
                batch.ok(write, self.shown(write.item, write.target))
        outcomes = batch.result()
        record = self.exchanges[-1]
        batch.record(record)
        if not all(o.ok for o in outcomes):
            record.outcome = "partial" if any(o.ok for o in outcomes) else "rejected"
        return outcomes

    def _line(self, write):
        item = write.item
        line = {
            "productId": str(item.remote_parent_id),
            "variantId": str(item.remote_id),
            "inventory": str(write.target),
        }
        if self.setting("facility_code"):
            line["facilityCode"] = self.setting("facility_code")
        return line

    # ------------------------------------------------------------------ reads

    def read(self, items):
        found = {}
        with_sku = [i for i in items if i.sku]
        # The SKU filter saves paging the whole catalogue; what it misses is looked for there.
        for start in range(0, len(with_sku), PAGE):
            chunk = with_sku[start : start + PAGE]
            self._scan(chunk, found, skus=",".join(i.sku for i in chunk))
        rest = [i for i in items if i.key not in found]
        if rest:
            self._scan(rest, found)
        return found

    def _scan(self, items, found, skus=None):
        wanted = {(str(i.remote_parent_id), str(i.remote_id)): i for i in items}
        page, left = 1, len(wanted)
        while left:
            params = {"pageNumber": page, "pageSize": PAGE, "publishedStatus": "PUBLISHED"}
            if skus:
                params["skus"] = skus
            response = self.request("GET", "/products", purpose="read", params=params)
            if response.status_code != 200:
                self.channel_error(response, "could not list products")
            products = _json(response).get("products") or []
            for product in products:
                for variant in product.get("variants") or []:
                    item = wanted.get((str(product.get("id")), str(variant.get("variantId"))))
                    if item is not None and item.key not in found:
                        held = self._held(variant)
                        found[item.key] = Level(self.shown(item, held), held)
                        left -= 1
            if len(products) < PAGE:
                break
            page += 1

    def _held(self, variant):
        by_facility = variant.get("facilityInventory") or {}
        return int(by_facility.get(self.setting("facility_code"), variant.get("inventory")) or 0)

    # ------------------------------------------------------------------ orders

    def poll_orders(self, cursor, since=None):
        now = int(time.time())
        tracked = _tracked(cursor.get("tracked"))
        run = _pass(cursor.get("pass"))
        if run is None or (since is not None and run.get("since") != since.isoformat()):
            run = _new_pass(cursor, since, now)
        orders = self._list(run) if run["step"] in LISTED else self._check(tracked, run, now)
        for order in orders:
            _track(tracked, order, run, now)
        if run["step"] == CHECKING and not _due(tracked, run, self._recheck):
            horizon = now - TRACK_DAYS * DAY
            done = {
                "polled_at": _wire_date(run["started"]),
                "passes": run["number"],
                "tracked": {k: v for k, v in tracked.items() if v[0] >= horizon},
            }
            return OrderPage(orders, done, more=False)
        return OrderPage(orders, {**cursor, "tracked": tracked, "pass": run}, more=True)

    def _list(self, run):
        """One page of Get Orders for the pass's status; the pass moves on past a short page."""
        params = {
            "pageSize": PAGE,
            "pageNumber": run["page"],
            "orderDateFrom": run["from"],
            "orderDateTo": run["to"],
            "orderStatus": run["step"],
        }
        listed = self._get_orders(params)
        first = text(listed[0].get("id")) if listed and isinstance(listed[0], dict) else ""
        if run["page"] > 1 and first and first == run.get("first"):
            self.exchanges[-1].error = "the same page again: the marketplace ignores pageNumber"
            listed = []
        if len(listed) < PAGE:
            after = LISTED.index(run["step"]) + 1
            run.update(step=LISTED[after] if after < len(LISTED) else CHECKING, page=1, first="")
        else:
            run.update(page=run["page"] + 1, first=first)
        return self._read(listed)

    def _check(self, tracked, run, now):
        """Get Order Status for the next tracked orders due a check."""
        orders = []
        due = _due(tracked, run, self._recheck)[:CHECKS]
        for start in range(0, len(due), STATUS_PAGE):
            orders += self._by_id(due[start : start + STATUS_PAGE])
        for order_id in due:  # also those not answered: the pass moves on
            tracked[order_id][2:] = [now, run["number"]]
        return orders

    def _read(self, listed):
        """The listed orders as inbound.Orders, each fetched by id where listed without its
        items; unreadable ones are left out, with the reason on the request's exchange."""
        bare = [_bare(raw) for raw in listed if _bare(raw)]
        orders = self._readable(raw for raw in listed if not _bare(raw))
        for start in range(0, len(bare), STATUS_PAGE):
            orders += self._by_id(bare[start : start + STATUS_PAGE])
        return orders

    def _by_id(self, ids):
        params = {"pageNumber": 1, "pageSize": STATUS_PAGE, "orderIds": ",".join(ids)}
        return self._readable(self._get_orders(params))

    def _readable(self, listed):
        orders, problems = [], []
        for raw in listed:
            try:
                orders.append(read_order(raw))
            except Unreadable as exc:
                problems.append(str(exc))
        if problems:
            record = self.exchanges[-1]
            left_out = "left out: " + "; ".join(problems)
            record.error = f"{record.error}; {left_out}" if record.error else left_out
        return orders

    def _get_orders(self, params):
        response = self.request("GET", "/orders", purpose="orders", params=params)
        if response.status_code != 200:
            self.channel_error(response, "could not list orders")
        listed = _json(response).get("orders")
        if not isinstance(listed, list):
            self.channel_error(response, "answered no list of orders")
        return listed


def _bare(raw):
    """The id of an order listed without its items ("" for any other)."""
    if isinstance(raw, dict) and not raw.get("orderItems"):
        return text(raw.get("id"))
    return ""


def _pass(run):
    """The cursor's pass under way, or None when there is none (or it is not one of ours)."""
    if not isinstance(run, dict) or run.get("step") not in (*LISTED, CHECKING):
        return None
    numbers = all(isinstance(run.get(k), int) for k in ("page", "started", "number"))
    dates = all(isinstance(run.get(k), str) for k in ("from", "to"))
    return dict(run) if numbers and dates else None


def _new_pass(cursor, since, now):
    """Where a pass starts: the listing window, the time it began, its number."""
    start = now - WINDOW
    last = _epoch(cursor.get("polled_at"))
    if since is not None:
        start = int(since.timestamp())
    elif last is not None:
        start = min(start, last - CLOCK_MARGIN)
    passes = cursor.get("passes")
    return {
        "number": (passes if isinstance(passes, int) else 0) + 1,
        "since": since.isoformat() if since else None,
        "from": _wire_date(start),
        "to": _wire_date(now),
        "started": now,
        "step": LISTED[0],
        "page": 1,
        "first": "",
    }


def _track(tracked, order, run, now):
    """Keep an order to check in later passes, or let it go once every line is done."""
    if order.stage in FINAL:
        tracked.pop(order.order_id, None)
        return
    placed = int(order.placed_at.timestamp()) if order.placed_at else None
    before = tracked.get(order.order_id)
    placed = placed or (before[0] if before else now)
    tracked[order.order_id] = [placed, order.stage, now, run["number"]]


def _due(tracked, run, every=RECHECK_DISPATCHED):
    """The tracked orders this pass has still to check, in a stable order: those it has not
    seen, dispatched ones only once `every` seconds have passed since their last check."""
    recheck = run["started"] - every
    return sorted(
        order_id
        for order_id, (_, stage, checked, seen) in tracked.items()
        if seen < run["number"] and (stage != FULFILLED or checked <= recheck)
    )


def _tracked(kept):
    """The cursor's tracked orders, {id: [placed, stage, last checked, pass last seen]},
    keeping only well-formed entries."""
    if not isinstance(kept, dict):
        return {}
    return {
        str(k): list(v)
        for k, v in kept.items()
        if isinstance(v, list)
        and len(v) == 4
        and all(isinstance(v[n], int) for n in (0, 2, 3))
        and isinstance(v[1], str)
    }


def _wire_date(epoch):
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _epoch(value):
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return int(when.timestamp()) if when.tzinfo else None


def _json(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
