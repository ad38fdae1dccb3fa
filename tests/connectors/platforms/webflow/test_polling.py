"""Webflow's order polling against a store that moves between polls (Hypothesis): whatever
happens to its orders, after a poll every order's stage is the one the polls last returned
for it, and the cursor stays the size of the open orders (webflow.polling)."""

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.platforms.webflow import payloads, polling

MOVES = {  # move -> (statuses it applies to, status after, the date it sets)
    "pay": (("pending",), "unfulfilled", None),
    "fulfill": (("unfulfilled",), "fulfilled", "fulfilledOn"),
    "unfulfill": (("fulfilled",), "unfulfilled", None),
    "refund": (("pending", "unfulfilled", "fulfilled", "disputed"), "refunded", "refundedOn"),
    "dispute": (("unfulfilled", "fulfilled"), "disputed", "disputedOn"),
    "lose": (("disputed",), "dispute-lost", "disputeUpdatedOn"),
}


class Store:
    """Webflow's orders listing, in memory, on a clock of its own (a second a change)."""

    def __init__(self):
        self.orders = {}
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)

    def tick(self):
        self.clock += timedelta(seconds=1)
        return self.clock.isoformat()

    def place(self, paid):
        order_id = f"{len(self.orders):03x}-sim"
        self.orders[order_id] = {
            "orderId": order_id,
            "status": "unfulfilled" if paid else "pending",
            "acceptedOn": self.tick(),
            "purchasedItems": [{"variantId": "sku-1", "count": 1}],
        }

    def move(self, index, move):
        if not self.orders:
            return
        order = list(self.orders.values())[index % len(self.orders)]
        allowed, status, date = MOVES[move]
        if order["status"] in allowed:
            order["status"] = status
            if date:
                order[date] = self.tick()
            if move == "unfulfill":
                order["fulfilledOn"] = None

    def stages(self):
        return {i: payloads.read_order(o).stage for i, o in self.orders.items()}

    # the API the connector calls
    def count(self):
        return len(self.orders)

    def page(self, status, offset):
        listed = [o for o in self.orders.values() if status in ("", o["status"])]
        chunk = listed[offset : offset + polling.LIMIT]
        return [payloads.read_order(o) for o in chunk], len(listed)

    def fetch(self, order_id):
        return payloads.read_order(self.orders[order_id])


class Poller:
    """The scheduled job: calls poll until the round is over, keeping what it was told."""

    def __init__(self, store):
        self.store, self.cursor, self.known, self.calls = store, {}, {}, 0

    def call(self):
        """One call; True while the round goes on."""
        page = polling.poll(
            self.cursor,
            None,
            self.store.clock,
            count=self.store.count,
            page=self.store.page,
            fetch=self.store.fetch,
        )
        self.known.update((order.order_id, order.stage) for order in page.orders)
        self.cursor, self.calls = page.cursor, self.calls + 1
        return page.more

    def round(self):
        while self.call():
            pass


STEPS = st.lists(
    st.tuples(st.just("place"), st.booleans())
    | st.tuples(st.sampled_from(sorted(MOVES)), st.integers(0, 60))
    | st.just(("poll",)),
    max_size=60,
)


def run(store, step):
    if step[0] == "place":
        store.place(step[1])
    elif step[0] in MOVES:
        store.move(step[1], step[0])


@settings(deadline=None, max_examples=150)
@given(steps=STEPS, limit=st.integers(1, 4), requests=st.integers(2, 6))
def test_after_each_poll_every_order_is_known_at_its_stage(steps, limit, requests):
    store = Store()
    with (
        mock.patch.object(polling, "LIMIT", limit),
        mock.patch.object(polling, "REQUESTS", requests),
    ):
        poller = Poller(store)
        poller.round()
        for step in [*steps, ("poll",)]:
            run(store, step)
            if step == ("poll",):
                poller.round()
                assert poller.known == store.stages()
    open_orders = {i for i, o in store.orders.items() if o["status"] in polling.OPEN}
    assert set(poller.cursor["open"]) == open_orders
    assert len(json.dumps(poller.cursor)) < 200 + 40 * len(open_orders)


@settings(deadline=None, max_examples=150)
@given(steps=STEPS, limit=st.integers(1, 4))
def test_changes_during_a_round_are_known_after_the_next(steps, limit):
    store = Store()
    with mock.patch.object(polling, "LIMIT", limit), mock.patch.object(polling, "REQUESTS", 2):
        poller = Poller(store)
        poller.round()
        for step in steps:  # "poll": one call, mid-round or starting one
            run(store, step)
            if step == ("poll",):
                poller.call()
        poller.round()  # the round under way ends; the next sees everything
        poller.round()
    assert poller.known == store.stages()


def test_an_order_open_again_does_not_hide_a_new_one_that_closed():
    store = Store()
    poller = Poller(store)
    poller.round()
    store.place(paid=True)
    poller.round()
    store.move(0, "fulfill")
    poller.round()
    store.place(paid=True)  # placed and shipped between two polls, its webhooks lost,
    store.move(1, "fulfill")
    store.move(0, "unfulfill")  # while the older order is open again: the count is the same

    poller.round()

    assert poller.known == store.stages()
