"""Reading one marketplace order (Get Orders / Get Order Status) as an inbound.Order:
channels-inbound.md §5.2-5.4 and §6.1, and the choices of orders.py."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    RETURNED,
    OrderLine,
    Unreadable,
)
from connectors.platforms.unicommerce.orders import read_order


def item(n=1, status="CREATED", **extra):
    return {
        "orderItemId": f"o1-{n}",
        "status": status,
        "productId": "p1",
        "variantId": f"v{n}",
        **extra,
    }


def order(*items, status="CREATED", **extra):
    return {
        "id": "o1",
        "orderDate": "2022-12-05 08:12:53",
        "orderStatus": status,
        "orderItems": list(items) or [item()],
        **extra,
    }


def test_an_item_is_a_line_with_the_listings_ids():
    read = read_order(order(item(1, sku="TEE-S", quantity=2), item(2)))

    assert (read.order_id, read.status, read.stage) == ("o1", "CREATED", OPEN)
    assert read.lines == (
        OrderLine("o1-1", 2, remote_id="v1", remote_parent_id="p1", sku="TEE-S", stage=OPEN),
        OrderLine("o1-2", 1, remote_id="v2", remote_parent_id="p1", stage=OPEN),
    )


@pytest.mark.parametrize(
    ("status", "extra", "stage"),
    [
        ("CREATED", {}, OPEN),
        ("PENDING_VERIFICATION", {}, PENDING),
        ("DISPATCHED", {}, FULFILLED),
        ("DELIVERED", {}, FULFILLED),
        ("RETURN_REQUESTED", {"returnReason": "Too small", "returnDate": None}, FULFILLED),
        ("RETURN_REQUESTED", {"returnDate": "2022-12-20 10:00:00"}, RETURNED),
        ("CANCELLED", {}, CANCELLED),
        ("COURIER_RETURN", {"returnDate": None}, RETURNED),
    ],
)
def test_each_item_status_gives_its_lines_stage(status, extra, stage):
    assert read_order(order(item(status=status, **extra))).lines[0].stage == stage


def test_created_items_of_an_order_awaiting_verification_are_pending():
    read = read_order(order(item(1), item(2, "CANCELLED"), status="PENDING_VERIFICATION"))

    assert [line.stage for line in read.lines] == [PENDING, CANCELLED]
    assert read.stage == PENDING


@pytest.mark.parametrize(
    ("statuses", "stage"),
    [
        (("CANCELLED", "DISPATCHED"), FULFILLED),
        (("CREATED", "DISPATCHED"), OPEN),
        (("CANCELLED", "COURIER_RETURN"), CANCELLED),
        (("COURIER_RETURN", "COURIER_RETURN"), RETURNED),
    ],
)
def test_the_order_stands_where_its_least_advanced_line_does(statuses, stage):
    items = [item(n, status) for n, status in enumerate(statuses, 1)]
    assert read_order(order(*items, status="COMPLETE")).stage == stage


@pytest.mark.parametrize(
    ("written", "placed"),
    [
        ("2022-12-05 08:12:53", datetime(2022, 12, 5, 8, 12, 53, tzinfo=UTC)),
        ("2022-12-05T08:12:53", datetime(2022, 12, 5, 8, 12, 53, tzinfo=UTC)),
        (
            "2023-02-02T16:13:44+05:30",
            datetime(2023, 2, 2, 16, 13, 44, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        ("yesterday", None),
        (1670228000, None),
    ],
)
def test_both_date_forms_are_read_and_others_leave_the_date_unknown(written, placed):
    read = read_order(order(orderDate=written))
    assert read.placed_at == placed
    assert read.placed_at is None or read.placed_at.tzinfo is not None


def test_numbers_are_read_as_ids_and_quantities():
    raw = order(
        {
            "orderItemId": 11,
            "status": "CREATED",
            "productId": 979,
            "variantId": 4726,
            "quantity": "3",
        },
        id=1001,
    )

    read = read_order(raw)

    assert read.order_id == "1001"
    assert read.lines == (OrderLine("11", 3, remote_id="4726", remote_parent_id="979", stage=OPEN),)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([], "not a JSON object"),
        (order(orderItems=[]), "has no orderItems"),
        ({"id": "o1", "orderStatus": "CREATED"}, "has no orderItems"),
        (order(item(status="LOST")), "unknown status 'LOST'"),
        (order(item(), item()), "two lines share an id"),
        (order({"status": "CREATED", "variantId": "v1"}), "needs an orderItemId"),
        (order(item(quantity=0)), "between 1 and"),
        (order(item(quantity=1.5)), "not a whole number"),
        (order(item(quantity=True)), "not a quantity"),
        (order(id=""), "needs an id"),
        (order(["o1-1"]), "not a JSON object"),
    ],
)
def test_what_cannot_be_read_is_unreadable_with_the_reason(raw, reason):
    with pytest.raises(Unreadable, match=reason):
        read_order(raw)
