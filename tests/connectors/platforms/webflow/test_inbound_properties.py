"""Webflow's webhook intake against whatever arrives: verify_webhook never raises, and
webhook_envelope and read_webhook raise nothing but Unreadable (Hypothesis)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    OPEN,
    PENDING,
    Event,
    Unreadable,
    Verdict,
    hmac_hex,
)
from connectors.platforms.webflow import payloads
from connectors.platforms.webflow.connector import SIGNATURE, TIMESTAMP, WebflowConnector

CONNECTOR = WebflowConnector(base_url="https://api.webflow.invalid", credentials={"token": "t"})
NOW = 1_780_000_000.0
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**300)
    | st.floats()
    | st.text(max_size=30)
)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
HEADERS = st.dictionaries(
    st.sampled_from([TIMESTAMP, SIGNATURE, "content-type"]) | st.text(max_size=20),
    st.text(max_size=80) | st.from_regex(r"[0-9]{1,30}", fullmatch=True),
    max_size=4,
)
ODD_BODIES = [
    b"",
    b"\x00" * 64,
    b"\xff\xfe\xfa",
    b"[" * 100_000,
    b'{"triggerType": "ecomm_new_order", "payload": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b"1" * 5_000,
    b'{"triggerType": "ecomm_inventory_changed", "payload": {"id": "s", "quantity": 1e999,'
    b' "inventoryType": "finite"}}',
    b'{"triggerType": "ecomm_new_order", "payload": {"orderId": "a\\u0000b"}}',
    b'{"triggerType": "\\ud800"}',
]


# channels-inbound.md §6.1: the stage of each status, (never fulfilled, fulfilled before).
STAGES = {
    "pending": (PENDING, PENDING),
    "unfulfilled": (OPEN, OPEN),
    "fulfilled": (FULFILLED, FULFILLED),
    "refunded": (CANCELLED, FULFILLED),  # nothing comes back: Webflow does not restock
    "disputed": (OPEN, FULFILLED),
    "dispute-lost": (OPEN, FULFILLED),
}


def order_like():
    """Orders of roughly Webflow's shape: right keys, values right or not."""
    ids = st.text(min_size=1, max_size=12) | JSON
    dates = st.none() | st.sampled_from(["2024-04-10T13:16:21.976Z", "9999-12-31T23:59-23:59"])
    item = st.fixed_dictionaries(
        {},
        optional={
            "count": st.integers(-2, 10**7) | st.text(max_size=8) | st.floats() | JSON,
            "variantId": ids,
            "variantSKU": ids,
            "productId": ids,
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "orderId": ids,
            "status": st.sampled_from(payloads.STATUSES) | JSON,
            "purchasedItems": st.lists(item, max_size=4) | JSON,
            "acceptedOn": dates | JSON,
            "fulfilledOn": dates | JSON,
            "refundedOn": dates,
        },
    )


def stock_like():
    return st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=12) | JSON,
            "_id": st.text(max_size=12),
            "quantity": st.integers(-5, 2_000_000) | st.text(max_size=8) | JSON,
            "inventoryType": st.sampled_from(["finite", "infinite", "lots"]) | JSON,
        },
    )


ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "triggerType": st.sampled_from([*payloads.TOPICS, "site_publish"]) | JSON,
        "payload": order_like() | stock_like() | JSON,
    },
)


def signed(body, secret, sent_ms):
    stamp = str(sent_ms)
    return {TIMESTAMP: stamp, SIGNATURE: hmac_hex(secret, stamp.encode() + b":" + body)}


@settings(deadline=None)
@given(headers=HEADERS, body=st.binary(), secret=st.text(), now=st.floats())
def test_verify_webhook_never_raises(headers, body, secret, now):
    assert isinstance(WebflowConnector.verify_webhook(headers, body, secret, now), Verdict)


@settings(deadline=None)
@given(
    body=st.binary(max_size=300),
    secret=st.text("0123456789abcdef", min_size=1, max_size=64),
    offset_ms=st.integers(-900_000, 900_000),
)
def test_a_signed_delivery_is_valid_exactly_within_five_minutes(body, secret, offset_ms):
    headers = signed(body, secret, int(NOW * 1000) + offset_ms)

    verdict = WebflowConnector.verify_webhook(headers, body, f"other {secret}", NOW)

    assert verdict.valid == (abs(offset_ms) <= 300_000), verdict.reason
    assert not WebflowConnector.verify_webhook(headers, body + b"x", secret, NOW).valid


@settings(deadline=None)
@given(body=st.binary() | st.text().map(str.encode))
def test_any_bytes_are_an_envelope_or_unreadable(body):
    assert_reads_or_unreadable(body)


def test_the_odd_bodies_are_unreadable():
    for body in ODD_BODIES:
        assert_reads_or_unreadable(body)


@settings(deadline=None)
@given(envelope=ENVELOPES, ascii_only=st.booleans())
def test_json_of_roughly_the_right_shape_is_read_or_unreadable(envelope, ascii_only):
    assert_reads_or_unreadable(json.dumps(envelope, ensure_ascii=ascii_only).encode())


@settings(deadline=None)
@given(
    status=st.sampled_from(payloads.STATUSES),
    fulfilled=st.booleans(),
    counts=st.lists(st.tuples(st.sampled_from("abc"), st.integers(1, 1000)), min_size=1),
)
def test_a_good_order_is_read_with_its_stage_and_its_counts_per_sku(status, fulfilled, counts):
    order = {
        "orderId": "7c1-9fd",
        "status": status,
        "acceptedOn": "2024-04-10T13:16:21.976Z",
        "fulfilledOn": "2024-04-11T09:00:00.000Z" if fulfilled else None,
        "purchasedItems": [{"variantId": sku, "count": n} for sku, n in counts],
    }
    body = json.dumps({"triggerType": "ecomm_order_changed", "payload": order}).encode()

    (read,) = CONNECTOR.read_webhook({}, body).orders

    assert read.stage == STAGES[status][fulfilled]
    totals = {sku: sum(n for s, n in counts if s == sku) for sku, _ in counts}
    assert {line.remote_id: line.quantity for line in read.lines} == totals


def assert_reads_or_unreadable(body):
    try:
        event_id, topic = WebflowConnector.webhook_envelope({}, body)
    except Unreadable:
        pass
    else:
        assert event_id == ""
        assert isinstance(topic, str)
    try:
        event = CONNECTOR.read_webhook({}, body)
    except Unreadable:
        return
    assert isinstance(event, Event)
    for order in event.orders:
        assert all(0 < line.quantity <= 1_000_000 for line in order.lines)
