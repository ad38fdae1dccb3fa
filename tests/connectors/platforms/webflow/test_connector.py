"""Webflow's connector against its sandbox: the shared contract, and what is Webflow's own."""

import pytest

from connectors.exceptions import AuthError, ChannelError
from connectors.platforms.base import PushItem
from connectors.platforms.strategy import push
from connectors.platforms.webflow.connector import WebflowConnector
from connectors.platforms.webflow.testing import SKU_COLLECTION, TOKEN
from tests.connectors.platforms.contract import PlatformCase


class TestWebflow(PlatformCase):
    platform = "webflow"

    def test_each_sku_is_one_absolute_patch_at_the_top_level(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=3)
        connector = self.connector(sandbox)

        self.push(connector, [PushItem(**{**items[0].__dict__, "quantity": 9})])

        request = sandbox.log()[-1]
        assert request["method"] == "PATCH"
        assert request["path"] == f"/v2/collections/{SKU_COLLECTION}/items/sku0001/inventory"
        assert request["body"] == {"inventoryType": "finite", "quantity": 9}
        assert len(self.writes(connector)) == 1
        assert connector.exchanges[-1].items[0]["quantity"] == 9

    def test_untracked_variants_are_infinite(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=4)
        connector = self.connector(sandbox)
        item = PushItem(**{**items[0].__dict__, "quantity": None})

        outcomes = self.push(connector, [item])

        assert outcomes[0].ok
        assert outcomes[0].quantity is None
        assert sandbox.log()[-1]["body"] == {"inventoryType": "infinite"}
        assert self.remote_quantity(sandbox, item) is None
        assert connector.read_levels([item]) == {item.key: None}

    def test_a_negative_target_is_sent_as_zero(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=4)
        outcomes = self.push(
            self.connector(sandbox), [PushItem(**{**items[0].__dict__, "quantity": -3})]
        )
        assert outcomes[0].ok
        assert self.remote_quantity(sandbox, items[0]) == 0

    def test_a_site_without_ecommerce_is_a_channel_error(self, sandbox):
        sandbox.seed(
            sites={"no-shop": {"ecommerce": False}},
            items=[{"collectionId": "c-off", "skuId": "s1", "siteId": "no-shop"}],
        )
        item = PushItem(key=1, remote_id="s1", remote_parent_id="c-off", quantity=2)
        connector = self.connector(sandbox)
        with pytest.raises(ChannelError, match="ecommerce_not_enabled"):
            push(connector, [item])
        assert connector.exchanges[-1].outcome == "channel"
        with pytest.raises(ChannelError):
            connector.read_levels([item])

    def test_reads_leave_out_skus_webflow_does_not_know(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=5)
        sandbox.seed(
            items=[
                {"collectionId": SKU_COLLECTION, "skuId": "sku0002", "inventoryType": "infinite"}
            ]
        )
        stranger = self.unknown_item(key=9)

        levels = self.connector(sandbox).read_levels([*items, stranger])

        assert levels == {1: 5, 2: None}
        assert sandbox.log()[-1]["method"] == "GET"

    def test_a_validation_error_refuses_the_item_with_webflows_details(self, sandbox, monkeypatch):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=1)
        connector = self.connector(sandbox)
        monkeypatch.setattr(connector, "_body", lambda item: {"quantity": 3})

        outcomes = push(connector, items)

        assert not outcomes[0].ok
        assert not outcomes[0].retry
        assert "inventoryType" in outcomes[0].message
        assert connector.exchanges[-1].outcome == "rejected"

    def test_a_read_only_token_is_an_auth_error(self, sandbox):
        items = self.make_items(1, quantity=2)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox, credentials={"token": "wf-sandbox-readonly-token"})
        with pytest.raises(AuthError):
            push(connector, items)

    def test_a_base_url_with_the_version_also_works(self, sandbox):
        items = self.make_items(1, quantity=6)
        self.seed(sandbox, items, quantity=0)
        connector = WebflowConnector(base_url=sandbox.url + "/v2/", credentials={"token": TOKEN})
        assert push(connector, items)[0].ok
        assert sandbox.log()[-1]["path"].startswith("/v2/collections/")


def test_the_token_is_required():
    assert WebflowConnector.config_problems({}, {}) == ["credential 'Site API token' is required"]
