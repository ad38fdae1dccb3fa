"""Imports and movements in the browser: an import's life after undo, a movement that says
which movement reversed it, a refused file's problems in file order, a background import's
progress in rows."""

import django_rq
import pytest
from playwright.sync_api import expect
from rq import SimpleWorker

from config.roles import CLERK
from inventory.models import ImportJob, Movement
from tests.inventory.sheets import csv_bytes
from tests.inventory.test_imports_admin import watch_progress

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = ["sku", "location", "quantity"]


@pytest.fixture
def shop(make):
    wh = make.location("WH1", name="Main warehouse")
    store = make.location("STORE", name="Shop floor", kind="store")
    tee = make.variant("TEE-BLA-M", name="Organic tee, black, M")
    cap = make.variant("CAP-RED", name="Baseball cap, red")
    make.stock(tee, wh, 10)
    make.stock(cap, store, 2)
    return tee, cap


def upload(page, name, data):
    page.goto("/admin/inventory/stocklevel/import/")
    page.set_input_files("#id_import_file", {"name": name, "mimeType": "text/csv", "buffer": data})
    page.get_by_role("button", name="Check the file").click()


def no_overflow(page):
    width = page.evaluate("document.querySelector('#content').scrollWidth")
    assert width <= page.evaluate("document.querySelector('#content').clientWidth") + 1


def test_an_import_undone_from_its_page_reads_undone_with_its_life(page, login, shoot, shop):
    login("carl", role=CLERK)
    upload(page, "count.csv", csv_bytes(HEADER, ["TEE-BLA-M", "WH1", "12"]))
    page.get_by_role("button", name="Confirm import").click()
    page.get_by_role("link", name="Undo this import").click()
    expect(page.locator("#content h1")).to_contain_text("Reverse movement #")
    page.fill("#id_reason", "wrong file")
    page.get_by_role("button", name="Yes, undo the import").click()

    job = ImportJob.objects.get()
    undo = Movement.objects.get(reverses_id=job.movement_id)
    expect(page.locator(".messagelist")).to_contain_text(
        f"Import of count.csv undone: reversed by movement #{undo.pk}."
    )
    expect(page.locator(".import-state")).to_have_text("Undone: its movement was reversed")
    life = page.locator("table.import-life")
    expect(life.locator("tr", has_text="Undone")).to_contain_text(f"as movement #{undo.pk}")
    expect(life.locator("tr", has_text="Checked")).to_contain_text("1 row by carl")
    expect(page.get_by_role("link", name="Undo this import")).to_have_count(0)
    no_overflow(page)
    shoot(page, "import-undone")

    page.goto("/admin/inventory/importjob/")
    row = page.locator("#result_list tbody tr", has_text="count.csv")
    expect(row.locator(".field-state")).to_have_text("Undone: its movement was reversed")
    shoot(page, "imports-list-undone")


def test_a_movement_page_says_which_movement_reversed_it(page, login, shoot, shop):
    login("carl", role=CLERK)
    upload(page, "count.csv", csv_bytes(HEADER, ["TEE-BLA-M", "WH1", "12"]))
    page.get_by_role("button", name="Confirm import").click()
    job = ImportJob.objects.get()
    page.goto(f"/admin/inventory/movement/{job.movement_id}/change/")
    page.get_by_role("link", name="Reverse this movement").click()
    page.fill("#id_reason", "counted the wrong shelf")
    page.get_by_role("button", name="Yes, reverse it").click()
    undo = Movement.objects.get(reverses_id=job.movement_id)
    expect(page.locator(".field-reversal")).to_contain_text(f"Reverses Movement #{job.movement_id}")

    page.goto(f"/admin/inventory/movement/{job.movement_id}/change/")
    expect(page.locator(".field-reversal")).to_contain_text(f"Reversed by Movement #{undo.pk}")
    expect(page.get_by_role("link", name="Reverse this movement")).to_have_count(0)
    expect(page.locator(".field-from_import")).to_contain_text("count.csv (stock count, 1 row)")
    expect(page.locator("#content")).to_contain_text(
        "TEE-BLA-M at WH1: counted 12 (+2), 12 on hand"
    )
    no_overflow(page)
    shoot(page, "movement-reversed-by")


def test_a_refused_files_problems_are_listed_in_file_order(page, login, shoot, shop):
    login("carl", role=CLERK)
    data = csv_bytes(
        HEADER,
        ["TEE-BLA-M", "WH1", "1"],
        ["NOPE", "WH1", "1"],
        ["GONE-" + "X" * 120, "WH1", "1"],
        ["TEE-BLA-M", "STORE", ""],
        ["CAP-RED", "STORE", "x"],
    )
    upload(page, "refused.csv", data)
    content = page.locator("#content-main")
    expect(content.locator("h2").first).to_have_text("Refused: nothing was changed")
    expect(content).to_contain_text("5 of 5 rows read, 4 problems in 4 rows.")
    rows = content.locator("table.import-problems tbody tr td:first-child")
    expect(rows).to_have_text(["3", "4", "5", "6"])
    expect(content.locator("table.import-preview")).to_have_count(0)
    expect(content.locator("table.import-totals")).to_have_count(0)
    no_overflow(page)
    shoot(page, "import-refused-problems")


def test_a_background_import_shows_its_progress_in_rows(
    page, login, shoot, shop, settings, monkeypatch
):
    settings.IMPORT_INLINE_MAX_ROWS = 2
    django_rq.get_queue("imports").empty()
    login("carl", role=CLERK)
    upload(
        page,
        "big.csv",
        csv_bytes(
            HEADER, ["TEE-BLA-M", "WH1", "1"], ["CAP-RED", "STORE", "5"], ["CAP-RED", "WH1", "3"]
        ),
    )
    expect(page.locator(".import-progress")).to_contain_text("Waiting for a worker")
    job = ImportJob.objects.get()
    seen = []

    def look(stage, done, total):
        if stage == "checking" and done == total and not seen:
            page.goto(f"/admin/inventory/importjob/{job.pk}/change/")
            progress = page.locator(".import-progress")
            expect(progress).to_contain_text("3 of 3 rows checked (a worker is on it).")
            seen.append(progress.inner_text())
            shoot(page, "import-progress")

    watch_progress(monkeypatch, look)
    django_rq.get_worker("imports", worker_class=SimpleWorker).work(burst=True)
    assert seen
    page.goto(f"/admin/inventory/importjob/{job.pk}/change/")
    expect(page.locator("#content-main h2").first).to_have_text("What this file will do")
