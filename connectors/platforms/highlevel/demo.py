"""The demo channel on HighLevel's sandbox (connectors.demo)."""

import requests

LOCATION = "6578278e879ad2646715ba9c"
CREDENTIALS = {"token": "pit-hl-sandbox-token"}
SETTINGS = {"location_id": LOCATION}


def remote_ids(variant):
    """(remote_parent_id, remote_id) of a demo variant."""
    return "", f"price-{variant.sku}"


def seed_items(listings):
    """The sandbox's seed items for these listings, each at 0."""
    return [
        {"priceId": listing.remote_id, "availableQuantity": 0, "sku": listing.variant.sku}
        for listing in listings
    ]


def subscribe(sandbox_url, hook_url):
    """HighLevel has no API to register webhooks (its app's settings hold the URL): the
    sandbox's control route plays those settings. Returns the credentials the channel needs
    to check the signatures: the sandbox's public keys."""
    requests.post(f"{sandbox_url}/_sandbox/webhooks", json={"url": hook_url}, timeout=10)
    keys = requests.get(f"{sandbox_url}/_sandbox/state", timeout=10).json()
    keys = keys["webhook_public_keys"]
    return {"webhook_public_key": keys["ed25519"] + keys["rsa"]}
