"""A stock clerk in the browser: find a variant, adjust its stock, import a count file."""

import re

import pytest
from playwright.sync_api import expect

from config.roles import CLERK
from inventory.models import Movement, Source, StockLevel
from tests.inventory.sheets import csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(make):
    wh = make.location("WH1", name="Main warehouse")
    store = make.location("STORE", name="Shop floor", kind="store")
    tee_product, cap_product = make.product("Organic tee"), make.product("Baseball cap")
    tee = make.variant("TEE-BLA-M", name="Organic tee, black, M", product_obj=tee_product)
    make.variant("TEE-BLA-L", name="Organic tee, black, L", product_obj=tee_product)
    cap = make.variant("CAP-RED", name="Baseball cap, red", product_obj=cap_product)
    make.stock(tee, wh, 10)
    make.stock(tee, store, 3)
    make.stock(cap, store, 2)
    return tee, cap, wh, store


def on_hand(sku, code):
    level = StockLevel.objects.filter(variant__sku=sku, location__code=code).first()
    return level.on_hand if level else 0


def test_a_clerk_finds_a_variant_and_adjusts_its_stock(page, login, shoot, shop):
    login("carl", role=CLERK)
    expect(page.locator("#content h1")).to_be_visible()
    shoot(page, "admin-index")

    page.goto("/admin/inventory/variant/")
    page.fill("#searchbar", "tee-bla")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows.locator(".field-sku")).to_have_text(["TEE-BLA-L", "TEE-BLA-M"])
    row = rows.filter(has_text="TEE-BLA-M")
    expect(row.locator(".field-on_hand_total")).to_have_text("13")
    shoot(page, "variant-search")

    row.locator(".field-sku a").click()
    expect(page.locator("#content h2").first).to_have_text("TEE-BLA-M")
    levels = page.locator("table.stock-levels")
    expect(levels.locator("tr", has_text="WH1")).to_contain_text("10")
    shoot(page, "variant-change")

    page.get_by_role("link", name="Adjust stock").click()
    expect(page.locator("#content h1")).to_have_text("Adjust stock: TEE-BLA-M")
    page.select_option("#id_operation", "increment")
    page.select_option("#id_location", label="WH1")
    page.fill("#id_quantity", "5")
    page.fill("#id_reason", "goods received")
    shoot(page, "adjust-stock")
    page.click("#stock-form input[type=submit]")

    # Back on the variant: the message, the level and the movement.
    expect(page).to_have_url(re.compile(r"/admin/inventory/variant/\d+/change/$"))
    movement = Movement.objects.get(source=Source.ADMIN)
    expect(page.locator(".messagelist li")).to_have_text(
        f"Movement #{movement.pk} recorded. TEE-BLA-M at WH1: on hand 15, available 15"
    )
    expect(levels.locator("tr", has_text="WH1")).to_contain_text("15")
    latest = page.locator("table.recent-movements tbody tr").first
    expect(latest).to_contain_text(f"#{movement.pk}")
    expect(latest).to_contain_text("Increment")
    expect(latest).to_contain_text("goods received")

    page.goto("/admin/inventory/movement/")
    row = page.locator("#result_list tbody tr", has_text=f"Movement #{movement.pk}")
    expect(row.locator(".field-reason")).to_have_text("goods received")
    expect(row.locator(".field-user")).to_have_text("carl")
    expect(row.locator(".field-source")).to_have_text("Admin")

    page.goto("/admin/inventory/variant/?q=TEE-BLA-M")
    expect(page.locator("#result_list .field-on_hand_total")).to_have_text("18")
    assert on_hand("TEE-BLA-M", "WH1") == 15


def test_a_clerk_imports_a_stock_count_through_the_admin(page, login, shoot, shop):
    login("carl", role=CLERK)
    page.goto("/admin/inventory/stocklevel/")
    page.locator("#content-main .object-tools").get_by_role(
        "link", name="Import", exact=True
    ).click()
    expect(page.locator("#content h1")).to_contain_text("Import")
    expect(page.locator("#id_mode input[value=count]")).to_be_checked()
    page.set_input_files(
        "#id_import_file",
        {
            "name": "count.csv",
            "mimeType": "text/csv",
            "buffer": csv_bytes(
                ["sku", "location", "quantity"],
                ["TEE-BLA-M", "WH1", "12"],
                ["TEE-BLA-M", "STORE", "3"],  # unchanged
                ["CAP-RED", "WH1", "4"],  # a new level
            ),
        },
    )
    page.get_by_role("button", name="Check the file").click()

    # The preview: totals and what each row will do; nothing applied yet.
    content = page.locator("#content-main")
    expect(content.locator("h2").first).to_have_text("What this file will do")
    totals = content.locator("table.import-totals")
    expect(totals.locator("tr", has_text="Rows read")).to_contain_text("3")
    expect(totals.locator("tr", has_text="Unchanged")).to_contain_text("1")
    preview = content.locator("table.import-preview tbody tr")
    expect(preview).to_have_count(2)
    expect(preview.filter(has_text="TEE-BLA-M")).to_contain_text("+2")
    expect(preview.filter(has_text="CAP-RED")).to_contain_text("+4")
    assert on_hand("TEE-BLA-M", "WH1") == 10
    shoot(page, "import-preview")

    page.get_by_role("button", name="Confirm import").click()
    expect(content.locator("h2").first).to_have_text("Imported")
    expect(content).to_contain_text("Recorded as Movement #")
    expect(page.get_by_role("link", name="Undo this import")).to_be_visible()
    shoot(page, "import-result")

    movement = Movement.objects.get(source=Source.IMPORT)
    assert (movement.reference, movement.user.username) == ("count.csv", "carl")
    page.goto("/admin/inventory/stocklevel/?q=TEE-BLA-M")
    expect(
        page.locator("#result_list tbody tr", has_text="WH1").locator(".field-on_hand")
    ).to_have_text("12")
    page.goto("/admin/inventory/stocklevel/?q=CAP-RED")
    expect(
        page.locator("#result_list tbody tr", has_text="WH1").locator(".field-on_hand")
    ).to_have_text("4")
