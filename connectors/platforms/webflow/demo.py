"""The demo channel on Webflow's sandbox (connectors.demo)."""

CREDENTIALS = {"token": "wf-sandbox-site-token"}
SETTINGS = {"site_id": "wf-sandbox-site"}  # the sandbox site that holds its orders
CHANNEL = {"buffer": 1}  # one channel with a rule, so the variant page explains one


def remote_ids(variant):
    return "demo-skus", f"sku-{variant.sku}"


def seed_items(listings):
    return [
        {"collectionId": listing.remote_parent_id, "skuId": listing.remote_id, "quantity": 0}
        for listing in listings
    ]
