"""Sales coming back from HighLevel: its sandbox sells, delivers signed webhooks to a receiver
over HTTP, serves its orders, and the connector reads what it sends (channels-inbound.md §2)."""

import itertools
import json
import time
from base64 import b64decode, b64encode
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.platforms.base import PushItem
from connectors.platforms.highlevel import connector as connector_module
from connectors.platforms.highlevel import polling
from connectors.platforms.highlevel.connector import HighLevelConnector
from connectors.platforms.highlevel.demo import LOCATION
from connectors.platforms.highlevel.testing import HighLevelHooks
from connectors.platforms.inbound import CANCELLED, FULFILLED, OPEN, PENDING
from connectors.platforms.strategy import push
from tests.connectors.webhook_receiver import Receiver

HOOKS = HighLevelHooks()
PATHS = itertools.count(1)
TOKEN = {"token": "pit-hl-sandbox-token"}
FOREIGN_ED25519 = (  # somebody else's key
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA7z96bcyuAwzdGb3NzQ036LdfOfOLL2Wq5HRDVZF/oQg=\n"
    "-----END PUBLIC KEY-----\n"
)


@dataclass
class Shop:
    """A seeded HighLevel sandbox whose app sends its webhooks to `url`, a path of its own on
    the module's receiver (a receiver takes half a second to stop)."""

    sandbox: object
    receiver: Receiver
    url: str
    credentials: dict

    def delivered(self):
        """(headers, body) of each delivery to this shop's URL so far."""
        path = self.url.removeprefix(self.receiver.url.removesuffix("/hook"))
        return [(h, b) for p, h, b in list(self.receiver.deliveries) if p == path]

    def wait_for(self, count, timeout=10.0):
        """The first `count` deliveries, once that many arrived."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            assert time.monotonic() < deadline, f"{len(self.delivered())} deliveries, not {count}"
            time.sleep(0.02)
        return self.delivered()[:count]

    def connector(self):
        return HighLevelConnector(
            base_url=self.sandbox.url,
            credentials={**TOKEN, **self.credentials},
            settings={"location_id": LOCATION},
        )

    def control(self, method, path, body=None, expect=200):
        response = requests.request(
            method, f"{self.sandbox.url}/_sandbox/{path}", json=body, timeout=5
        )
        assert response.status_code == expect, response.text
        return response.json()

    def sell(self, *lines, paid=True, expect=200):
        body = {"lines": [{"remote_id": r, "quantity": q} for r, q in lines], "paid": paid}
        return self.control("POST", "orders", body, expect)

    def act(self, order_id, action, expect=200):
        return self.control("POST", f"orders/{order_id}", {"action": action}, expect)

    def events(self, count):
        """The first `count` deliveries, each checked as HighLevel's and read."""
        read = []
        for headers, body in self.wait_for(count):
            verdict = HighLevelConnector.verify_webhook(
                headers, body, self.credentials["webhook_public_key"], time.time()
            )
            assert verdict.valid, verdict.reason
            read.append(self.connector().read_webhook(headers, body))
        return read

    def quantities(self):
        items = self.sandbox.state()["locations"][LOCATION]
        return {pid: item["availableQuantity"] for pid, item in items.items()}

    def settle(self, count, timeout=10.0):
        """The outbox's log once `count` attempts are in it and nothing waits to be sent."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.control("GET", "deliveries")
            if len(log["deliveries"]) >= count and not log["waiting"]:
                return log["deliveries"]
            assert time.monotonic() < deadline, f"{len(log['deliveries'])} attempts, not {count}"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def shop(running_highlevel, receiver):
    running_highlevel.seed(
        items=[
            {"priceId": "p1", "name": "Red mug", "sku": "MUG-R", "availableQuantity": 5},
            {"priceId": "p2", "name": "Blue mug", "sku": "MUG-B", "availableQuantity": 3},
        ]
    )
    url = f"{receiver.url}/{next(PATHS)}"
    return Shop(running_highlevel, receiver, url, HOOKS.webhook_setup(running_highlevel, url))


def lines_of(order):
    return [(li.line_id, li.remote_id, li.remote_parent_id, li.quantity) for li in order.lines]


def polled(shop, cursor=None, **kwargs):
    page = shop.connector().poll_orders(cursor or {}, **kwargs)
    return page, {o.order_id: o for o in page.orders}


# ---------------------------------------------------------------------- selling


def test_a_paid_sale_takes_its_units_and_sends_signed_order_and_price_events(shop):
    sale = shop.sell(("p1", 2), ("p2", 1))

    events = shop.events(4)

    assert [e.topic for e in events] == [
        "OrderCreate",
        "OrderStatusUpdate",
        "PriceUpdate",
        "PriceUpdate",
    ]
    placed, paid = events[0].orders[0], events[1].orders[0]
    assert (placed.order_id, placed.stage) == (sale["id"], PENDING)
    assert (paid.order_id, paid.stage, paid.status) == (
        sale["id"],
        OPEN,
        "completed/paid/unfulfilled",
    )
    assert lines_of(paid) == [("p1", "p1", "", 2), ("p2", "p2", "", 1)]
    assert paid.updated_at >= paid.placed_at
    assert [(c.remote_id, c.quantity) for e in events[2:] for c in e.stock] == [
        ("p1", 3),
        ("p2", 2),
    ]
    assert shop.quantities() == {"p1": 3, "p2": 2}
    assert len({e.event_id for e in events}) == 4
    assert sale["order"]["items"][0]["price"]["_id"] == "p1"


def test_an_unpaid_order_is_pending_and_takes_its_units_once_paid(shop):
    sale = shop.sell(("p1", 2), paid=False)
    (placed,) = shop.events(1)
    assert placed.orders[0].stage == PENDING
    assert shop.quantities()["p1"] == 5

    shop.act(sale["id"], "pay")

    _, paid, price = shop.events(3)
    assert (paid.topic, paid.orders[0].stage) == ("OrderStatusUpdate", OPEN)
    assert [(c.remote_id, c.quantity) for c in price.stock] == [("p1", 3)]


def test_a_shop_set_to_take_stock_at_checkout_takes_it_when_the_order_is_placed(shop):
    shop.sandbox.seed(settings={"stock_on": "create"})

    sale = shop.sell(("p1", 2), paid=False)
    shop.act(sale["id"], "pay")

    assert shop.quantities()["p1"] == 3
    assert [e.topic for e in shop.events(3)] == ["OrderCreate", "PriceUpdate", "OrderStatusUpdate"]


@pytest.mark.parametrize(
    ("actions", "stage"),
    [
        ([], OPEN),
        (["cancel"], CANCELLED),
        (["refund"], CANCELLED),
        (["cancel", "refund"], CANCELLED),
        (["fulfil"], FULFILLED),
        (["fulfil", "refund"], FULFILLED),  # a refund after shipping: the goods are gone
    ],
)
def test_each_action_leaves_the_order_at_its_stage(shop, actions, stage):
    sale = shop.sell(("p1", 1))
    for action in actions:
        shop.act(sale["id"], action)

    _, orders = polled(shop)

    assert orders[sale["id"]].stage == stage
    last = [e for e in shop.events(3 + sum(a != "fulfil" for a in actions)) if e.orders][-1]
    if actions and actions[-1] != "fulfil":  # a fulfilment sends nothing (§2.1)
        assert last.orders[0].stage == stage
    assert shop.quantities()["p1"] == 4  # HighLevel restocks nothing


def test_what_a_store_refuses_is_a_409_that_changes_nothing(shop):
    sale = shop.sell(("p1", 1), paid=False)
    shop.events(1)

    shop.sell(("p1", 6), expect=409)
    shop.act(sale["id"], "fulfil", expect=409)  # not paid
    shop.act(sale["id"], "refund", expect=409)  # nothing paid
    shop.act(sale["id"], "pay")
    shop.act(sale["id"], "pay", expect=409)
    shop.act(sale["id"], "fulfil")
    shop.act(sale["id"], "cancel", expect=409)  # shipped already
    shop.act(sale["id"], "fulfil", expect=409)  # nothing left to ship

    assert list(shop.sandbox.state()["orders"]) == [sale["id"]]
    assert shop.quantities() == {"p1": 4, "p2": 3}
    assert len(shop.settle(3)) == 3  # OrderCreate, OrderStatusUpdate, PriceUpdate


def test_a_price_that_keeps_selling_stops_at_zero_and_an_untracked_one_is_left_alone(shop):
    shop.sandbox.seed(
        items=[
            {"priceId": "p3", "availableQuantity": 1, "allowOutOfStockPurchases": True},
            {"priceId": "p4", "availableQuantity": 2, "trackInventory": False},
        ]
    )

    shop.sell(("p3", 3), ("p4", 5))

    assert shop.quantities() == {"p1": 5, "p2": 3, "p3": 0, "p4": 2}
    price_update = shop.events(3)[2]  # OrderCreate, OrderStatusUpdate, then p3's level
    assert (price_update.topic, price_update.stock) == ("PriceUpdate", ())
    assert price_update.note == "price p3 keeps selling when out of stock: its level limits nothing"


def test_staff_edits_and_our_own_writes_send_the_level_as_a_price_update(shop):
    shop.control("POST", "stock", {"remote_id": "p1", "quantity": 9})
    push(shop.connector(), [PushItem(key=1, remote_id="p2", quantity=7)])

    staff, ours = shop.events(2)

    assert [(c.remote_id, c.quantity, c.ours) for c in staff.stock] == [("p1", 9, False)]
    # Nothing marks our write: its echo is told by the level we sent (§2.7).
    assert [(c.remote_id, c.quantity) for c in ours.stock] == [("p2", 7)]
    assert shop.quantities() == {"p1": 9, "p2": 7}


# ---------------------------------------------------------------------- signatures


def one_delivery(shop):
    shop.sell(("p1", 1), paid=False)
    return shop.wait_for(1)[0]


def verdict(shop, headers, body, keys=None, now=None):
    keys = shop.credentials["webhook_public_key"] if keys is None else keys
    return HighLevelConnector.verify_webhook(headers, body, keys, now or time.time())


def public_keys(shop):
    return shop.sandbox.state()["webhook_public_keys"]


def test_a_forged_delivery_is_refused_and_the_next_one_is_not(shop):
    shop.control("POST", "webhook-failures", {"bad_signature_next": 1})

    shop.sell(("p1", 1), paid=False)
    shop.sell(("p2", 1), paid=False)
    (forged_headers, forged), (headers, body) = shop.wait_for(2)

    refused = verdict(shop, forged_headers, forged)
    assert not refused.valid
    assert refused.reason == "x-ghl-signature does not match the body for any key the channel holds"
    assert verdict(shop, headers, body).valid


def test_another_key_a_stale_time_or_no_signature_is_refused_with_its_reason(shop):
    headers, body = one_delivery(shop)
    unsigned = {k: v for k, v in headers.items() if not k.endswith("-signature")}

    stale = verdict(shop, headers, body, now=time.time() + 301)
    early = verdict(shop, headers, body, now=time.time() - 301)
    missing = verdict(shop, unsigned, body)
    no_key = verdict(shop, headers, body, keys="")
    wrong_key = verdict(shop, headers, body, keys=FOREIGN_ED25519)

    assert not any(v.valid for v in (stale, early, missing, no_key, wrong_key))
    assert stale.reason.startswith("stale: its timestamp is 30")
    assert early.reason.endswith("s in the future")
    assert missing.reason == "no x-ghl-signature or x-wh-signature header"
    assert no_key.reason == "the channel holds no HighLevel webhook public key to check with"
    assert wrong_key.reason.startswith("x-ghl-signature does not match the body")


def test_the_rsa_signature_is_checked_where_the_ed25519_one_cannot_be(shop):
    headers, body = one_delivery(shop)
    keys = public_keys(shop)
    legacy = {k: v for k, v in headers.items() if k != "x-ghl-signature"}

    assert verdict(shop, legacy, body, keys["rsa"]).valid
    assert verdict(shop, headers, body, keys["rsa"]).valid  # no Ed25519 key: the SDKs' rule
    only_ed = verdict(shop, legacy, body, keys["ed25519"])
    assert only_ed.reason == "x-wh-signature needs HighLevel's RSA public key; none is set"


def test_a_bad_ed25519_signature_does_not_fall_back_to_rsa(shop):
    headers, body = one_delivery(shop)
    tampered = {**headers, "x-ghl-signature": headers["x-ghl-signature"][::-1]}

    refused = verdict(shop, tampered, body)

    assert not refused.valid
    assert refused.reason.startswith("x-ghl-signature")


def test_a_raw_ed25519_key_is_read_as_the_sdks_read_it(shop):
    headers, body = one_delivery(shop)
    pem = public_keys(shop)["ed25519"]
    key = b64decode("".join(pem.splitlines()[1:-1]))[-32:]  # the end of SubjectPublicKeyInfo

    assert verdict(shop, headers, body, b64encode(key).decode()).valid
    assert verdict(shop, headers, body, key.hex()).valid


# ---------------------------------------------------------------------- deliveries


def test_setting_the_same_url_twice_sends_each_event_once(shop):
    HOOKS.webhook_setup(shop.sandbox, shop.url)

    shop.sell(("p1", 1))

    assert len(shop.settle(3)) == 3
    assert len(shop.delivered()) == 3
    assert shop.sandbox.state()["subscriptions"] == [
        {"url": shop.url, "events": ["OrderCreate", "OrderStatusUpdate", "PriceUpdate"]}
    ]


def test_a_subscription_gets_only_its_events(shop):
    shop.control("POST", "webhooks", {"url": shop.url, "events": ["PriceUpdate"]})

    shop.sell(("p1", 1))

    assert [e.topic for e in shop.events(1)] == ["PriceUpdate"]
    assert len(shop.settle(1)) == 1


def test_only_a_429_is_retried_six_attempts_in_all(shop, monkeypatch):
    monkeypatch.setattr(shop.sandbox.running.app.outbox, "retry_seconds", 0.02)
    monkeypatch.setattr(shop.receiver, "status", 429)

    shop.sell(("p1", 1), paid=False)
    attempts = shop.settle(6)
    shop.receiver.status = 500
    shop.sell(("p1", 1), paid=False)
    failed = shop.settle(7)[6:]

    assert [(d["attempt"], d["status"]) for d in attempts] == [(n, 429) for n in range(1, 7)]
    assert [(d["attempt"], d["status"]) for d in failed] == [(1, 500)]


def test_an_event_for_another_location_is_only_a_note(shop):
    shop.sell(("p1", 1), paid=False)
    headers, body = shop.wait_for(1)[0]
    other = HighLevelConnector(
        base_url=shop.sandbox.url, credentials=TOKEN, settings={"location_id": "elsewhere"}
    )

    event = other.read_webhook(headers, body)

    assert (event.orders, event.stock) == ((), ())
    assert "not this channel's 'elsewhere'" in event.note


# ---------------------------------------------------------------------- polling


def test_a_poll_returns_new_and_changed_orders_with_their_lines_then_nothing(shop):
    first = shop.sell(("p1", 2), ("p2", 1))
    second = shop.sell(("p2", 1), paid=False)
    connector = shop.connector()

    page = connector.poll_orders({})
    again = connector.poll_orders(page.cursor)
    shop.act(first["id"], "fulfil")
    later = connector.poll_orders(again.cursor)

    orders = {o.order_id: o for o in page.orders}
    assert (page.more, set(orders)) == (False, {first["id"], second["id"]})
    assert lines_of(orders[first["id"]]) == [("p1", "p1", "", 2), ("p2", "p2", "", 1)]
    assert (orders[first["id"]].stage, orders[second["id"]].stage) == (OPEN, PENDING)
    assert again.orders == []
    assert [(o.order_id, o.stage) for o in later.orders] == [(first["id"], FULFILLED)]
    assert [e.purpose for e in connector.exchanges] == ["orders"] * 6  # 3 lists, 3 details
    assert set(later.cursor) == {"seen"}  # no pass under way
    assert json.loads(json.dumps(later.cursor)) == later.cursor  # kept on the channel as JSON


def test_a_poll_lines_match_the_webhook_lines(shop):
    shop.sell(("p1", 2), ("p2", 1))
    _, webhook = shop.events(2)

    _, orders = polled(shop)

    assert orders[webhook.orders[0].order_id].lines == webhook.orders[0].lines


def test_an_order_changed_between_pages_is_not_lost(shop, monkeypatch):
    monkeypatch.setattr(connector_module, "ORDER_PAGE", 2)
    ids = [shop.sell(("p1", 1))["id"] for _ in range(3)]  # listed newest first
    connector = shop.connector()

    first = connector.poll_orders({})
    shop.act(ids[2], "cancel")  # seen on the first page, changed before the pass ends
    newer = shop.sell(("p2", 1))["id"]  # pushes every row one place down
    rest = connector.poll_orders(first.cursor)
    next_pass = connector.poll_orders(rest.cursor)

    assert (first.more, [o.order_id for o in first.orders]) == (True, [ids[2], ids[1]])
    assert (rest.more, [o.order_id for o in rest.orders]) == (False, [ids[0]])
    stages = {o.order_id: o.stage for o in next_pass.orders}
    assert stages == {newer: OPEN, ids[2]: CANCELLED}
    assert next_pass.more


def test_old_orders_are_out_of_the_window_unless_since_reaches_back(shop):
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    shop.sandbox.seed(
        orders=[{"_id": "old-order", "items": [{"priceId": "p1", "qty": 1}], "createdAt": old}]
    )
    recent = shop.sell(("p1", 1))["id"]

    page, orders = polled(shop)
    _, caught_up = polled(shop, page.cursor, since=datetime.now(UTC) - timedelta(days=60))

    assert set(orders) == {recent}
    assert set(caught_up) == {"old-order", recent}  # since: even unchanged ones come again
    assert set(page.cursor["seen"]) == {recent}


def test_the_cursor_keeps_at_most_max_seen_orders(shop, monkeypatch):
    monkeypatch.setattr(polling, "MAX_SEEN", 2)
    for _ in range(3):
        shop.sell(("p1", 1))

    page, _ = polled(shop)

    assert len(page.cursor["seen"]) == 2


def test_a_partly_fulfilled_order_gives_each_line_its_own_stage(shop):
    sale = shop.sell(("p1", 2), ("p2", 1))
    response = requests.post(
        f"{shop.sandbox.url}/payments/orders/{sale['id']}/fulfillments",
        json={
            "altId": LOCATION,
            "altType": "location",
            "trackings": [],
            "items": [{"priceId": "p2", "qty": 1}, {"priceId": "p1", "qty": 1}],
            "notifyCustomer": False,
        },
        headers=HOOKS.login(shop.sandbox.url),
        timeout=5,
    )
    assert response.status_code == 200, response.text

    page, shipping = polled(shop)
    shop.act(sale["id"], "refund")
    _, refunded = polled(shop, page.cursor)

    def stages(order):
        return (order.stage, [(li.line_id, li.stage) for li in order.lines])

    assert stages(shipping[sale["id"]]) == (OPEN, [("p1", OPEN), ("p2", FULFILLED)])
    assert stages(refunded[sale["id"]]) == (OPEN, [("p1", CANCELLED), ("p2", FULFILLED)])


def test_an_order_the_platform_no_longer_finds_is_skipped_and_the_exchange_says_so(shop):
    connector = shop.connector()

    assert connector._order({"_id": "gone"}) is None
    assert (connector.exchanges[-1].status, connector.exchanges[-1].outcome) == (400, "rejected")


def test_a_fulfilment_sends_nothing_unless_the_sandbox_is_told_to(shop):
    quiet = shop.sell(("p1", 1))["id"]
    shop.act(quiet, "fulfil")
    shop.sandbox.seed(settings={"fulfilment_event": True})
    told = shop.sell(("p2", 1))["id"]
    shop.act(told, "fulfil")

    events = shop.events(7)  # 3 for each sale, then the second one's fulfilment

    assert len(shop.settle(7)) == 7
    assert (events[-1].orders[0].order_id, events[-1].orders[0].stage) == (told, FULFILLED)
