"""Zettle's sales coming back, against its sandbox over real HTTP (channels-inbound.md §4):
the Pusher subscription made through the API, purchases and balance changes read from its
deliveries, what a sale and a refund do to Zettle's own stock, and the Purchase API polled."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.exceptions import AuthError, ConfigError
from connectors.platforms.base import PushItem
from connectors.platforms.inbound import FULFILLED, RETURNED, OrderLine, StockChange
from connectors.platforms.strategy import push
from connectors.platforms.zettle import connector as zettle
from connectors.platforms.zettle.connector import EVENTS, ZettleConnector
from connectors.platforms.zettle.sandbox_ledger import LOCATION_UUIDS
from connectors.platforms.zettle.testing import ZettleHooks
from tests.connectors.webhook_receiver import Receiver

PLATFORM = "zettle"
HOOKS = ZettleHooks()
STORE, SOLD = LOCATION_UUIDS["STORE"], LOCATION_UUIDS["SOLD"]
SUBSCRIPTIONS = "/organizations/self/subscriptions"


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def shop(sandbox, receiver):
    return Shop(sandbox, receiver)


def topic(delivery):
    return json.loads(delivery[2])["eventName"]


class Shop:
    """A seeded sandbox (two variants of one product, 5 each) subscribed to a Receiver, and
    the connector of a channel holding the signing key registration drew."""

    def __init__(self, sandbox, receiver):
        self.sandbox, self.receiver = sandbox, receiver
        self.items = HOOKS.make_items(2)
        HOOKS.seed(sandbox, self.items, quantity=5)
        self.connector = self.connector_for()
        self.registration = self.connector.register_webhooks(receiver.url)
        self.secret = self.registration.secret
        self.connector.credentials["webhook_secret"] = self.secret
        self.arrived("TestMessage")

    def connector_for(self, **settings):
        return ZettleConnector(
            base_url=self.sandbox.url,
            credentials=HOOKS.credentials(),
            settings={**HOOKS.settings(), **settings},
        )

    def sell(self, *quantities, **body):
        lines = [
            {"remote_id": i.remote_id, "remote_parent_id": i.remote_parent_id, "quantity": q}
            for i, q in zip(self.items, quantities, strict=False)
            if q
        ]
        return self.sandbox.control("POST", "orders", {"lines": lines, **body})["id"]

    def act(self, order_id, action, **body):
        return self.post(f"orders/{order_id}", {"action": action, **body})

    def post(self, path, body):
        return requests.post(f"{self.sandbox.url}/_sandbox/{path}", json=body, timeout=5)

    def store(self, item):
        return HOOKS.remote_quantity(self.sandbox, item)

    def sold(self, item):
        rows = self.sandbox.state()["balances"].get("SOLD", [])
        return next((r["balance"] for r in rows if r["variantUuid"] == item.remote_id), 0)

    def arrived(self, name, count=1, timeout=10.0):
        """The deliveries of event `name`, once `count` of them arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [d for d in list(self.receiver.deliveries) if topic(d) == name]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} {name} not delivered in {timeout} s")

    def settled(self):
        """Every delivery the sandbox queued is made (or given up)."""
        deadline = time.monotonic() + 10
        while self.sandbox.control("GET", "deliveries")["waiting"]:
            assert time.monotonic() < deadline, "deliveries still waiting after 10 s"
            time.sleep(0.02)
        return list(self.receiver.deliveries)

    def read(self, name, index=-1):
        """The Event the `index`th delivery of `name` reads as, its signature checked."""
        _, headers, body = self.arrived(name, count=index + 1 if index >= 0 else 1)[index]
        verdict = ZettleConnector.verify_webhook(headers, body, self.secret, time.time())
        assert verdict.valid, verdict.reason
        return self.connector.read_webhook(headers, body)


def line_of(item, quantity, stage=None):
    return OrderLine(
        line_id=f"{item.remote_parent_id}/{item.remote_id}",
        quantity=quantity,
        remote_id=item.remote_id,
        remote_parent_id=item.remote_parent_id,
        stage=stage,
    )


# --------------------------------------------------------------------------- selling


def test_a_sale_moves_store_to_sold_and_reads_as_a_fulfilled_order(shop):
    first, second = shop.items
    order_id = shop.sell(2, 1)

    assert (shop.store(first), shop.sold(first), shop.store(second)) == (3, 2, 4)
    event = shop.read("PurchaseCreated")
    assert event.event_id
    assert event.topic == "PurchaseCreated"
    [order] = event.orders
    assert (order.order_id, order.status, order.stage) == (order_id, "purchase", FULFILLED)
    assert order.lines == (line_of(first, 2), line_of(second, 1))
    assert order.placed_at is not None
    # One event for the product: each variant's STORE level after the sale, marked a sale.
    assert shop.read("InventoryBalanceChanged").stock == (
        StockChange(first.remote_id, 3, first.remote_parent_id, sale=True),
        StockChange(second.remote_id, 4, second.remote_parent_id, sale=True),
    )


def test_a_sale_short_of_stock_is_a_409_and_changes_nothing(shop):
    first, _ = shop.items
    response = shop.post("orders", {"lines": [{"remote_id": first.remote_id, "quantity": 6}]})

    assert response.status_code == 409
    assert "cannot go below zero" in response.json()["error"]
    assert shop.store(first) == 5
    state = shop.sandbox.state()
    assert state["purchases"] == []
    assert state["events"] == []  # no purchase, no balance change


def test_a_sale_of_an_untracked_product_moves_nothing_but_is_still_an_order(shop):
    first, _ = shop.items
    HOOKS.seed(shop.sandbox, [first], quantity=0, tracked=False)
    order_id = shop.sell(7)

    [order] = shop.read("PurchaseCreated").orders
    assert (order.order_id, order.lines) == (order_id, (line_of(first, 7),))
    row = shop.sandbox.state()["purchases"][0]["products"][0]
    assert "fromLocationUuid" not in row
    assert "InventoryBalanceChanged" not in [topic(d) for d in shop.settled()]


def test_pay_and_fulfil_find_the_purchase_so_already_and_cancel_is_refused(shop):
    order_id = shop.sell(1)
    shop.arrived("PurchaseCreated")

    assert shop.act(order_id, "pay").status_code == 200
    assert shop.act(order_id, "fulfil").status_code == 200
    cancelled = shop.act(order_id, "cancel")

    assert cancelled.status_code == 409
    assert "refund" in cancelled.json()["error"]
    assert shop.store(shop.items[0]) == 4
    assert [topic(d) for d in shop.settled()].count("PurchaseCreated") == 1


def test_a_restocked_refund_returns_the_original_purchase_and_its_goods(shop):
    first, _ = shop.items
    order_id = shop.sell(2)
    shop.arrived("InventoryBalanceChanged")

    answer = shop.act(order_id, "refund", restock=True).json()

    assert answer["order"]["refunded"] is True
    assert answer["refund"]["refundsPurchaseUUID1"] == order_id
    assert (shop.store(first), shop.sold(first)) == (5, 0)
    event = shop.read("PurchaseCreated", index=1)
    [order] = event.orders
    assert (order.order_id, order.stage, order.status) == (
        order_id,
        RETURNED,
        "refunded, restocked",
    )
    assert order.lines == (line_of(first, 2, RETURNED),)
    assert order.updated_at > order.placed_at
    [balance] = shop.read("InventoryBalanceChanged", index=1).stock
    assert (balance.quantity, balance.sale, balance.ours) == (5, True, False)


def test_a_refund_without_restock_moves_nothing_and_is_only_a_note(shop):
    first, _ = shop.items
    order_id = shop.sell(2)

    assert shop.act(order_id, "refund").status_code == 200

    assert (shop.store(first), shop.sold(first)) == (3, 2)
    event = shop.read("PurchaseCreated", index=1)
    assert event.orders == ()
    assert "no goods went back" in event.note
    assert [topic(d) for d in shop.settled()].count("InventoryBalanceChanged") == 1


def test_a_purchase_refunded_in_full_cannot_be_refunded_again(shop):
    order_id = shop.sell(1)
    assert shop.act(order_id, "refund").status_code == 200

    again = shop.act(order_id, "refund", restock=True)

    assert again.status_code == 409
    assert "in full" in again.json()["error"]
    assert shop.act("no-such-purchase", "refund").status_code == 400


def test_a_staff_edit_in_the_back_office_is_a_change_of_theirs(shop):
    first, _ = shop.items
    body = {"remote_id": first.remote_id, "remote_parent_id": first.remote_parent_id}

    assert shop.post("stock", {**body, "quantity": 9}).status_code == 200

    assert shop.store(first) == 9
    [change] = shop.read("InventoryBalanceChanged").stock
    assert change == StockChange(first.remote_id, 9, first.remote_parent_id)


def test_our_own_movements_echo_as_ours_with_or_without_an_external_uuid(shop):
    first, _ = shop.items
    push(shop.connector, [PushItem(key=1, **_ids(first), quantity=8)])
    # A v3 movement takes no externalUuid: only our client id marks it.
    v3 = {"productUuid": first.remote_parent_id, "variantUuid": first.remote_id, "change": 1}
    v3.update({"from": STORE, "to": LOCATION_UUIDS["BIN"]})
    headers = shop.sandbox.login()
    sent = requests.post(
        f"{shop.sandbox.url}/v3/movements", json={"movements": [v3]}, headers=headers, timeout=5
    )
    assert sent.status_code == 204

    ours = [shop.read("InventoryBalanceChanged", index=i).stock[0] for i in (0, 1)]

    assert [(c.quantity, c.ours, c.sale) for c in ours] == [(8, True, False), (7, True, False)]
    payloads = [
        json.loads(json.loads(body)["payload"])
        for _, _, body in shop.arrived("InventoryBalanceChanged", 2)
    ]
    assert [bool(p["externalUuid"]) for p in payloads] == [True, False]
    assert {p["updated"]["clientUuid"] for p in payloads} == {HOOKS.credentials()["client_id"]}


def test_tracking_events_and_the_test_message_carry_a_note_only(shop):
    first, _ = shop.items
    url = f"{shop.sandbox.url}/organizations/self/inventory/products/{first.remote_parent_id}"
    assert requests.delete(url, headers=shop.sandbox.login(), timeout=5).status_code == 204

    stopped = shop.read("InventoryTrackingStopped")
    test = shop.connector.read_webhook(*shop.arrived("TestMessage")[0][1:])

    assert (stopped.orders, stopped.stock) == ((), ())
    assert first.remote_parent_id in stopped.note
    assert "sells without limit" in stopped.note
    assert (test.topic, test.orders, test.stock) == ("TestMessage", (), ())
    assert "test message" in test.note


def _ids(item):
    return {"remote_id": item.remote_id, "remote_parent_id": item.remote_parent_id}


# --------------------------------------------------------------------------- signatures


def test_a_forged_signature_is_refused(shop):
    shop.sandbox.control("POST", "webhook-failures", {"bad_signature_next": 1})
    shop.sell(1)

    _, headers, body = shop.arrived("PurchaseCreated")[0]
    verdict = ZettleConnector.verify_webhook(headers, body, shop.secret, time.time())

    assert not verdict.valid
    assert verdict.reason == "X-iZettle-Signature does not match the channel's signing key"


def test_a_wrong_secret_a_missing_header_and_no_secret_are_refused(shop):
    shop.sell(1)
    _, headers, body = shop.arrived("PurchaseCreated")[0]
    now = time.time()
    unsigned = {k: v for k, v in headers.items() if k != "x-izettle-signature"}

    wrong = ZettleConnector.verify_webhook(headers, body, "not-the-key", now)
    missing = ZettleConnector.verify_webhook(unsigned, body, shop.secret, now)
    no_secret = ZettleConnector.verify_webhook(headers, body, "", now)
    tampered = ZettleConnector.verify_webhook(headers, body.replace(b"2", b"3"), shop.secret, now)

    assert [v.valid for v in (wrong, missing, no_secret, tampered)] == [False] * 4
    assert "does not match" in wrong.reason
    assert missing.reason == "no X-iZettle-Signature header"
    assert "no webhook signing key" in no_secret.reason


def test_there_is_no_timestamp_window_a_replay_is_caught_by_its_message_uuid(shop):
    shop.sell(1)
    _, headers, body = shop.arrived("PurchaseCreated")[0]
    a_week_later = time.time() + 7 * 86400

    verdict = ZettleConnector.verify_webhook(headers, body, shop.secret, a_week_later)

    assert verdict.valid
    assert ZettleConnector.webhook_envelope(headers, body) == (
        json.loads(body)["messageUuid"],
        "PurchaseCreated",
    )


def test_the_test_message_is_accepted_before_any_key_is_held(shop):
    _, _, body = shop.arrived("TestMessage")[0]

    verdict = ZettleConnector.verify_webhook({}, body, "", time.time())

    assert verdict.valid
    assert "unchecked" in verdict.reason
    # Unchecked, it takes no delivery id a real message could carry.
    assert ZettleConnector.webhook_envelope({}, body) == ("", "TestMessage")


def test_a_failed_delivery_is_sent_again(sandbox):
    items = HOOKS.make_items(1)
    HOOKS.seed(sandbox, items, quantity=5)
    with Receiver(status=500) as failing:
        connector = ZettleConnector(
            base_url=sandbox.url, credentials=HOOKS.credentials(), settings=HOOKS.settings()
        )
        connector.register_webhooks(failing.url)
        failing.wait_for(2, timeout=10)  # the TestMessage, answered 500, and its retry

    attempts = [d["attempt"] for d in sandbox.control("GET", "deliveries")["deliveries"]]
    assert attempts[:2] == [1, 2]


# --------------------------------------------------------------------------- registration


def test_registration_subscribes_the_url_and_keeps_the_key_out_of_the_records(shop):
    [subscription] = shop.sandbox.state()["subscriptions"]

    assert shop.registration.topics == EVENTS
    assert (subscription["destination"], subscription["eventNames"]) == (
        shop.receiver.url,
        list(EVENTS),
    )
    assert uuid.UUID(subscription["uuid"]).version == 1
    assert subscription["contactEmail"] == "ops@example.com"
    recorded = [e.response_body for e in shop.connector.exchanges]
    assert all(shop.secret not in body for body in recorded)
    assert "[redacted]" in recorded[-1]


def test_registering_again_replaces_the_subscription_and_never_doubles_deliveries(shop):
    again = shop.connector.register_webhooks(shop.receiver.url)
    shop.arrived("TestMessage", count=2)
    shop.sell(1)
    shop.arrived("InventoryBalanceChanged")

    deliveries = shop.settled()

    assert again.note == "replaced 1 subscription(s) of this URL"
    assert len(shop.sandbox.state()["subscriptions"]) == 1
    assert [topic(d) for d in deliveries].count("PurchaseCreated") == 1
    _, headers, body = shop.arrived("PurchaseCreated")[0]
    assert ZettleConnector.verify_webhook(headers, body, again.secret, time.time()).valid
    assert not ZettleConnector.verify_webhook(headers, body, shop.secret, time.time()).valid


def test_registration_needs_a_contact_email(sandbox):
    connector = ZettleConnector(base_url=sandbox.url, credentials=HOOKS.credentials())

    with pytest.raises(ConfigError, match="contact email"):
        connector.register_webhooks("https://example.com/hooks/x/")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"uuid": str(uuid.uuid4())}, 400),
        ({"transportName": "SMS"}, 400),
        ({"eventNames": ["NoSuchEvent"]}, 400),
        ({"destination": "ftp://example.com"}, 422),
        ({"contactEmail": "nobody"}, 422),
    ],
)
def test_the_pusher_refuses_a_malformed_subscription(sandbox, change, status):
    body = {
        "uuid": str(uuid.uuid1()),
        "transportName": "WEBHOOK",
        "eventNames": ["PurchaseCreated"],
        "destination": "https://example.com/hook",
        "contactEmail": "ops@example.com",
        **change,
    }
    response = requests.post(
        sandbox.url + SUBSCRIPTIONS, json=body, headers=sandbox.login(), timeout=5
    )

    assert response.status_code == status
    assert response.json().keys() == {"developerMessage", "errorType", "violations"}


def test_the_pusher_answers_the_subscription_api(sandbox):
    headers = sandbox.login()
    sid = str(uuid.uuid1())
    body = {
        "uuid": sid,
        "transportName": "WEBHOOK",
        "eventNames": ["InventoryBalanceChanged"],
        "destination": "https://example.com/hook",
        "contactEmail": "ops@example.com",
    }
    url = sandbox.url + SUBSCRIPTIONS
    # No event names is all of them, and their scopes: the finance ones are not granted.
    every = {**body, "uuid": str(uuid.uuid1()), "eventNames": []}
    assert requests.post(url, json=every, headers=headers, timeout=5).status_code == 403

    created = requests.post(url, json=body, headers=headers, timeout=5)
    again = requests.post(url, json=body, headers=headers, timeout=5)
    updated = requests.put(
        f"{url}/{sid}", json={"eventNames": ["PurchaseCreated"]}, headers=headers, timeout=5
    )
    listed = requests.get(url, headers=headers, timeout=5).json()
    deleted = requests.delete(f"{url}/uuid/{sid}", headers=headers, timeout=5)
    gone = requests.delete(f"{url}/uuid/{sid}", headers=headers, timeout=5)

    assert created.status_code == 200
    assert created.json()["status"] == "ACTIVE"
    assert created.json()["signingKey"]
    assert again.json()["errorType"] == "SUBSCRIPTION_ALREADY_EXIST"
    assert updated.status_code == 200
    assert [s["eventNames"] for s in listed] == [["PurchaseCreated"]]
    assert "signingKey" not in listed[0]
    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert gone.json()["errorType"] == "SUBSCRIPTION_NOT_FOUND"


def test_a_scope_the_key_lacks_is_a_403(sandbox):
    sandbox.seed(settings={"scopes": ["READ:PRODUCT", "WRITE:PRODUCT"]})
    connector = ZettleConnector(
        base_url=sandbox.url, credentials=HOOKS.credentials(), settings=HOOKS.settings()
    )
    headers = sandbox.login()

    listing = requests.get(sandbox.url + "/purchases/v2", headers=headers, timeout=5)

    assert listing.status_code == 403
    with pytest.raises(AuthError, match="403"):
        connector.register_webhooks("https://example.com/hook")


# --------------------------------------------------------------------------- polling


def test_a_poll_returns_the_purchases_with_lines_and_its_cursor_advances(shop):
    first, second = shop.items
    sold = [shop.sell(1), shop.sell(0, 2)]

    page = shop.connector.poll_orders({})
    later = shop.connector.poll_orders(page.cursor)

    assert [o.order_id for o in page.orders] == sold
    assert [o.lines for o in page.orders] == [(line_of(first, 1),), (line_of(second, 2),)]
    assert page.more is False
    assert page.cursor["lastPurchaseHash"].endswith(
        shop.sandbox.state()["purchases"][-1]["purchaseUUID"]
    )
    assert later.orders == []
    assert later.cursor == page.cursor
    listing = next(e for e in shop.connector.exchanges if e.purpose == "orders")
    assert {"descending=false", "limit=100"} <= set(listing.url.split("?")[1].split("&"))


def test_the_poll_and_the_webhook_read_a_purchase_alike(shop):
    shop.sell(2, 1)

    [polled] = shop.connector.poll_orders({}).orders
    [pushed] = shop.read("PurchaseCreated").orders

    assert polled == pushed


def test_a_refund_between_two_polls_is_not_lost(shop):
    first, _ = shop.items
    order_id = shop.sell(3)
    page = shop.connector.poll_orders({})
    shop.act(order_id, "refund", restock=True)

    [order] = shop.connector.poll_orders(page.cursor).orders

    assert (order.order_id, order.stage) == (order_id, RETURNED)
    assert order.lines == (line_of(first, 3, RETURNED),)
    # The refund's page does not hold the original: it is read on its own, once.
    reads = [e.url for e in shop.connector.exchanges if "/purchase/v2/" in e.url]
    assert reads == [f"{shop.sandbox.url}/purchase/v2/{order_id}"]


def test_pages_follow_one_another_and_the_cursor_stays_small(shop, monkeypatch):
    monkeypatch.setattr(zettle, "POLL_LIMIT", 2)
    sold = [shop.sell(1) for _ in range(3)]

    first = shop.connector.poll_orders({})
    second = shop.connector.poll_orders(first.cursor)

    assert ([o.order_id for o in first.orders], first.more) == (sold[:2], True)
    assert ([o.order_id for o in second.orders], second.more) == (sold[2:], False)
    assert set(second.cursor) == {"startDate", "lastPurchaseHash"}


def test_since_lists_afresh_and_the_cursor_carries_that_listing_on(shop):
    order_id = shop.sell(1)
    caught_up = shop.connector.poll_orders({})
    since = datetime.now(UTC) - timedelta(days=2)

    again = shop.connector.poll_orders(caught_up.cursor, since=since)
    after = shop.connector.poll_orders(again.cursor)

    assert [o.order_id for o in again.orders] == [order_id]
    assert again.cursor["startDate"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert after.orders == []


def test_the_purchase_api_pages_by_hash_and_reads_one_purchase(shop):
    sold = [shop.sell(1) for _ in range(3)]
    headers = shop.sandbox.login()
    url = shop.sandbox.url + "/purchases/v2"

    first = requests.get(url, params={"limit": 2}, headers=headers, timeout=5).json()
    rest = requests.get(
        url, params={"lastPurchaseHash": first["lastPurchaseHash"]}, headers=headers, timeout=5
    ).json()
    newest = requests.get(
        url, params={"descending": "true", "limit": 1}, headers=headers, timeout=5
    ).json()
    unknown = requests.get(url, params={"lastPurchaseHash": "1x"}, headers=headers, timeout=5)
    one = requests.get(f"{shop.sandbox.url}/purchase/v2/{sold[1]}", headers=headers, timeout=5)
    missing = requests.get(f"{shop.sandbox.url}/purchase/v2/nope", headers=headers, timeout=5)

    assert [p["purchaseUUID1"] for p in first["purchases"]] == sold[:2]
    assert [bool(first["linkUrls"]), bool(rest["linkUrls"])] == [True, False]
    assert [p["purchaseUUID1"] for p in rest["purchases"]] == sold[2:]
    assert [p["purchaseUUID1"] for p in newest["purchases"]] == sold[2:]
    assert unknown.status_code == 400
    assert one.json()["products"][0]["quantity"] == "1"
    assert missing.status_code == 404
    assert requests.get(url, timeout=5).status_code == 401
