"""Webflow's sales coming back, over real HTTP: its sandbox sells and delivers webhooks to a
Receiver, the connector verifies and reads them, polls the orders listing and registers its
webhooks (channels-inbound.md §1)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.exceptions import AuthError, ChannelError, ConfigError
from connectors.platforms.base import PushItem
from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    OrderLine,
    StockChange,
)
from connectors.platforms.strategy import push
from connectors.platforms.webflow import polling
from connectors.platforms.webflow.connector import WebflowConnector
from connectors.platforms.webflow.testing import SITE, TOKEN, WebflowHooks
from tests.connectors.webhook_receiver import Receiver

PLATFORM = "webflow"
HOOKS = WebflowHooks()
ITEMS = HOOKS.make_items(2)
FIRST = ITEMS[0]
TOPICS = ("ecomm_new_order", "ecomm_order_changed", "ecomm_inventory_changed")


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def shop(sandbox):
    """Two SKUs holding 5 each, on the sandbox's default site."""
    HOOKS.seed(sandbox, ITEMS, quantity=5)
    return sandbox


@pytest.fixture
def subscribed(shop, receiver):
    """A connector whose webhooks are registered at the receiver, with their secrets."""
    registration = connector(shop).register_webhooks(receiver.url)
    return connector(shop, secret=registration.secret)


def connector(sandbox, secret="", **settings):
    return WebflowConnector(
        base_url=sandbox.url,
        credentials={"token": TOKEN, "webhook_secret": secret},
        settings={"site_id": SITE, **settings},
    )


def control(sandbox, method, path, body=None):
    return requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)


def sell(sandbox, quantity=1, item=FIRST, **extra):
    line = {"remote_id": item.remote_id, "remote_parent_id": item.remote_parent_id}
    return control(sandbox, "POST", "orders", {"lines": [{**line, "quantity": quantity}], **extra})


def sold(sandbox, quantity=1, **extra):
    response = sell(sandbox, quantity, **extra)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def act(sandbox, order_id, action, restock=False):
    return control(sandbox, "POST", f"orders/{order_id}", {"action": action, "restock": restock})


def held(sandbox, item=FIRST):
    return HOOKS.remote_quantity(sandbox, item)


def api(sandbox, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return requests.request(method, sandbox.url + path, headers=headers, timeout=5, **kwargs)


def delivered(receiver, topic, count, timeout=10.0):
    """The first `count` deliveries of `topic`, once they arrived (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [d for d in list(receiver.deliveries) if json.loads(d[2])["triggerType"] == topic]
        if len(found) >= count:
            return found[:count]
        assert time.monotonic() < deadline, f"{len(found)} {topic} deliveries, not {count}"
        time.sleep(0.02)


def settled(sandbox, count, timeout=15.0):
    """The sandbox's delivery log once `count` attempts are noted and nothing is waiting."""
    deadline = time.monotonic() + timeout
    while True:
        log = control(sandbox, "GET", "deliveries").json()
        if len(log["deliveries"]) >= count and not log["waiting"]:
            return log["deliveries"]
        assert time.monotonic() < deadline, f"{len(log['deliveries'])} attempts, not {count}"
        time.sleep(0.02)


def read(connector, delivery):
    _, headers, body = delivery
    verdict = WebflowConnector.verify_webhook(
        headers, body, connector.credentials["webhook_secret"], time.time()
    )
    assert verdict.valid, verdict.reason
    return connector.read_webhook(headers, body)


def polled(connector, cursor=None, since=None):
    """Every order of one whole round (its pages), and the cursor after it."""
    cursor, orders = cursor or {}, {}
    while True:
        page = connector.poll_orders(cursor, since=since)
        orders.update((order.order_id, order) for order in page.orders)
        cursor, since = page.cursor, None
        if not page.more:
            return orders, cursor


# ------------------------------------------------------------------ selling and webhooks


def test_a_paid_sale_takes_its_units_and_is_told_as_an_open_order(shop, subscribed, receiver):
    order_id = sold(shop, quantity=2)

    assert held(shop) == 3
    assert held(shop, ITEMS[1]) == 5
    (new_order,) = delivered(receiver, "ecomm_new_order", 1)
    assert WebflowConnector.webhook_envelope(new_order[1], new_order[2]) == ("", "ecomm_new_order")
    event = read(subscribed, new_order)
    (order,) = event.orders
    assert (order.order_id, order.status, order.stage) == (order_id, "unfulfilled", OPEN)
    assert order.lines == (OrderLine("sku0001", 2, remote_id="sku0001", sku="SKU-1"),)
    assert order.placed_at is not None
    assert event.stock == ()
    (stock,) = delivered(receiver, "ecomm_inventory_changed", 1)
    assert read(subscribed, stock).stock == (StockChange("sku0001", 3),)


@pytest.mark.parametrize(
    ("paid", "actions", "status", "stage", "left"),
    [
        (False, [], "pending", PENDING, 5),
        (False, ["pay"], "unfulfilled", OPEN, 4),
        (True, ["fulfil"], "fulfilled", FULFILLED, 4),
        (True, ["cancel"], "refunded", CANCELLED, 4),
        (False, ["cancel"], "refunded", CANCELLED, 5),
        (True, ["refund"], "refunded", CANCELLED, 4),
        (True, ["fulfil", "refund"], "refunded", FULFILLED, 4),
    ],
)
def test_each_action_is_told_with_the_stage_it_leaves(
    shop, subscribed, receiver, paid, actions, status, stage, left
):
    order_id = sold(shop, paid=paid)
    for action in actions:
        assert act(shop, order_id, action, restock=True).status_code == 200

    deliveries = delivered(receiver, "ecomm_new_order", 1)
    deliveries += delivered(receiver, "ecomm_order_changed", len(actions))
    (order,) = read(subscribed, deliveries[-1]).orders
    assert (order.order_id, order.status, order.stage) == (order_id, status, stage)
    assert held(shop) == left  # Webflow never restocks, "restock" or not


@pytest.mark.parametrize(
    ("actions", "refused"),
    [(["fulfil"], "cancel"), (["fulfil"], "fulfil"), (["refund"], "refund"), ([], "pay")],
)
def test_a_move_the_status_does_not_allow_is_a_409_and_changes_nothing(shop, actions, refused):
    order_id = sold(shop)
    for action in actions:
        act(shop, order_id, action)
    before = shop.state()["orders"][SITE]

    response = act(shop, order_id, refused)

    assert response.status_code == 409
    assert shop.state()["orders"][SITE] == before


def test_a_sale_short_of_stock_is_a_409_and_changes_nothing(shop, subscribed):
    before = shop.state()

    response = sell(shop, quantity=6)

    assert response.status_code == 409
    assert "5 in stock, 6 wanted" in response.json()["error"]
    assert shop.state()["collections"] == before["collections"]
    assert shop.state()["orders"][SITE] == []
    assert control(shop, "GET", "deliveries").json() == {"deliveries": [], "waiting": 0, "held": 0}


def test_paying_for_a_pending_order_is_refused_once_its_stock_is_gone(shop):
    order_id = sold(shop, quantity=3, paid=False)
    sold(shop, quantity=4)

    assert act(shop, order_id, "pay").status_code == 409
    assert held(shop) == 1


def test_staff_edits_and_our_own_writes_are_told_as_the_level_after(shop, subscribed, receiver):
    body = {"remote_id": FIRST.remote_id, "quantity": 8}
    assert control(shop, "POST", "stock", body).status_code == 200
    push(subscribed, [PushItem(**{**FIRST.__dict__, "quantity": 6})])
    push(subscribed, [PushItem(**{**FIRST.__dict__, "quantity": 6})])  # no change: no event
    push(subscribed, [PushItem(**{**FIRST.__dict__, "quantity": None})])

    changes = delivered(receiver, "ecomm_inventory_changed", 3)

    assert [read(subscribed, d).stock[0].quantity for d in changes] == [8, 6, None]
    assert len(settled(shop, 3)) == 3  # the write that changed nothing sent nothing


# ------------------------------------------------------------------ verification


@pytest.fixture
def delivery(shop, subscribed, receiver):
    """One real delivery: (headers, body, the channel's secret)."""
    sold(shop)
    (_, headers, body) = delivered(receiver, "ecomm_new_order", 1)[0]
    return headers, body, subscribed.credentials["webhook_secret"]


def verify(headers, body, secret, now=None):
    return WebflowConnector.verify_webhook(headers, body, secret, now or time.time())


def test_a_forged_signature_is_refused(shop, subscribed, receiver):
    control(shop, "POST", "webhook-failures", {"bad_signature_next": 1})
    sold(shop)

    (_, headers, body) = delivered(receiver, "ecomm_new_order", 1)[0]
    verdict = verify(headers, body, subscribed.credentials["webhook_secret"])

    assert not verdict.valid
    assert "x-webflow-signature does not match" in verdict.reason


def test_another_secret_or_none_refuses_the_delivery(delivery):
    headers, body, secret = delivery
    assert verify(headers, body, secret).valid

    assert "does not match" in verify(headers, body, "not-ours").reason
    assert "no webhook signing secret" in verify(headers, body, "").reason
    assert not verify(headers, body + b" ", secret).valid


@pytest.mark.parametrize("seconds", [301, -301])
def test_a_timestamp_past_five_minutes_is_refused(delivery, seconds):
    headers, body, secret = delivery
    sent = int(headers["x-webflow-timestamp"]) / 1000

    assert verify(headers, body, secret, now=sent + 299).valid
    verdict = verify(headers, body, secret, now=sent + seconds)

    assert not verdict.valid
    assert "past 5 minutes" in verdict.reason


@pytest.mark.parametrize("missing", ["x-webflow-timestamp", "x-webflow-signature"])
def test_a_missing_header_is_refused_by_name(delivery, missing):
    headers, body, secret = delivery
    headers = {k: v for k, v in headers.items() if k != missing}

    verdict = verify(headers, body, secret)

    assert not verdict.valid
    assert f"no {missing} header" in verdict.reason


def test_a_timestamp_that_is_not_milliseconds_is_refused(delivery):
    headers, body, secret = delivery
    verdict = verify({**headers, "x-webflow-timestamp": "1e12"}, body, secret)
    assert not verdict.valid
    assert "epoch milliseconds" in verdict.reason


# ------------------------------------------------------------------ polling


def test_a_poll_returns_the_orders_with_their_lines(shop):
    paid, pending = sold(shop, quantity=2), sold(shop, paid=False)

    orders, cursor = polled(connector(shop))

    assert set(orders) == {paid, pending}
    assert (orders[paid].stage, orders[pending].stage) == (OPEN, PENDING)
    assert orders[paid].lines == (OrderLine("sku0001", 2, remote_id="sku0001", sku="SKU-1"),)
    assert set(cursor["open"]) == {paid, pending}
    assert cursor["total"] == 2


def test_the_cursor_advances_and_the_next_poll_returns_what_changed_between(shop):
    wf = connector(shop)
    kept, paid_later, fulfilled = sold(shop), sold(shop, paid=False), sold(shop)
    _, cursor = polled(wf)

    assert polled(wf, cursor)[0] == {}  # nothing changed
    act(shop, paid_later, "pay")
    act(shop, fulfilled, "fulfil")
    orders, after = polled(wf, cursor)

    assert {i: o.stage for i, o in orders.items()} == {paid_later: OPEN, fulfilled: FULFILLED}
    assert set(after["open"]) == {kept, paid_later}
    assert after["began"] > cursor["began"]


def test_an_order_placed_and_closed_between_two_polls_is_found(shop):
    wf = connector(shop)
    sold(shop)
    _, cursor = polled(wf)
    shipped, cancelled = sold(shop), sold(shop)
    act(shop, shipped, "fulfil")
    act(shop, cancelled, "cancel")

    orders, after = polled(wf, cursor)

    assert {i: o.stage for i, o in orders.items()} == {shipped: FULFILLED, cancelled: CANCELLED}
    assert (after["total"], len(after["open"])) == (3, 1)


def test_an_order_back_in_an_open_status_is_returned(shop):
    wf = connector(shop)
    order_id = sold(shop)
    act(shop, order_id, "fulfil")
    _, cursor = polled(wf)
    assert api(shop, "POST", f"/v2/sites/{SITE}/orders/{order_id}/unfulfill").status_code == 200

    orders, _ = polled(wf, cursor)

    assert orders[order_id].stage == OPEN


def test_since_sweeps_every_status_for_what_changed_since(shop):
    wf = connector(shop)
    open_id, shipped = sold(shop), sold(shop)
    act(shop, shipped, "fulfil")
    _, cursor = polled(wf)
    sent = shop.requests_total()

    caught_up, _ = polled(wf, cursor, since=datetime.now(UTC) - timedelta(hours=1))
    later, _ = polled(wf, cursor, since=datetime.now(UTC) + timedelta(hours=1))

    assert set(caught_up) == {open_id, shipped}
    assert set(later) == {open_id}  # open orders come back whatever their dates
    assert {r["query"].get("status") for r in shop.log(since=sent)} == {None}  # unfiltered


def test_a_long_round_goes_on_over_several_calls(shop, monkeypatch):
    monkeypatch.setattr(polling, "LIMIT", 7)
    monkeypatch.setattr(polling, "REQUESTS", 2)
    ids = {sold(shop) for _ in range(4)} | {sold(shop, item=ITEMS[1]) for _ in range(4)}
    for order_id in list(ids)[:3]:
        act(shop, order_id, "fulfil")
    wf = connector(shop)

    pages = []
    cursor = {}
    while not pages or pages[-1].more:
        pages.append(wf.poll_orders(cursor))
        cursor = pages[-1].cursor

    assert len(pages) > 2
    assert "round" not in cursor
    assert {o.order_id for p in pages for o in p.orders} == ids - set(list(ids)[:3])
    assert len(json.dumps(cursor)) < 1000


def test_polling_and_registering_need_the_site(shop):
    wf = connector(shop, site_id="")
    with pytest.raises(ConfigError, match="Site id"):
        wf.poll_orders({})
    with pytest.raises(ConfigError, match="Site id"):
        wf.register_webhooks("https://example.invalid/hook")


def test_an_unknown_site_is_a_channel_error(shop):
    with pytest.raises(ChannelError, match="site cannot be found"):
        connector(shop, site_id="nope").poll_orders({})


# ------------------------------------------------------------------ registration


def test_registering_subscribes_the_three_triggers_and_deliveries_arrive(shop, receiver):
    wf = connector(shop)

    registration = wf.register_webhooks(receiver.url)

    assert registration.topics == TOPICS
    assert len(registration.secret.split()) == 3
    hooks = shop.state()["webhooks"]
    assert sorted(h["triggerType"] for h in hooks) == sorted(TOPICS)
    assert {h["url"] for h in hooks} == {receiver.url}
    assert all("secretKey" not in h for h in hooks)
    for secret in registration.secret.split():
        assert all(secret not in e.response_body for e in wf.exchanges)
    sold(shop)
    for topic in ("ecomm_new_order", "ecomm_inventory_changed"):
        (_, headers, body) = delivered(receiver, topic, 1)[0]
        assert verify(headers, body, registration.secret).valid


def test_registering_again_replaces_the_webhooks(shop, receiver):
    first = connector(shop).register_webhooks(receiver.url)

    again = connector(shop).register_webhooks(receiver.url)

    assert len(shop.state()["webhooks"]) == 3
    assert "replaced 3" in again.note
    sold(shop)
    (_, headers, body) = delivered(receiver, "ecomm_new_order", 1)[0]
    assert verify(headers, body, again.secret).valid
    assert not verify(headers, body, first.secret).valid
    assert len(settled(shop, 2)) == 2  # one new order, one stock change: not twice each


def test_a_token_without_sites_write_cannot_register(shop):
    wf = WebflowConnector(
        base_url=shop.url,
        credentials={"token": "wf-sandbox-readonly-token"},
        settings={"site_id": SITE},
    )
    with pytest.raises(AuthError, match="403"):
        wf.register_webhooks("https://example.invalid/hook")


# ------------------------------------------------------------------ the sandbox's API


def test_the_orders_listing_filters_and_pages(shop):
    ids = [sold(shop) for _ in range(3)]
    act(shop, ids[1], "fulfil")
    path = f"/v2/sites/{SITE}/orders"

    unfulfilled = api(shop, "GET", path, params={"status": "unfulfilled"}).json()
    second = api(shop, "GET", path, params={"offset": 1, "limit": 1}).json()

    assert [o["orderId"] for o in unfulfilled["orders"]] == [ids[0], ids[2]]
    assert unfulfilled["pagination"] == {"limit": 100, "offset": 0, "total": 2}
    assert [o["orderId"] for o in second["orders"]] == [ids[1]]
    assert second["pagination"]["total"] == 3
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"status": "lost"}):
        answer = api(shop, "GET", path, params=params)
        assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
    assert api(shop, "GET", f"{path}/{ids[1]}").json()["status"] == "fulfilled"
    assert api(shop, "GET", f"{path}/nope").status_code == 404


def test_the_order_moves_of_the_api_and_their_conflicts(shop, subscribed, receiver):
    order_id = sold(shop)
    path = f"/v2/sites/{SITE}/orders/{order_id}"

    assert api(shop, "POST", path + "/unfulfill").status_code == 409
    fulfilled = api(shop, "POST", path + "/fulfill", json={"sendOrderFulfilledEmail": False})
    refunded = api(shop, "POST", path + "/refund", json={"reason": "fraudulent"})
    again = api(shop, "POST", path + "/refund")

    assert fulfilled.json()["fulfilledOn"]
    assert refunded.json()["refundedOn"]
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    changes = delivered(receiver, "ecomm_order_changed", 2)
    assert [read(subscribed, d).orders[0].status for d in changes] == ["fulfilled", "refunded"]


def test_webhooks_show_their_secret_once_and_keep_to_75_per_trigger(shop):
    shop.fail(rate_limits=False)
    path = f"/v2/sites/{SITE}/webhooks"
    body = {"triggerType": "ecomm_new_order", "url": "https://example.invalid/hook"}

    created = [api(shop, "POST", path, json=body) for _ in range(75)]
    over = api(shop, "POST", path, json=body)

    assert {c.status_code for c in created} == {200}
    assert created[0].json()["secretKey"]
    assert (over.status_code, over.json()["code"]) == (400, "validation_error")
    webhook_id = created[0].json()["id"]
    shown = api(shop, "GET", f"/v2/webhooks/{webhook_id}").json()
    assert "secretKey" not in shown
    assert shown["siteId"] == SITE
    assert api(shop, "DELETE", f"/v2/webhooks/{webhook_id}").status_code == 204
    assert api(shop, "GET", f"/v2/webhooks/{webhook_id}").status_code == 404
    assert api(shop, "POST", path, json=body).status_code == 200
    listed = api(shop, "GET", path).json()
    assert listed["pagination"]["total"] == 75


@pytest.mark.parametrize(
    "body",
    [
        {"triggerType": "ecomm_sold", "url": "https://example.invalid/hook"},
        {"triggerType": "ecomm_new_order", "url": "ftp://example.invalid/hook"},
        {"triggerType": "ecomm_new_order", "url": "https://x.invalid", "filter": {"name": "a"}},
    ],
)
def test_a_webhook_webflow_would_not_take_is_a_400(shop, body):
    answer = api(shop, "POST", f"/v2/sites/{SITE}/webhooks", json=body)
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")


def test_deliveries_are_retried_three_times_on_any_failure(shop):
    with Receiver(status=302) as failing:
        connector(shop).register_webhooks(failing.url)
        sold(shop)
        log = settled(shop, 8)  # new order and stock change, 4 attempts each

    assert sorted(d["attempt"] for d in log) == [1, 1, 2, 2, 3, 3, 4, 4]
    assert {d["event_id"] for d in log} == {""}  # Webflow sends no delivery id
