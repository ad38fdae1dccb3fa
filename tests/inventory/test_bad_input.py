"""Bad input is refused with an error naming what is wrong, never a 500 or a database error
(issue 12): quantities beyond the sanity limit or the columns, NUL bytes, oversized texts,
options that are not an object, location codes, binary files."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory.exceptions import InvalidRequest, StockRefused
from inventory.imports.files import FileProblem, read_table
from inventory.imports.locations import LocationResource
from inventory.models import Location, Movement, Source, StockLevel, Variant
from inventory.services import StockLine, movement_reverse, stock_apply
from tests.inventory.sheets import csv_bytes, run, write

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


@pytest.fixture
def shop(make):
    wh = make.location("WH1")
    tee = make.variant("TEE-M")
    make.stock(tee, wh, 10)
    return tee, wh


@pytest.fixture
def boss(client, make):
    make.user("boss", superuser=True)
    client.login(username="boss", password="pw-for-tests-1")
    return client


def on_hand(variant, location):
    level = StockLevel.objects.filter(variant=variant, location=location).first()
    return level.on_hand if level else 0


def line(quantity, action="increment", **fields):
    fields.setdefault("sku", "TEE-M")
    fields.setdefault("location", "WH1")
    return StockLine(action=action, quantity=quantity, **fields)


# --------------------------------------------------------------------------- the stock service


@pytest.mark.parametrize("quantity", [int(HUGE), 2_147_483_648, 3_000_000_000, 1_000_001])
def test_a_quantity_beyond_the_limit_is_refused_naming_it_and_nothing_changes(shop, quantity):
    tee, wh = shop
    before = Movement.objects.count()
    for action in ("increment", "count", "decrement"):
        with pytest.raises(StockRefused, match=r"above the limit of 1,000,000 units a line"):
            stock_apply(lines=[line(quantity, action)], source=Source.COMMAND)
    assert (on_hand(tee, wh), Movement.objects.count()) == (10, before)


def test_the_limit_is_a_setting(shop, settings):
    tee, wh = shop
    settings.STOCK_MAX_QUANTITY = 5
    with pytest.raises(StockRefused, match="above the limit of 5 units"):
        stock_apply(lines=[line(6)], source=Source.COMMAND)
    stock_apply(lines=[line(5)], source=Source.COMMAND)
    assert on_hand(tee, wh) == 15


def test_a_level_is_never_taken_beyond_what_its_column_holds(shop, settings):
    tee, wh = shop
    settings.STOCK_MAX_QUANTITY = 1_000_000_000
    stock_apply(lines=[line(1_000_000_000), line(1_000_000_000)], source=Source.COMMAND)
    with pytest.raises(StockRefused, match="beyond 2,147,483,647 units"):
        stock_apply(lines=[line(1_000_000_000)], source=Source.COMMAND)
    assert on_hand(tee, wh) == 2_000_000_010


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("key", "k" * 300, "idempotency key is 300 characters long; at most 255"),
        ("key", "a\x00b", "idempotency key holds a NUL"),
        ("reason", "r" * 10_000_000, "reason is 10,000,000 characters long"),
        ("reason", "damaged\x00", "reason holds a NUL"),
        ("reference", "f" * 256, "reference is 256 characters long"),
    ],
)
def test_a_key_reason_or_reference_that_does_not_fit_is_refused_not_cut(
    shop, field, value, message
):
    tee, wh = shop
    with pytest.raises(InvalidRequest, match=message):
        stock_apply(lines=[line(1)], source=Source.COMMAND, **{field: value})
    assert on_hand(tee, wh) == 10


def test_a_reason_that_fits_is_kept_whole(shop):
    reason = "r" * 255
    result = stock_apply(lines=[line(1)], source=Source.COMMAND, reason=reason)
    assert Movement.objects.get(pk=result.movement.pk).reason == reason


def test_a_nul_in_a_sku_or_location_is_a_line_error(shop):
    with pytest.raises(StockRefused, match="holds a NUL character"):
        stock_apply(lines=[line(1, sku="TEE\x00M")], source=Source.COMMAND)
    with pytest.raises(StockRefused, match="holds a NUL character"):
        stock_apply(lines=[line(1, location="WH\x001")], source=Source.COMMAND)


# --------------------------------------------------------------------------- adjust_stock


def test_adjust_stock_refuses_a_huge_quantity_and_a_long_key_without_a_traceback(shop):
    tee, wh = shop
    _, error = run("adjust_stock", "TEE-M", "WH1", "increment", HUGE, "--reason", "r")
    assert "refused, nothing changed" in error
    assert "above the limit of 1,000,000 units" in error
    _, error = run("adjust_stock", "TEE-M", "WH1", "count", "3000000000", "--reason", "r")
    assert "above the limit" in error
    _, error = run(
        "adjust_stock", "TEE-M", "WH1", "increment", "1", "--reason", "r", "--key", "k" * 300
    )
    assert "idempotency key is 300 characters long" in error
    _, error = run("adjust_stock", "TEE-M", "WH1", "increment", "1", "--reason", "r" * 300)
    assert "reason is 300 characters long" in error
    assert on_hand(tee, wh) == 10


def test_adjust_stock_finds_a_location_by_its_code_in_any_case(shop):
    out, error = run("adjust_stock", "TEE-M", "wh1", "increment", "2", "--reason", "found")
    assert error is None
    assert "TEE-M at wh1: on hand 12" in out


# --------------------------------------------------------------------------- the admin forms


def adjust(client, variant, **fields):
    url = reverse("admin:inventory_variant_adjust", args=[variant.pk])
    data = {"apply": "1", "operation": "increment", "quantity": 1, "token": "t1", "reason": "r"}
    data.update(fields)
    return client.post(url, data)


@pytest.mark.parametrize("quantity", [HUGE, "2147483648", "3000000000"])
def test_the_adjust_form_refuses_a_quantity_beyond_the_limit_as_a_form_error(boss, shop, quantity):
    tee, wh = shop
    for operation in ("increment", "count"):
        response = adjust(boss, tee, location=wh.pk, quantity=quantity, operation=operation)
        assert response.status_code == 200
        assert "At most 1,000,000 units a line" in response.content.decode()
    assert on_hand(tee, wh) == 10


def test_the_move_form_refuses_a_quantity_beyond_the_limit(boss, shop, make):
    tee, wh = shop
    store = make.location("STORE")
    url = reverse("admin:inventory_variant_move", args=[tee.pk])
    response = boss.post(
        url,
        {
            "apply": "1",
            "from_location": wh.pk,
            "to_location": store.pk,
            "quantity": HUGE,
            "reason": "r",
        },
    )
    assert response.status_code == 200
    assert "At most 1,000,000 units a line" in response.content.decode()


@pytest.mark.parametrize("token", ["abc\x00def", "t" * 300, "<script>"])
def test_a_damaged_form_token_is_a_form_error_and_applies_nothing(boss, shop, token):
    tee, wh = shop
    response = adjust(boss, tee, location=wh.pk, token=token)
    assert response.status_code == 200
    page = response.content.decode()
    assert "token" in page
    assert "errorlist" in page
    assert on_hand(tee, wh) == 10


def test_a_nul_in_the_reason_is_a_form_error(boss, shop):
    tee, wh = shop
    response = adjust(boss, tee, location=wh.pk, reason="damaged\x00")
    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()
    assert on_hand(tee, wh) == 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('["red"]', "Options must be an object of names and values"),
        ('"red"', "not a text"),
        ('{"size": 3}', "Option &#x27;size&#x27; must be a text value"),
        ('{"size": {"eu": "M"}}', "must be a text value"),
        ('{"size": "M\\u0000"}', 'id="id_options_error"'),
    ],
)
def test_options_that_are_not_an_object_of_texts_are_a_form_error(boss, shop, options, message):
    tee, _ = shop
    url = reverse("admin:inventory_variant_change", args=[tee.pk])
    data = {
        "product": tee.product_id,
        "sku": "TEE-M",
        "barcode": "",
        "name": "",
        "options": options,
        "tracked": "on",
        "reorder_point": "",
        "listings-TOTAL_FORMS": "0",
        "listings-INITIAL_FORMS": "0",
    }
    response = boss.post(url, data)
    assert response.status_code == 200, response.status_code
    assert message in response.content.decode()
    assert Variant.objects.get(pk=tee.pk).options == {}


def test_the_catalog_export_survives_a_variant_stored_with_list_options(boss, shop, make):
    tee, _ = shop
    make.variant("MUG", options={"colour": "red"})
    Variant.objects.filter(pk=tee.pk).update(options=["red"])  # as saved before the check
    url = reverse("admin:inventory_variant_export")
    response = boss.post(url, {"format": "0", "resource": "", "export_items": []})
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode()
    assert "option:colour" in text
    assert "TEE-M" in text


# --------------------------------------------------------------------------- location codes


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("wh1", "A location with this code already exists"),
        ("WH 3 / bad", "letters, digits"),
        ("-WH", "letters, digits"),
        ("WH\x003", "Null characters are not allowed"),
    ],
)
def test_a_location_code_is_checked_and_unique_in_any_case(boss, shop, code, message):
    url = reverse("admin:inventory_location_add")
    data = {"code": code, "name": "Second", "kind": "warehouse", "active": "on"}
    response = boss.post(url, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Location.objects.count() == 1


def test_files_and_the_service_find_a_location_in_any_case(shop, tmp_path):
    tee, wh = shop
    stock_apply(lines=[line(1, location="wh1")], source=Source.COMMAND)
    path = write(
        tmp_path, "count.csv", csv_bytes(["sku", "location", "quantity"], ["TEE-M", "Wh1", 7])
    )
    _, error = run("import_stock", path)
    assert error is None
    assert on_hand(tee, wh) == 7


def test_a_file_naming_a_location_twice_in_two_cases_is_refused(shop, tmp_path):
    rows = [["sku", "location", "quantity"], ["TEE-M", "WH1", 7], ["TEE-M", "wh1", 8]]
    out, error = run("import_stock", write(tmp_path, "count.csv", csv_bytes(*rows)))
    assert "refused" in error
    assert "appears again at location wh1 (first on row 2)" in out


# --------------------------------------------------------------------------- stock files


@pytest.mark.parametrize("value", [HUGE, "3000000000", "3,000,000,000", "-2147483649"])
def test_a_stock_file_quantity_beyond_the_limit_is_refused_naming_its_row(shop, tmp_path, value):
    tee, wh = shop
    rows = [["sku", "location", "quantity"], ["TEE-M", "WH1", value]]
    for mode in ("count", "adjust"):
        out, error = run(
            "import_stock",
            write(tmp_path, "count.csv", csv_bytes(*rows)),
            "--mode",
            mode,
            "--reason",
            "recount",
        )
        assert "refused" in error
        assert "row 2, column quantity" in out
    assert on_hand(tee, wh) == 10


def test_a_stock_file_expected_beyond_the_limit_and_a_long_reason_are_refused(shop, tmp_path):
    rows = [
        ["sku", "location", "quantity", "expected", "reason"],
        ["TEE-M", "WH1", 5, HUGE, ""],
        ["TEE-M", "STORE", 5, "", "r" * 300],
    ]
    out, error = run("import_stock", write(tmp_path, "count.csv", csv_bytes(*rows)))
    assert "refused" in error
    assert "row 2, column expected" in out
    assert "row 3, column reason" in out
    assert "300 characters long" in out


def test_random_bytes_named_csv_are_called_binary_data_not_empty():
    for data in (b"\x13k\x02", b"ab\x07cd\nef,gh\n", b"sku,location\n\x00\x01\x02"):
        with pytest.raises(FileProblem, match="binary data"):
            read_table(data, "stock.csv")


def test_random_bytes_uploaded_in_the_admin_are_refused_on_the_form(client, make, shop):
    make.user("boss", superuser=True)
    client.login(username="boss", password="pw-for-tests-1")
    upload = SimpleUploadedFile("stock.csv", b"\x13\x01\x02abc")
    response = client.post(
        reverse("admin:inventory_stocklevel_import"), {"import_file": upload, "mode": "count"}
    )
    assert response.status_code == 200
    assert "binary data" in response.content.decode()


def test_a_reversal_is_not_held_to_the_limit_it_undoes_what_was_recorded(make):
    popup = make.location("POPUP", allow_negative=True)
    tee = make.variant("TEE-M")
    stock_apply(lines=[line(900_000, "decrement", location="POPUP")], source=Source.COMMAND)
    count = stock_apply(lines=[line(900_000, "count", location="POPUP")], source=Source.COMMAND)
    assert count.transactions[0].on_hand_change == 1_800_000  # more than the limit
    movement_reverse(movement=count.movement, source=Source.ADMIN)
    assert on_hand(tee, popup) == -900_000


def test_a_location_file_matches_codes_in_any_case_and_refuses_bad_ones(shop):
    table = read_table(
        csv_bytes(["code", "name"], ["wh1", "Main warehouse"], ["WH 3 / bad", "Third"])
    )
    result = LocationResource().import_data(table)
    [problem] = result.problems
    assert (problem.row, problem.column, problem.value) == (3, "code", "WH 3 / bad")
    assert "letters, digits" in problem.message
    table = read_table(csv_bytes(["code", "name"], ["wh1", "Main warehouse"]))
    assert LocationResource().import_data(table).summary()["errors"] == 0
    assert list(Location.objects.values_list("code", "name")) == [("WH1", "Main warehouse")]


def test_a_catalog_reorder_point_beyond_the_limit_is_refused_on_its_row(shop, tmp_path):
    rows = [["product", "sku", "name", "reorder_point"], ["Tee", "NEW", "", HUGE]]
    out, error = run("import_catalog", write(tmp_path, "catalog.csv", csv_bytes(*rows)))
    assert "refused" in error
    assert "row 2, column reorder_point" in out
    assert not Variant.objects.filter(sku="NEW").exists()
