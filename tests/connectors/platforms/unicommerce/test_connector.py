"""Unicommerce's connector (us as Uniware) against a marketplace sandbox: the shared contract,
and what is Unicommerce's own."""

import json
import logging

import pytest

from connectors.exceptions import AuthError, ChannelError
from connectors.platforms.base import PushItem
from connectors.platforms.http import REDACTED
from connectors.platforms.strategy import push
from connectors.platforms.unicommerce.connector import UnicommerceConnector
from connectors.platforms.unicommerce.testing import LOGIN
from tests.connectors.platforms.contract import PlatformCase


def with_quantity(item, quantity):
    return PushItem(**{**item.__dict__, "quantity": quantity})


class TestUnicommerce(PlatformCase):
    platform = "unicommerce"

    def remote_variant(self, sandbox, item):
        return self.hooks().remote_variant(sandbox, item)

    def updates(self, sandbox):
        return [r for r in sandbox.log(path="/updateInventory") if r["status"] == 200]

    # ------------------------------------------------------------------ Unicommerce's own

    def test_inventory_is_sent_as_a_string_with_the_raw_api_key(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=0)
        self.push(
            self.connector(sandbox), [with_quantity(items[0], 7), with_quantity(items[1], -2)]
        )

        request = self.updates(sandbox)[-1]
        assert request["body"] == {
            "inventoryList": [
                {"productId": "p1", "variantId": "v1", "inventory": "7"},
                {"productId": "p1", "variantId": "v2", "inventory": "0"},
            ]
        }
        assert request["headers"]["Apikey"] == REDACTED  # present; the log hides its value
        login = sandbox.log(path="/authToken")[-1]
        assert login["method"] == "GET"

    def test_partial_success_marks_exactly_the_failed_lines(self, sandbox):
        items = self.make_items(2, quantity=4)
        self.seed(sandbox, items, quantity=0)
        strangers = [
            PushItem(key=8, remote_id="v1", remote_parent_id="p-none", quantity=1),
            self.unknown_item(key=9),
        ]
        connector = self.connector(sandbox)

        outcomes = {o.key: o for o in push(connector, [items[0], *strangers, items[1]])}

        assert (outcomes[8].ok, outcomes[8].message) == (False, "Product not found")
        assert (outcomes[9].ok, outcomes[9].message) == (False, "Variant not found")
        assert [(o.key, o.retry) for o in outcomes.values() if o.retry] == []
        assert [(outcomes[k].ok, outcomes[k].quantity) for k in (1, 2)] == [(True, 4), (True, 4)]
        record = connector.exchanges[-1]
        assert record.outcome == "partial"
        assert [i["key"] for i in record.items] == [1, 8, 9, 2]

    def test_a_failed_batch_refuses_every_line(self, sandbox):
        sandbox.seed(items=[{"productId": "p1", "variantId": "v1"}])
        strangers = [
            PushItem(key=1, remote_id="v-gone", remote_parent_id="p1", quantity=2),
            PushItem(key=2, remote_id="v1", remote_parent_id="p-gone", quantity=3),
        ]
        connector = self.connector(sandbox)

        outcomes = push(connector, strangers)

        assert json.loads(connector.exchanges[-1].response_body)["status"] == "FAILED"
        assert [(o.ok, o.retry, o.message) for o in outcomes] == [
            (False, False, "Variant not found"),
            (False, False, "Product not found"),
        ]
        assert connector.exchanges[-1].outcome == "rejected"

    def test_facility_code_is_sent_and_read_back_when_set(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector_class(
            base_url=sandbox.url, credentials=LOGIN, settings={"facility_code": "ChWhCode"}
        )

        push(connector, [with_quantity(items[0], 12)])

        assert self.updates(sandbox)[-1]["body"]["inventoryList"][0]["facilityCode"] == "ChWhCode"
        assert self.remote_variant(sandbox, items[0])["facilityInventory"] == {"ChWhCode": 12}
        assert connector.read_levels(items) == {1: 12}

    def test_no_facility_code_is_sent_unless_set(self, sandbox):
        items = self.make_items(1, quantity=3)
        self.seed(sandbox, items, quantity=0)
        self.push(self.connector(sandbox), items)
        assert "facilityCode" not in self.updates(sandbox)[-1]["body"]["inventoryList"][0]

    def test_untracked_variants_get_the_configured_large_number(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=1)
        untracked = [with_quantity(i, None) for i in items]
        default = self.connector(sandbox)
        custom = self.connector_class(
            base_url=sandbox.url, credentials=LOGIN, settings={"untracked_quantity": "500"}
        )

        assert push(default, untracked[:1])[0].ok
        assert push(custom, untracked[1:])[0].ok

        assert [self.remote_quantity(sandbox, i) for i in items] == [9999, 500]
        assert default.read_levels(untracked) == {1: None, 2: 500}
        # At least the untracked quantity reads back as unlimited, whatever set it.
        assert custom.read_levels(untracked) == {1: None, 2: None}
        assert custom.read_levels(items) == {1: 9999, 2: 500}

    def test_the_default_batch_is_the_marketplaces_1000(self, sandbox):
        items = self.make_items(1001, quantity=2)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector_class(base_url=sandbox.url, credentials=LOGIN)
        assert connector.capabilities.batch_max == 1000

        outcomes = self.push(connector, items)

        assert all(o.ok for o in outcomes)
        assert [len(e.keys) for e in self.writes(connector)] == [1000, 1]
        assert len(self.updates(sandbox)) == 2

    def test_a_batch_over_the_marketplace_maximum_is_a_channel_error(self, sandbox):
        items = self.make_items(3, quantity=2)
        self.seed(sandbox, items, quantity=0)
        sandbox.seed(settings={"max_list_size": 2})
        with pytest.raises(ChannelError, match="exceeds 2 items"):
            push(self.connector(sandbox), items)

    def test_reads_find_variants_whose_sku_differs_on_the_marketplace(self, sandbox):
        items = self.make_items(3)
        self.seed(sandbox, items, quantity=6)
        renamed = PushItem(**{**items[2].__dict__, "sku": "OUR-OWN-SKU"})
        stranger = self.unknown_item(key=9)

        levels = self.connector(sandbox).read_levels([items[0], items[1], renamed, stranger])

        assert levels == {1: 6, 2: 6, 3: 6}
        assert sandbox.log(path="/products")[0]["query"]["skus"] == "SKU-1,SKU-2,OUR-OWN-SKU"

    def test_the_default_login_is_a_json_post_and_stores_no_password(self, sandbox):
        items = self.make_items(1, quantity=3)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector_class(base_url=sandbox.url, credentials=LOGIN)

        assert push(connector, items)[0].ok

        login = sandbox.log(path="/authToken")[-1]
        assert (login["method"], login["query"]) == ("POST", {})
        stored = connector.exchanges[0]
        assert (stored.purpose, stored.method) == ("auth", "POST")
        assert stored.request_body == f'{{"username": "{REDACTED}", "password": "{REDACTED}"}}'
        assert connector.auth_state["access_token"] not in stored.response_body

    def test_a_login_in_the_query_string_is_stored_redacted(self, sandbox, caplog):
        caplog.set_level(logging.DEBUG)
        connector = self.connector(sandbox)
        connector.authenticate()
        stored = connector.exchanges[0]
        assert stored.url.startswith(sandbox.url + "/authToken?")
        assert f"password={REDACTED}" in stored.url
        assert LOGIN["password"] not in stored.url
        assert LOGIN["password"] not in caplog.text  # urllib3 logs request lines at DEBUG

    def test_bad_credentials_by_get_are_an_auth_error(self, sandbox):
        connector = self.connector_class(
            base_url=sandbox.url,
            credentials={**LOGIN, "password": "wrong"},
            settings={"auth_method": "GET"},
        )
        with pytest.raises(AuthError, match="FAILED"):
            connector.authenticate()

    def test_bad_credentials_by_post_are_an_auth_error(self, sandbox):
        connector = self.connector_class(
            base_url=sandbox.url, credentials={**LOGIN, "password": "wrong"}
        )
        with pytest.raises(AuthError, match="INVALID_CREDENTIALS"):
            connector.authenticate()


def test_settings_are_checked():
    problems = UnicommerceConnector.config_problems(
        {"username": "u"}, {"batch_max": "0", "untracked_quantity": "-1", "auth_method": "PUT"}
    )
    assert problems == [
        "credential 'Marketplace password' is required",
        "setting 'Login method' must be one of POST, GET",
        "setting 'Lines per request' must be at least 1",
        "setting 'Quantity shown for untracked variants' must be at least 1",
    ]
