"""The demo channel on HighLevel's sandbox (connectors.demo)."""

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
