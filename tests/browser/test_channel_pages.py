"""The pages this layout added or changed hold at 1,280 px, with a long name and a channel in
error: the channel form (its settings one field each), a listing, a push record, a ledger
entry, for a manager and for a viewer."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from config.roles import MANAGER, VIEWER
from connectors.models import Channel, Drift, Listing, PushRecord
from inventory.models import StockTransaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "Northern Europe wholesale marketplace for the autumn catalogue " * 2


@pytest.fixture
def shop(make):
    wh = make.location("WH1")
    tee = make.variant("TEE-" + "VERY-LONG-SKU-" * 4, name=LONG)
    make.stock(tee, wh, 7)
    channel = Channel.objects.create(
        name=LONG[:100],  # the longest name a channel may have
        platform="unicommerce",
        base_url="https://marketplace.example.invalid/" + "api/" * 20,
        credentials={"username": "u", "password": "p"},
        settings={"facility_code": "FACILITY-" * 20, "batch_max": 500},
        mode=Channel.Mode.PAUSED,
        paused_reason=("bad credentials: " + "unicommerce refused the login " * 8)[:255],
        last_error_at=timezone.now(),
        last_error="auth: " + "unicommerce marketplace refused the login (401: FAILED) " * 30,
    )
    channel.locations.set([wh])
    listing = Listing.objects.create(
        channel=channel, variant=tee, remote_id="V-" * 60, remote_parent_id="P-" * 60
    )
    Listing.objects.filter(pk=listing.pk).update(
        attempts=3, status="failed", last_error="Variant not found " * 40
    )
    entry = StockTransaction.objects.latest("pk")
    record = PushRecord.objects.create(
        channel=channel,
        purpose="write",
        method="POST",
        url=channel.base_url + "updateInventory",
        status=200,
        outcome="partial",
        items=[
            {
                "key": listing.pk,
                "sku": tee.sku,
                "target": 7,
                "ledger_entry": entry.pk,
                "ok": False,
                "message": "Variant not found " * 40,
            }
        ],
        ledger_entry_id=entry.pk,
    )
    record.listings.add(listing)
    return channel, listing, record, entry


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_the_channel_pages_hold_at_1280_px(page, login, shoot, shop, role):
    channel, listing, record, entry = shop
    login(f"user-{role.split()[0].lower()}", role=role)
    for name, url in [
        ("channel", f"/admin/connectors/channel/{channel.pk}/change/"),
        ("channel-list", "/admin/connectors/channel/"),
        ("listing", f"/admin/connectors/listing/{listing.pk}/change/"),
        ("listings", "/admin/connectors/listing/"),
        ("push-record", f"/admin/connectors/pushrecord/{record.pk}/change/"),
        ("ledger-entry", f"/admin/inventory/stocktransaction/{entry.pk}/change/"),
    ]:
        response = page.goto(url)
        assert response.status == 200, url
        width = page.evaluate("document.documentElement.scrollWidth")
        shoot(page, f"layout-{name}-{role.split()[0].lower()}")
        assert width <= 1280, (url, width)


def test_a_manager_resumes_a_channel_and_resolves_a_drift_from_their_pages(
    page, login, shoot, shop
):
    channel, listing, _record, _entry = shop
    drift = Drift.objects.create(listing=listing, channel_quantity=5, target=7)
    login("mia", role=MANAGER)
    page.goto(f"/admin/connectors/channel/{channel.pk}/change/")
    tools = page.locator(".object-tools")
    expect(tools.get_by_role("button", name="Resume")).to_be_visible()
    expect(tools.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.locator("p.object-links")).to_contain_text("1 listing")
    expect(page.locator("p.object-links")).to_contain_text("1 open drift")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shoot(page, "channel-page-buttons")
    tools.get_by_role("button", name="Resume").click()
    expect(page.locator(".messagelist")).to_contain_text("1 channel resumed")
    expect(page.locator(".object-tools").get_by_role("button", name="Pause")).to_be_visible()
    assert Channel.objects.get(pk=channel.pk).mode == Channel.Mode.LIVE

    page.locator("p.object-links").get_by_role("link", name="1 open drift").click()
    page.locator("#result_list tbody tr a").first.click()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    assert "channel shows 5, should show 7" in page.title()
    shoot(page, "drift-page")
    page.get_by_role("button", name="Ignore").click()
    expect(page.locator(".messagelist")).to_contain_text("1 drift ignored")
    expect(page.get_by_role("button", name="Ignore")).to_have_count(0)
    assert Drift.objects.get(pk=drift.pk).resolution == Drift.Resolution.IGNORED
