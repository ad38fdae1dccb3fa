"""The catalog in the browser at 1,280 pixels, with 100+ character names and a long channel
error: the variants list keeps Available in view, the product form and a variant's page fit,
a variant is archived and restored, the bulk adjust form takes a quantity per line, and a
delete that history forbids explains itself and offers Archive."""

import re

import pytest
from playwright.sync_api import expect

from config.roles import MANAGER
from connectors.models import Channel, Listing
from inventory.models import StockLevel, Variant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = (
    "Hand-thrown stoneware breakfast mug with a speckled oatmeal glaze and a generous "
    "thumb rest, dishwasher safe"
)  # 110 characters
assert len(LONG) > 100
LONG_ERROR = "Webflow said: 409 Conflict " + "item is locked by another edit; " * 150


@pytest.fixture
def shop(make, sync_queue):
    wh = make.location("WH1", name="Main warehouse")
    popup = make.location("POPUP-" + "X" * 24, name="Pop-up stall " + LONG, allow_negative=True)
    mug_product = make.product(LONG)
    blue = make.variant("BLUE-MUG", name=LONG + ", blue", product_obj=mug_product)
    red = make.variant("RED-MUG-" + "LARGE" * 8, name=LONG + ", red", product_obj=mug_product)
    gift = make.variant("GIFT-CARD", tracked=False, product_obj=make.product("Gift card"))
    make.stock(blue, wh, 12)
    make.stock(blue, popup, 3)
    make.stock(red, wh, 2)
    channel = Channel.objects.create(
        name=("Webflow shop " + LONG)[:100],  # the column's whole width
        platform="webflow",
        base_url="http://127.0.0.1:9",  # never reached: nothing is pushed in these tests
        credentials={"token": "wf-token"},
        settings={"collection_id": "c1", "site_id": "s1"},
    )
    channel.locations.set([wh, popup])
    Listing.objects.create(
        channel=channel,
        variant=blue,
        remote_parent_id="collection-" + "a" * 60,
        remote_id="item-" + "b" * 60,
        last_error=LONG_ERROR,
    )
    return blue, red, gift, wh, popup


def fits(page):
    """The content area and the page scroll no wider than the 1,280-pixel window."""
    widths = page.evaluate(
        "() => { const c = document.querySelector('#content');"
        " return [c.scrollWidth, c.clientWidth, document.documentElement.scrollWidth,"
        " window.innerWidth]; }"
    )
    content, content_client, document, window = widths
    assert content <= content_client, f"#content is {content} px wide in {content_client}"
    assert document <= window, f"the page is {document} px wide at {window}"


def in_view(locator):
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 1280, box


def test_the_variants_list_keeps_available_in_view_with_long_names(page, login, shoot, shop):
    login("mona", role=MANAGER)
    page.goto("/admin/inventory/variant/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    blue = rows.filter(has_text="BLUE-MUG")
    expect(blue.locator(".field-available_total")).to_have_text("15")
    in_view(blue.locator(".field-available_total"))
    in_view(page.locator("#result_list thead th.column-allocated_total"))
    expect(rows.filter(has_text="GIFT-CARD").locator(".field-available_total")).to_have_text(
        "not tracked"
    )
    fits(page)
    shoot(page, "catalog-variant-list-long-names")

    # Sorted by available, the untracked GIFT-CARD comes after every stock, not as the lowest.
    page.locator("#result_list thead th.column-available_total a").first.click()
    expect(rows.locator(".field-sku")).to_have_text(
        [re.compile("^RED-MUG"), "BLUE-MUG", "GIFT-CARD"]
    )


def test_the_product_form_with_its_variants_inline_fits(page, login, shoot, shop):
    blue = shop[0]
    login("mona", role=MANAGER)
    page.goto(f"/admin/inventory/product/{blue.product_id}/change/")
    inline = page.locator(".inline-group")
    expect(inline.locator("tbody tr.has_original")).to_have_count(2)
    fits(page)
    in_view(inline.locator("tbody tr.has_original").first.locator("td.field-reorder_point input"))
    shoot(page, "catalog-product-form-inline")


def test_a_variant_page_with_its_listing_and_a_long_error_fits(page, login, shoot, shop):
    blue = shop[0]
    login("mona", role=MANAGER)
    page.goto(f"/admin/inventory/variant/{blue.pk}/change/")
    expect(page.locator("#content h2").first).to_have_text("BLUE-MUG")
    listing = page.locator(".inline-group").last.locator("tr.has_original")
    expect(listing.locator("td.field-remote_id input")).to_have_value(re.compile("^item-b"))
    fits(page)
    shoot(page, "catalog-variant-page-listing")

    page.goto(f"/admin/inventory/variant/{shop[2].pk}/change/")
    expect(page.locator("table.stock-levels")).to_contain_text("not tracked")


def test_a_manager_archives_a_variant_keeping_it_listed_and_restores_it(page, login, shoot, shop):
    blue = shop[0]
    login("mona", role=MANAGER)
    page.goto(f"/admin/inventory/variant/{blue.pk}/change/")
    page.get_by_role("link", name="Archive", exact=True).click()
    expect(page.locator("#content h1")).to_have_text("Archive BLUE-MUG")
    expect(page.locator(".archive-choice h2")).to_contain_text("It is listed on 1 channel")
    keep = page.locator("label.archive-option", has_text="Keep it listed on its channels")
    keep.locator("input[type=radio]").check()
    fits(page)
    shoot(page, "catalog-archive-choice")
    page.get_by_role("button", name=re.compile("^Archive BLUE-MUG")).click()

    expect(page.locator(".messagelist li")).to_contain_text(
        "1 variant archived: the channels listing them are sent 0"
    )
    expect(page.locator(".archived-notice")).to_contain_text("Archived ")
    assert Variant.objects.get(pk=blue.pk).archived
    shoot(page, "catalog-archived-variant")

    page.goto("/admin/inventory/variant/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list")).not_to_contain_text("BLUE-MUG")
    page.get_by_role("link", name="Archived", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    shoot(page, "catalog-archived-filter")
    page.locator("#result_list .field-sku a", has_text="BLUE-MUG").click()
    page.get_by_role("button", name="Restore").click()
    expect(page.locator(".messagelist li")).to_contain_text("BLUE-MUG restored")
    expect(page.locator(".archived-notice")).to_have_count(0)
    assert not Variant.objects.get(pk=blue.pk).archived


def test_the_bulk_adjust_form_shows_stock_and_takes_a_quantity_per_line(page, login, shoot, shop):
    blue, red, _, wh, _popup = shop
    login("mona", role=MANAGER)
    page.goto("/admin/inventory/variant/")
    for sku in ("BLUE-MUG", red.sku):
        page.locator("#result_list tr", has_text=sku).locator("input.action-select").check()
    page.select_option("select[name=action]", "adjust_selected")
    page.click("button[name=index]")

    expect(page.locator("#content h1")).to_have_text("Adjust stock of 2 variants")
    lines = page.locator("table.bulk-lines tbody tr")
    expect(lines.filter(has_text="BLUE-MUG")).to_contain_text("12 available · 12 on hand")
    expect(lines.filter(has_text="BLUE-MUG")).to_contain_text("3 available · 3 on hand")
    page.select_option("#id_operation", "decrement")
    page.select_option("#id_location", label="WH1")
    page.fill("#id_reason", "breakage in the shop")
    page.fill(f"#id_quantity_{blue.pk}", "2")
    page.fill(f"#id_quantity_{red.pk}", "5")  # only 2 there
    fits(page)
    shoot(page, "catalog-bulk-adjust")
    page.click("#stock-form input[type=submit]")

    expect(page.locator(".errorlist.nonfield")).to_contain_text("1 line of 2 refused")
    refused = lines.filter(has_text=red.sku)
    expect(refused.locator(".line-error")).to_contain_text("insufficient stock: available 2")
    assert StockLevel.objects.get(variant=blue, location=wh).on_hand == 12  # nothing applied
    fits(page)
    shoot(page, "catalog-bulk-adjust-refused")

    page.fill(f"#id_quantity_{red.pk}", "2")
    page.click("#stock-form input[type=submit]")
    expect(page.locator(".messagelist li")).to_contain_text("recorded")
    assert StockLevel.objects.get(variant=blue, location=wh).on_hand == 10
    assert StockLevel.objects.get(variant=red, location=wh).on_hand == 0


def test_a_delete_forbidden_by_history_explains_and_offers_archive(page, login, shoot, shop):
    blue = shop[0]
    login("boss", superuser=True)
    page.goto(f"/admin/inventory/variant/{blue.pk}/change/")
    page.locator("#content a.deletelink").click()
    expect(page.locator("#content h1")).to_have_text("BLUE-MUG cannot be deleted")
    expect(page.locator(".errornote").first).to_contain_text(
        "BLUE-MUG has 2 stock movements and stock levels at 2 locations and is listed on 1 channel."
    )
    expect(page.locator("#content")).not_to_contain_text("permission")
    fits(page)
    shoot(page, "catalog-delete-explains-archive")
    unlist = page.locator("label.archive-option", has_text="Unlist it from every channel")
    unlist.locator("input[type=radio]").check()
    page.get_by_role("button", name=re.compile("^Archive BLUE-MUG")).click()
    expect(page.locator(".messagelist li")).to_contain_text("unlisted from every channel")
    assert not Listing.objects.filter(variant=blue).exists()
