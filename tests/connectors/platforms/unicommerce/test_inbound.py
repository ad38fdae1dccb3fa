"""Sales coming back from a Unicommerce marketplace (channels-inbound.md §5, §6): the sandbox
sells and changes its orders' statuses, the connector (as Uniware) polls them; the contract
has no webhooks."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    RETURNED,
    STAGES,
    Order,
    OrderLine,
    Unreadable,
)
from connectors.platforms.unicommerce.connector import TRACK_DAYS, UnicommerceConnector
from connectors.platforms.unicommerce.orders import read_order
from connectors.platforms.unicommerce.testing import LOGIN, UnicommerceHooks
from tests.connectors.webhook_receiver import Receiver

PLATFORM = "unicommerce"
DAY = 86_400


@pytest.fixture
def uc(sandbox):
    sandbox.seed(
        items=[
            {"productId": "p1", "variantId": "v1", "sku": "TEE-S", "inventory": 5},
            {"productId": "p1", "variantId": "v2", "sku": "TEE-M", "inventory": 3},
            {"productId": "p2", "variantId": "v3", "sku": "CAP", "inventory": 1},
            {"productId": "p3", "variantId": "v4", "sku": "MUG", "inventory": 100},
        ]
    )
    return sandbox


def connector(uc):
    return UnicommerceConnector(base_url=uc.url, credentials=LOGIN)


def sell(uc, *lines, **extra):
    """Place an order of (variantId, quantity) lines; its id."""
    body = {"lines": [{"remote_id": v, "quantity": q} for v, q in lines], **extra}
    return uc.control("POST", "orders", body)["id"]


def act(uc, order_id, action, restock=False):
    return uc.control("POST", f"orders/{order_id}", {"action": action, "restock": restock})


def control(uc, path, body):
    return requests.post(f"{uc.url}/_sandbox/{path}", json=body, timeout=5)


def poll(conn, cursor=None, since=None):
    """A whole pass, as the scheduled job runs it: ({order id: Order}, the cursor kept)."""
    cursor, seen = cursor or {}, {}
    for _ in range(100):
        page = conn.poll_orders(cursor, since)
        cursor = json.loads(json.dumps(page.cursor))  # kept on the channel as JSON
        seen.update({order.order_id: order for order in page.orders})
        if not page.more:
            return seen, cursor
    raise AssertionError("the pass never ended")


def inventory(uc):
    products = uc.state()["products"]
    return {v["variantId"]: v["inventory"] for p in products.values() for v in p["variants"]}


def order_calls(uc):
    return [r["query"] for r in uc.log(path="/orders") if r["path"] == "/orders"]


# ---------------------------------------------------------------------- selling


def test_a_sale_takes_its_units_off_the_listing_and_polls_as_an_open_order(uc):
    order_id = sell(uc, ("v1", 2), ("v3", 1))

    assert inventory(uc) == {"v1": 3, "v2": 3, "v3": 0, "v4": 100}
    shown = uc.state()["orders"][order_id]
    assert shown["orderStatus"] == "CREATED"
    assert [i["status"] for i in shown["orderItems"]] == ["CREATED", "CREATED"]

    orders, _ = poll(connector(uc))

    order = orders[order_id]
    assert (order.status, order.stage) == ("CREATED", OPEN)
    assert abs(order.placed_at.timestamp() - time.time()) < 60
    assert order.lines == (
        OrderLine(
            f"{order_id}-1", 2, remote_id="v1", remote_parent_id="p1", sku="TEE-S", stage=OPEN
        ),
        OrderLine(f"{order_id}-2", 1, remote_id="v3", remote_parent_id="p2", sku="CAP", stage=OPEN),
    )


def test_a_short_sale_is_a_409_and_changes_nothing(uc):
    before = inventory(uc)

    split = control(uc, "orders", {"lines": [{"remote_id": "v1", "quantity": 4}] * 2})
    short = control(
        uc, "orders", {"lines": [{"remote_id": "v2"}, {"remote_id": "v3", "quantity": 2}]}
    )

    assert (split.status_code, short.status_code) == (409, 409)
    assert "has 5 left, not 8" in split.json()["error"]
    assert inventory(uc) == before
    assert uc.state()["orders"] == {}


def test_a_line_naming_no_listing_is_a_400(uc):
    response = control(uc, "orders", {"lines": [{"remote_id": "v9"}]})
    assert response.status_code == 400
    assert "no variant 'v9'" in response.json()["error"]


STEPS = [
    ([], "CREATED", "CREATED", OPEN),
    (["fulfil"], "COMPLETE", "DISPATCHED", FULFILLED),
    (["fulfil", "fulfil"], "COMPLETE", "DELIVERED", FULFILLED),
    (["cancel"], "CANCELLED", "CANCELLED", CANCELLED),
    (["refund"], "CANCELLED", "CANCELLED", CANCELLED),  # refunded before dispatch
    (["fulfil", "refund"], "COMPLETE", "RETURN_REQUESTED", FULFILLED),
    (["fulfil", "restock"], "COMPLETE", "COURIER_RETURN", RETURNED),
    (["fulfil", "fulfil", "restock"], "COMPLETE", "RETURN_REQUESTED", RETURNED),
    (["fulfil", "refund", "restock"], "COMPLETE", "RETURN_REQUESTED", RETURNED),
]


@pytest.mark.parametrize(("actions", "order_status", "item_status", "stage"), STEPS)
def test_each_action_gives_its_stage_at_the_next_poll(
    uc, actions, order_status, item_status, stage
):
    conn = connector(uc)
    order_id = sell(uc, ("v1", 1), ("v2", 2))
    first, cursor = poll(conn)
    assert first[order_id].stage == OPEN

    for action in actions:
        restock = action == "restock"
        act(uc, order_id, "refund" if restock else action, restock=restock)
    orders, _ = poll(conn, cursor)

    order = orders[order_id]
    assert order.status == order_status
    assert [line.stage for line in order.lines] == [stage, stage]
    assert order.stage == stage
    items = uc.state()["orders"][order_id]["orderItems"]
    assert {i["status"] for i in items} == {item_status}
    received = stage == RETURNED
    assert all(bool(i["returnDate"]) == received for i in items)


def test_an_unpaid_order_waits_for_verification_until_accepted(uc):
    conn = connector(uc)
    order_id = sell(uc, ("v1", 1), paid=False)
    assert inventory(uc)["v1"] == 4  # the marketplace takes the units at the sale

    orders, cursor = poll(conn)
    assert (orders[order_id].status, orders[order_id].stage) == ("PENDING_VERIFICATION", PENDING)
    assert [line.stage for line in orders[order_id].lines] == [PENDING]
    refused = control(uc, f"orders/{order_id}", {"action": "fulfil"})
    assert refused.status_code == 409
    assert "awaits verification" in refused.json()["error"]

    act(uc, order_id, "pay")
    orders, _ = poll(conn, cursor)

    assert (orders[order_id].status, orders[order_id].stage) == ("CREATED", OPEN)


@pytest.mark.parametrize(
    ("actions", "refused", "reason"),
    [
        (["fulfil"], "cancel", "nothing to cancel"),
        ([], "pay", "already accepted"),
        (["fulfil", "fulfil"], "fulfil", "nothing left to dispatch"),
        (["cancel"], "refund", "nothing to refund"),
    ],
)
def test_the_marketplace_refuses_what_its_statuses_forbid(uc, actions, refused, reason):
    order_id = sell(uc, ("v1", 1))
    for action in actions:
        act(uc, order_id, action)
    before = uc.state()["orders"][order_id]

    response = control(uc, f"orders/{order_id}", {"action": refused})

    assert response.status_code == 409
    assert reason in response.json()["error"]
    assert uc.state()["orders"][order_id] == before


def test_a_refund_after_the_goods_came_back_is_refused(uc):
    order_id = sell(uc, ("v1", 1))
    act(uc, order_id, "fulfil")
    act(uc, order_id, "refund", restock=True)

    response = control(uc, f"orders/{order_id}", {"action": "refund", "restock": True})

    assert response.status_code == 409
    assert control(uc, "orders/nope", {"action": "pay"}).status_code == 400


def test_a_cancellation_puts_the_units_back_and_a_return_does_not(uc):
    cancelled = sell(uc, ("v1", 2))
    act(uc, cancelled, "cancel")
    assert inventory(uc)["v1"] == 5

    returned = sell(uc, ("v1", 2))
    act(uc, returned, "fulfil")
    act(uc, returned, "refund", restock=True)
    assert inventory(uc)["v1"] == 3  # the goods go back to the seller, whose Uniware pushes


def test_staff_edit_sets_the_level_and_sends_nothing(uc):
    product = uc.control("POST", "stock", {"remote_id": "v2", "quantity": 9})

    assert next(v for v in product["variants"] if v["variantId"] == "v2")["inventory"] == 9
    assert inventory(uc)["v2"] == 9
    assert uc.control("GET", "deliveries")["deliveries"] == []


# ---------------------------------------------------------------------- polling


def test_get_orders_pages_by_fifty_over_fifteen_days_for_each_status(uc):
    ids = [sell(uc, ("v4", 1)) for _ in range(51)]
    waiting = sell(uc, ("v4", 1), paid=False)
    conn = connector(uc)

    pages = []
    cursor = {}
    while not pages or pages[-1].more:
        pages.append(conn.poll_orders(cursor))
        cursor = pages[-1].cursor

    assert [len(p.orders) for p in pages] == [50, 1, 1]
    assert [o.order_id for p in pages for o in p.orders] == [*ids, waiting]
    calls = order_calls(uc)
    assert [(c["orderStatus"], c["pageNumber"], c["pageSize"]) for c in calls] == [
        ("CREATED", "1", "50"),
        ("CREATED", "2", "50"),
        ("PENDING_VERIFICATION", "1", "50"),
    ]
    start = datetime.fromisoformat(calls[0]["orderDateFrom"])
    end = datetime.fromisoformat(calls[0]["orderDateTo"])
    assert end - start == timedelta(days=15)
    assert abs(end.timestamp() - time.time()) < 60
    assert all(r["headers"]["Apikey"] for r in uc.log(path="/orders"))
    assert all(e.purpose == "orders" for e in conn.exchanges if e.purpose != "auth")


def test_a_second_poll_sees_what_changed_in_between(uc):
    conn = connector(uc)
    shipped, cancelled = sell(uc, ("v1", 1)), sell(uc, ("v2", 1))
    _, first = poll(conn)
    assert set(first["tracked"]) == {shipped, cancelled}

    act(uc, shipped, "fulfil")
    act(uc, cancelled, "cancel")
    new = sell(uc, ("v1", 1))
    uc.control("DELETE", "requests")
    orders, second = poll(conn, first)

    assert {k: o.stage for k, o in orders.items()} == {
        shipped: FULFILLED,
        cancelled: CANCELLED,
        new: OPEN,
    }
    assert [c["orderIds"] for c in order_calls(uc) if "orderIds" in c] == [f"{shipped},{cancelled}"]
    assert set(second["tracked"]) == {shipped, new}  # a cancelled order is done
    assert second["tracked"][shipped][1] == FULFILLED
    assert second["polled_at"] >= first["polled_at"]
    assert second["passes"] == first["passes"] + 1
    assert "pass" not in second


def test_dispatched_orders_are_checked_again_every_three_days(uc):
    conn = connector(uc)
    order_id = sell(uc, ("v1", 1))
    _, cursor = poll(conn)
    act(uc, order_id, "fulfil")
    _, cursor = poll(conn, cursor)
    act(uc, order_id, "refund", restock=True)
    uc.control("DELETE", "requests")

    orders, cursor = poll(conn, cursor)
    assert order_id not in orders
    assert not [c for c in order_calls(uc) if "orderIds" in c]

    cursor["tracked"][order_id][2] -= 3 * DAY  # its last check was three days ago
    orders, cursor = poll(conn, cursor)

    assert orders[order_id].stage == RETURNED
    assert cursor["tracked"] == {}


def test_status_checks_ask_for_five_orders_at_a_time(uc):
    conn = connector(uc)
    ids = [sell(uc, ("v4", 1)) for _ in range(7)]
    _, cursor = poll(conn)
    for order_id in ids:
        act(uc, order_id, "fulfil")
    uc.control("DELETE", "requests")

    orders, _ = poll(conn, cursor)

    assert {o.stage for o in orders.values()} == {FULFILLED}
    checks = [c for c in order_calls(uc) if "orderIds" in c]
    assert [(c["orderIds"].split(","), c["pageSize"]) for c in checks] == [
        (sorted(ids)[:5], "5"),
        (sorted(ids)[5:], "5"),
    ]


def test_since_reaches_past_the_window_and_old_orders_are_not_kept(uc):
    conn = connector(uc)
    now = datetime.now(UTC)
    older = sell(uc, ("v1", 1), orderDate=(now - timedelta(days=20)).isoformat())
    ancient = sell(uc, ("v1", 1), orderDate=(now - timedelta(days=TRACK_DAYS + 5)).isoformat())

    plain, _ = poll(conn)
    since = now - timedelta(days=40)
    caught_up, cursor = poll(conn, since=since)

    assert plain == {}
    assert set(caught_up) == {older, ancient}
    assert abs(caught_up[older].placed_at - (now - timedelta(days=20))) < timedelta(seconds=2)
    assert datetime.fromisoformat(order_calls(uc)[-1]["orderDateFrom"]) == since.replace(
        microsecond=0
    )
    assert set(cursor["tracked"]) == {older}  # tracked for TRACK_DAYS after the sale


def test_a_pass_under_way_with_since_goes_on_to_its_end(uc):
    conn = connector(uc)
    for _ in range(51):
        sell(uc, ("v4", 1))
    since = datetime.now(UTC) - timedelta(days=2)

    orders, _ = poll(conn, since=since)  # the same `since` on every call of the pass

    assert len(orders) == 51
    assert [c["pageNumber"] for c in order_calls(uc)] == ["1", "2", "1"]


def test_after_an_outage_the_window_reaches_back_to_the_last_poll(uc):
    now = datetime.now(UTC)
    order_id = sell(uc, ("v1", 1), orderDate=(now - timedelta(days=18)).isoformat())
    last = (now - timedelta(days=20)).isoformat(timespec="seconds")

    orders, _ = poll(connector(uc), {"polled_at": last, "passes": 3, "tracked": {}})

    assert set(orders) == {order_id}
    start = datetime.fromisoformat(order_calls(uc)[0]["orderDateFrom"])
    assert start == datetime.fromisoformat(last) - timedelta(hours=1)


def test_orders_listed_without_items_are_fetched_by_id(uc):
    uc.seed(settings={"items_in_list": False})
    ids = [sell(uc, ("v4", 1)) for _ in range(6)]

    orders, _ = poll(connector(uc))

    assert [len(orders[i].lines) for i in ids] == [1] * 6
    checks = [c["orderIds"] for c in order_calls(uc) if "orderIds" in c]
    assert checks == [",".join(ids[:5]), ids[5]]


def test_a_poll_logs_in_again_when_the_marketplace_expired_the_token(uc):
    conn = connector(uc)
    order_id = sell(uc, ("v1", 1))
    conn.authenticate()
    uc.control("POST", "expire-tokens")

    orders, _ = poll(conn)

    assert set(orders) == {order_id}
    assert [e.purpose for e in conn.exchanges][:3] == ["auth", "orders", "auth"]


def test_get_orders_needs_the_api_key_and_sane_parameters(uc):
    headers = UnicommerceHooks().login(uc.url)
    url = f"{uc.url}/orders"

    assert requests.get(url, timeout=5).status_code == 401
    bad_date = requests.get(url, params={"orderDateFrom": "soon"}, headers=headers, timeout=5)
    bad_status = requests.get(url, params={"orderStatus": "LOST"}, headers=headers, timeout=5)
    assert (bad_date.status_code, bad_status.status_code) == (400, 400)
    assert bad_date.json()["status"] == "FAILED"


def test_get_orders_reads_an_offset_sent_unencoded(uc):
    order_id = sell(uc, ("v1", 1))
    headers = UnicommerceHooks().login(uc.url)
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")

    raw = requests.get(
        f"{uc.url}/orders?orderDateFrom={start}+05:30&orderStatus=CREATED",
        headers=headers,
        timeout=5,
    )
    every = requests.get(
        f"{uc.url}/orders", params={"orderStatus": "COMPLETE"}, headers=headers, timeout=5
    )

    assert [o["id"] for o in raw.json()["orders"]] == [order_id]
    assert every.json() == {"orders": []}


# ---------------------------------------------------------------------- Uniware's calls


def test_uniware_dispatches_and_cancels_items_on_the_marketplace(uc):
    headers = UnicommerceHooks().login(uc.url)
    shipped = sell(uc, ("v1", 1), ("v2", 1))
    cancelled = sell(uc, ("v1", 2))

    dispatch = requests.post(
        f"{uc.url}/orders/dispatch",
        json={"orderItems": [{"orderItemId": f"{shipped}-1", "quantity": 1}, {"orderItemId": "x"}]},
        headers=headers,
        timeout=5,
    )
    cancel = requests.post(
        f"{uc.url}/orders/cancel",
        json={
            "orderId": cancelled,
            "orderItems": [
                {
                    "orderItemId": f"{cancelled}-1",
                    "productId": "p1",
                    "variantId": "v1",
                    "quantity": 2,
                }
            ],
        },
        headers=headers,
        timeout=5,
    )
    again = requests.post(
        f"{uc.url}/orders/cancel",
        json={"orderId": shipped, "orderItems": [{"orderItemId": f"{shipped}-1"}]},
        headers=headers,
        timeout=5,
    )

    assert dispatch.json() == {
        "status": "PARTIAL_SUCCESS",
        "orderItems": [
            {"orderItemId": f"{shipped}-1", "errorMessage": None},
            {"orderItemId": "x", "errorMessage": "Order item not found"},
        ],
    }
    assert cancel.json()["status"] == "SUCCESS"
    assert again.json()["status"] == "FAILED"
    assert "is DISPATCHED" in again.json()["orderItems"][0]["errorMessage"]
    orders = uc.state()["orders"]
    assert [i["status"] for i in orders[shipped]["orderItems"]] == ["DISPATCHED", "CREATED"]
    assert orders[shipped]["orderStatus"] == "CREATED"  # an item is still to dispatch
    assert orders[cancelled]["orderStatus"] == "CANCELLED"
    assert inventory(uc)["v1"] == 4  # the cancelled units are back


# ---------------------------------------------------------------------- no webhooks


def test_the_marketplace_sends_no_webhooks_whatever_happens(uc):
    assert (UnicommerceConnector.webhooks, UnicommerceConnector.polls_orders) == (False, True)
    assert UnicommerceConnector.registers_webhooks is False
    conn = connector(uc)
    with Receiver() as receiver:
        assert UnicommerceHooks().webhook_setup(uc, receiver.url) is None
        refused = control(uc, "webhooks", {"url": receiver.url})
        with pytest.raises(NotImplementedError):
            conn.register_webhooks(receiver.url)
        order_id = sell(uc, ("v1", 1))
        act(uc, order_id, "fulfil")
        uc.control("POST", "stock", {"remote_id": "v2", "quantity": 1})
        uc.control("POST", "deliveries/flush")

        assert refused.status_code == 400
        assert "no webhooks" in refused.json()["error"]
        assert uc.control("GET", "deliveries") == {"deliveries": [], "waiting": 0, "held": 0}
        assert receiver.deliveries == []
    assert uc.control("GET", "webhooks") == {"subscriptions": []}


def test_any_delivery_is_refused_with_the_reason():
    verdict = UnicommerceConnector.verify_webhook({"apikey": "x"}, b"{}", "", time.time())

    assert not verdict.valid
    assert "no webhooks" in verdict.reason
    with pytest.raises(Unreadable, match="no webhooks"):
        UnicommerceConnector.webhook_envelope({}, b"{}")


# ---------------------------------------------------------------------- properties

headers_st = st.dictionaries(st.text(max_size=30).map(str.lower), st.text(max_size=200), max_size=6)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
anything = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=30),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    json_value,
)
ITEM_WORDS = ["CREATED", "PENDING_VERIFICATION", "DISPATCHED", "DELIVERED", "RETURN_REQUESTED"]
statuses = st.sampled_from([*ITEM_WORDS, "CANCELLED", "COURIER_RETURN", "created", "", "LOST"])
statuses = statuses | anything
items_st = st.fixed_dictionaries(
    {},
    optional={
        "orderItemId": st.text(max_size=130) | st.integers() | anything,
        "status": statuses,
        "productId": st.text(max_size=10) | anything,
        "variantId": st.text(max_size=10) | anything,
        "sku": anything,
        "quantity": st.integers(-3, 2_000_000)
        | st.sampled_from(["2", "2.0", "1e400", " 3 "])
        | anything,
        "returnDate": anything,
    },
)
orders_st = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=130) | st.integers() | anything,
        "orderStatus": statuses,
        "orderDate": st.sampled_from(["2022-12-05 08:12:53", "2023-02-02T16:13:44+05:30"])
        | anything,
        "orderItems": st.lists(items_st | anything, max_size=4) | anything,
    },
)
PROPERTIES = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(headers=headers_st, body=st.binary(max_size=500), secret=st.text(max_size=40), now=anything)
def test_verify_webhook_never_raises(headers, body, secret, now):
    verdict = UnicommerceConnector.verify_webhook(headers, body, secret, now)
    assert verdict.valid is False
    assert verdict.reason


@PROPERTIES
@given(
    headers=headers_st,
    body=st.binary(max_size=500) | orders_st.map(lambda o: json.dumps(o).encode()),
)
def test_webhook_envelope_and_read_webhook_raise_only_unreadable(headers, body):
    conn = UnicommerceConnector(base_url="https://marketplace.invalid", credentials=LOGIN)
    with pytest.raises(Unreadable):
        UnicommerceConnector.webhook_envelope(headers, body)
    with pytest.raises(Unreadable):
        conn.read_webhook(headers, body)


@PROPERTIES
@given(raw=orders_st | anything)
def test_an_order_of_any_shape_is_read_or_unreadable(raw):
    try:
        order = read_order(raw)
    except Unreadable:
        return
    assert isinstance(order, Order)
    assert order.lines
    assert all(line.stage in STAGES and line.quantity >= 1 for line in order.lines)
    assert order.stage == min((line.stage for line in order.lines), key=STAGES.index)
