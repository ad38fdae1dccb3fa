"""Catalog, location and listing files: created or updated by their natural keys."""

import pytest

from connectors.models import Channel, Listing
from connectors.resources import ListingResource
from inventory.imports.catalog import CatalogExportResource
from inventory.imports.files import read_table
from inventory.imports.formats import CSV
from inventory.imports.locations import LocationResource
from inventory.models import Location, Product, Variant
from tests.inventory.sheets import csv_bytes, run, write

pytestmark = pytest.mark.django_db

HEADER = ["product", "sku", "name", "barcode", "tracked", "option:size", "Option: Colour"]


def catalog(tmp_path, *rows):
    return run("import_catalog", write(tmp_path, "catalog.csv", csv_bytes(*rows)))


def test_a_catalog_file_creates_products_and_variants(db, tmp_path):
    out, error = catalog(
        tmp_path,
        HEADER,
        ["Tee", "TEE-S", "", "400638", "yes", "S", "black"],
        ["Tee", "TEE-M", "Tee M", "", "no", "M", ""],
        ["Gift card", "GIFT", "", "", "no", "", ""],
    )
    assert error is None, out
    assert "3 rows read: 3 created, 0 updated, 0 unchanged" in out
    assert "2 new products" in out
    tee_s = Variant.objects.get(sku="TEE-S")
    assert (tee_s.product.name, tee_s.barcode, tee_s.tracked) == ("Tee", "400638", True)
    assert tee_s.options == {"size": "S", "colour": "black"}
    assert Variant.objects.get(sku="TEE-M").options == {"size": "M"}
    assert Variant.objects.get(sku="TEE-M").product_id == tee_s.product_id
    assert not Variant.objects.get(sku="GIFT").tracked


def test_a_second_file_updates_by_sku_and_keeps_columns_it_does_not_name(make, tmp_path):
    tee = make.variant("TEE-S", barcode="111", options={"size": "S"}, reorder_point=3)
    out, error = catalog(
        tmp_path,
        ["product", "sku", "name"],
        [tee.product.name, "TEE-S", "Small tee"],
        [tee.product.name, "TEE-L", ""],
    )
    assert error is None, out
    assert "2 rows read: 1 created, 1 updated, 0 unchanged" in out
    tee.refresh_from_db()
    assert (tee.name, tee.barcode, tee.options, tee.reorder_point) == (
        "Small tee",
        "111",
        {"size": "S"},
        3,
    )
    assert Variant.objects.get(sku="TEE-L").product_id == tee.product_id
    assert Product.objects.count() == 1


def test_catalog_export_then_import_changes_nothing(make, tmp_path):
    make.variant("TEE-S", name="Small", options={"size": "S", "fit": "slim"}, tracked=False)
    make.variant("=CMD", barcode="-1")
    data = CSV().export_data(CatalogExportResource().export(Variant.objects.all()))
    assert b"'=CMD" in data
    assert b"option:fit,option:size" in data
    out, error = run("import_catalog", write(tmp_path, "catalog.csv", data))
    assert error is None, out
    assert "2 rows read: 0 created, 0 updated, 2 unchanged" in out


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["", "X1", ""], "row 3, column product (empty): is empty: every row needs a product"),
        (["Tee", "", ""], "row 3, column sku (empty): is empty: every row needs a SKU"),
        (["Tee", "A1", ""], "row 3, column sku, value 'A1': appears again (first on row 2)"),
        (["Tee", "X" * 65, ""], "is longer than 64 characters"),
    ],
)
def test_a_refused_catalog_row_is_named_and_nothing_is_written(db, tmp_path, row, expected):
    out, error = catalog(tmp_path, ["product", "sku", "name"], ["Tee", "A1", ""], row)
    assert expected in out
    assert error is not None
    assert not Variant.objects.exists()


def test_a_bad_boolean_and_an_ambiguous_product_are_refused(make, tmp_path):
    make.product("Twin")
    make.product("Twin")
    out, _ = catalog(
        tmp_path,
        ["product", "sku", "name", "tracked"],
        ["Tee", "A1", "", "maybe"],
        ["Twin", "A2", "", ""],
    )
    assert "row 2, column tracked, value 'maybe': is not yes or no" in out
    assert "row 3, column product, value 'Twin': names 2 products" in out
    assert not Variant.objects.exists()


def test_a_catalog_file_needs_its_columns(db, tmp_path):
    out, error = catalog(tmp_path, ["sku", "name", "colour"], ["A1", "", "red"])
    assert "Unknown column 'colour' (column C)" in out
    assert "option columns such as option:size" in out
    assert error is not None


# ---------------------------------------------------------------- locations and listings


def test_locations_are_created_and_updated_by_code(make):
    make.location("WH1", name="Old name")
    table = read_table(
        csv_bytes(
            ["Code", "name", "kind", "allow_negative"],
            ["WH1", "Main warehouse", "warehouse", ""],
            ["POP", "Pop-up", "store", "yes"],
        )
    )
    result = LocationResource().import_data(table)
    assert result.summary()["errors"] == 0
    assert Location.objects.get(code="WH1").name == "Main warehouse"
    assert Location.objects.get(code="POP").allow_negative


def test_a_location_with_an_unknown_kind_is_refused_on_its_row(db):
    table = read_table(csv_bytes(["code", "name", "kind"], ["POP", "Pop-up", "tent"]))
    result = LocationResource().import_data(table)
    [problem] = result.problems
    assert (problem.row, problem.column, problem.value) == (2, "kind", "tent")
    assert "is not a valid choice" in problem.message
    assert not Location.objects.exists()


def test_listings_are_created_by_channel_and_sku(make):
    tee = make.variant("TEE-M")
    channel = Channel.objects.create(name="Shop", platform="webflow", base_url="http://x")
    table = read_table(
        csv_bytes(
            ["channel", "sku", "remote_id", "remote_parent_id"],
            ["Shop", "TEE-M", "sku-1", "coll-1"],
        )
    )
    result = ListingResource().import_data(table)
    assert result.summary()["created"] == 1
    listing = Listing.objects.get()
    assert (listing.channel, listing.variant, listing.remote_id) == (channel, tee, "sku-1")
    exported = ListingResource().export(Listing.objects.all())
    assert exported.dict == [
        {"channel": "Shop", "sku": "TEE-M", "remote_id": "sku-1", "remote_parent_id": "coll-1"}
    ]


def test_a_listing_for_an_unknown_channel_or_sku_is_refused_on_its_row(make):
    make.variant("TEE-M")
    Channel.objects.create(name="Shop", platform="webflow", base_url="http://x")
    table = read_table(
        csv_bytes(["channel", "sku", "remote_id"], ["Nope", "TEE-M", "1"], ["Shop", "NO", "2"])
    )
    result = ListingResource().import_data(table)
    messages = [str(p) for p in result.problems]
    assert "row 2: 'Nope' is not a known channel" in messages
    assert "row 3: 'NO' is not a known SKU" in messages
    assert not Listing.objects.exists()


def test_the_librarys_import_command_refuses_a_location_file_as_a_whole(db, tmp_path):
    rows = (["code", "name", "kind"], ["WH1", "Main", "warehouse"], ["POP", "Pop-up", "tent"])
    path = write(tmp_path, "loc.csv", csv_bytes(*rows))
    with pytest.raises(SystemExit) as exit_:
        run("import", "inventory.imports.locations.LocationResource", path, "--noinput")
    assert exit_.value.code == 1
    assert not Location.objects.exists()
