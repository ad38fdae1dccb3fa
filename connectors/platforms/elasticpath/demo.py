"""The demo channel on Elastic Path's sandbox (connectors.demo)."""

import uuid

NAMESPACE = uuid.UUID("6f1c2a52-5a4e-4f36-9a39-0d7f3c1b9e01")
CREDENTIALS = {"client_id": "ep-sandbox-client-id", "client_secret": "ep-sandbox-client-secret"}
SETTINGS = {}


def remote_ids(variant):
    return "", str(uuid.uuid5(NAMESPACE, variant.sku))


def seed_items(listings):
    return [{"id": listing.remote_id, "available": 0} for listing in listings]
