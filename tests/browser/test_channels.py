"""A change made in the browser reaches a channel: a real rq worker pushes it to a sandbox,
and the push shows in the admin (push records, the variant's per-channel explanation and the
channel list)."""

import re
import time

import django_rq
import pytest
from playwright.sync_api import expect
from rq import SimpleWorker

from config.roles import CLERK
from connectors.models import Channel, Listing, PushRecord
from connectors.platforms.highlevel.demo import LOCATION as HL_LOCATION
from connectors.platforms.sandbox.serve import start_sandbox
from inventory.models import StockTransaction
from tests.connectors.sandbox_client import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PRICE_ID = "price-TEE-BLA-M"


@pytest.fixture(scope="module")
def highlevel_server():
    with start_sandbox("highlevel") as running:
        yield running


def drain(queue, timeout=20):
    """Run a real rq worker (burst, with its scheduler) until no listing is pending."""
    worker = django_rq.get_worker("sync", worker_class=SimpleWorker)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.work(burst=True, with_scheduler=True)
        if not Listing.objects.filter(pending_since__isnull=False).exists():
            return
        if not queue.count and not queue.scheduled_job_registry.count:
            raise AssertionError("listings are pending with no push queued")
        time.sleep(0.05)  # a coalesced push is scheduled a moment after the change
    raise AssertionError(f"still pending after {timeout} s")


@pytest.fixture
def shop(make, highlevel_server, sync_queue):
    wh = make.location("WH1", name="Main warehouse")
    tee = make.variant(
        "TEE-BLA-M", name="Organic tee, black, M", product_obj=make.product("Organic tee")
    )
    make.stock(tee, wh, 10)
    sandbox = Client(highlevel_server)
    sandbox.control("POST", "reset")
    sandbox.seed(items=[{"priceId": PRICE_ID, "availableQuantity": 0}])
    channel = Channel.objects.create(
        name="Webshop",
        platform="highlevel",
        base_url=sandbox.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": HL_LOCATION},
    )
    channel.locations.set([wh])
    Listing.objects.create(channel=channel, variant=tee, remote_id=PRICE_ID)
    # Setting the locations also schedules a second push a few seconds on (for other
    # processes' caches): drop it, this test decides when the worker runs.
    registry = sync_queue.scheduled_job_registry
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    drain(sync_queue)  # the listing's first push
    assert shows(sandbox) == 10
    return tee, channel, sandbox


def shows(sandbox):
    return sandbox.state()["locations"][HL_LOCATION][PRICE_ID]["availableQuantity"]


def test_an_adjustment_in_the_admin_is_pushed_and_the_push_shows(
    page, login, shoot, shop, sync_queue
):
    tee, channel, sandbox = shop
    login("carl", role=CLERK)
    page.goto(f"/admin/inventory/variant/{tee.pk}/adjust/")
    page.select_option("#id_operation", "decrement")
    page.select_option("#id_location", label="WH1")
    page.fill("#id_quantity", "3")
    page.fill("#id_reason", "damaged")
    page.click("#stock-form input[type=submit]")
    expect(page.locator(".messagelist li")).to_contain_text("TEE-BLA-M at WH1: on hand 7")

    drain(sync_queue)  # the worker pushes the change to the sandbox
    assert shows(sandbox) == 7
    push = PushRecord.objects.filter(channel=channel, purpose="write").latest("pk")
    ledger_entry = StockTransaction.objects.latest("pk")

    # Push records: the newest is the write of the change, naming its ledger entry.
    page.goto("/admin/connectors/pushrecord/")
    row = page.locator("#result_list tbody tr").first
    expect(row.locator(".field-id")).to_have_text(str(push.pk))
    expect(row.locator(".field-channel")).to_have_text("Webshop (HighLevel)")
    expect(row.locator(".field-purpose")).to_have_text("write")
    expect(row.locator(".field-status")).to_have_text(str(push.status))
    expect(row.locator(".field-outcome")).to_have_text("Succeeded")
    expect(row.locator(".field-ledger_entry")).to_have_text(f"ledger entry #{ledger_entry.pk}")
    shoot(page, "push-records")

    # The variant's page explains the number and links the push.
    page.goto(f"/admin/inventory/variant/{tee.pk}/change/")
    explained = page.locator("table.channel-quantities tbody tr", has_text="Webshop")
    expect(explained).to_contain_text("7 at ")
    explained.get_by_role("link", name=f"push #{push.pk}").click()
    expect(page).to_have_url(re.compile(rf"/admin/connectors/pushrecord/{push.pk}/change/"))
    expect(page.locator(".field-request_body_pretty")).to_contain_text('"availableQuantity": 7')
    expect(page.locator(".field-request_body_pretty")).to_contain_text(PRICE_ID)
    # Each item names its SKU and the ledger entry its quantity reflects; that entry's page
    # names this push as the one that carried it to the channel.
    item = page.locator("table.push-items tbody tr", has_text=tee.sku)
    expect(item).to_contain_text("confirmed")
    item.get_by_role("link", name=f"ledger entry #{ledger_entry.pk}").click()
    expect(page.locator(".field-carried_by")).to_contain_text(f"Webshop: push #{push.pk}")

    # The channel list: its health after the push.
    page.goto("/admin/connectors/channel/")
    row = page.locator("#result_list tbody tr", has_text="Webshop")
    expect(row.locator(".field-listing_count")).to_have_text("1")
    expect(row.locator(".field-pending_count")).to_have_text("0")
    expect(row.locator(".field-failed_count")).to_have_text("0")
    expect(row.locator(".field-last_success")).not_to_have_text("never")
    expect(page.locator(".sync-queue")).to_contain_text(re.compile(r"\b0 queued"))
    shoot(page, "channel-list")
