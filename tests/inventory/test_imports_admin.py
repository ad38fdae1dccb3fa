"""Imports and exports in the admin: upload, preview, confirm; large files in a worker."""

import importlib
import re
from datetime import timedelta

import django_rq
import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker
from rq.job import JobStatus

from config.roles import CLERK, MANAGER, VIEWER, sync_roles
from inventory.display import when
from inventory.imports import jobs
from inventory.models import ImportJob, Location, Movement, Source, StockLevel, Variant
from inventory.services import StockLine, stock_apply
from tests.inventory.sheets import csv_bytes, run, write
from tests.inventory.test_imports_once import sell

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
    assert "Refused: nothing was changed" in page
    nope = '<code><span class="clipped">NOPE</span></code>'
    assert f"<td>3</td><td>sku</td><td>{nope}</td><td>is not a known SKU</td>" in page
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


# ---------------------------------------------------------------- what the preview showed, once


def retry(client, job):
    return client.post(reverse("admin:inventory_importjob_retry", args=[job.pk]))


def test_stock_moving_between_preview_and_confirm_refuses_the_file_and_names_the_rows(
    client, make, shop
):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["CAP", "STORE", "5"]))
    job = ImportJob.objects.get()
    assert "<td>TEE-M</td><td>WH1</td><td>10</td><td>12</td><td>+2</td>" in job_page(client, job)
    sell("TEE-M", "WH1", 3)  # 10 -> 7 while the preview waits

    confirm(client, job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALE
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE")) == (7, 2)  # nothing applied
    assert not Movement.objects.filter(source=Source.IMPORT).exists()
    page = job_page(client, job)
    assert "Stock moved since the preview: nothing was changed" in page
    assert "<td>2</td><td>TEE-M</td><td>WH1</td><td>10</td><td>7</td>" in page
    assert "<td>CAP</td><td>STORE</td>" not in page  # only the row that moved
    assert "Preview again" in page
    assert "Confirm import" not in page

    retry(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED
    assert "<td>TEE-M</td><td>WH1</td><td>7</td><td>12</td><td>+5</td>" in job_page(client, job)
    confirm(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE")) == (12, 5)


def test_a_row_the_preview_showed_unchanged_is_stale_once_its_stock_moves(client, make, shop):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["CAP", "STORE", "2"]))
    job = ImportJob.objects.get()
    sell("CAP", "STORE", -2)  # a return: 2 -> 4; the count of 2 would now remove two caps
    confirm(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALE
    assert "<td>3</td><td>CAP</td><td>STORE</td><td>2</td><td>4</td>" in job_page(client, job)
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE")) == (10, 4)


def test_an_adjustment_previewed_at_one_level_is_not_applied_at_another(client, make, shop):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "+2"]), mode="adjust", reason="found")
    job = ImportJob.objects.get()
    sell("TEE-M", "WH1", 1)
    confirm(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALE
    assert on_hand("TEE-M", "WH1") == 9


def test_an_allocation_between_preview_and_confirm_refuses_it_with_a_fresh_preview_offered(
    client, make, shop
):

    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "-3"]), mode="adjust", reason="damaged")
    job = ImportJob.objects.get()
    stock_apply(  # on hand stays 10; available drops to 1
        lines=[StockLine(action="allocate", quantity=9, sku="TEE-M", location="WH1")],
        source=Source.CHANNEL,
    )
    confirm(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALE
    assert on_hand("TEE-M", "WH1") == 10
    page = job_page(client, job)
    assert "Refused now:" in page
    assert "insufficient stock: available 1, cannot decrement 3" in page
    assert "Preview again" in page
    retry(client, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED  # the fresh check says why, row by row


def test_the_same_file_uploaded_twice_says_it_was_imported_and_applies_again_when_asked(
    client, make, shop
):
    login(client, make, "carl", CLERK)
    data = csv_bytes(HEADER, ["TEE-M", "WH1", "12"])
    upload(client, data)
    first = ImportJob.objects.get()
    confirm(client, first)
    first.refresh_from_db()
    sell("TEE-M", "WH1", 4)  # 12 -> 8: the same count again would set it back to 12

    upload(client, data, name="count (1).csv")
    second = ImportJob.objects.exclude(pk=first.pk).get()
    assert second.status == ImportJob.Status.CHECKED
    page = job_page(client, second)
    assert "Already imported:" in page
    assert reverse("admin:inventory_importjob_change", args=[first.pk]) in page
    assert "count.csv (stock count, 1 row)" in page
    assert f"movement #{first.movement_id} (" in page
    assert "Confirming applies it a second time" in page
    assert "Confirm import" not in page
    assert "Import it again anyway" in page

    confirm(client, second)  # without asking for it again: nothing happens
    second.refresh_from_db()
    assert second.status == ImportJob.Status.CHECKED
    assert on_hand("TEE-M", "WH1") == 8

    client.post(reverse("admin:inventory_importjob_confirm", args=[second.pk]), {"again": "1"})
    second.refresh_from_db()
    assert (second.status, second.again) == (ImportJob.Status.DONE, True)
    assert second.movement_id not in (None, first.movement_id)
    assert on_hand("TEE-M", "WH1") == 12
    assert "Imported again, as asked" in job_page(client, second)


def test_two_previews_of_one_file_confirmed_one_after_the_other_apply_it_once(client, make, shop):
    login(client, make, "carl", CLERK)
    data = csv_bytes(HEADER, ["TEE-M", "WH1", "12"])
    upload(client, data)
    upload(client, data, name="again.csv")
    first, second = ImportJob.objects.order_by("pk")
    assert "Already imported" not in job_page(client, second)  # neither was confirmed yet
    confirm(client, first)
    sell("TEE-M", "WH1", 3)

    confirm(client, second)

    second.refresh_from_db()
    assert second.status == ImportJob.Status.CHECKED
    assert on_hand("TEE-M", "WH1") == 9
    assert Movement.objects.filter(source=Source.IMPORT).count() == 1
    page = job_page(client, second)
    assert "Already imported:" in page
    # Checked again: what applying it again would do now, not what its first check showed.
    assert "<td>TEE-M</td><td>WH1</td><td>9</td><td>12</td><td>+3</td>" in page


def test_a_file_imported_by_the_command_is_known_to_the_admin(client, make, shop, tmp_path):

    data = csv_bytes(HEADER, ["TEE-M", "WH1", "12"])
    run("import_stock", write(tmp_path, "count.csv", data))
    movement = Movement.objects.get(source=Source.IMPORT)
    sell("TEE-M", "WH1", 1)
    login(client, make, "carl", CLERK)
    upload(client, data)
    page = job_page(client, ImportJob.objects.get())
    assert f"movement #{movement.pk} (" in page
    assert "Import it again anyway" in page


@pytest.mark.django_db(transaction=True)
def test_a_worker_refuses_an_import_whose_stock_moved_after_the_confirm(
    client, make, shop, settings
):
    settings.IMPORT_INLINE_MAX_ROWS = 1
    queue = django_rq.get_queue("imports")
    queue.empty()
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["CAP", "STORE", "5"]))
    job = ImportJob.objects.get()
    worker = django_rq.get_worker("imports", worker_class=SimpleWorker)
    worker.work(burst=True)
    confirm(client, job)
    sell("CAP", "STORE", 1)  # after the confirm, before a worker takes the job

    worker.work(burst=True)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALE
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE")) == (10, 1)
    assert "<td>3</td><td>CAP</td><td>STORE</td><td>2</td><td>1</td>" in job_page(client, job)
    retry(client, job)
    worker.work(burst=True)
    confirm(client, job)
    worker.work(burst=True)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE")) == (12, 5)


def test_a_stock_file_checked_before_previews_were_recorded_must_be_checked_again(
    client, make, shop
):

    migration = importlib.import_module("inventory.migrations.0006_import_previews_and_again")
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"]))
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(previewed=None)  # as an older version left it

    migration.expire_unrecorded_previews(apps, None)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    page = job_page(client, job)
    assert "did not record what the preview showed" in page
    assert "Check the file again" in page
    retry(client, job)
    job.refresh_from_db()
    assert (job.status, job.previewed) == (ImportJob.Status.CHECKED, {"2": 10})


@pytest.mark.django_db(transaction=True)
def test_a_worker_does_not_apply_a_file_imported_since_its_check(client, make, shop, settings):
    settings.IMPORT_INLINE_MAX_ROWS = 1
    django_rq.get_queue("imports").empty()
    worker = django_rq.get_worker("imports", worker_class=SimpleWorker)
    login(client, make, "carl", CLERK)
    data = csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["CAP", "STORE", "5"])
    upload(client, data)
    upload(client, data, name="copy.csv")
    worker.work(burst=True)
    first, second = ImportJob.objects.order_by("pk")
    confirm(client, first)
    worker.work(burst=True)
    sell("TEE-M", "WH1", 2)  # 12 -> 10

    confirm(client, second)
    worker.work(burst=True)

    second.refresh_from_db()
    assert second.status == ImportJob.Status.CHECKED  # checked again, not applied
    assert Movement.objects.filter(source=Source.IMPORT).count() == 1
    page = job_page(client, second)
    assert "Already imported:" in page
    assert "<td>TEE-M</td><td>WH1</td><td>10</td><td>12</td><td>+2</td>" in page  # as it is now
    assert "<td>CAP</td>" not in page
    assert "Import it again anyway" in page
    client.post(reverse("admin:inventory_importjob_confirm", args=[second.pk]), {"again": "1"})
    worker.work(burst=True)
    second.refresh_from_db()
    assert second.status == ImportJob.Status.DONE
    assert (on_hand("TEE-M", "WH1"), on_hand("CAP", "STORE")) == (12, 5)
    assert Movement.objects.filter(source=Source.IMPORT).count() == 2


# ---------------------------------------------------------------- an import's life, in words


def text(html):
    """The page's words, without tags and with single spaces (what a person reads)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def imports_list(client):
    return text(client.get(reverse("admin:inventory_importjob_changelist")).content.decode())


def imported(client, make, shop, name="count.csv"):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"]), name=name)
    job = ImportJob.objects.get()
    confirm(client, job)
    job.refresh_from_db()
    return job


def test_an_import_is_named_by_its_file_and_what_it_holds(client, make, shop):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"]), name="one.csv")
    upload(
        client,
        csv_bytes(HEADER, ["TEE-M", "WH1", "-1"], ["CAP", "STORE", "1"]),
        name="two.csv",
        mode="adjust",
        reason="found",
    )
    one, two = ImportJob.objects.order_by("pk")
    assert str(one) == "one.csv (stock count, 1 row)"
    assert str(two) == "two.csv (stock adjustment, 2 rows)"
    assert "<title>one.csv (stock count, 1 row) | " in job_page(client, one)
    listing = imports_list(client)
    assert "1 row read: 0 created, 1 updated, 0 unchanged" in listing
    assert "2 rows read: 0 created, 2 updated, 0 unchanged" in listing


def test_an_import_page_and_list_show_its_life_and_undo_once(client, make, shop):
    job = imported(client, make, shop)
    movement = Movement.objects.get(pk=job.movement_id)
    page = text(job_page(client, job))
    assert f"Checked {when(job.checked_at)} 1 row by carl" in page
    assert f"Imported {when(movement.created_at)} as movement #{movement.pk}" in page
    assert "Undo this import" in page
    assert "Imported · " in page  # the state, in words

    undo_url = reverse("admin:inventory_movement_reverse", args=[movement.pk])
    form = client.get(undo_url + f"?import={job.pk}").content.decode()
    assert "Yes, undo the import" in form
    response = client.post(undo_url + f"?import={job.pk}", {"reason": "wrong file"}, follow=True)
    undo = Movement.objects.get(reverses=movement)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:inventory_importjob_change", args=[job.pk]
    )
    page = text(response.content.decode())
    assert f"Import of count.csv undone: reversed by movement #{undo.pk}." in page
    assert "Undone: its movement was reversed · " in page
    assert f"Undone {when(undo.created_at)} by carl as movement #{undo.pk}" in page
    assert "Imported (undone since)" in page
    assert "Undo this import" not in page  # offered once
    assert f"Undone by Movement #{undo.pk}: Reversal of #{movement.pk} by carl" in page
    assert on_hand("TEE-M", "WH1") == 10

    listing = imports_list(client)
    assert "Undone: its movement was reversed" in listing
    assert f"by carl as movement #{undo.pk}" in listing
    url = reverse("admin:inventory_importjob_changelist")
    assert "count.csv" in text(client.get(url + "?state=undone").content.decode())
    assert "count.csv" not in text(client.get(url + "?state=done").content.decode())


def test_an_import_undone_from_its_movement_page_reads_undone_too(client, make, shop):
    job = imported(client, make, shop)
    url = reverse("admin:inventory_movement_reverse", args=[job.movement_id])
    response = client.post(url, {"reason": "wrong file"}, follow=True)
    undo = Movement.objects.get(reverses_id=job.movement_id)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:inventory_movement_change", args=[undo.pk]
    )
    page = text(job_page(client, job))
    assert "Undone: its movement was reversed" in page
    assert "Undo this import" not in page
    assert "Undone: its movement was reversed" in imports_list(client)


def test_refused_rows_are_listed_in_file_order_with_the_spreadsheets_row_numbers(
    client, make, shop, tmp_path
):
    login(client, make, "carl", CLERK)
    data = csv_bytes(
        HEADER,
        ["TEE-M", "WH1", "1"],  # row 2: fine
        ["NOPE", "WH1", "1"],  # row 3: unknown SKU (found after the cells are read)
        ["GONE", "WH1", "1"],  # row 4: unknown SKU
        ["TEE-M", "STORE", ""],  # row 5: no quantity (found while reading the cells)
        ["CAP", "STORE", "x"],  # row 6
        ["CAP", "WH1", "-1"],  # row 7
    )
    upload(client, data, name="bad.csv")
    job = ImportJob.objects.get()
    page = job_page(client, job)
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td>", page)
    assert rows == [
        ("3", "sku"),
        ("4", "sku"),
        ("5", "quantity"),
        ("6", "quantity"),
        ("7", "quantity"),
    ]
    problems = client.get(reverse("admin:inventory_importjob_problems", args=[job.pk]))
    assert problems["Content-Disposition"] == 'attachment; filename="bad problems.csv"'
    lines = problems.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,value,problem"
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "4", "5", "6", "7"]
    assert lines[1] == "3,sku,NOPE,is not a known SKU"
    out, error = run("import_stock", "--dry-run", write(tmp_path, "bad.csv", data))
    numbers = [int(m) for m in re.findall(r"^row (\d+)", out, re.MULTILINE)]
    assert numbers == [3, 4, 5, 6, 7]
    assert error == "refused, nothing was applied: 5 problems in 5 rows"


def test_a_refused_import_says_nothing_was_changed_and_why(client, make, shop):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["TEE-M", "WH1", "12"], ["NOPE", "WH1", "1"]))
    job = ImportJob.objects.get()
    page = text(job_page(client, job))
    assert "Refused: nothing was changed" in page
    assert "2 of 2 rows read, 1 problem in 1 row." in page
    assert "none of its rows changed any stock" in page
    assert "Rows that will change" not in page
    assert "Updated" not in page
    assert "+2" not in page  # what the good row would have done is beside the point
    assert "2 rows read, nothing changed: 1 problem in 1 row" in imports_list(client)
    assert "Refused: nothing applied" in imports_list(client)


def test_problem_counts_agree_with_their_number(client, make, shop):
    login(client, make, "carl", CLERK)
    upload(client, csv_bytes(HEADER, ["NOPE", "WH1", "1"], ["GONE", "", "x"]), name="2.csv")
    upload(client, csv_bytes(HEADER, ["NOPE", "WH1", "1"]), name="1.csv")
    listing = imports_list(client)
    assert "1 row read, nothing changed: 1 problem in 1 row" in listing
    assert "2 rows read, nothing changed: 3 problems in 2 rows" in listing
    for word in ("1 rows", "1 errors", "1 problems"):
        assert word not in listing


def watch_progress(monkeypatch, look):
    """Call look(stage, done, total) each time a worker's import reports its progress, after
    the report is saved: while the worker runs, as the page would be opened."""
    reporter = jobs._reporter

    def watched():
        report = reporter()

        def report_and_look(stage, done, total):
            report(stage, done, total)
            look(stage, done, total)

        return report_and_look

    monkeypatch.setattr(jobs, "_reporter", watched)


@pytest.mark.django_db(transaction=True)
def test_a_background_import_reports_its_progress_in_rows(
    client, make, shop, settings, monkeypatch
):
    settings.IMPORT_INLINE_MAX_ROWS = 2
    django_rq.get_queue("imports").empty()
    login(client, make, "carl", CLERK)
    upload(
        client, csv_bytes(HEADER, ["TEE-M", "WH1", "1"], ["CAP", "STORE", "5"], ["CAP", "WH1", "3"])
    )
    job = ImportJob.objects.get()
    assert "Waiting for a worker of the “imports” queue." in text(job_page(client, job))
    pages = []
    # What the person sees meanwhile, each time the worker reports.
    watch_progress(monkeypatch, lambda *_: pages.append(text(job_page(client, job))))
    django_rq.get_worker("imports", worker_class=SimpleWorker).work(burst=True)

    assert "0 of 3 rows checked (a worker is on it)." in pages[0]
    assert any("3 of 3 rows checked (a worker is on it)." in p for p in pages)
    assert not any("JobStatus" in p or ": of" in p for p in pages)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED


@pytest.mark.django_db(transaction=True)
def test_an_upload_never_shows_the_progress_of_an_older_one_with_the_same_number(
    client, make, shop, settings
):
    """A fresh database numbers uploads from 1 again while Redis keeps the jobs of the old
    one for a day: the new upload #1 must not show the old upload #1's progress."""
    settings.IMPORT_INLINE_MAX_ROWS = 2
    django_rq.get_queue("imports").empty()
    login(client, make, "carl", CLERK)
    upload(
        client, csv_bytes(HEADER, ["TEE-M", "WH1", "1"], ["CAP", "STORE", "5"], ["CAP", "WH1", "3"])
    )
    job = ImportJob.objects.get()
    older = ImportJob(pk=job.pk, created_at=job.created_at - timedelta(days=1))
    left = django_rq.get_queue("imports").enqueue(
        print, job_id=jobs.rq_job_id(older, jobs.CHECK), meta={}
    )
    left.meta["progress"] = {"stage": "writing", "done": 3, "total": 3}
    left.save_meta()
    try:
        assert "Waiting for a worker of the “imports” queue." in text(job_page(client, job))
    finally:
        left.delete()
        django_rq.get_queue("imports").empty()


def test_progress_in_words_for_each_state_of_the_job():
    checking = ImportJob(status=ImportJob.Status.CHECKING, rows=5000)
    importing = ImportJob(status=ImportJob.Status.IMPORTING, rows=5000)
    progress = {"stage": "checking", "done": 412, "total": 5000, "state": JobStatus.STARTED}
    assert jobs.progress_text(checking, progress) == (
        "412 of 5,000 rows checked (a worker is on it)."
    )
    writing = {"stage": "writing", "done": 0, "total": 1, "state": JobStatus.STARTED}
    assert jobs.progress_text(importing, writing) == "Writing 1 row (a worker is on it)."
    assert jobs.progress_text(checking, writing) == (
        "Working out what 1 row change (a worker is on it)."
    )
    assert jobs.progress_text(checking, {"state": JobStatus.QUEUED}) == (
        "Waiting for a worker of the “imports” queue."
    )
    assert jobs.progress_text(checking, None) == "Waiting for a worker of the “imports” queue."
