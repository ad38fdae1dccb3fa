"""The demo channel on Zettle's sandbox (connectors.demo)."""

import uuid

NAMESPACE = uuid.UUID("6f1c2a52-5a4e-4f36-9a39-0d7f3c1b9e01")
CREDENTIALS = {"client_id": "zettle-sandbox-client-id", "api_key": "zettle-sandbox-api-key"}
SETTINGS = {"contact_email": "ops@shop.example"}  # Zettle needs one to subscribe webhooks


def remote_ids(variant):
    return (
        str(uuid.uuid5(NAMESPACE, f"product-{variant.product_id}")),
        str(uuid.uuid5(NAMESPACE, variant.sku)),
    )


def seed_items(listings):
    """One seed item per product, holding its variants."""
    products = {}
    for listing in listings:
        products.setdefault(listing.remote_parent_id, {})[listing.remote_id] = 0
    return [{"productUuid": p, "variants": v} for p, v in products.items()]
