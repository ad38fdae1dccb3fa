"""Demo channels on the five local sandboxes, for `make run`."""

import time
import uuid

import requests

from connectors.models import Channel, Listing
from connectors.sandboxes import PLATFORMS
from inventory.models import Location, Variant

HL_LOCATION = "6578278e879ad2646715ba9c"
NAMESPACE = uuid.UUID("6f1c2a52-5a4e-4f36-9a39-0d7f3c1b9e01")

DEMO = {
    "highlevel": ({"token": "pit-hl-sandbox-token"}, {"location_id": HL_LOCATION}),
    "webflow": ({"token": "wf-sandbox-site-token"}, {}),
    "unicommerce": ({"username": "uniware", "password": "uniware-sandbox-password"}, {}),
    "elasticpath": (
        {"client_id": "ep-sandbox-client-id", "client_secret": "ep-sandbox-client-secret"},
        {},
    ),
    "zettle": ({"client_id": "zettle-sandbox-client-id", "api_key": "zettle-sandbox-api-key"}, {}),
}


def remote_ids(platform, variant):
    """(remote_parent_id, remote_id) of a demo variant on a platform."""
    sku, product = variant.sku, variant.product_id
    return {
        "highlevel": ("", f"price-{sku}"),
        "webflow": ("demo-skus", f"sku-{sku}"),
        "unicommerce": (f"prod-{product}", f"var-{sku}"),
        "elasticpath": ("", str(uuid.uuid5(NAMESPACE, sku))),
        "zettle": (
            str(uuid.uuid5(NAMESPACE, f"product-{product}")),
            str(uuid.uuid5(NAMESPACE, sku)),
        ),
    }[platform]


def demo_channels():
    """Create the five demo channels and list every variant on each (safe to run again)."""
    locations = Location.objects.filter(code__in=["WH1", "STORE"])
    variants = list(Variant.objects.all())
    for platform, (credentials, settings) in DEMO.items():
        channel, created = Channel.objects.get_or_create(
            name=f"Demo {platform}",
            defaults={
                "platform": platform,
                "credentials": credentials,
                "settings": settings,
                "base_url": f"http://127.0.0.1:{PLATFORMS[platform].port}",
                "buffer": 1 if platform == "webflow" else 0,
            },
        )
        if created:
            channel.locations.set(locations)
        for variant in variants:
            parent, remote = remote_ids(platform, variant)
            Listing.objects.get_or_create(
                channel=channel,
                variant=variant,
                defaults={"remote_id": remote, "remote_parent_id": parent},
            )


def seed_sandboxes(timeout=30):
    """Give each running sandbox the demo channel's items (at 0), then push them all."""
    from connectors.services import channel_push_now

    for channel in Channel.objects.filter(name__startswith="Demo ", base_url__contains="127.0.0.1"):
        wait_for_sandbox(channel.base_url, timeout)
        listings = list(channel.listings.select_related("variant"))
        items = [_seed_item(channel.platform, listing) for listing in listings]
        if channel.platform == "zettle":
            items = _group_zettle(items)
        requests.post(f"{channel.base_url}/_sandbox/seed", json={"items": items}, timeout=10)
        channel_push_now(channel)


def _seed_item(platform, listing):
    parent, remote = listing.remote_parent_id, listing.remote_id
    return {
        "highlevel": {"priceId": remote, "availableQuantity": 0, "sku": listing.variant.sku},
        "webflow": {"collectionId": parent, "skuId": remote, "quantity": 0},
        "unicommerce": {
            "productId": parent,
            "variantId": remote,
            "inventory": 0,
            "sku": listing.variant.sku,
        },
        "elasticpath": {"id": remote, "available": 0},
        "zettle": {"productUuid": parent, "variants": {remote: 0}},
    }[platform]


def _group_zettle(items):
    products = {}
    for item in items:
        products.setdefault(item["productUuid"], {}).update(item["variants"])
    return [{"productUuid": p, "variants": v} for p, v in products.items()]


def wait_for_sandbox(url, timeout=30):
    """Block until the sandbox at `url` answers its health check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"the sandbox at {url} did not answer")
