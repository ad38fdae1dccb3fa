"""A site as `make run` leaves it, then as it looks on a bad day: the demo catalog and
channels, plus a channel in error (a 5,000-character error), a paused one with a long reason,
names of 100+ characters, a drift, push records, an order, a delivery, an import and a
reversed movement. Shared by the tests that open every page (tests/browser/test_every_page.py,
tests/config/test_forbidden.py); `every_admin_url()` lists those pages."""

from datetime import timedelta
from io import StringIO

from django.contrib import admin
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from connectors.models import (
    Channel,
    ChannelOrder,
    Drift,
    InboundRecord,
    Listing,
    OrderLine,
    PushRecord,
)
from connectors.platforms.highlevel.demo import LOCATION as HL_LOCATION
from inventory.models import ImportJob, Location, Product, StockTransaction, Variant
from inventory.services import StockLine, movement_reverse, stock_apply

LONG = (
    "Hand-finished heavyweight organic cotton crew-neck T-shirt, garment-dyed in small "
    "batches, with a reinforced collar"
)  # 115 characters
LONG_ERROR = "unicommerce marketplace refused the login (401: FAILED) — " * 85  # ~5,000
LONG_CHANNEL = ("Marketplace of the northern region's independent makers and craft shops " * 2)[
    :100
]
LONG_REASON = (
    '{"error": "invalid_token", "error_description": "The access token expired at '
    '2026-12-02T08:00:00Z; ask the channel for a new one", "status": 401, "hint": "'
    + "x" * 80
    + '"}'
)[:255]
# Only django-rq's views that need no job, worker or scheduler of their own.
QUEUE_VIEWS = {
    "django_rq_home",
    "django_rq_jobs",
    "django_rq_queue_details",
    "django_rq_finished_jobs",
    "django_rq_failed_jobs",
    "django_rq_scheduled_jobs",
    "django_rq_started_jobs",
    "django_rq_deferred_jobs",
    "django_rq_workers",
}
SKIP = {"logout", "view_on_site", "jsi18n", "autocomplete", "app_list", "login"}


def build_site():
    """The demo, then the bad day. Returns the objects the tests look at by name."""
    out = StringIO()
    call_command("load_demo", "--no-login", stdout=out)
    call_command("load_demo_channels", stdout=out)
    wh = Location.objects.get(code="WH1")
    far = Location.objects.create(code="FAR-NORTH-DEPOT", name=LONG, allow_negative=True)
    product = Product.objects.create(name=LONG)
    long_variant = Variant.objects.create(
        product=product,
        sku="TEE-HEAVYWEIGHT-ORGANIC-GARMENT-DYED-EXTRA-LONG-SKU-0001",
        options={"colour": "washed charcoal with contrast stitching", "size": "XXL"},
        reorder_point=40,
    )
    stock_apply(
        lines=[
            StockLine(action="count", quantity=12, variant_id=long_variant.pk, location="WH1"),
            StockLine(action="count", quantity=3, variant_id=long_variant.pk, location=far.code),
        ],
        source="admin",
        reason=LONG,
        reference=LONG,
    )
    later = stock_apply(
        lines=[
            StockLine(action="decrement", quantity=5, variant_id=long_variant.pk, location=far.code)
        ],
        source="admin",
        reason="Sale at the depot",
    )
    movement_reverse(movement=later.movement, source="admin", reason="Entered twice")

    erring = Channel.objects.create(
        name=LONG_CHANNEL,
        platform="highlevel",
        base_url="http://127.0.0.1:9",
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": HL_LOCATION},
        last_success_at=timezone.now() - timedelta(hours=3),
        last_error_at=timezone.now(),
        last_error=LONG_ERROR,
        consecutive_failures=7,
        circuit_open_until=timezone.now() + timedelta(minutes=5),
    )
    erring.locations.set([wh, far])
    listing = Listing.objects.create(
        channel=erring, variant=long_variant, remote_id="P-" * 60, remote_parent_id=""
    )
    Listing.objects.filter(pk=listing.pk).update(attempts=3, status="failed", last_error=LONG_ERROR)
    Channel.objects.filter(name="Demo zettle").update(mode="paused", paused_reason=LONG_REASON)
    Drift.objects.create(listing=listing, channel_quantity=42, target=5)
    entry = StockTransaction.objects.latest("pk")
    record = PushRecord.objects.create(
        channel=erring,
        purpose="write",
        method="POST",
        url=erring.base_url + "/products/inventory/" + "x" * 150,
        status=401,
        outcome="auth",
        error=LONG_ERROR,
        request_body='{"items": [' + '{"priceId": "P-1", "qty": 7}, ' * 60 + "]}",
        response_body=LONG_ERROR,
        items=[
            {
                "key": listing.pk,
                "sku": long_variant.sku,
                "target": 7,
                "ledger_entry": entry.pk,
                "ok": False,
                "message": LONG_ERROR,
            }
        ],
        ledger_entry_id=entry.pk,
    )
    record.listings.add(listing)
    order = ChannelOrder.objects.create(
        channel=erring, remote_id="ORDER-" + "9" * 60, status="paid", stage="open"
    )
    OrderLine.objects.create(
        order=order, line_id="L1", listing=listing, variant=long_variant, quantity=2
    )
    inbound = InboundRecord.objects.create(
        channel=erring,
        event_id="evt-" + "7" * 100,
        topic="OrderCreate",
        body='{"order": "' + "y" * 3000 + '"}',
        signature="valid",
        status="failed",
        outcome=LONG_ERROR,
        attempts=2,
    )
    inbound.orders.add(order)
    job = ImportJob.objects.create(
        resource="inventory.resources.StockLevelResource",
        what="stock levels",
        file_name=LONG.replace(" ", "-") + ".csv",
        data=b"sku,location,quantity\n",
        status=ImportJob.Status.DONE,
        rows=1,
    )
    return {"channel": erring, "listing": listing, "variant": long_variant, "job": job}


def _objects():
    """One object of each registered model: the newest, which build_site made long-named."""
    found = {}
    for model in admin.site._registry:
        if model._meta.managed:
            found[model] = model._default_manager.order_by("-pk").first()
    return found


def every_admin_url():
    """[(url name, url)] of every admin page: the index, each model's changelist, add page,
    change, history and delete pages of one object, each model admin's own pages of that
    object, django-rq's pages of the first queue."""
    objects = _objects()
    urls = [("index", reverse("admin:index")), ("password_change", "/admin/password_change/")]
    for model, model_admin in admin.site._registry.items():
        obj = objects.get(model)
        for pattern in _patterns(model_admin.get_urls()):
            url = _url(pattern, obj)
            if url:
                urls.append((pattern.name, url))
    return urls


def _patterns(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name and pattern.name not in SKIP:
            yield pattern


def _url(pattern, obj):
    name = pattern.name
    if name.startswith("django_rq_"):
        kwargs = {"queue_index": 0} if "queue_index" in pattern.pattern.converters else {}
        return reverse(f"admin:{name}", kwargs=kwargs) if name in QUEUE_VIEWS else None
    converters = set(pattern.pattern.converters)
    if not converters:
        return reverse(f"admin:{name}")
    if obj is None or not converters <= {"object_id", "pk", "id"}:
        return None
    kwargs = {c: obj.pk for c in converters}
    return reverse(f"admin:{name}", kwargs=kwargs)
