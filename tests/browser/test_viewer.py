"""A viewer sees every page and can change nothing: no buttons to add, change, delete, adjust
or import, and a change posted anyway is refused."""

import pytest
from playwright.sync_api import expect

from config.roles import VIEWER
from connectors.models import Channel
from connectors.platforms.highlevel.demo import LOCATION as HL_LOCATION
from inventory.models import StockLevel, Variant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(make):
    wh = make.location("WH1", name="Main warehouse")
    tee = make.variant(
        "TEE-BLA-M", name="Organic tee, black, M", product_obj=make.product("Organic tee")
    )
    make.stock(tee, wh, 10)
    channel = Channel.objects.create(
        name="Webshop",
        platform="highlevel",
        base_url="http://127.0.0.1:9",
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": HL_LOCATION},
    )
    return tee, wh, channel


def post_form(page, url, data):
    """POST a form from the logged-in browser context, with its CSRF token."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(
        url,
        form={"csrfmiddlewaretoken": token, **data},
        headers={"Referer": page.url},
        max_redirects=0,
    )


def test_a_viewer_sees_pages_but_can_change_nothing(page, login, shop):
    tee, wh, channel = shop
    login("vera", role=VIEWER)
    main = page.locator("#content-main")
    expect(main.locator("a.viewlink").first).to_be_visible()  # the front page lists models
    expect(main.locator("a.addlink")).to_have_count(0)
    expect(main.locator("a.changelink")).to_have_count(0)

    # The variant list: searchable and exportable, nothing to add, import or run on a selection.
    page.goto("/admin/inventory/variant/?q=TEE-BLA-M")
    expect(page.locator("#result_list .field-sku")).to_have_text("TEE-BLA-M")
    expect(page.locator(".object-tools .export_link")).to_be_visible()
    expect(page.locator(".object-tools .addlink")).to_have_count(0)
    expect(page.locator(".object-tools .import_link")).to_have_count(0)
    expect(page.locator("#changelist-form .actions")).to_have_count(0)

    # The variant's page: readable, with no save, delete, adjust or move.
    change_url = f"/admin/inventory/variant/{tee.pk}/change/"
    page.goto(change_url)
    expect(page.locator("#content h1")).to_have_text("View variant")
    expect(page.locator("table.stock-levels tr", has_text="WH1")).to_contain_text("10")
    expect(page.locator(".submit-row input[type=submit]")).to_have_count(0)
    expect(page.locator("a.deletelink")).to_have_count(0)
    expect(page.get_by_role("link", name="Adjust stock")).to_have_count(0)
    expect(page.get_by_role("link", name="Move stock")).to_have_count(0)

    # The stock pages they cannot use answer 403, opened or posted.
    adjust_url = f"/admin/inventory/variant/{tee.pk}/adjust/"
    assert page.goto(adjust_url).status == 403
    assert page.goto("/admin/inventory/stocklevel/import/").status == 403
    page.goto(change_url)
    refused = post_form(
        page,
        adjust_url,
        {"apply": "1", "operation": "increment", "location": wh.pk, "quantity": "5"},
    )
    assert refused.status == 403
    refused = post_form(
        page,
        change_url,
        {"product": tee.product_id, "sku": "HACKED", "name": "changed", "options": "{}"},
    )
    assert refused.status == 403
    assert Variant.objects.get(pk=tee.pk).sku == "TEE-BLA-M"
    assert StockLevel.objects.get(variant=tee, location=wh).on_hand == 10
    page.reload()
    expect(page.locator("#content h2").first).to_have_text("TEE-BLA-M")

    # Channels: visible, without credentials, without actions that act on a channel.
    page.goto("/admin/connectors/channel/")
    expect(page.locator("#result_list tbody tr", has_text="Webshop")).to_be_visible()
    expect(page.locator("#changelist-form .actions")).to_have_count(0)
    pause = {"action": "pause", "_selected_action": channel.pk, "index": 0}
    response = post_form(page, "/admin/connectors/channel/", pause)
    assert response.status == 200  # the list itself answered (not a CSRF refusal)
    channel.refresh_from_db()
    assert channel.mode == Channel.Mode.LIVE  # the action is not the viewer's to run
    page.goto(f"/admin/connectors/channel/{channel.pk}/change/")
    expect(page.locator("#content h1")).to_have_text("View channel")
    expect(page.locator("input[type=password]")).to_have_count(0)
