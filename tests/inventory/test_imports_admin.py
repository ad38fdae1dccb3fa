"""Imports and exports in the admin: upload, preview, confirm; large files in a worker."""

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rq import SimpleWorker

from config.roles import CLERK, VIEWER, sync_roles
from inventory.models import ImportJob, Movement, Source, StockLevel, Variant
from tests.inventory.sheets import csv_bytes

pytestmark = pytest.mark.django_db

STOCK_IMPORT = reverse("admin:inventory_stocklevel_import")
HEADER = ["sku", "location", "quantity"]


@pytest.fixture
def shop(make):
    sync_roles()
    wh = make.location("WH1")
    store = make.location("STORE")
    tee, cap = make.variant("TEE-M"), make.variant("CAP")
    make.stock(tee, wh, 10)
    make.stock(cap, store, 2)
    return tee, cap, wh, store


def login(client, make, username, role):
    make.user(username, role=role)
    client.login(username=username, password="pw-for-tests-1")
    return client


def upload(client, data, name="count.csv", url=STOCK_IMPORT, **fields):
    fields.setdefault("mode", "count") if url == STOCK_IMPORT else None
    return client.post(url, {"import_file": SimpleUploadedFile(name, data), **fields})


def on_hand(sku, code):
    level = StockLevel.objects.filter(variant__sku=sku, location__code=code).first()
    return level.on_hand if level else 0


def job_page(client, job):
    return client.get(reverse("admin:inventory_importjob_change", args=[job.pk])).content.decode()


def confirm(client, job):
    return client.post(reverse("admin:inventory_importjob_confirm", args=[job.pk]))


def test_a_clerk_previews_a_stock_file_then_confirms_it(client, make, shop):
    login(client, make, "carl", CLERK)
    assert "Check the file" in client.get(STOCK_IMPORT).content.decode()
    response = upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["CAP", "STORE", "2"]))
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:inventory_importjob_change", args=[job.pk])
    page = job_page(client, job)
    assert "What this file will do" in page
    assert "<td>TEE-M</td><td>WH1</td><td>10</td><td>12</td><td>+2</td>" in page
    assert "Confirm import" in page
    assert on_hand("TEE-M", "WH1") == 10  # nothing applied by the preview

    confirm(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert on_hand("TEE-M", "WH1") == 12
    movement = Movement.objects.get(pk=job.movement_id)
    assert (movement.source, movement.reference, movement.user.username) == (
        Source.IMPORT,
        "count.csv",
        "carl",
    )
    assert "Undo this import" in job_page(client, job)
    confirm(client, job)  # a second confirm (double click) applies nothing more
    assert Movement.objects.filter(source=Source.IMPORT).count() == 1


def test_a_refused_file_lists_its_rows_and_cannot_be_confirmed(client, make, shop):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "x"], ["NOPE", "WH1", "1"]))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    page = job_page(client, job)
    assert "Refused: nothing was applied" in page
    assert "<td>3</td><td>sku</td><td><code>NOPE</code></td><td>is not a known SKU</td>" in page
    assert "Confirm import" not in page
    confirm(client, job)
    assert not Movement.objects.filter(source=Source.IMPORT).exists()


def test_a_file_that_is_not_a_spreadsheet_is_refused_on_the_upload_form(client, make, shop):
    login(client, make, "carl", CLERK)
    response = upload(client, b"", name="empty.csv")
    assert "The submitted file is empty." in response.content.decode()  # Django's own check
    response = upload(client, b"sku,location,quantity\r\n,,\r\n", name="header.csv")
    assert "it has a header row but no rows under it" in response.content.decode()
    response = upload(client, b"\r\n\r\n", name="blank.csv")
    assert "The file is empty: it has no header and no rows." in response.content.decode()
    response = upload(client, "sku\nCAFÉ\n".encode("cp1252"), name="latin.csv")
    assert "The file is not UTF-8 text" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_viewer_can_export_but_not_import(client, make, shop):
    login(client, make, "vera", VIEWER)
    changelist = client.get(reverse("admin:inventory_stocklevel_changelist")).content.decode()
    assert "export_link" in changelist
    assert STOCK_IMPORT not in changelist
    assert client.get(STOCK_IMPORT).status_code == 403
    assert upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "1"])).status_code == 403
    job = ImportJob.objects.create(
        resource="x", what="x", file_name="f.csv", data=b"", status=ImportJob.Status.CHECKED
    )
    assert confirm(client, job).status_code == 403
    page = client.get(reverse("admin:inventory_importjob_change", args=[job.pk]))
    assert page.status_code == 200  # the page itself is readable
    assert "f.csv" in page.content.decode()
    assert on_hand("TEE-M", "WH1") == 10


def test_a_clerk_exports_the_filtered_changelist(client, make, shop):
    _, _, wh, _ = shop
    login(client, make, "carl", CLERK)
    url = reverse("admin:inventory_stocklevel_export") + f"?location__id__exact={wh.pk}"
    response = client.post(url, {"format": "0"})
    body = response.content.decode("utf-8-sig")
    assert response["Content-Type"] == "text/csv"
    assert body.splitlines() == [
        "sku,name,location,quantity,expected",
        f"TEE-M,{Variant.objects.get(sku='TEE-M').product.name},WH1,10,10",
    ]


def test_a_clerk_imports_a_catalog_file(client, make, shop):
    login(client, make, "carl", CLERK)
    url = reverse("admin:inventory_variant_import")
    upload(client, csv_bytes(["product", "sku", "name"], ["Mug", "MUG-1", ""]), url=url)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.CHECKED
    confirm(client, job)
    assert Variant.objects.get(sku="MUG-1").product.name == "Mug"


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_checked_and_imported_by_a_worker(client, make, shop, settings):
    settings.IMPORT_INLINE_MAX_ROWS = 2
    queue = django_rq.get_queue("imports")
    queue.empty()
    login(client, make, "carl", CLERK)
    upload(
        client, csv_bytes(HEADER, ["TEE-M", "WH1", "1"], ["CAP", "STORE", "5"], ["CAP", "WH1", "3"])
    )
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.CHECKING
    assert "this page refreshes itself" in job_page(client, job)

    worker = django_rq.get_worker("imports", worker_class=SimpleWorker)
    worker.work(burst=True)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED
    assert (job.summary["updated"], job.summary["unchanged"]) == (3, 0)
    assert on_hand("TEE-M", "WH1") == 10

    confirm(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.IMPORTING
    worker.work(burst=True)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE"), on_hand("CAP", "WH1")) == (1, 5, 3)
    assert Movement.objects.get(pk=job.movement_id).line_count == 3


def test_an_upload_over_the_row_limit_is_refused(client, make, shop, settings):
    settings.IMPORT_MAX_ROWS = 1
    login(client, make, "carl", CLERK)
    response = upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "1"], ["CAP", "WH1", "1"]))
    assert "The file has 2 rows; an upload may have 1: split it." in response.content.decode()


def test_a_manager_imports_locations_and_a_clerk_may_not(client, make, shop):
    from config.roles import MANAGER
    from inventory.models import Location

    url = reverse("admin:inventory_location_import")
    login(client, make, "carl", CLERK)
    assert client.get(url).status_code == 403  # a clerk cannot create locations
    login(client, make, "mona", MANAGER)
    upload(
        client, csv_bytes(["code", "name"], ["WH1", "Main warehouse"], ["POP", "Pop-up"]), url=url
    )
    job = ImportJob.objects.get()
    assert (job.status, job.summary["created"], job.summary["updated"]) == ("checked", 1, 1)
    assert "<ins" not in job_page(client, job)  # the library's HTML diff is shown as text
    confirm(client, job)
    assert Location.objects.get(code="WH1").name == "Main warehouse"
    assert Location.objects.filter(code="POP").exists()


def test_old_uploads_lose_their_files_but_keep_their_results(client, make, shop):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    login(client, make, "clara", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"]), name="done.csv")
    done = ImportJob.objects.get(file_name="done.csv")
    confirm(client, done)
    cap_before = on_hand("CAP", "STORE")
    upload(client, csv_bytes(HEADER, ["CAP", "STORE", "5"]), name="waiting.csv")
    waiting = ImportJob.objects.get(file_name="waiting.csv")
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "13"]), name="recent.csv")
    old = timezone.now() - timedelta(days=31)
    ImportJob.objects.exclude(file_name="recent.csv").update(created_at=old)

    call_command("purge_imports", "--days", "30")

    done.refresh_from_db()
    waiting.refresh_from_db()
    recent = ImportJob.objects.get(file_name="recent.csv")
    assert bytes(done.data) == b""
    assert done.status == ImportJob.Status.DONE
    assert done.movement is not None
    assert done.summary["read"] == 1
    assert bytes(waiting.data) == b""
    assert waiting.status == ImportJob.Status.FAILED
    assert "Upload the file again" in waiting.error
    assert "Upload the file again" in job_page(client, waiting)
    refused = client.post(
        reverse("admin:inventory_importjob_confirm", args=[waiting.pk]), follow=True
    )
    assert "Nothing to do: this import is failed" in refused.content.decode()
    assert on_hand("CAP", "STORE") == cap_before  # nothing applied
    assert "Check the file again" not in job_page(client, waiting)  # there is no file
    retry = reverse("admin:inventory_importjob_retry", args=[waiting.pk])
    assert "upload it again" in client.post(retry, follow=True).content.decode()
    waiting.refresh_from_db()
    assert waiting.status == ImportJob.Status.FAILED
    assert on_hand("CAP", "STORE") == 2  # the expired check was never applied
    assert bytes(recent.data) != b""
    assert recent.status == ImportJob.Status.CHECKED
