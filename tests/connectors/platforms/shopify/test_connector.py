"""Shopify's connector against its sandbox over real HTTP: what is its own (compare-and-set
writes with idempotency keys, the stale path through the engine's `moved`, query-cost
pacing and THROTTLED, the version check, not-stocked and untracked items, both kinds of
token) and its sales coming back (HMAC-signed webhooks, orders read through GraphQL, the
poll). The shared contract runs in test_contract.py."""

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from connectors.exceptions import AuthError, ChannelError, ConfigError, RateLimited, TransientError
from connectors.platforms.base import PushItem
from connectors.platforms.inbound import CANCELLED, FULFILLED, OPEN, RETURNED, Unreadable
from connectors.platforms.shopify import connector as shopify
from connectors.platforms.shopify.connector import ShopifyConnector
from connectors.platforms.shopify.demo import CREDENTIALS
from connectors.platforms.shopify.testing import (
    LOCATION,
    OTHER_LOCATION,
    ShopifyTokenHooks,
    item_gid,
)
from connectors.platforms.strategy import push
from tests.connectors.platforms.contract import ConnectorContract, PlatformCase, at
from tests.connectors.webhook_receiver import Receiver

SECRET = CREDENTIALS["client_secret"]


def graphql_log(sandbox):
    return [r for r in sandbox.log() if r["path"].endswith("/graphql.json")]


def sent_sets(sandbox):
    """The inputs and keys of every inventorySetQuantities the sandbox answered."""
    found = []
    for record in graphql_log(sandbox):
        body = record.get("body") or {}
        if "inventorySetQuantities" in str(body.get("query")):
            found.append(body["variables"])
    return found


def confirmed(item, quantity, expected):
    return PushItem(**{**item.__dict__, "quantity": quantity, "expected": expected})


def signed(body, secret=SECRET):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class TestShopify(PlatformCase):
    platform = "shopify"

    def connector(self, sandbox, credentials=None, settings=None, **kwargs):
        return ShopifyConnector(
            base_url=sandbox.url,
            credentials=credentials or self.credentials(),
            settings={**self.settings(), **(settings or {})},
            auth_state=sandbox.auth_state,
            on_auth_change=sandbox.auth_state.update,
            **kwargs,
        )

    # ------------------------------------------------------------------ writes

    def test_a_push_is_one_compare_and_set_per_250_with_reason_reference_and_key(self, sandbox):
        items = self.make_items(3)
        self.seed(sandbox, items, quantity=4)
        items = [
            PushItem(**{**i.__dict__, "quantity": q, "expected": 4, "ledger_entry": 40 + n})
            for n, (i, q) in enumerate(zip(items, [6, 0, 4], strict=True))
        ]
        sandbox.control("DELETE", "requests")
        connector = self.connector(sandbox)

        outcomes = push(connector, items)

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 6), (True, 0), (True, 4)]
        [sent] = sent_sets(sandbox)
        payload = sent["input"]
        assert (payload["name"], payload["reason"]) == ("available", "correction")
        assert payload["referenceDocumentUri"] == "gid://backoffice/StockMovement/42"
        assert [(q["quantity"], q["changeFromQuantity"]) for q in payload["quantities"]] == [
            (6, 4),
            (0, 4),
            (4, 4),
        ]
        assert {q["locationId"] for q in payload["quantities"]} == {LOCATION}
        assert sent["key"].startswith("backoffice-set-")
        assert [self.remote_quantity(sandbox, i) for i in items] == [6, 0, 4]
        # Only the location pushed to moved.
        assert (
            sandbox.state()["items"][items[0].remote_id]["levels"][OTHER_LOCATION]["available"] == 7
        )

    def test_the_same_request_has_the_same_key_within_a_run_and_another_a_new_one(self, sandbox):
        connector = self.connector(sandbox)
        payload = {"quantities": [{"quantity": 3, "changeFromQuantity": 1}]}
        key = connector.idempotency_key("set", [1, 2], payload)
        assert key == connector.idempotency_key("set", [2, 1], payload)
        other = {"quantities": [{"quantity": 3, "changeFromQuantity": 2}]}
        assert key != connector.idempotency_key("set", [1, 2], other)
        assert key != connector.idempotency_key("set", [1, 3], payload)
        # The next run's: the same numbers later are another request (a restored store).
        assert key != self.connector(sandbox).idempotency_key("set", [1, 2], payload)

    def test_a_lost_answer_resent_is_applied_once_by_compare_and_set(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=5)
        item = confirmed(items[0], 8, 5)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(drop_after_apply_next=1)
        with pytest.raises(TransientError):
            push(connector, [item])
        assert self.remote_quantity(sandbox, item) == 8
        [outcome] = push(self.connector(sandbox), [item])  # the same request, the next run
        assert (outcome.ok, outcome.quantity) == (True, 8)
        assert self.remote_quantity(sandbox, item) == 8
        first, again = sent_sets(sandbox)  # stale (8 is not 5), then read: at the target
        assert first["input"] == again["input"]
        assert first["key"] != again["key"]

    def test_a_store_that_lost_its_levels_gets_them_back_from_the_same_numbers(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=0)
        [outcome] = push(self.connector(sandbox), [at(items[0], 6)])
        assert outcome.ok
        self.seed(sandbox, items, quantity=0)  # lost: the same read, the same numbers again
        [outcome] = push(self.connector(sandbox), [at(items[0], 6)])
        assert (outcome.ok, self.remote_quantity(sandbox, items[0])) == (True, 6)

    def test_a_sale_since_the_last_confirmation_goes_through_moved_and_is_never_undone(
        self, sandbox
    ):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=10)
        sandbox.control(
            "POST",
            "orders",
            {"line_items": [{"inventory_item_id": items[0].remote_id, "quantity": 2}]},
        )
        asked = []

        def moved(stale):
            asked.append([(i.key, i.quantity) for i in stale])
            return {i.key: 7 for i in stale}  # our ledger took the order in: 9 - 2

        # We last confirmed 10 and want 9; Shopify sold 2 meanwhile (available 8).
        [outcome] = push(self.connector(sandbox), [confirmed(items[0], 9, 10)], moved=moved)

        assert asked == [[(1, 9)]]
        assert (outcome.ok, outcome.quantity) == (True, 7)
        level = sandbox.state()["items"][items[0].remote_id]["levels"][LOCATION]
        assert (level["available"], level["committed"]) == (7, 2)
        first, second = sent_sets(sandbox)
        assert first["input"]["quantities"][0]["changeFromQuantity"] == 10
        assert second["input"]["quantities"][0]["changeFromQuantity"] == 8
        assert first["key"] != second["key"]

    def test_a_stale_answer_is_read_again_and_sent_again(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=3)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(stale_next=1)
        outcomes = push(connector, [confirmed(i, 9, 3) for i in items])
        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 9), (True, 9)]
        assert [self.remote_quantity(sandbox, i) for i in items] == [9, 9]

    def test_an_unknown_item_is_refused_and_its_batch_mates_land(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=1)
        stranger = PushItem(
            key=9, remote_id=item_gid(424242), remote_parent_id=LOCATION, quantity=3, expected=0
        )
        batch = [confirmed(items[0], 5, 1), stranger, confirmed(items[1], 6, 1)]

        outcomes = {o.key: o for o in push(self.connector(sandbox), batch)}

        assert not outcomes[9].ok
        assert not outcomes[9].retry
        assert "INVALID_INVENTORY_ITEM" in outcomes[9].message
        assert (outcomes[1].ok, outcomes[2].ok) == (True, True)
        assert [self.remote_quantity(sandbox, i) for i in items] == [5, 6]

    def test_an_item_not_stocked_at_the_location_is_refused_with_words(self, sandbox):
        sandbox.seed(
            locations=[{"id": LOCATION, "name": "Warehouse"}],
            items=[{"id": item_gid(5), "sku": "NS", "tracked": True, "levels": {}}],
        )
        item = PushItem(key=5, remote_id=item_gid(5), remote_parent_id=LOCATION, quantity=4)
        [outcome] = push(self.connector(sandbox), [item])
        assert not outcome.ok
        assert not outcome.retry
        assert "not stocked" in outcome.message
        assert sandbox.state()["items"][item_gid(5)]["levels"] == {}
        [outcome] = push(self.connector(sandbox), [PushItem(**{**item.__dict__, "expected": 0})])
        assert not outcome.ok
        assert "not stocked" in outcome.message

    def test_activate_missing_stocks_the_item_at_the_target(self, sandbox):
        sandbox.seed(
            locations=[{"id": LOCATION, "name": "Warehouse"}],
            items=[{"id": item_gid(5), "sku": "NS", "tracked": True, "levels": {}}],
        )
        item = PushItem(key=5, remote_id=item_gid(5), remote_parent_id=LOCATION, quantity=4)
        connector = self.connector(sandbox, settings={"activate_missing": "yes"})
        [outcome] = push(connector, [item])
        assert (outcome.ok, outcome.quantity) == (True, 4)
        assert sandbox.state()["items"][item_gid(5)]["levels"][LOCATION]["available"] == 4

    def test_an_item_shopify_does_not_track_reads_unlimited_and_is_not_overwritten(self, sandbox):
        sandbox.seed(
            locations=[{"id": LOCATION, "name": "Warehouse"}],
            items=[
                {
                    "id": item_gid(7),
                    "sku": "FREE",
                    "tracked": False,
                    "levels": {LOCATION: {"available": 0}},
                }
            ],
        )
        item = PushItem(key=7, remote_id=item_gid(7), remote_parent_id=LOCATION, quantity=3)
        connector = self.connector(sandbox)
        assert connector.read_levels([item]) == {7: None}
        [outcome] = push(connector, [item])
        assert not outcome.ok
        assert "does not track" in outcome.message
        [outcome] = push(connector, [at(item, None)])  # ours is untracked too: in step
        assert (outcome.ok, outcome.quantity) == (True, None)
        assert sent_sets(sandbox) == []

    def test_a_listing_without_a_location_uses_the_channels(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=2)
        item = PushItem(**{**items[0].__dict__, "remote_parent_id": "", "quantity": 5})
        [outcome] = push(self.connector(sandbox), [item])
        assert outcome.ok
        assert self.remote_quantity(sandbox, items[0]) == 5
        nowhere = self.connector(sandbox, settings={"location_id": ""})
        assert "location" in nowhere.problem(item)
        numeric = PushItem(**{**item.__dict__, "remote_id": item.remote_id.rsplit("/", 1)[1]})
        assert self.connector(sandbox).problem(numeric) == ""

    # ------------------------------------------------------------------ cost and throttling

    def test_every_answer_carries_the_bucket_and_a_throttled_query_is_waited_out(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(throttle_next=1)
        outcomes = push(connector, [confirmed(i, 3, 0) for i in items])
        assert all(o.ok for o in outcomes)
        assert connector.throttled == 1
        assert connector.cost_spent > 0
        assert [self.remote_quantity(sandbox, i) for i in items] == [3, 3]

    def test_a_refill_longer_than_the_patience_is_rate_limited_with_its_wait(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=0)
        sandbox.fail(bucket={"maximumAvailable": 1000, "restoreRate": 1})
        connector = self.connector(sandbox)
        connector.authenticate()
        connector.read_levels(items)  # the version check and a read spend some of it
        sandbox.fail(bucket={"maximumAvailable": 1000, "restoreRate": 1, "currentlyAvailable": 0})
        with pytest.raises(RateLimited) as caught:
            push(connector, [confirmed(items[0], 3, 0)])
        assert caught.value.retry_after > 5

    def test_the_pacing_spends_within_a_small_bucket_without_being_throttled(self, sandbox):
        items = self.make_items(30)
        self.seed(sandbox, items, quantity=0)
        # 35 points, 50 a second: each 10-point write fits, three in a row do not.
        sandbox.fail(bucket={"maximumAvailable": 35, "restoreRate": 50})
        connector = self.connector(sandbox)
        connector.authenticate()
        started = time.monotonic()
        for item in items[:8]:
            [outcome] = push(connector, [confirmed(item, 2, 0)])
            assert outcome.ok
        assert connector.throttled == 0
        assert time.monotonic() - started >= 0.5  # it waited for the refill

    def test_a_query_over_the_cost_limit_is_a_loud_channel_error(self, sandbox):
        connector = self.connector(sandbox)
        connector.authenticate()
        huge = "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }"
        with pytest.raises(ChannelError, match="bug in the connector"):
            connector.graphql(huge, {}, purpose="read")

    # ------------------------------------------------------------------ versions and auth

    def test_a_version_the_shop_no_longer_supports_is_a_config_error(self, sandbox):
        connector = self.connector(sandbox, settings={"api_version": "2025-07"})
        connector.authenticate()
        with pytest.raises(ConfigError, match="silently"):
            connector.read_levels(self.make_items(1))
        assert ShopifyConnector.config_problems(CREDENTIALS, {"api_version": "2026-13"})

    def test_an_answer_in_another_version_than_asked_is_a_config_error(self, sandbox):
        connector = self.connector(sandbox, settings={"api_version": "2025-10"})  # retired
        connector.authenticate()
        shopify._checked.clear()
        with pytest.raises(ConfigError, match="served 2026-01"):
            connector.read_levels(self.make_items(1))

    def test_the_version_is_checked_once_per_shop_and_version(self, sandbox):
        shopify._checked.clear()  # this process forgets; the auth_state keeps it
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=0)
        self.connector(sandbox).read_levels(items)
        self.connector(sandbox).read_levels(items)
        checks = [r for r in graphql_log(sandbox) if "publicApiVersions" in str(r.get("body"))]
        assert len(checks) == 1

    @pytest.mark.parametrize(
        ("status", "error", "words"),
        [
            (402, ChannelError, "unpaid"),
            (423, ChannelError, "locked"),
            (404, ChannelError, "no shop or API version"),
            (403, AuthError, "refused the credentials"),
        ],
    )
    def test_what_each_status_means(self, sandbox, status, error, words):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        connector.authenticate()
        connector.read_levels(items)  # the version check, before the switch
        sandbox.fail(error_next=1, error_statuses=[status])
        with pytest.raises(error, match=words):
            push(connector, [confirmed(items[0], 2, 0)])
        assert self.remote_quantity(sandbox, items[0]) == 0

    def test_a_version_the_shop_never_served_is_a_404_channel_error(self, sandbox):
        connector = self.connector(sandbox, settings={"api_version": "2031-01"})
        connector.authenticate()
        with pytest.raises(ChannelError, match="no shop or API version"):
            connector.read_levels(self.make_items(1))

    def test_a_static_token_proves_itself_with_a_shop_query(self, sandbox):
        connector = self.connector(sandbox, credentials=ShopifyTokenHooks().credentials())
        assert connector.test_connection().startswith("authenticated; shop ")

    def test_credentials_need_a_token_or_the_client_pair(self, sandbox):
        assert ShopifyConnector.config_problems({}, {})
        assert ShopifyConnector.config_problems({"client_id": "x"}, {})
        assert not ShopifyConnector.config_problems({"access_token": "shpat_x"}, {})
        assert not ShopifyConnector.config_problems(CREDENTIALS, {})
        assert ShopifyConnector.config_problems(CREDENTIALS, {"location_id": "Warehouse"})

    def test_a_static_token_is_sent_as_is_and_a_bad_one_is_an_auth_error(self, sandbox):
        hooks = ShopifyTokenHooks()
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=1)
        connector = self.connector(sandbox, credentials=hooks.credentials())
        assert not connector.uses_token
        [outcome] = push(connector, [at(items[0], 4)])
        assert outcome.ok
        assert [e.purpose for e in connector.exchanges if e.purpose == "auth"] == []
        with pytest.raises(AuthError):
            push(self.connector(sandbox, credentials=hooks.bad_credentials()), [at(items[0], 2)])
        assert self.remote_quantity(sandbox, items[0]) == 4

    # ------------------------------------------------------------------ webhooks

    def test_the_hmac_is_what_makes_a_delivery_valid(self, sandbox):
        body = b'{"id": 1}'
        headers = {"x-shopify-hmac-sha256": signed(body), "x-shopify-topic": "orders/create"}
        now = time.time()
        assert ShopifyConnector.verify_webhook(headers, body, SECRET, now).valid
        assert not ShopifyConnector.verify_webhook(headers, body + b" ", SECRET, now).valid
        assert not ShopifyConnector.verify_webhook(headers, body, "other-secret", now).valid
        assert not ShopifyConnector.verify_webhook(headers, body, "", now).valid
        assert not ShopifyConnector.verify_webhook({}, body, SECRET, now).valid
        odd = {"x-shopify-hmac-sha256": "\udcff"}
        assert not ShopifyConnector.verify_webhook(odd, body, SECRET, now).valid

    def test_the_envelope_is_the_event_id_and_topic(self, sandbox):
        headers = {
            "x-shopify-topic": "orders/paid",
            "x-shopify-event-id": "evt-1",
            "x-shopify-webhook-id": "wh-1",
        }
        assert ShopifyConnector.webhook_envelope(headers, b"{}") == ("evt-1", "orders/paid")
        headers.pop("x-shopify-event-id")
        assert ShopifyConnector.webhook_envelope(headers, b"{}") == ("wh-1", "orders/paid")
        for bad in (b"not json", b"[1]", b"\xff"):
            with pytest.raises(Unreadable):
                ShopifyConnector.webhook_envelope(headers, bad)
        with pytest.raises(Unreadable):
            ShopifyConnector.webhook_envelope({}, b"{}")

    def test_sales_come_back_signed_and_read_as_orders_and_levels(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=10)
        with Receiver() as receiver:
            connector = self.connector(sandbox)
            registration = connector.register_webhooks(receiver.url)
            assert registration.secret == SECRET
            assert len(registration.topics) == 6
            again = self.connector(sandbox).register_webhooks(receiver.url)
            assert "6 already there" in again.note
            order = sandbox.control(
                "POST",
                "orders",
                {"line_items": [{"inventory_item_id": items[0].remote_id, "quantity": 2}]},
            )
            events = read_all(connector, receiver, 2)
        by_topic = {e.topic: e for e in events}
        [sold] = by_topic["orders/create"].orders
        assert sold.stage == OPEN
        [line] = sold.lines
        assert (line.remote_id, line.quantity, line.stage) == (items[0].remote_id, 2, OPEN)
        assert sold.order_id == order["id"]  # the order's number, as the admin shows it
        [change] = by_topic["inventory_levels/update"].stock
        assert (change.remote_id, change.quantity) == (items[0].remote_id, 8)
        assert change.remote_parent_id == ""  # the channel's own location

    def test_fulfilment_cancel_and_a_restocked_refund_read_as_their_stages(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=10)
        with Receiver() as receiver:
            connector = self.connector(sandbox)
            connector.register_webhooks(receiver.url)
            line = [{"inventory_item_id": items[0].remote_id, "quantity": 1}]
            shipped = sandbox.control("POST", "orders", {"line_items": line})
            dropped = sandbox.control("POST", "orders", {"line_items": line})
            count = 4
            sandbox.control("POST", f"orders/{shipped['id']}/fulfil", {})
            sandbox.control("POST", f"orders/{dropped['id']}/cancel", {})
            line_id = shipped["order"]["line_items"][0]["id"]
            refund = {"line_items": [{"line_item_id": line_id, "quantity": 1}]}
            refund["line_items"][0]["restock_type"] = "return"
            sandbox.control("POST", f"orders/{shipped['id']}/refund", refund)
            events = read_all(connector, receiver, count, settle=True)
        stages = {}
        for event in events:
            for order in event.orders:
                stages.setdefault(event.topic, []).append(order.lines[0].stage)
        # Each delivery is read as its order stands when it is read, after the refund: the
        # orders/fulfilled too says the units came back (a late snapshot never wins).
        assert stages["orders/fulfilled"] == [RETURNED]
        assert stages["orders/cancelled"] == [CANCELLED]
        assert stages["refunds/create"] == [RETURNED]

    def test_the_poll_lists_changed_orders_and_moves_its_cursor_on(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=10)
        line = [{"inventory_item_id": items[0].remote_id, "quantity": 1}]
        first = sandbox.control("POST", "orders", {"line_items": line})
        connector = self.connector(sandbox)
        page = connector.poll_orders({}, since=datetime.now(UTC) - timedelta(hours=1))
        assert [o.order_id for o in page.orders] == [first["id"]]
        assert not page.more
        assert page.cursor["since"]
        second = sandbox.control("POST", "orders", {"line_items": line})
        page = connector.poll_orders(page.cursor)
        assert second["id"] in [o.order_id for o in page.orders]

    def poll_one(self, sandbox, order_id):
        page = self.connector(sandbox).poll_orders({}, since=datetime.now(UTC) - timedelta(hours=1))
        [read] = [o for o in page.orders if o.order_id == order_id]
        return {line.remote_id: line.stage for line in read.lines}

    def test_the_poll_finds_a_return_whose_webhook_was_lost(self, sandbox):
        """No receiver: the refund's webhook goes nowhere, and the poll reads the order's
        refunds: returned, kept without restock, and an order with nothing refunded read
        without asking for its refunds."""
        items = self.make_items(3)
        self.seed(sandbox, items, quantity=10)
        lines = [{"inventory_item_id": i.remote_id, "quantity": 2} for i in items]
        order = sandbox.control("POST", "orders", {"line_items": lines})
        untouched = sandbox.control("POST", "orders", {"line_items": lines[:1]})
        sandbox.control("POST", f"orders/{order['id']}/fulfil", {})
        ids = [line["id"] for line in order["order"]["line_items"]]
        refund = [
            {"line_item_id": ids[0], "quantity": 1, "restock_type": "return"},
            {"line_item_id": ids[1], "quantity": 2, "restock_type": "no_restock"},
        ]
        sandbox.control("POST", f"orders/{order['id']}/refund", {"line_items": refund})
        sandbox.control("DELETE", "requests")
        stages = self.poll_one(sandbox, order["id"])
        assert stages == {
            items[0].remote_id: RETURNED,  # one of two back on the shelf
            items[1].remote_id: FULFILLED,  # refunded, kept by the buyer
            items[2].remote_id: FULFILLED,
        }
        asked = [r["body"]["query"] for r in graphql_log(sandbox)]
        assert sum("query Refunds" in q for q in asked) == 1  # the refunded order only
        assert self.poll_one(sandbox, untouched["id"]) == {items[0].remote_id: OPEN}

    def test_a_refund_of_more_lines_than_a_query_holds_is_read_whole(self, sandbox):
        count = shopify.orders.REFUND_LINES + 5
        items = self.make_items(count)
        self.seed(sandbox, items, quantity=5)
        lines = [{"inventory_item_id": i.remote_id, "quantity": 1} for i in items]
        order = sandbox.control("POST", "orders", {"line_items": lines})
        sandbox.control("POST", f"orders/{order['id']}/fulfil", {})
        refund = [
            {"line_item_id": line["id"], "quantity": 1, "restock_type": "return"}
            for line in order["order"]["line_items"]
        ]
        sandbox.control("POST", f"orders/{order['id']}/refund", {"line_items": refund})
        sandbox.control("DELETE", "requests")
        stages = self.poll_one(sandbox, order["id"])
        assert stages == {i.remote_id: RETURNED for i in items}
        asked = [r["body"]["query"] for r in graphql_log(sandbox)]
        assert sum("query RefundLines" in q for q in asked) == 1  # read on, by the refund's id

    def test_an_order_of_more_lines_than_a_query_holds_is_read_whole(self, sandbox):
        items = self.make_items(30)
        self.seed(sandbox, items, quantity=5)
        lines = [{"inventory_item_id": i.remote_id, "quantity": 1} for i in items]
        order = sandbox.control("POST", "orders", {"line_items": lines})
        page = self.connector(sandbox).poll_orders({}, since=datetime.now(UTC) - timedelta(hours=1))
        [read] = [o for o in page.orders if o.order_id == order["id"]]
        assert sorted(line.remote_id for line in read.lines) == sorted(i.remote_id for i in items)

    def test_a_merchant_edit_elsewhere_names_its_location(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=5)
        with Receiver() as receiver:
            connector = self.connector(sandbox)
            connector.register_webhooks(receiver.url)
            for location, available in ((OTHER_LOCATION, 3), (LOCATION, 9)):
                edit = {"inventory_item_id": items[0].remote_id, "location_id": location}
                sandbox.control("POST", "levels", {**edit, "available": available})
            events = read_all(connector, receiver, 2)
        changes = [(c.remote_parent_id, c.quantity) for e in events for c in e.stock]
        assert changes == [(OTHER_LOCATION, 3), ("", 9)]

    def test_the_poll_pages_through_more_orders_than_a_page(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=100)
        line = [{"inventory_item_id": items[0].remote_id, "quantity": 1}]
        made = {sandbox.control("POST", "orders", {"line_items": line})["id"] for _ in range(12)}
        connector = self.connector(sandbox)
        cursor, seen, since = {}, set(), datetime.now(UTC) - timedelta(hours=1)
        for _ in range(5):
            page = connector.poll_orders(cursor, since=since)
            since = None
            seen |= {o.order_id for o in page.orders}
            cursor = page.cursor
            if not page.more:
                break
        assert made <= seen


def read_all(connector, receiver, count, settle=False):
    """The first `count` deliveries (all of them once they stop coming, with `settle`),
    verified and read."""
    deliveries = receiver.wait_for(count)
    if settle:
        time.sleep(1.0)
        deliveries = list(receiver.deliveries)
    events = []
    for _, headers, body in deliveries:
        assert connector.verify_webhook(headers, body, SECRET, time.time()).valid, headers
        events.append(connector.read_webhook(headers, body))
    return events


class TestShopifyStaticTokenContract(ConnectorContract):
    """The shared contract with a legacy admin-created app's token."""

    platform = "shopify"
    hooks_class = ShopifyTokenHooks


def test_an_order_webhook_body_that_names_no_order_is_unreadable():
    connector = ShopifyConnector(
        base_url="https://example.myshopify.com", credentials={"access_token": "shpat_x"}
    )
    headers = {"x-shopify-topic": "orders/create"}
    with pytest.raises(Unreadable):
        connector.read_webhook(headers, json.dumps({"id": "not-a-number"}).encode())
    headers = {"x-shopify-topic": "inventory_levels/update"}
    with pytest.raises(Unreadable):
        connector.read_webhook(headers, json.dumps({"available": 3}).encode())
    note = connector.read_webhook({"x-shopify-topic": "app/uninstalled"}, b"{}")
    assert note.note
    assert not note.orders
