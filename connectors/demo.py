"""Demo channels on the platforms' local sandboxes, for `make run`: one per platform with a
sandbox and demo data (each platform's demo module: CREDENTIALS, SETTINGS, optional CHANNEL
rules, remote_ids(variant), seed_items(listings), and subscribe(sandbox_url, hook_url) where
the platform has no API to register webhooks).

The first load shows every feature: one channel paused with a reason (resume it from its
page: it then pushes the latest state), and one listing whose channel holds another quantity
than ours, an open drift found by a real reconcile (push ours, accept or ignore it)."""

import logging
import time
import uuid

import requests
from django.db import transaction

from connectors import listing_state
from connectors.exceptions import ConnectorError
from connectors.models import Channel, Drift, Listing
from connectors.platforms import registry
from connectors.services.actions import channel_pause, channel_push_now
from connectors.services.inbound import channel_register_webhooks
from connectors.services.push import sync_channel_run
from connectors.services.reconcile import channel_reconcile
from inventory.models import Location, Variant

DEMO_LOCATIONS = ("WH1", "STORE")
# The channel the first load pauses, and why, in words its page shows.
PAUSED_PLATFORM = "zettle"
PAUSED_REASON = "paused by the demo: resume it from its page"
# The listing the first load leaves drifted: staff on the Unicommerce marketplace set its
# level by hand (the marketplace sends no event for that), so the channel shows DRIFT_SHOWS
# where we have more; the reconcile after the seeding finds it.
DRIFT_PLATFORM = "unicommerce"
DRIFT_SKU = "BOWL-SMA"
DRIFT_SHOWS = 18
DRIFT_WAIT = 15  # seconds the seeding waits for that channel's first push to be confirmed


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
            if platform.name == PAUSED_PLATFORM:
                channel_pause(channel, reason=PAUSED_REASON)
        made.append(channel)
    return made


log = logging.getLogger(__name__)


def seed_sandboxes(timeout=30, app_url=None):
    """Give each running sandbox its demo channel's items (at 0), then push them all (a
    paused channel records what it would send, and sends it once resumed); with `app_url`
    (where the app answers), subscribe each demo channel to its sandbox's webhooks there, so
    what the sandboxes sell comes back. The demo's drift is made on the first seeding, and
    made again on each later one while it is open (the sandboxes start empty)."""
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
        drifted = platform.name == DRIFT_PLATFORM and seed_drift(channel)
        if not drifted:
            channel_push_now(channel)
        if app_url:
            subscribe_demo(channel, platform, app_url)


def seed_drift(channel):
    """On the first seeding (the listing never confirmed, never drifted), or while the demo's
    drift is open: push the channel here and now, set the drifted listing's level on its
    sandbox as the marketplace's staff would, and reconcile the channel, which opens (or
    keeps) the drift. Returns whether the channel was pushed here (else a worker pushes it)."""
    listing = channel.listings.filter(variant__sku=DRIFT_SKU).first()
    if listing is None or channel.mode != Channel.Mode.LIVE:
        return False
    drift = listing.drifts.filter(resolution=Drift.Resolution.OPEN).first()
    if drift is None and (listing.confirmed_at is not None or listing.drifts.exists()):
        return False  # not the first seeding, and the demo's drift was settled
    shows = DRIFT_SHOWS if drift is None else drift.channel_quantity
    if shows is None:  # an open drift of an unlimited quantity: not the demo's
        return False
    listing_state.push_asked(channel.listings.all())
    if not _pushed(channel, listing):
        log.warning("%s: its push was not confirmed in time: no drift made", channel.name)
        return False  # queued for a worker instead
    try:
        requests.post(
            f"{channel.base_url}/_sandbox/stock",
            json={
                "remote_id": listing.remote_id,
                "remote_parent_id": listing.remote_parent_id,
                "quantity": shows,
            },
            timeout=10,
        ).raise_for_status()
        channel_reconcile(channel)
    except (ConnectorError, requests.RequestException) as exc:
        log.warning("%s: the demo's drift could not be made: %s", channel.name, exc)
    return True


def _pushed(channel, listing, wait=DRIFT_WAIT):
    """Push the channel's pending listings here (a worker may take some: wait for it) until
    `listing` is confirmed and not pending again; whether it was, within `wait` seconds."""
    worker_id = f"demo-seed-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        report = sync_channel_run(channel.pk, worker_id)
        listing.refresh_from_db()
        if listing.pending_since is None and listing.confirmed_at is not None:
            return True
        if report.stopped and report.stopped not in ("transient", "rate limited"):
            return False
        time.sleep(min(report.retry_in or 0.2, 2.0))
    return False


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
