"""HighLevel's connector against its sandbox: the shared contract, and what is HighLevel's own."""

import pytest

from connectors.exceptions import AuthError, RateLimited
from connectors.platforms.base import PushItem
from connectors.platforms.highlevel.connector import HighLevelConnector
from connectors.platforms.highlevel.demo import LOCATION
from connectors.platforms.strategy import push


def test_a_private_integration_token_works_without_oauth(running_highlevel):
    sandbox = running_highlevel
    sandbox.seed(items=[{"priceId": "p1", "availableQuantity": 0}])
    connector = HighLevelConnector(
        base_url=sandbox.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": LOCATION},
    )
    outcomes = push(connector, [PushItem(key=1, remote_id="p1", quantity=3)])
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
    push(connector, [item])
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
    push(connector, [PushItem(key=1, remote_id="p1", quantity=1)])
    sent = len(sandbox.log())
    with pytest.raises(RateLimited) as caught:
        push(connector, [PushItem(key=1, remote_id="p1", quantity=2)])
    assert caught.value.daily
    assert caught.value.retry_after > 3590
    # The first answer said the day's quota was spent: the second was never sent.
    assert len(sandbox.log()) == sent


def test_settings_and_credentials_are_checked():
    problems = HighLevelConnector.config_problems({"client_id": "x"}, {})
    assert "setting 'Location id (altId)' is required" in problems
    assert any("Private Integration Token" in p for p in problems)


def test_sales_come_back_by_webhook_and_by_poll_with_the_public_keys_as_a_credential():
    cls = HighLevelConnector
    key = next(f for f in cls.credential_fields if f.name == cls.webhook_secret_field)

    assert (cls.webhooks, cls.polls_orders, cls.registers_webhooks) == (True, True, False)
    assert cls.store_failed_status == 429  # the only status HighLevel retries
    assert (key.name, key.required) == ("webhook_public_key", False)
    assert "setting 'Days of orders polled' must be at least 1" in cls.config_problems(
        {"token": "t"}, {"location_id": LOCATION, "order_window_days": "0"}
    )


def test_a_refused_refresh_token_says_why(running_highlevel):
    connector = HighLevelConnector(
        base_url=running_highlevel.url,
        credentials={
            "client_id": "hl-sandbox-client-id",
            "client_secret": "hl-sandbox-client-secret",
            "refresh_token": "spent-long-ago",
        },
        settings={"location_id": LOCATION},
    )

    with pytest.raises(AuthError) as refused:
        connector.obtain_token()

    message = str(refused.value)
    assert message.startswith("highlevel refused the OAuth client or refresh token (400)")
    assert "Invalid grant: refresh token is invalid" in message
    assert "hl-sandbox-client-secret" not in message
