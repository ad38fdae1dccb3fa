"""Demo channels on the platforms' local sandboxes, for `make run`: one per platform with a
sandbox and demo data (each platform's demo module: CREDENTIALS, SETTINGS, optional CHANNEL
rules, remote_ids(variant), seed_items(listings), and subscribe(sandbox_url, hook_url) where
the platform has no API to register webhooks)."""

import logging
import time

import requests
from django.db import transaction

from connectors.exceptions import ConnectorError
from connectors.models import Channel, Listing
from connectors.platforms import registry
from connectors.services.actions import channel_push_now
from connectors.services.inbound import channel_register_webhooks
from inventory.models import Location, Variant

DEMO_LOCATIONS = ("WH1", "STORE")


def demo_platforms():
    """The platforms `make run` shows: those with a sandbox and demo data."""
    return [p for p in registry.platforms() if p.sandbox and p.port and p.demo]


def demo_name(platform):
    return f"Demo {platform.name}"


def demo_channels(skus):
    """Create the demo channels, one per platform, each listing the variants of these SKUs
    (the demo's own). Run again, it changes nothing: once one demo channel exists none is
    made again, a channel is left as staff made it, its listings too, and no variant is
    listed that staff made (that is theirs to decide)."""
    names = [demo_name(p) for p in demo_platforms()]
    if Channel.objects.filter(name__in=names).exists():
        return []
    locations = list(Location.objects.filter(code__in=DEMO_LOCATIONS))
    variants = list(Variant.objects.filter(sku__in=skus).order_by("sku"))
    made = []
    for platform in demo_platforms():
        demo = platform.demo_module()
        with transaction.atomic():  # a channel with its listings, or nothing
            channel = Channel.objects.create(
                name=demo_name(platform),
                platform=platform.name,
                credentials=dict(demo.CREDENTIALS),
                settings=dict(demo.SETTINGS),
                base_url=f"http://127.0.0.1:{platform.port}",
                allocation_order=", ".join(DEMO_LOCATIONS),  # the warehouse first
                **getattr(demo, "CHANNEL", {}),
            )
            channel.locations.set(locations)
            Listing.objects.bulk_create(
                Listing(channel=channel, variant=v, remote_id=remote, remote_parent_id=parent)
                for v in variants
                for parent, remote in [demo.remote_ids(v)]
            )
        made.append(channel)
    return made


log = logging.getLogger(__name__)


def seed_sandboxes(timeout=30, app_url=None):
    """Give each running sandbox its demo channel's items (at 0), then push them all; with
    `app_url` (where the app answers), subscribe each demo channel to its sandbox's
    webhooks there, so what the sandboxes sell comes back."""
    for platform in demo_platforms():
        channel = Channel.objects.filter(
            name=demo_name(platform), base_url__contains="127.0.0.1"
        ).first()
        if channel is None:
            continue
        wait_for_sandbox(channel.base_url, timeout)
        listings = list(channel.listings.select_related("variant"))
        items = platform.demo_module().seed_items(listings)
        requests.post(f"{channel.base_url}/_sandbox/seed", json={"items": items}, timeout=10)
        channel_push_now(channel)
        if app_url:
            subscribe_demo(channel, platform, app_url)


def subscribe_demo(channel, platform, app_url):
    """Point the demo channel's sandbox webhooks at the app (through the platform's API
    where it has one; else the sandbox's own control route, as its app settings would)."""
    if not platform.connector_class().webhooks:
        return
    demo = platform.demo_module()
    try:
        if hasattr(demo, "subscribe"):
            url = app_url.rstrip("/") + channel.webhook_path
            credentials = demo.subscribe(channel.base_url, url)
            channel.credentials = {**channel.credentials, **credentials}
            channel.save(update_fields=["credentials"])
        else:
            channel_register_webhooks(channel, app_url)
    except (ConnectorError, requests.RequestException, NotImplementedError) as exc:
        log.warning("%s: its webhooks could not be subscribed: %s", channel.name, exc)


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
