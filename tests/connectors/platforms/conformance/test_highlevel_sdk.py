"""HighLevel's official Python SDK (PyPI gohighlevel-api-client) against our sandbox: both
inventory calls it offers, and the OAuth token exchange it makes on its own when a call
answers 401. The SDK always sends `Version: v3` and camelCase token fields (channels.md §1.1)."""

import asyncio

import highlevel
import pytest
from highlevel.error import GHLError

from connectors.platforms.highlevel.demo import LOCATION

PLATFORM = "highlevel"
CLIENT = {"client_id": "hl-sandbox-client-id", "client_secret": "hl-sandbox-client-secret"}
LOCATION_QUERY = {"alt_id": LOCATION, "alt_type": "location"}


def sdk(sandbox, **config):
    """The SDK's client, pointed at the sandbox instead of services.leadconnectorhq.com."""
    client = highlevel.HighLevel(**config)
    client.http_client.base_url = sandbox.url
    return client


def run(coroutine):
    return asyncio.run(coroutine)


MUGS = {"p1": ("MUG-R", 3), "p2": ("MUG-B", 7)}


@pytest.fixture
def hl(sandbox):
    items = [{"priceId": p, "sku": sku, "availableQuantity": q} for p, (sku, q) in MUGS.items()]
    sandbox.seed(items=items)
    return sandbox


def quantities(hl) -> dict:
    items = hl.state()["locations"][LOCATION]
    return {pid: item["availableQuantity"] for pid, item in items.items()}


def test_the_sdk_lists_inventory_with_its_v3_version_header(hl):
    client = sdk(hl, private_integration_token="pit-hl-sandbox-token")

    body = run(client.products.get_list_inventory(**LOCATION_QUERY, limit=1, offset=1))

    assert [i["sku"] for i in body["inventory"]] == ["MUG-B"]
    assert body["total"] == {"total": 2}
    assert hl.log()[-1]["headers"]["Version"] == "v3"


def test_the_sdk_updates_inventory(hl):
    client = sdk(hl, private_integration_token="pit-hl-sandbox-token")
    update = {
        "altId": LOCATION,
        "altType": "location",
        "items": [{"priceId": "p1", "availableQuantity": 12, "allowOutOfStockPurchases": True}],
    }

    answer = run(client.products.update_inventory(update))

    assert answer == {"status": True, "message": "Successfully created"}
    assert quantities(hl) == {"p1": 12, "p2": 7}


def test_the_sdk_reads_a_refused_update_as_highlevel_words_it(hl):
    client = sdk(hl, private_integration_token="pit-hl-sandbox-token")
    update = {"altId": LOCATION, "altType": "location", "items": [{"priceId": "nope"}]}

    with pytest.raises(GHLError) as refused:
        run(client.products.update_inventory(update))

    assert refused.value.status_code == 422
    assert "items.0.priceId nope was not found" in refused.value.message
    assert quantities(hl) == {"p1": 3, "p2": 7}


async def call_after_expiry(client, refresh_token):
    """Store an OAuth session whose access token the sandbox no longer takes, then list:
    the SDK refreshes on the 401 (camelCase fields) and sends the call again."""
    await client.session_storage.set_session(
        LOCATION,
        {"access_token": "hl-at-expired", "refresh_token": refresh_token, "userType": "Location"},
    )
    # The SDK finds a session by a location header: the inventory calls name it altId.
    options = {"headers": {"x-location-id": LOCATION}}
    return await client.products.get_list_inventory(**LOCATION_QUERY, options=options)


def test_the_sdk_refreshes_an_expired_token_with_camel_case_fields(hl):
    client = sdk(hl, **CLIENT)

    body = run(call_after_expiry(client, "hl-sandbox-refresh-token"))

    assert body["total"] == {"total": 2}
    token_call = next(r for r in hl.log() if r["path"] == "/oauth/token")
    assert token_call["status"] == 200
    session = run(client.session_storage.get_session(LOCATION))
    assert session["userId"] == "hl-sandbox-user"
    assert session["refreshToken"].startswith("hl-rt-")


def test_the_sdk_reads_a_refused_refresh_as_highlevel_words_it(hl):
    client = sdk(hl, **CLIENT)

    with pytest.raises(GHLError) as refused:
        run(
            client.oauth.refresh_token(
                "not-a-refresh-token", *CLIENT.values(), "refresh_token", "Location"
            )
        )

    assert refused.value.status_code == 400
    assert refused.value.response == {
        "statusCode": 400,
        "message": "Invalid grant: refresh token is invalid",
    }
    assert refused.value.message == "Invalid grant: refresh token is invalid"
