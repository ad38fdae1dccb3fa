"""Elastic Path's sales coming back, against its sandbox over real HTTP (channels-inbound.md
§3): the integration registered through the API, its events read as orders, what orders do
to Elastic Path's own stock, and the poll that catches what a webhook missed."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.platforms.base import PushItem
from connectors.platforms.elasticpath.connector import ElasticPathConnector
from connectors.platforms.elasticpath.demo import CREDENTIALS
from connectors.platforms.elasticpath.orders import OBSERVES
from connectors.platforms.elasticpath.testing import SLUG
from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    Event,
    OrderLine,
    Unreadable,
    Verdict,
)
from connectors.platforms.strategy import push
from tests.connectors.webhook_receiver import Receiver

PLATFORM = "elasticpath"
PRODUCT = "9eda5ba0-4f4a-4074-8547-000000000001"
OTHER = "9eda5ba0-4f4a-4074-8547-000000000002"
HEADER = "x-moltin-secret-key"


def connector_for(sandbox, secret=""):
    """A connector as the core builds one: the channel's credentials, its secret among them."""
    credentials = {**CREDENTIALS, "webhook_secret": secret} if secret else dict(CREDENTIALS)
    return ElasticPathConnector(base_url=sandbox.url, credentials=credentials)


class Shop:
    """A seeded sandbox whose integration delivers to a Receiver, and the connector of a
    channel holding the secret that registration drew."""

    def __init__(self, sandbox, receiver):
        self.sandbox, self.receiver = sandbox, receiver
        sandbox.seed(items=[{"id": PRODUCT, "available": 10}, {"id": OTHER, "available": 4}])
        self.registration = connector_for(sandbox).register_webhooks(receiver.url)
        self.secret = self.registration.secret
        self.connector = connector_for(sandbox, self.secret)

    def sell(self, *lines, **body):
        sold = [{"remote_id": p, "quantity": q, "sku": f"SKU-{p[-1]}"} for p, q in lines]
        return self.sandbox.control("POST", "orders", {"lines": sold, **body})

    def act(self, order_id, action, **body):
        return self.sandbox.control("POST", f"orders/{order_id}", {"action": action, **body})

    def refused(self, path, body):
        return requests.post(f"{self.sandbox.url}/_sandbox/{path}", json=body, timeout=5)

    def level(self, product=PRODUCT):
        stock = self.sandbox.state()["stock"][product]
        return stock["available"], stock["allocated"], stock["total"]

    def delivered(self, count):
        """The deliveries once `count` arrived and nothing else is on its way."""
        self.receiver.wait_for(count)
        deadline = time.monotonic() + 10
        while self.sandbox.control("GET", "deliveries")["waiting"]:
            assert time.monotonic() < deadline, "deliveries still waiting after 10 s"
            time.sleep(0.02)
        assert len(self.receiver.deliveries) == count, [topic(d) for d in self.receiver.deliveries]
        return list(self.receiver.deliveries)

    def order_events(self, count):
        """{topic: the Order it reads as} of the first `count` deliveries' order events."""
        read = {}
        for _, headers, body in self.delivered(count):
            assert self.connector.verify_webhook(headers, body, self.secret, time.time()).valid
            event = self.connector.read_webhook(headers, body)
            if event.orders:
                read[event.topic] = event.orders[0]
        return read


def topic(delivery):
    return json.loads(delivery[2])["triggered_by"]


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def shop(sandbox, receiver):
    return Shop(sandbox, receiver)


# ---------------------------------------------------------------------- selling


def test_a_paid_sale_allocates_and_its_events_read_as_an_open_order(shop):
    sold = shop.sell((PRODUCT, 3), (OTHER, 1))

    assert shop.level() == (7, 3, 10)  # allocated at payment, total unchanged
    assert shop.level(OTHER) == (3, 1, 4)
    assert [topic(d) for d in shop.delivered(4)] == [
        "order.created",
        "stock-transaction.created",
        "stock-transaction.created",
        "order.paid",
    ]
    orders = shop.order_events(4)
    assert orders["order.created"].stage == PENDING
    paid = orders["order.paid"]
    assert (paid.order_id, paid.stage) == (sold["id"], OPEN)
    assert paid.status == "complete / paid / unfulfilled"
    items = sold["order"]["included"]["items"]
    assert paid.lines == (
        OrderLine(items[0]["id"], 3, remote_id=PRODUCT, sku="SKU-1"),
        OrderLine(items[1]["id"], 1, remote_id=OTHER, sku="SKU-2"),
    )
    assert paid.placed_at is not None
    assert paid.updated_at.tzinfo is not None


def test_an_unpaid_sale_is_pending_and_holds_nothing_until_paid(shop):
    sold = shop.sell((PRODUCT, 2), paid=False)
    assert shop.level() == (10, 0, 10)

    shop.act(sold["id"], "pay")

    assert shop.level() == (8, 2, 10)
    orders = shop.order_events(3)  # created, the allocation, paid
    assert (orders["order.created"].stage, orders["order.paid"].stage) == (PENDING, OPEN)


def test_fulfilment_ships_the_allocated_units(shop):
    sold = shop.sell((PRODUCT, 3))

    shop.act(sold["id"], "fulfil")

    assert shop.level() == (7, 0, 7)  # allocated and total drop together
    fulfilled = shop.order_events(5)["order.fulfilled"]  # + its decrement
    assert fulfilled.stage == FULFILLED
    assert [line.quantity for line in fulfilled.lines] == [3]


def test_a_cancel_releases_the_allocation(shop):
    sold = shop.sell((PRODUCT, 3))

    shop.act(sold["id"], "cancel")

    assert shop.level() == (10, 0, 10)
    assert shop.order_events(5)["order.cancelled"].stage == CANCELLED  # + its deallocation


def test_a_refund_after_shipping_stays_fulfilled_and_restocks_nothing(shop):
    sold = shop.sell((PRODUCT, 3))
    shop.act(sold["id"], "fulfil")

    answer = shop.act(sold["id"], "refund", restock=True)

    assert answer["order"]["data"]["payment"] == "refunded"
    assert shop.level() == (7, 0, 7)
    refunded = shop.order_events(6)["order.refunded"]
    assert (refunded.stage, refunded.status) == (FULFILLED, "complete / refunded / fulfilled")


def test_a_refund_before_shipping_keeps_the_allocation_until_the_cancel(shop):
    sold = shop.sell((PRODUCT, 3))

    shop.act(sold["id"], "refund")
    assert shop.level() == (7, 3, 10)
    shop.act(sold["id"], "cancel")

    assert shop.level() == (10, 0, 10)
    orders = shop.order_events(6)  # created, allocate, paid, refunded, deallocate, cancelled
    assert (orders["order.refunded"].stage, orders["order.cancelled"].stage) == (OPEN, CANCELLED)


@pytest.mark.parametrize(
    ("paid", "before", "action", "reason"),
    [
        (True, "fulfil", "cancel", "a fulfilled order cannot be cancelled"),
        (False, None, "fulfil", "only a paid order can be fulfilled"),
        (False, None, "refund", "only a paid order can be refunded"),
        (True, None, "pay", "the order is paid already"),
        (True, "cancel", "fulfil", "the order is cancelled"),
    ],
)
def test_what_elastic_path_refuses_is_a_409_that_changes_nothing(
    shop, paid, before, action, reason
):
    sold = shop.sell((PRODUCT, 2), paid=paid)
    if before:
        shop.act(sold["id"], before)
    held = shop.level()

    answer = shop.refused(f"orders/{sold['id']}", {"action": action})

    assert (answer.status_code, answer.json()["error"]) == (409, reason)
    assert shop.level() == held


def test_a_short_sale_is_refused_and_changes_nothing(shop):
    answer = shop.refused("orders", {"lines": [{"remote_id": PRODUCT, "quantity": 11}]})

    assert answer.status_code == 409
    assert "insufficient stock levels" in answer.json()["error"]
    assert shop.level() == (10, 0, 10)
    assert shop.sandbox.state()["orders"] == {}
    assert shop.sandbox.control("GET", "deliveries") == {"deliveries": [], "waiting": 0, "held": 0}


def test_paying_an_order_the_stock_no_longer_covers_fails_and_holds_nothing(shop):
    sold = shop.sell((OTHER, 3), paid=False)
    shop.sell((OTHER, 2))

    answer = shop.refused(f"orders/{sold['id']}", {"action": "pay"})

    assert answer.status_code == 409
    assert answer.json()["error"].startswith("payment failed")
    assert shop.level(OTHER) == (2, 2, 4)
    assert shop.sandbox.state()["orders"][sold["id"]]["data"]["payment"] == "unpaid"


def test_a_product_without_inventory_sells_without_limit_or_transaction(shop):
    untracked = "9eda5ba0-4f4a-4074-8547-000000000009"

    shop.sell((untracked, 50))

    assert untracked not in shop.sandbox.state()["stock"]
    assert [topic(d) for d in shop.delivered(2)] == ["order.created", "order.paid"]


def test_a_sale_at_a_location_allocates_there(sandbox):
    sandbox.seed(
        locations=[{"slug": SLUG}],
        items=[{"id": PRODUCT, "available": 1, "locations": {SLUG: {"available": 5}}}],
    )

    sandbox.control("POST", "orders", {"lines": [{"remote_id": PRODUCT, "quantity": 2}]})
    sandbox.control("POST", "orders", {"lines": [{"remote_id": PRODUCT, "quantity": 1}]})

    stock = sandbox.state()["stock"][PRODUCT]
    assert stock["locations"][SLUG] == {"available": 3, "allocated": 2, "total": 5}
    assert (stock["available"], stock["allocated"]) == (3, 3)  # the second from unlocated


# ---------------------------------------------------------------------- authenticity


def test_the_secret_key_header_is_what_makes_a_delivery_valid(shop):
    shop.sell((PRODUCT, 1))
    (_, headers, body), *_ = shop.delivered(3)

    assert headers[HEADER] == shop.secret
    verdict = shop.connector.verify_webhook(headers, body, shop.secret, time.time())
    assert verdict == Verdict(True, "the X-MOLTIN-SECRET-KEY header is the channel's secret key")


def test_a_forged_key_is_refused(shop):
    shop.sandbox.control("POST", "webhook-failures", {"bad_signature_next": 1})
    shop.sell((PRODUCT, 1))
    (_, forged, body), (_, genuine, _), _ = shop.delivered(3)

    verdict = ElasticPathConnector.verify_webhook(forged, body, shop.secret, time.time())

    assert verdict == Verdict(
        False, "the X-MOLTIN-SECRET-KEY header is not the channel's secret key"
    )
    assert ElasticPathConnector.verify_webhook(genuine, body, shop.secret, time.time()).valid


def test_a_wrong_secret_a_missing_header_and_no_secret_are_refused(shop):
    shop.sell((PRODUCT, 1))
    (_, headers, body), *_ = shop.delivered(3)
    without = {k: v for k, v in headers.items() if k != HEADER}
    now = time.time()

    wrong = ElasticPathConnector.verify_webhook(headers, body, "another-secret", now)
    missing = ElasticPathConnector.verify_webhook(without, body, shop.secret, now)
    unset = ElasticPathConnector.verify_webhook(headers, body, "", now)

    assert wrong == Verdict(False, "the X-MOLTIN-SECRET-KEY header is not the channel's secret key")
    assert missing == Verdict(False, "no X-MOLTIN-SECRET-KEY header: not from our integration")
    assert unset == Verdict(False, "the channel has no webhook secret key: register the webhooks")


def test_there_is_no_timestamp_so_an_old_delivery_is_judged_by_its_key_alone(shop):
    shop.sell((PRODUCT, 1))
    (_, headers, body), *_ = shop.delivered(3)

    a_day_later = time.time() + 86_400

    assert ElasticPathConnector.verify_webhook(headers, body, shop.secret, a_day_later).valid


# ---------------------------------------------------------------------- delivery


def test_a_redelivery_keeps_the_event_id_and_counts_the_attempt(shop):
    shop.receiver.status = 500
    shop.sandbox.control("DELETE", "deliveries")
    shop.sell((PRODUCT, 1), paid=False)
    shop.receiver.wait_for(1)
    shop.receiver.status = 200

    (_, _, first), (_, _, again) = shop.delivered(2)

    first, again = json.loads(first), json.loads(again)
    assert again["id"] == first["id"]
    assert (first["attempt"], again["attempt"]) == (1, 2)
    assert ElasticPathConnector.webhook_envelope({}, json.dumps(again).encode()) == (
        first["id"],
        "order.created",
    )
    log = shop.sandbox.control("GET", "deliveries")["deliveries"]
    assert [(e["attempt"], e["status"]) for e in log] == [(1, 500), (2, 200)]


def test_the_delivery_logs_show_each_attempt(shop):
    shop.sell((PRODUCT, 1), paid=False)
    shop.delivered(1)
    integration = shop.sandbox.state()["integrations"][0]["id"]

    logs = requests.get(
        f"{shop.sandbox.url}/v2/integrations/{integration}/logs",
        headers=shop.sandbox.login(),
        timeout=5,
    ).json()["data"]

    assert [(log["succeeded"], log["attempt"], log["status_code"]) for log in logs] == [
        (True, 1, 200)
    ]
    assert logs[0]["relationships"]["integration"]["data"]["id"] == integration


def test_our_own_transactions_fire_a_stock_event_read_as_a_note(shop):
    item = PushItem(key=1, remote_id=PRODUCT, quantity=6)

    outcomes = push(shop.connector, [item])

    assert outcomes[0].ok
    ((_, headers, body),) = shop.delivered(1)
    event = shop.connector.read_webhook(headers, body)
    assert (event.topic, event.orders, event.stock) == ("stock-transaction.created", (), ())
    assert event.note.startswith(f"stock transaction: decrement of 4 on product {PRODUCT}")


def test_a_staff_edit_fires_a_stock_event_too(shop):
    shop.sandbox.control("POST", "stock", {"remote_id": PRODUCT, "quantity": 12})

    ((_, headers, body),) = shop.delivered(1)

    assert shop.level() == (12, 0, 12)
    event = shop.connector.read_webhook(headers, body)
    assert "increment of 2" in event.note
    assert not event.stock


def test_events_of_other_resources_are_notes():
    body = json.dumps({"id": "e1", "triggered_by": "integration.created", "payload": {}})

    event = connector_for_nowhere().read_webhook({}, body.encode())

    assert event == Event(
        "e1", "integration.created", note="integration.created is not an order or stock event"
    )


def test_a_payload_without_included_items_has_them_fetched(shop):
    sold = shop.sell((PRODUCT, 2))
    body = {"id": "e1", "triggered_by": "order.paid", "payload": {"data": sold["order"]["data"]}}

    event = shop.connector.read_webhook({}, json.dumps(body).encode())

    assert [(line.remote_id, line.quantity) for line in event.orders[0].lines] == [(PRODUCT, 2)]


# ---------------------------------------------------------------------- registration


def test_registering_again_keeps_one_integration_with_the_new_secret(shop):
    again = connector_for(shop.sandbox).register_webhooks(shop.receiver.url)

    integrations = shop.sandbox.state()["integrations"]
    assert len(integrations) == 1
    assert integrations[0]["configuration"]["secret_key"] == again.secret != shop.secret
    assert sorted(integrations[0]["observes"]) == sorted(OBSERVES) == sorted(again.topics)
    assert again.note == f"integration {integrations[0]['id']} updated"
    shop.sell((PRODUCT, 1))
    _, headers, body = shop.delivered(3)[0]
    assert headers[HEADER] == again.secret  # one delivery per event, with the new key
    assert not ElasticPathConnector.verify_webhook(headers, body, shop.secret, time.time()).valid


def test_registration_keeps_the_secret_out_of_what_is_recorded(sandbox, receiver):
    connector = connector_for(sandbox)

    registration = connector.register_webhooks(receiver.url)

    assert registration.note.endswith("created")
    recorded = json.dumps([e.__dict__ for e in connector.exchanges])
    assert registration.secret not in recorded
    assert [e.method for e in connector.exchanges if e.purpose == "webhooks"] == ["GET", "POST"]


def test_the_spec_spelling_observers_is_accepted(sandbox):
    body = {
        "data": {
            "type": "integration",
            "name": "spec spelling",
            "observers": ["order.paid"],
            "configuration": {"url": "http://127.0.0.1:9/hook"},
        }
    }

    created = requests.post(
        f"{sandbox.url}/v2/integrations", json=body, headers=sandbox.login(), timeout=5
    )

    assert created.status_code == 200
    assert created.json()["data"]["observes"] == ["order.paid"]


# ---------------------------------------------------------------------- polling


def an_hour_ago():
    return datetime.now(UTC) - timedelta(hours=1)


def test_a_poll_returns_the_orders_with_their_lines_and_moves_on(shop):
    first = shop.sell((PRODUCT, 2))
    second = shop.sell((OTHER, 1), paid=False)
    since = an_hour_ago()

    page = shop.connector.poll_orders({}, since=since)

    assert not page.more
    by_id = {o.order_id: o for o in page.orders}
    assert set(by_id) == {first["id"], second["id"]}
    assert (by_id[first["id"]].stage, by_id[second["id"]].stage) == (OPEN, PENDING)
    assert [(line.remote_id, line.quantity) for line in by_id[first["id"]].lines] == [(PRODUCT, 2)]
    assert by_id[first["id"]].lines[0].line_id == first["order"]["included"]["items"][0]["id"]
    assert datetime.fromisoformat(page.cursor["since"]) > since
    assert page.cursor == {"since": page.cursor["since"], "offset": 0}


def test_a_second_poll_sees_what_changed_in_between(shop):
    fulfilled = shop.sell((PRODUCT, 2))
    cursor = shop.connector.poll_orders({}, since=an_hour_ago()).cursor
    shop.act(fulfilled["id"], "fulfil")
    placed = shop.sell((OTHER, 1))

    page = shop.connector.poll_orders(cursor)

    stages = {o.order_id: o.stage for o in page.orders}
    assert stages == {fulfilled["id"]: FULFILLED, placed["id"]: OPEN}
    assert page.cursor["since"] >= cursor["since"]


def test_a_first_poll_starts_now(shop):
    sold = shop.sell((PRODUCT, 1))

    page = shop.connector.poll_orders({})

    assert [o.order_id for o in page.orders] == [sold["id"]]  # within the overlap
    sent = shop.sandbox.log(path="/v2/orders")[0]["query"]["filter"]
    assert sent.startswith('gt(updated_at,"')
    assert sent.endswith('Z")')


def test_pages_follow_one_another_within_a_pass(shop):
    sold = {shop.sell((PRODUCT, 1))["id"] for _ in range(5)}
    connector = shop.connector
    connector.order_page = 2

    pages = [connector.poll_orders({}, since=an_hour_ago())]
    while pages[-1].more:
        pages.append(connector.poll_orders(pages[-1].cursor))

    assert [len(p.orders) for p in pages] == [2, 2, 1]
    assert [p.cursor["offset"] for p in pages] == [2, 4, 0]
    assert {o.order_id for p in pages for o in p.orders} == sold


def test_past_the_offset_cap_a_pass_goes_on_by_creation_time(shop):
    shop.sandbox.seed(settings={"max_offset": 2})
    sold = {shop.sell((PRODUCT, 1))["id"] for _ in range(6)}
    connector = shop.connector
    connector.order_page, connector.max_offset = 1, 2

    pages = [connector.poll_orders({}, since=an_hour_ago())]
    while pages[-1].more:
        pages.append(connector.poll_orders(pages[-1].cursor))

    assert {o.order_id for p in pages for o in p.orders} == sold
    assert "before" in pages[3].cursor
    assert "before" not in pages[-1].cursor
    assert max(len(json.dumps(p.cursor)) for p in pages) < 300
    filters = [
        r["query"]["filter"]
        for r in shop.sandbox.log(path="/v2/orders")
        if r["path"] == "/v2/orders"
    ]
    assert ":le(created_at," in filters[-1]


def test_an_unreadable_order_is_left_out_with_the_reason_kept(shop, monkeypatch):
    shop.sell((PRODUCT, 1))
    good = shop.sell((OTHER, 1))
    real = ElasticPathConnector._order_items

    def items(self, order_id):
        found = real(self, order_id)
        return found if order_id == good["id"] else [{**found[0], "quantity": 0}]

    monkeypatch.setattr(ElasticPathConnector, "_order_items", items)

    page = shop.connector.poll_orders({}, since=an_hour_ago())

    assert [o.order_id for o in page.orders] == [good["id"]]
    rejected = [e for e in shop.connector.exchanges if e.outcome == "rejected"]
    assert len(rejected) == 1
    assert "quantity 0 is not between 1" in rejected[0].error


def test_the_order_listing_filters_and_refuses_what_it_cannot_parse(shop):
    shop.sell((PRODUCT, 1))
    paid_later = shop.sell((OTHER, 1), paid=False)
    headers = shop.sandbox.login()

    def listed(query):
        return requests.get(
            f"{shop.sandbox.url}/v2/orders", params=query, headers=headers, timeout=5
        )

    today = datetime.now(UTC).date().isoformat()
    unpaid = listed({"filter": f"ge(updated_at,{today}):eq(payment,unpaid)"}).json()
    assert [o["id"] for o in unpaid["data"]] == [paid_later["id"]]
    assert unpaid["meta"]["results"] == {"total": 1}
    assert set(unpaid["links"]) == {"current", "first", "last", "next", "prev"}
    assert listed({"filter": "gt(updated_at"}).json()["errors"][0]["detail"] == (
        "Could not parse the supplied filter"
    )
    assert listed({"page[offset]": 10_001}).status_code == 400


def test_orders_need_the_client_credentials_token(shop):
    form = {"grant_type": "implicit", "client_id": CREDENTIALS["client_id"]}
    token = requests.post(f"{shop.sandbox.url}/oauth/access_token", data=form, timeout=5).json()

    answer = requests.get(
        f"{shop.sandbox.url}/v2/orders",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )

    assert answer.status_code == 403


# ---------------------------------------------------------------------- any bytes at all


def connector_for_nowhere():
    """A connector whose item fetches answer nothing (no request leaves it)."""
    connector = ElasticPathConnector(base_url="http://127.0.0.1:9", credentials=CREDENTIALS)
    connector._order_items = lambda order_id: []
    return connector


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
# Roughly Elastic Path's shapes: each field mostly what it should be, sometimes anything.
UUIDS = st.uuids().map(str)
IDS = st.one_of(UUIDS, UUIDS, UUIDS, st.text(max_size=140), JSON)
WORDS = st.sampled_from(["complete", "cancelled", "paid", "refunded", "unfulfilled", "fulfilled"])
SMALL = st.integers(1, 10)
QUANTITIES = st.one_of(SMALL, SMALL, SMALL, st.integers(), st.text(max_size=8), st.floats(), JSON)
ITEM = st.fixed_dictionaries(
    {"id": IDS, "quantity": QUANTITIES, "product_id": IDS},
    optional={"sku": st.text(max_size=80) | JSON, "type": st.just("order_item") | JSON},
)
TIMESTAMPS = st.dictionaries(
    st.sampled_from(["created_at", "updated_at"]), st.text(max_size=30) | JSON, max_size=2
)
ORDER = st.fixed_dictionaries(
    {"id": IDS, "status": WORDS | JSON, "payment": WORDS | JSON, "shipping": WORDS | JSON},
    optional={
        "type": st.just("order") | JSON,
        "meta": st.fixed_dictionaries({"timestamps": TIMESTAMPS}) | JSON,
    },
)
ITEMS = st.fixed_dictionaries({"items": st.lists(ITEM, min_size=1, max_size=4)})
PAYLOAD = st.one_of(
    st.fixed_dictionaries({"data": ORDER, "included": ITEMS}),
    st.fixed_dictionaries({"data": ORDER, "included": ITEMS | JSON}),
    st.fixed_dictionaries({"data": ORDER}),  # its items fetched
    JSON,
)
TOPICS = st.sampled_from(["order.paid", "order.fulfilled", "stock-transaction.created", "x"])
EVENT = st.fixed_dictionaries(
    {"id": IDS, "triggered_by": st.one_of(TOPICS, TOPICS, TOPICS, JSON), "payload": PAYLOAD},
    optional={"resources": st.text(max_size=20) | PAYLOAD.map(json.dumps)},
)
HEADERS = st.dictionaries(
    st.text(max_size=20).map(str.lower), st.text(max_size=40), max_size=4
) | st.builds(
    lambda value, other: {HEADER: value, **other},
    st.text(max_size=40),
    st.dictionaries(st.text(max_size=20).map(str.lower), st.text(max_size=40), max_size=2),
)
BODIES = st.binary(max_size=300) | EVENT.map(lambda e: json.dumps(e).encode())
NASTY = [
    b"",
    b"\x00" * 20,
    b"\xff\xfe\xfa",
    b"[" * 100_000,
    b'{"id":"e","triggered_by":"order.paid","payload":{"data":{"id":"o"},"included":'
    b'{"items":[{"id":"i","product_id":"p","quantity":' + b"9" * 5000 + b"}]}}}",
    b'{"id":"e","triggered_by":"order.paid","payload":{"data":{"id":"o"},"included":'
    b'{"items":[{"id":"i","product_id":"p","quantity":1e999}]}}}',
]


@settings(max_examples=300, deadline=None)
@given(headers=HEADERS, body=BODIES, secret=st.text(max_size=40))
def test_verify_webhook_never_raises(headers, body, secret):
    verdict = ElasticPathConnector.verify_webhook(headers, body, secret, time.time())

    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.reason, str)
    assert verdict.valid == bool(secret and headers.get(HEADER) == secret)


@settings(max_examples=400, deadline=None)
@given(body=BODIES)
def test_reading_any_body_raises_only_unreadable(body):
    check_only_unreadable(body)


@pytest.mark.parametrize("body", NASTY)
def test_nasty_bodies_are_unreadable(body):
    check_only_unreadable(body)
    assert ElasticPathConnector.verify_webhook({HEADER: "k"}, body, "k", 0).valid


def check_only_unreadable(body):
    try:
        event_id, topic = ElasticPathConnector.webhook_envelope({}, body)
    except Unreadable:
        return
    assert isinstance(event_id, str)
    assert isinstance(topic, str)
    try:
        event = connector_for_nowhere().read_webhook({}, body)
    except Unreadable:
        return
    assert isinstance(event, Event)
    assert (event.event_id, event.topic) == (event_id, topic)
