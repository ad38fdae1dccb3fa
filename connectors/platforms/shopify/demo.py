"""The demo channel on Shopify's sandbox (connectors.demo)."""

import uuid

import requests

NAMESPACE = uuid.UUID("0c7e2d6a-3f5b-4a8e-9d61-5b2f8e4c1a70")
LOCATION = "gid://shopify/Location/1"
CREDENTIALS = {
    "client_id": "shopify-sandbox-client-id",
    "client_secret": "shopify-sandbox-client-secret",
}
SETTINGS = {"location_id": LOCATION}


def item_number(sku):
    """A stable InventoryItem number for a SKU (12 digits, never 0)."""
    return uuid.uuid5(NAMESPACE, sku).int % 10**12 + 1


def remote_ids(variant):
    """(remote_parent_id, remote_id) of a demo variant: the channel's location, and an
    InventoryItem GID of its own."""
    return LOCATION, f"gid://shopify/InventoryItem/{item_number(variant.sku)}"


def seed_items(listings):
    """The sandbox's seed items for these listings, each tracked and stocked at 0. A reset
    sandbox holds no location (a real store has at least one), and connectors.demo seeds
    only items: the demo's location is seeded here first, on the listings' sandbox."""
    listings = list(listings)
    if listings:
        requests.post(
            f"{listings[0].channel.base_url.rstrip('/')}/_sandbox/seed",
            json={"locations": [{"id": LOCATION, "name": "Warehouse"}]},
            timeout=10,
        )
    return [
        {
            "id": listing.remote_id,
            "sku": listing.variant.sku,
            "tracked": True,
            "levels": {listing.remote_parent_id or LOCATION: {"available": 0}},
        }
        for listing in listings
    ]
