"""Polling Webflow's orders with a cursor that stays small (channels-inbound.md §1.5).

GET /v2/sites/{site}/orders filters by status and pages by offset (at most 100 a page), but
has no updated-since filter and no sort. A poll is a round of these steps:

1. count every order (the unfiltered listing's pagination.total: one request);
2. sweep in full the statuses an order leaves without a date saying so (pending, unfulfilled,
   disputed: a payment or an unfulfil sets no date), and return the orders new or changed
   since the last round. The cursor keeps a fingerprint (status and latest date) of each
   order in these statuses;
3. fetch, one by one, the orders that were in them last round and are not now (fulfilled,
   refunded or dispute lost since): their state now;
4. only when the count grew by more than the new orders the round saw (an order placed and
   then fulfilled or refunded between two rounds, its webhooks lost), sweep fulfilled,
   refunded and dispute-lost too, and return those dated since the last round began (less
   MARGIN, for the clocks); and once more next round when the count is still not made up
   (an order that moved while the round read other statuses). An order is new when it was
   placed after every order the last round saw (Webflow's dates against Webflow's: no clock
   between): an older one in an open status again (unfulfilled, disputed) is not, so it
   cannot hide a new one from the count.

The first round (an empty cursor) has nothing to compare with: it returns the orders in open
statuses, not the shop's history. With `since` (catching up after an outage) a round sweeps
the unfiltered listing in full and returns every order in an open status and every other
one dated since then.

The cursor is {"open": {order id: fingerprint}, "total", "began", "newest", "recheck"} after
a round (newest: when the latest order it saw was placed): its size is the shop's orders in
open statuses, never its history. A round that needs more than REQUESTS requests goes on over
further calls (page.more), its progress kept in "round".

What a round does not see: a fulfilled order refunded afterwards (no stock effect: Webflow
never restocks, so its stage stays fulfilled; its webhook tells the new status). Offset
paging over a listing that changes while it is read can skip an order (more than OVERLAP
leaving its status during one page): one the cursor knew is then fetched by id (step 3), a
new one is found next round while it is open; `pull_orders --since` sweeps everything.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from connectors.platforms.inbound import OrderPage

OPEN = ("pending", "unfulfilled", "disputed")
CLOSED = ("fulfilled", "refunded", "dispute-lost")
EVERY, GONE = "", "gone"  # steps beside the statuses: the unfiltered listing; step 3
LIMIT = 100  # orders a page (Webflow's maximum)
OVERLAP = 5  # a full page's next one starts this many back: orders that left the status
# while it was read shift the rest down, and would otherwise be skipped
REQUESTS = 10  # a call's share of a round
MARGIN = timedelta(minutes=10)


def poll(cursor, since, now, *, count, page, fetch) -> OrderPage:
    """One call's share of a round. `count()`: how many orders the site has; `page(status,
    offset)`: (Orders, total) of one page ("" for every status); `fetch(order id)`: one
    Order, or None when Webflow no longer knows it."""
    rnd = Round(cursor, since, now, count)
    budget = REQUESTS - rnd.spent
    while rnd.steps and budget > 0:
        budget -= rnd.step(page, fetch)
    orders = list(rnd.found.values())
    if rnd.steps:
        return OrderPage(orders, {**cursor, "round": rnd.state}, more=True)
    kept = {key: rnd.state[key] for key in ("open", "total", "began", "newest")}
    return OrderPage(orders, {**kept, "recheck": rnd.state["since"] is None and rnd.missing()})


def fingerprint(order) -> str:
    stamp = order.updated_at.isoformat() if order.updated_at else ""
    return hashlib.blake2b(f"{order.status} {stamp}".encode(), digest_size=6).hexdigest()


class Round:
    """A round in progress: its state is JSON (kept in the cursor between calls)."""

    def __init__(self, cursor, since, now, count):
        self.was = cursor.get("open") or {}  # the open orders of the last round
        self.last_total = cursor.get("total")
        self.last_newest = cursor.get("newest")
        self.recheck = cursor.get("recheck", False)  # the last round's count was not made up
        self.found = {}  # order id -> Order, returned by this call
        self.spent = 0
        state = cursor.get("round")
        wanted = since.astimezone(UTC).isoformat() if since is not None else None
        if state is None or (wanted is not None and state["since"] != wanted):
            state = self.begin(cursor, wanted, now, count())
            self.spent = 1
        self.state = state

    @staticmethod
    def begin(cursor, since, now, total):
        if since is not None:
            after, steps = since, [EVERY]
        else:
            began = cursor.get("began")
            after = (datetime.fromisoformat(began) - MARGIN).isoformat() if began else None
            steps = [*OPEN, GONE]
        return {
            "began": now.isoformat(),
            "total": total,
            "since": since,
            "after": after,  # orders dated from then on are recent
            "steps": steps,
            "offset": 0,
            "open": {},  # what "open" becomes
            "new": [],  # the orders seen placed after all the last round saw
            "newest": cursor.get("newest"),  # the latest placing seen, this round or before
            "gone": None,  # step 3's orders still to fetch
        }

    @property
    def steps(self):
        return self.state["steps"]

    def step(self, page, fetch) -> int:
        """One request of the next step; how many requests that took (0 or 1)."""
        status = self.steps[0]
        if status == GONE:
            return self.fetch_gone(fetch)
        orders, total = page(status, self.state["offset"])
        for order in orders:
            self.saw(order, status)
        offset = self.state["offset"] + len(orders)
        if not orders or offset >= total:
            self.next_step()
        else:
            self.state["offset"] = offset - (OVERLAP if len(orders) > OVERLAP else 0)
        return 1

    def saw(self, order, status):
        mark, order_id = fingerprint(order), order.order_id
        self.placed(order)
        if order.status in OPEN:
            self.state["open"][order_id] = mark
        if status in OPEN:
            wanted = self.was.get(order_id) != mark
        else:
            wanted = (status == EVERY and order.status in OPEN) or self.recent(order.updated_at)
        if wanted:
            self.found[order_id] = order

    def fetch_gone(self, fetch) -> int:
        if self.state["gone"] is None:
            self.state["gone"] = [i for i in self.was if i not in self.state["open"]]
        if not self.state["gone"]:
            self.next_step()
            if self.missing() or self.recheck:
                self.steps.extend(CLOSED)
            return 0
        order = fetch(self.state["gone"].pop(0))
        if order is not None:
            self.placed(order)  # (known last round: never new)
            self.found[order.order_id] = order
            if order.status in OPEN:  # it moved between open statuses while they were swept
                self.state["open"][order.order_id] = fingerprint(order)
        return 1

    def next_step(self):
        self.steps.pop(0)
        self.state["offset"] = 0

    def missing(self) -> bool:
        """More orders appeared than were seen: some went straight to a closed status."""
        if self.last_total is None:
            return False  # the first round: nothing to compare with
        return self.state["total"] - self.last_total > len(self.state["new"])

    def placed(self, order):
        """Count it when it is new; keep the latest placing seen."""
        if self.new(order) and order.order_id not in self.state["new"]:
            self.state["new"].append(order.order_id)
        if order.placed_at is not None:
            newest = self.state["newest"]
            if newest is None or order.placed_at > datetime.fromisoformat(newest):
                self.state["newest"] = order.placed_at.isoformat()

    def new(self, order) -> bool:
        """Placed after every order the last round saw (an order without a date is not new:
        counted as old, it can only make the closed statuses be swept)."""
        if self.last_newest is None:
            return True
        newest = datetime.fromisoformat(self.last_newest)
        return order.placed_at is not None and order.placed_at > newest

    def recent(self, when) -> bool:
        after = self.state["after"]
        return after is None or when is None or when >= datetime.fromisoformat(after)
