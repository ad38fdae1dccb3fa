"""Elastic Path's connector against its sandbox in both inventory modes: what is its own
(delta transactions, multi-location `set`, tokens). The shared contract runs for basic
inventories in test_contract.py, and for multi-location ones here."""

import json
import time

import pytest

from connectors.exceptions import ChannelError, RateLimited, TransientError
from connectors.platforms.base import PushItem
from connectors.platforms.elasticpath.connector import ElasticPathConnector
from connectors.platforms.elasticpath.demo import CREDENTIALS
from connectors.platforms.elasticpath.testing import SLUG, ElasticPathMultiLocationHooks
from connectors.platforms.strategy import push
from tests.connectors.platforms.contract import ConnectorContract, PlatformCase


def api_log(sandbox, suffix=""):
    return [r for r in sandbox.log(path="/v2/inventories") if r["path"].endswith(suffix)]


class TestElasticPath(PlatformCase):
    """Basic ("legacy") inventories: reads, then increments or decrements."""

    platform = "elasticpath"

    # ------------------------------------------------------------------ Elastic Path's own

    def test_capabilities_are_delta_in_basic_mode(self, sandbox):
        capabilities = self.connector(sandbox).capabilities
        assert (capabilities.writes, capabilities.batch_max) == ("delta", 1)
        assert capabilities.rate_limit == (100, 1)

    def test_one_read_per_batch_and_one_transaction_per_changed_item(self, sandbox):
        items = self.make_items(5)
        self.seed(sandbox, items, quantity=3)
        targets = [3, 5, 1, 3, 10]
        items = [
            PushItem(**{**i.__dict__, "quantity": q}) for i, q in zip(items, targets, strict=True)
        ]
        sandbox.control("DELETE", "requests")
        connector = self.connector(sandbox)

        outcomes = self.push(connector, items)

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, q) for q in targets]
        assert len(api_log(sandbox, "/multiple")) == 1
        sent = [
            (r["path"].split("/")[3], r["body"]["data"]["action"], r["body"]["data"]["quantity"])
            for r in api_log(sandbox, "/transactions")
        ]
        assert sent == [
            (items[1].remote_id, "increment", 2),
            (items[2].remote_id, "decrement", 2),
            (items[4].remote_id, "increment", 7),
        ]
        assert [self.remote_quantity(sandbox, i) for i in items] == targets
        read, *writes = [e for e in connector.exchanges if e.purpose != "auth"]
        assert [o["key"] for o in read.items] == [1, 4]  # decided by the read alone
        assert [w.items[0]["key"] for w in writes] == [2, 3, 5]

    def test_more_items_than_one_read_takes_are_read_in_batches(self, sandbox):
        items = self.make_items(101)
        self.seed(sandbox, items, quantity=0)
        items[0] = PushItem(**{**items[0].__dict__, "quantity": 4})
        items[100] = PushItem(**{**items[100].__dict__, "quantity": 6})
        sandbox.control("DELETE", "requests")

        outcomes = self.push(self.connector(sandbox), items)

        assert all(o.ok for o in outcomes)
        reads = api_log(sandbox, "/multiple")
        assert [len(r["body"]["data"]) for r in reads] == [100, 1]
        assert len(api_log(sandbox, "/transactions")) == 2

    def test_a_checkout_between_read_and_write_is_read_again_not_forced(self, sandbox):
        items = self.make_items(2, quantity=0)
        self.seed(sandbox, items, quantity=5)
        connector = self.connector(sandbox)
        # A shopper pays for 3 right after our read (the sandbox places it then).
        sale = {"after_read": True, "lines": [{"remote_id": items[0].remote_id, "quantity": 3}]}
        sandbox.control("POST", "orders", sale)

        first, second = push(connector, items)

        assert (first.ok, first.quantity, second.ok) == (True, 0, True)
        stock = sandbox.state()["stock"][items[0].remote_id]
        assert (stock["available"], stock["allocated"]) == (0, 3)  # the sale stays allocated
        refused = [e for e in connector.exchanges if e.status == 422]
        assert refused[0].outcome == "rejected"
        assert "insufficient stock levels" in refused[0].items[0]["message"]
        assert refused[0].items[0]["stale"]
        decrements = [r["body"]["data"]["quantity"] for r in api_log(sandbox, "/transactions")]
        assert decrements == [5, 5, 2]  # ours refused, the other's, ours again after a read

    def test_a_refusal_that_is_not_about_stock_fails_the_item(self, sandbox):
        items = self.make_items(1, quantity=2)
        self.seed(sandbox, items, quantity=5)
        connector = self.connector(sandbox)
        send = connector.request

        def refuse(method, path, **kwargs):
            response = send(method, path, **kwargs)
            if path.endswith("/transactions"):
                body = {"errors": [{"status": 400, "title": "Bad Request", "detail": "quantity"}]}
                response.status_code, response._content = 400, json.dumps(body).encode()
            return response

        connector.request = refuse
        [outcome] = push(connector, items)
        assert (outcome.ok, outcome.retry) == (False, False)
        assert outcome.message == "Bad Request: quantity"

    def test_a_lost_transaction_is_not_resent_and_the_next_push_reads_first(self, sandbox):
        items = self.make_items(1, quantity=8)
        self.seed(sandbox, items, quantity=5)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(drop_after_apply_next=1, paths=[f"/v2/inventories/{items[0].remote_id}/"])
        sandbox.control("DELETE", "requests")

        with pytest.raises(TransientError) as caught:
            self.push(connector, items)
        assert caught.value.maybe_applied
        assert len(api_log(sandbox, "/transactions")) == 1

        outcomes = self.push(self.connector(sandbox), items)
        assert outcomes[0].ok
        assert len(api_log(sandbox, "/transactions")) == 1  # read 8: nothing left to send
        assert self.remote_quantity(sandbox, items[0]) == 8

    def test_a_dropped_read_is_transient_and_applied_nothing(self, sandbox):
        connector, items = self.primed(sandbox, quantity=8, held=5, drop_next=1)
        with pytest.raises(TransientError) as caught:
            self.push(connector, items)
        assert not caught.value.maybe_applied

    def test_429_without_a_header_waits_one_second(self, sandbox):
        connector, items = self.primed(sandbox, rate_limit_next=1)
        with pytest.raises(RateLimited) as caught:
            self.push(connector, items)
        assert caught.value.retry_after == 1.0
        assert not caught.value.daily

    def test_the_token_is_renewed_after_expire_tokens(self, sandbox):
        items = self.make_items(1, quantity=6)
        self.seed(sandbox, items, quantity=1)
        connector = self.connector(sandbox)
        self.push(connector, items)
        first_token = sandbox.auth_state["access_token"]
        sandbox.control("POST", "expire-tokens")
        sandbox.control("DELETE", "requests")
        connector.exchanges.clear()

        items = [PushItem(**{**items[0].__dict__, "quantity": 9})]
        assert self.push(connector, items)[0].ok

        assert [(e.purpose, e.status) for e in connector.exchanges] == [
            ("read", 401),
            ("auth", 200),
            ("read", 200),
            ("write", 200),
        ]
        assert connector.exchanges[0].outcome == "auth"
        assert sandbox.auth_state["access_token"] not in ("", first_token)  # kept by the caller
        assert [r["path"] for r in sandbox.log() if r["path"] == "/oauth/access_token"] == [
            "/oauth/access_token"
        ]
        assert self.remote_quantity(sandbox, items[0]) == 9

    def test_a_token_past_expires_in_is_renewed_before_use(self, sandbox):
        items = self.make_items(1, quantity=2)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        connector.authenticate()
        connector.auth_state["expires_at"] = time.time() + 30  # within a minute of expiring
        connector.exchanges.clear()
        self.push(connector, items)
        assert [(e.purpose, e.status) for e in connector.exchanges] == [
            ("auth", 200),
            ("read", 200),
            ("write", 200),
        ]

    def test_untracked_variants_get_a_large_quantity_read_back_as_untracked(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=4)
        untracked = [PushItem(**{**i.__dict__, "quantity": None}) for i in items]
        connector = self.connector(sandbox)
        connector.settings["untracked_quantity"] = "500"

        outcomes = push(connector, untracked[:1])

        assert outcomes[0].ok
        assert outcomes[0].quantity is None
        assert self.remote_quantity(sandbox, items[0]) == 500
        assert connector.read_levels(untracked) == {1: None, 2: 4}
        assert self.connector(sandbox).untracked_quantity == 9999

    def test_a_base_url_given_with_v2_is_accepted(self, sandbox):
        items = self.make_items(1, quantity=3)
        self.seed(sandbox, items, quantity=0)
        connector = ElasticPathConnector(base_url=sandbox.url + "/v2/", credentials=CREDENTIALS)
        assert connector.base_url == sandbox.url
        assert push(connector, items)[0].ok

    def test_a_development_store_is_limited_to_25_rps(self, sandbox):
        connector = ElasticPathConnector(
            base_url=sandbox.url, credentials=CREDENTIALS, settings={"development_store": True}
        )
        assert connector.capabilities.rate_limit == (25, 1)


class TestElasticPathMultiLocation(ConnectorContract):
    """Multi-location inventories: `set` at the channel's location slug."""

    platform = "elasticpath"
    hooks_class = ElasticPathMultiLocationHooks

    def test_capabilities_are_absolute_in_multi_location_mode(self, sandbox):
        assert self.connector(sandbox).capabilities.writes == "absolute"

    def test_set_lands_on_the_slug_with_the_header(self, sandbox):
        items = self.make_items(2, quantity=10)
        self.seed(sandbox, items, quantity=3)
        sandbox.control("DELETE", "requests")

        outcomes = self.push(self.connector(sandbox), items)

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 10), (True, 10)]
        stock = sandbox.state()["stock"][items[0].remote_id]
        assert stock["locations"][SLUG]["available"] == 10
        assert stock["locations"]["leeds"]["available"] == 7  # other locations untouched
        assert stock["available"] == 2 + 10 + 7
        calls = api_log(sandbox)
        assert [c["path"].rsplit("/", 1)[-1] for c in calls] == [
            "multiple",
            "transactions",
            "transactions",
        ]
        assert all(c["headers"].get("Ep-Inventories-Multi-Location") == "true" for c in calls)
        assert calls[1]["body"]["data"] == {
            "type": "stock-transaction",
            "attributes": {"action": "set", "quantity": 10, "location": SLUG},
        }
        assert calls[1]["status"] == 201

    def test_set_keeps_what_is_allocated_at_the_location(self, sandbox):
        items = self.make_items(1, quantity=4)
        sandbox.seed(
            locations=[{"slug": SLUG}],
            items=[
                {"id": items[0].remote_id, "locations": {SLUG: {"available": 9, "allocated": 2}}}
            ],
        )
        sandbox.control("DELETE", "requests")

        assert self.push(self.connector(sandbox), items)[0].ok

        level = sandbox.state()["stock"][items[0].remote_id]["locations"][SLUG]
        assert (level["available"], level["allocated"]) == (4, 2)
        assert api_log(sandbox, "/transactions")[0]["body"]["data"]["attributes"]["quantity"] == 6

    def test_a_product_without_stock_at_the_location_gets_it(self, sandbox):
        items = self.make_items(1, quantity=5)
        sandbox.seed(locations=[{"slug": SLUG}], items=[{"id": items[0].remote_id}])
        assert self.push(self.connector(sandbox), items)[0].ok
        assert self.remote_quantity(sandbox, items[0]) == 5

    def test_an_unknown_location_is_a_channel_error(self, sandbox):
        items = self.make_items(1, quantity=5)
        self.seed(sandbox, items, quantity=0)
        connector = ElasticPathConnector(
            base_url=sandbox.url, credentials=CREDENTIALS, settings={"location_slug": "nowhere"}
        )
        with pytest.raises(ChannelError, match="nowhere"):
            push(connector, items)


def test_settings_and_credentials_are_checked():
    problems = ElasticPathConnector.config_problems(
        {"client_id": "x"}, {"location_slug": "s" * 129, "untracked_quantity": "lots"}
    )
    assert "credential 'Client secret' is required" in problems
    assert any("128 characters" in p for p in problems)
    assert any("untracked" in p for p in problems)
    assert ElasticPathConnector.config_problems(CREDENTIALS, {"untracked_quantity": 50}) == []
