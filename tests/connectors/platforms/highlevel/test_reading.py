"""HighLevel's bodies as the docs show them, read by the connector (channels-inbound.md §2.1,
§6.1): no sandbox, only the bytes."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from connectors.platforms.highlevel.connector import HighLevelConnector
from connectors.platforms.highlevel.signatures import public_keys
from connectors.platforms.inbound import CANCELLED, FULFILLED, OPEN, PENDING, Unreadable

LOCATION = "Z4Bxl8J4SaPEPLq9IQ8g"
CONNECTOR = HighLevelConnector(
    base_url="http://127.0.0.1:9", credentials={"token": "t"}, settings={"location_id": LOCATION}
)
# The docs' OrderCreate example, trimmed of the contact, taxes and product details.
ORDER_CREATE = {
    "type": "OrderCreate",
    "locationId": LOCATION,
    "_id": "660ed43bfdf9fc05a0de7a40",
    "altId": LOCATION,
    "altType": "location",
    "status": "pending",
    "fulfillmentStatus": "unfulfilled",
    "currency": "USD",
    "amount": 150.1,
    "liveMode": False,
    "createdAt": "2024-04-04T16:24:27.036Z",
    "updatedAt": "2024-04-04T16:24:31.297Z",
    "items": [
        {
            "name": "Men's classic tee - XL / Charcoal",
            "qty": 1,
            "product": {"_id": "660ed1ff95e1dc88d5b0d346", "name": "Men's classic tee"},
            "price": {"_id": "660ed20095e1dcd37bb0d392", "name": "XL / Charcoal", "amount": 17},
        },
        {
            "name": "Tshirt - Green / S",
            "qty": 1,
            "product": {"_id": "64f84dea1e2c5ae21f0714dd", "name": "Tshirt"},
            "price": {"_id": "64f84dec1e2c5ae21f0714e1", "name": "Green / S", "amount": 121},
        },
    ],
    "timestamp": "2025-01-28T14:35:00Z",
    "webhookId": "abc123xyz",
}
# The docs' PriceUpdate example: the price's own `type` stands where the event's name would.
PRICE_UPDATE = {
    "_id": "655b33aa2209e60b6adb87a7",
    "locationId": LOCATION,
    "product": "655b33a82209e60b6adb87a5",
    "userId": "6YAtzfzpmHAdj0e8GkKp",
    "name": "Red / S",
    "type": "one_time",
    "trackInventory": None,
    "availableQuantity": 5,
    "allowOutOfStockPurchases": False,
    "updatedAt": "2024-01-23T09:57:04.852Z",
}


def read(body):
    return CONNECTOR.read_webhook({}, json.dumps(body).encode())


def test_the_documented_order_create_is_a_pending_order_of_two_lines():
    event = read(ORDER_CREATE)

    (order,) = event.orders
    assert (event.event_id, event.topic) == ("abc123xyz", "OrderCreate")
    assert (order.order_id, order.stage, order.status) == (
        "660ed43bfdf9fc05a0de7a40",
        PENDING,
        "pending/unfulfilled",
    )
    assert [(li.line_id, li.remote_id, li.remote_parent_id, li.quantity) for li in order.lines] == [
        ("660ed20095e1dcd37bb0d392", "660ed20095e1dcd37bb0d392", "", 1),
        ("64f84dec1e2c5ae21f0714e1", "64f84dec1e2c5ae21f0714e1", "", 1),
    ]
    assert order.placed_at.isoformat() == "2024-04-04T16:24:27.036000+00:00"


def test_the_documented_price_update_is_a_level_even_without_the_events_name():
    envelope = HighLevelConnector.webhook_envelope({}, json.dumps(PRICE_UPDATE).encode())

    event = read(PRICE_UPDATE)

    assert envelope == ("", "PriceUpdate")
    assert [(c.remote_id, c.quantity) for c in event.stock] == [("655b33aa2209e60b6adb87a7", 5)]


@pytest.mark.parametrize("changes", [{"allowOutOfStockPurchases": True}, {"trackInventory": False}])
def test_a_price_that_keeps_selling_gives_no_level_only_a_note(changes):
    event = read({**PRICE_UPDATE, **changes})

    assert event.stock == ()
    assert event.note.endswith("keeps selling when out of stock: its level limits nothing")


def test_a_level_sent_as_a_string_is_read_as_a_number():
    (change,) = read({**PRICE_UPDATE, "availableQuantity": "7"}).stock

    assert change.quantity == 7


def test_a_price_update_without_a_level_is_a_note():
    event = read({**PRICE_UPDATE, "availableQuantity": None})

    assert event.stock == ()
    assert event.note == "price 655b33aa2209e60b6adb87a7: an update without a stock level"


@pytest.mark.parametrize(
    ("status", "payment", "shipping", "stage"),
    [
        ("pending", None, "unfulfilled", PENDING),
        ("pending", "partially_paid", "unfulfilled", PENDING),
        ("completed", None, "unfulfilled", OPEN),
        ("pending", "paid", "unfulfilled", OPEN),
        ("completed", "paid", "fulfilled", FULFILLED),
        ("cancelled", "paid", "unfulfilled", CANCELLED),
        ("refunded", "refunded", "unfulfilled", CANCELLED),
        ("completed", "refunded", None, CANCELLED),
        ("refunded", "refunded", "fulfilled", FULFILLED),
        ("completed", "paid", "partially_fulfilled", OPEN),
    ],
)
def test_the_stage_comes_from_the_state_not_from_the_event(status, payment, shipping, stage):
    body = {**ORDER_CREATE, "status": status, "paymentStatus": payment}
    body["fulfillmentStatus"] = shipping

    (order,) = read(body).orders

    assert order.stage == stage


def test_lines_of_one_price_are_one_line_and_keep_a_sku():
    items = [
        {"qty": 2, "price": {"_id": "p1"}, "sku": "MUG-R"},
        {"qty": "3", "price": {"_id": "p1"}},
        {"qty": 1, "name": "Gift wrap"},
    ]

    (order,) = read({**ORDER_CREATE, "items": items}).orders

    assert [(li.line_id, li.remote_id, li.sku, li.quantity) for li in order.lines] == [
        ("p1", "p1", "MUG-R", 5),
        ("item-2", "", "", 1),
    ]


def test_an_event_of_another_location_or_kind_is_a_note():
    elsewhere = read({**ORDER_CREATE, "locationId": "other"})
    contact = read({"type": "ContactCreate", "locationId": LOCATION, "webhookId": "w1"})

    assert (elsewhere.orders, elsewhere.note) == (
        (),
        f"for location 'other', not this channel's {LOCATION!r}",
    )
    assert (contact.event_id, contact.note) == (
        "w1",
        "HighLevel's ContactCreate carries no order or stock",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\x00", "not JSON"),
        (b"[1]", "not an object"),
        (json.dumps({"webhookId": "w"}).encode(), "no event name"),
        (json.dumps({**ORDER_CREATE, "items": None}).encode(), "no 'items' list"),
        (json.dumps({**ORDER_CREATE, "_id": 7}).encode(), "the order's _id"),
        (json.dumps({**ORDER_CREATE, "items": [{"qty": 10**7}]}).encode(), "between 1 and"),
        (json.dumps({**ORDER_CREATE, "items": [{"qty": 1.5}]}).encode(), "whole number"),
    ],
)
def test_what_cannot_be_read_says_why(body, reason):
    with pytest.raises(Unreadable, match=reason):
        CONNECTOR.read_webhook({}, body)


@pytest.mark.parametrize("join", ["\n", " ", ""])
def test_a_public_key_pasted_into_a_one_line_field_still_verifies(join):
    """The admin's credential fields are one line: a PEM pasted there loses its breaks."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    ed25519_keys, rsa_keys = public_keys(pem.replace("\n", join))
    assert len(ed25519_keys) == 1
    assert rsa_keys == ()
