"""A tour of the main pages on the demo data, as the README shows them: the demo catalog, a
demo channel per platform on local sandboxes, some history, and a real worker's pushes. Each
page is checked for what a user comes to it for, then photographed."""

import re
from contextlib import ExitStack
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from config.roles import CLERK
from connectors.demo import demo_name, demo_platforms
from connectors.models import Channel, Listing, PushRecord
from connectors.platforms.sandbox.serve import start_sandbox
from connectors.services.actions import channel_pause, channel_resume
from inventory.models import Movement, Source, Variant
from inventory.services import StockLine, stock_apply
from tests.connectors.test_sync import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SKU = "TEE-M-BLA"  # the variant the tour looks at
PAUSED = "Demo zettle"
# Reorder points above what these variants will have left (the demo gives every variant 5).
REORDER_POINTS = {"TEE-M-BLA": 30, "TEE-M-WHI": 24, "MUG-BLU": 30}
# Furthest below first: TEE-M-BLA 23 available (30), TEE-M-WHI 20 (24), MUG-BLU 28 (30), and
# BOWL-LAR, which the demo opens with 4 (5) and the cycle count finds at 4.
LOW = ["TEE-M-BLA", "TEE-M-WHI", "MUG-BLU", "BOWL-LAR"]


@pytest.fixture(scope="module")
def sandboxes():
    with ExitStack() as stack:
        yield {p: stack.enter_context(start_sandbox(p.name)) for p in demo_platforms()}


def line(action, sku, quantity, location, to_location=None):
    return StockLine(
        action=action, quantity=quantity, sku=sku, location=location, to_location=to_location
    )


def sale(clerk, receipt, *items):
    """A till receipt at the store: (sku, quantity) pairs."""
    stock_apply(
        lines=[line("decrement", sku, q, "STORE") for sku, q in items],
        source=Source.ADMIN,
        reason="Sale",
        reference=f"POS receipt {receipt}",
        user=clerk,
    )


def restock(clerk, *items):
    """The shop floor refilled from the warehouse: (sku, quantity) pairs."""
    stock_apply(
        lines=[line("move", sku, q, "WH1", "STORE") for sku, q in items],
        source=Source.ADMIN,
        reason="Restock shop floor",
        user=clerk,
    )


@pytest.fixture
def demo(make, roles, sandboxes, sync_queue):
    """The demo catalog and channels (on this test's sandboxes), a morning of trade at the
    store, every change pushed; then Zettle paused and one more sale it has not had."""
    out = StringIO()
    call_command("load_demo", "--no-login", stdout=out)
    call_command("load_demo_channels", stdout=out)
    # The demo opens with Zettle paused; staff resumed it before the morning's trade.
    channel_resume(Channel.objects.get(name=PAUSED))
    for platform, sandbox in sandboxes.items():
        Channel.objects.filter(name=demo_name(platform)).update(base_url=sandbox.url)
    # Setting the channels' locations also scheduled a second push of each a few seconds on
    # (for other processes' caches): drop them, the drains below push everything.
    registry = sync_queue.scheduled_job_registry
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    call_command("load_demo_channels", "--seed", stdout=out)
    for sku, point in REORDER_POINTS.items():
        Variant.objects.filter(sku=sku).update(reorder_point=point)

    # TEE-M-BLA starts with 12 in WH1 and none in the store.
    clerk = make.user("clara", role=CLERK)
    restock(clerk, (SKU, 6), ("TEE-S-BLA", 4), ("MUG-GRE", 5))
    sale(clerk, 1041, (SKU, 2), ("MUG-BLU", 1))
    sale(clerk, 1042, (SKU, 1), ("TOTE", 1))
    sale(clerk, 1043, (SKU, 2), ("TEE-S-BLA", 1))
    drain()  # the first pushes, then each change as it comes
    delivered = [line("increment", sku, q, "WH1") for sku, q in [(SKU, 24), ("TEE-L-BLA", 12)]]
    stock_apply(lines=delivered, source=Source.IMPORT, reason="Delivery", reference="PO-2031")
    restock(clerk, (SKU, 8), ("TEE-S-BLA", 6))
    drain()
    sale(clerk, 1044, (SKU, 3), ("TEE-M-WHI", 2))
    sale(clerk, 1045, (SKU, 1), ("MUG-GRE", 2))
    counted = [line("count", SKU, 21, "WH1"), line("count", "BOWL-LAR", 4, "WH1")]
    stock_apply(
        lines=counted, source=Source.ADMIN, reason="Cycle count", reference="Aisle 3", user=clerk
    )
    sale(clerk, 1046, (SKU, 2))
    drain()

    zettle = Channel.objects.get(name=PAUSED)
    channel_pause(zettle, reason="paused by staff: stocktake at the pop-up")
    sale(clerk, 1047, (SKU, 1), ("MUG-BLU", 1))
    drain()  # the other four channels; Zettle keeps its listings pending
    return Variant.objects.get(sku=SKU)


def test_a_tour_of_the_main_pages_on_demo_data(page, login, shoot, demo):
    variant = demo
    channels = list(Channel.objects.order_by("name"))
    assert len(channels) == len(demo_platforms())
    login("admin", superuser=True)

    # The front page: stock by location, the variants running low, the channels' health and
    # the latest movements.
    page.goto("/admin/")
    reorder = page.locator("#dashboard-reorder")
    expect(reorder.locator("caption")).to_have_text(
        f"At or below reorder point: {len(LOW)} variants"
    )
    expect(reorder.locator("tbody th")).to_have_text(LOW)
    rows = page.locator("#dashboard-channels tbody tr")
    expect(rows).to_have_count(len(channels))
    for channel in channels:
        row = rows.filter(has_text=channel.name)
        if channel.name == PAUSED:
            expect(row.locator("td").nth(0)).to_contain_text("Paused")
            expect(row).to_contain_text("stocktake at the pop-up")
        else:
            expect(row.locator("td").nth(0)).to_have_text("Live")
            expect(row.locator("td").nth(1)).to_have_text("0")  # pending
        expect(row.locator("td").nth(2)).to_have_text("0")  # failed
        expect(row.locator("td").nth(5)).to_have_text("closed")
    expect(page.locator("#dashboard-movements tbody tr").first).to_contain_text("POS receipt 1047")
    expect(page.locator("#dashboard-locations tbody")).to_contain_text("WH1 · Main warehouse")
    shoot(page, "tour-dashboard")

    # The variant: its levels, its history per location and what each channel shows.
    page.goto(f"/admin/inventory/variant/{variant.pk}/change/")
    levels = page.locator(".field-stock_by_location tbody tr")
    expect(levels.filter(has_text="STORE · High Street store")).to_contain_text("2")
    expect(levels.filter(has_text="WH1 · Main warehouse")).to_contain_text("21")
    expect(page.locator(".field-stock_history")).to_contain_text("14 changes")
    legend = page.locator("svg.step-chart .legend")
    expect(legend).to_contain_text("STORE: 2")
    expect(legend).to_contain_text("WH1: 21")
    expect(page.locator("fieldset", has_text="On each channel")).to_be_visible()
    explained = page.locator("table.channel-quantities tbody tr")
    expect(explained).to_have_count(len(channels))
    # 23 available: Webflow keeps a buffer of one, and paused Zettle has not had the last sale.
    confirmed = {channel.name: 23 for channel in channels}
    confirmed.update({"Demo webflow": 22, "Demo zettle": 24})
    for name, quantity in confirmed.items():
        row = explained.filter(has_text=name)
        expect(row).to_contain_text(f"{quantity} at ")
        expect(row).to_contain_text("Pending" if name == PAUSED else "In step")
    shoot(page, "tour-variant")

    # A push that was sent: the request, the channel's answer and each item's outcome.
    push = PushRecord.objects.filter(
        channel__name="Demo highlevel", purpose="write", outcome=PushRecord.Outcome.OK
    ).latest("pk")
    page.goto(f"/admin/connectors/pushrecord/{push.pk}/change/")
    expect(page.locator(".field-request_body_pretty")).to_contain_text('"availableQuantity": 23')
    expect(page.locator(".field-request_body_pretty")).to_contain_text(f"price-{SKU}")
    expect(page.locator(".field-outcome")).to_contain_text("Succeeded")
    item = page.locator("table.push-items tbody tr", has_text=SKU)
    expect(item).to_contain_text("23")
    expect(item).to_contain_text("confirmed")
    shoot(page, "tour-push-record")

    # The channels with their health.
    page.goto("/admin/connectors/channel/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(len(channels))
    listed = Listing.objects.filter(channel=channels[0]).count()
    for channel in channels:
        row = rows.filter(has_text=channel.name)
        expect(row.locator(".field-listing_count")).to_have_text(str(listed))
        expect(row.locator(".field-failed_count")).to_have_text("0")
        expect(row.locator(".field-last_success")).not_to_have_text("never")
        expect(row.locator(".field-circuit")).to_have_text("closed")
        paused = channel.name == PAUSED
        expect(row.locator(".field-mode_shown")).to_contain_text("Paused" if paused else "Live")
        expect(row.locator(".field-pending_count")).to_have_text("2" if paused else "0")
    expect(page.locator(".sync-queue")).to_contain_text(re.compile(r"\b0 queued"))
    shoot(page, "tour-channels")

    # The movements, newest first.
    page.goto("/admin/inventory/movement/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(Movement.objects.count())
    expect(rows.first).to_contain_text("POS receipt 1047")
    expect(rows.last).to_contain_text("Demo opening stock")
    shoot(page, "tour-movements")
