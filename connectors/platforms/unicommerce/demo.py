"""The demo channel on the Unicommerce marketplace sandbox (connectors.demo)."""

CREDENTIALS = {"username": "uniware", "password": "uniware-sandbox-password"}
SETTINGS = {}


def remote_ids(variant):
    return f"prod-{variant.product_id}", f"var-{variant.sku}"


def seed_items(listings):
    return [
        {
            "productId": listing.remote_parent_id,
            "variantId": listing.remote_id,
            "inventory": 0,
            "sku": listing.variant.sku,
        }
        for listing in listings
    ]
