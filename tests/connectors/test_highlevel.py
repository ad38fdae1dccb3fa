"""HighLevel's connector against its sandbox: the shared contract, and what is HighLevel's own."""

import pytest

from connectors.exceptions import RateLimited
from connectors.platforms.base import PushItem
from connectors.platforms.highlevel import HighLevelConnector
from tests.connectors.contract import ConnectorContract

LOCATION = "6578278e879ad2646715ba9c"


class TestHighLevel(ConnectorContract):
    platform = "highlevel"
    connector_class = HighLevelConnector

    def credentials(self, sandbox):
        return {
            "client_id": "hl-sandbox-client-id",
            "client_secret": "hl-sandbox-client-secret",
            "refresh_token": "hl-sandbox-refresh-token",
        }

    def bad_credentials(self, sandbox):
        return {"token": "pit-not-a-real-token"}

    def settings(self, sandbox):
        return {"location_id": LOCATION}

    def make_items(self, n, quantity=0):
        return [
            PushItem(key=i, remote_id=f"price{i:020d}", quantity=quantity, sku=f"SKU-{i}")
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(items=[{"priceId": i.remote_id, "availableQuantity": quantity} for i in items])

    def remote_quantity(self, sandbox, item):
        row = sandbox.state()["locations"][LOCATION][item.remote_id]
        return row["availableQuantity"]


def test_a_private_integration_token_works_without_oauth(running_highlevel):
    sandbox = running_highlevel
    sandbox.seed(items=[{"priceId": "p1", "availableQuantity": 0}])
    connector = HighLevelConnector(
        base_url=sandbox.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": LOCATION},
    )
    outcomes = connector.push_batch([PushItem(key=1, remote_id="p1", quantity=3)])
    assert outcomes[0].ok
    assert [e.purpose for e in connector.exchanges] == ["write"]
    request = sandbox.log()[-1]
    assert request["headers"]["Version"] == "2021-07-28"


def test_untracked_variants_keep_selling(running_highlevel):
    sandbox = running_highlevel
    sandbox.seed(items=[{"priceId": "p1", "availableQuantity": 4}])
    connector = HighLevelConnector(
        base_url=sandbox.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": LOCATION},
    )
    item = PushItem(key=1, remote_id="p1", quantity=None)
    connector.push_batch([item])
    row = sandbox.state()["locations"][LOCATION]["p1"]
    assert row["allowOutOfStockPurchases"] is True
    assert connector.read_levels([item]) == {1: None}


def test_a_daily_quota_429_is_told_apart_from_a_burst(running_highlevel):
    sandbox = running_highlevel
    sandbox.seed(items=[{"priceId": "p1"}])
    sandbox.control("POST", "seed", {"settings": {"daily_max": 1}})
    connector = HighLevelConnector(
        base_url=sandbox.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": LOCATION},
    )
    connector.push_batch([PushItem(key=1, remote_id="p1", quantity=1)])
    with pytest.raises(RateLimited) as caught:
        connector.push_batch([PushItem(key=1, remote_id="p1", quantity=2)])
    assert caught.value.daily
    assert caught.value.retry_after >= 3600


def test_settings_and_credentials_are_checked():
    problems = HighLevelConnector.config_problems({"client_id": "x"}, {})
    assert "setting 'Location id (altId)' is required" in problems
    assert any("Private Integration Token" in p for p in problems)
