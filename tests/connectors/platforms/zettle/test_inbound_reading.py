"""Zettle's deliveries and purchases read without a sandbox: the purchase-to-order mapping
(refunds above all), and that no bytes make verify_webhook raise, nor webhook_envelope and
read_webhook raise anything but Unreadable (the web process and the worker rely on it)."""

import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.platforms.inbound import (
    FULFILLED,
    RETURNED,
    Event,
    OrderLine,
    Unreadable,
    Verdict,
    hmac_hex,
)
from connectors.platforms.zettle import purchases
from connectors.platforms.zettle.connector import ZettleConnector
from connectors.platforms.zettle.sandbox_ledger import LOCATION_UUIDS

STORE, SOLD = LOCATION_UUIDS["STORE"], LOCATION_UUIDS["SOLD"]
PRODUCT, MUG, CUP = "p-1", "v-mug", "v-cup"
SECRET = "the-signing-key"


def row(variant=MUG, quantity="1", **extra):
    return {"productUuid": PRODUCT, "variantUuid": variant, "quantity": quantity, **extra}


def back(variant=MUG, quantity="-1"):
    return row(variant, quantity, fromLocationUuid=SOLD, toLocationUuid=STORE)


def bought(*rows, pid="sale-1"):
    return {
        "purchaseUUID1": pid,
        "timestamp": "2024-05-01T10:00:00.000+0000",
        "products": list(rows),
    }


def refund(*rows, pid="refund-1", of="sale-1", at="2024-05-02T10:00:00.000+0000"):
    return {
        "purchaseUUID1": pid,
        "refund": True,
        "refundsPurchaseUUID1": of,
        "timestamp": at,
        "products": list(rows),
    }


def line(variant, quantity, stage=None):
    return OrderLine(f"{PRODUCT}/{variant}", quantity, variant, PRODUCT, stage=stage)


def connector(known=None):
    """A connector that knows the locations and reads purchases from `known` (no HTTP)."""
    reader = ZettleConnector(
        base_url="http://127.0.0.1:9",
        credentials={"client_id": "our-client", "api_key": "k"},
        auth_state={"locations": LOCATION_UUIDS},
    )
    reader.purchase = (known or {}).get
    return reader


def message(event_name, payload, secret=SECRET):
    """(headers, body) of a Pusher delivery signed as Zettle signs it."""
    envelope = {
        "organizationUuid": "org",
        "messageUuid": "m-1",
        "eventName": event_name,
        "messageId": "id-1",
        "payload": json.dumps(payload),
        "timestamp": "2024-05-01T10:00:00.000Z",
    }
    signed = hmac_hex(secret, f"{envelope['timestamp']}.{envelope['payload']}".encode())
    return {"x-izettle-signature": signed}, json.dumps(envelope).encode()


# --------------------------------------------------------------------------- purchases


def test_rows_of_one_variant_are_one_line_and_rows_without_stock_are_left_out():
    purchase = bought(
        row(MUG, "2"),
        row(MUG, "1.000"),
        row(CUP, "0.5"),  # sold by measure: no units
        {"type": "CUSTOM_AMOUNT", "quantity": "1", "name": "Tip"},
        {"sku": "BAG", "quantity": "3"},
    )

    order = purchases.sale(purchase)

    assert (order.order_id, order.stage, order.status) == ("sale-1", FULFILLED, "purchase")
    assert order.lines == (line(MUG, 3), OrderLine("sku:BAG", 3, sku="BAG"))
    assert order.placed_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_the_webhook_names_and_epoch_ms_read_like_the_apis():
    pushed = {"purchaseUuid": "sale-1", "timestamp": 1714557600000, "products": [row()]}

    assert purchases.sale(pushed) == purchases.sale(bought(row()))


@pytest.mark.parametrize(
    ("purchase", "reason"),
    [
        ({"products": [row()]}, "no purchaseUUID1"),
        (bought(row(quantity="two")), "not a number"),
        (bought(row(quantity="2000000")), "not a count of units"),
        (bought(row(quantity="Infinity")), "not a count of units"),
        ({"purchaseUUID1": "x", "products": "all"}, "not a list"),
        (bought("mug"), "products[0] is not an object"),
        (bought(row(variant="v" * 200)), "at most 128"),
    ],
)
def test_a_malformed_purchase_is_unreadable(purchase, reason):
    with pytest.raises(Unreadable, match=re.escape(reason)):
        purchases.sale(purchase)


def test_a_refund_restocked_in_full_returns_the_original_line():
    original = bought(row(MUG, "2"), row(CUP, "1"))

    order = purchases.returns(original, [refund(back(MUG, "-2"))], STORE)

    assert (order.order_id, order.stage, order.status) == (
        "sale-1",
        FULFILLED,
        "refunded, partly restocked",
    )
    assert order.lines == (line(MUG, 2, RETURNED), line(CUP, 1))
    assert order.updated_at == datetime(2024, 5, 2, 10, tzinfo=UTC)


def test_a_line_counted_back_in_part_stays_fulfilled_until_the_refunds_cover_it():
    original = bought(row(MUG, "2"))
    first = refund(back(MUG, "-1"))
    second = refund(back(MUG, "-1"), pid="refund-2", at="2024-05-03T10:00:00.000+0000")

    partly = purchases.returns(original, [first], STORE)
    whole = purchases.returns(original, [first, second], STORE)

    assert (partly.stage, partly.lines) == (FULFILLED, (line(MUG, 2),))
    assert (whole.stage, whole.status, whole.lines) == (
        RETURNED,
        "refunded, restocked",
        (line(MUG, 2, RETURNED),),
    )
    assert whole.updated_at == datetime(2024, 5, 3, 10, tzinfo=UTC)


def test_refund_rows_that_did_not_go_back_to_store_count_nothing():
    original = bought(row(MUG, "1"))
    kept = refund(row(MUG, "-1"))  # no location: the goods stayed with the customer
    binned = refund(row(MUG, "-1", toLocationUuid=LOCATION_UUIDS["BIN"]))

    assert purchases.returns(original, [kept, binned], STORE).lines == (line(MUG, 1),)
    assert not purchases.restocked(kept, STORE)


def test_a_restocked_refund_webhook_reads_as_the_original_with_its_other_refunds():
    original = bought(row(MUG, "2"))
    original["refundedByPurchaseUUIDs1"] = ["refund-0", "refund-1"]
    earlier = refund(back(MUG, "-1"), pid="refund-0")
    reader = connector({"sale-1": original, "refund-0": earlier})

    event = reader.read_webhook(*message("PurchaseCreated", refund(back(MUG, "-1"))))

    [order] = event.orders
    assert (event.event_id, order.order_id, order.stage) == ("m-1", "sale-1", RETURNED)


def test_a_refund_of_a_purchase_zettle_does_not_know_is_a_note():
    event = connector().read_webhook(*message("PurchaseCreated", refund(back())))

    assert event.orders == ()
    assert "no purchase it refunds" in event.note


def test_a_purchase_of_custom_amounts_only_is_a_note():
    payload = bought({"type": "CUSTOM_AMOUNT", "quantity": "1"})

    event = connector().read_webhook(*message("PurchaseCreated", payload))

    assert event == Event("m-1", "PurchaseCreated", note=event.note)
    assert "no product variant" in event.note


def test_a_balance_change_reads_the_store_level_and_who_made_it():
    def balances(location, level):
        return [{"locationUuid": location, "productUuid": PRODUCT, "variantUuid": MUG,
                 "balance": str(level)}]  # fmt: skip

    edit = {"balanceBefore": balances(STORE, 4), "balanceAfter": balances(STORE, 6)}
    ours = {**edit, "updated": {"clientUuid": "our-client"}, "externalUuid": None}
    sale = {
        "balanceBefore": balances(STORE, 6) + balances(SOLD, 0),
        "balanceAfter": balances(STORE, 5) + balances(SOLD, 1),
    }
    reader = connector()

    [theirs] = reader.read_webhook(*message("InventoryBalanceChanged", edit)).stock
    [mine] = reader.read_webhook(*message("InventoryBalanceChanged", ours)).stock
    [sold] = reader.read_webhook(*message("InventoryBalanceChanged", sale)).stock

    assert (theirs.quantity, theirs.ours, theirs.sale) == (6, False, False)
    assert (mine.ours, mine.sale) == (True, False)
    assert (sold.quantity, sold.sale) == (5, True)


def test_an_event_we_do_not_act_on_is_a_note():
    event = connector().read_webhook(*message("ProductUpdated", {"newEntity": {}}))

    assert event == Event(
        "m-1", "ProductUpdated", note="Zettle event ProductUpdated: nothing to act on"
    )


def test_a_payload_that_is_not_a_string_cannot_be_verified_or_read():
    body = json.dumps({"eventName": "PurchaseCreated", "timestamp": "t", "payload": {}}).encode()

    verdict = ZettleConnector.verify_webhook({"x-izettle-signature": "ab"}, body, SECRET, 0)

    assert verdict == Verdict(False, "the message has no timestamp and payload strings to check")
    with pytest.raises(Unreadable, match="not a JSON string"):
        connector().read_webhook({}, body)


def test_the_signature_is_over_the_timestamp_and_the_payload_as_sent():
    headers, body = message("PurchaseCreated", bought(row()))
    upper = {"x-izettle-signature": headers["x-izettle-signature"].upper()}

    assert ZettleConnector.verify_webhook(headers, body, SECRET, time.time()).valid
    assert ZettleConnector.verify_webhook(upper, body, SECRET, time.time()).valid
    # Re-serialised, the body differs but the two fields do not: still Zettle's.
    loose = json.dumps(json.loads(body), indent=2).encode()
    assert ZettleConnector.verify_webhook(headers, loose, SECRET, time.time()).valid


# --------------------------------------------------------------------------- never raises

TOPICS = ["PurchaseCreated", "InventoryBalanceChanged", "InventoryTrackingStopped", "TestMessage"]
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
# Each field is Zettle's kind of value most of the time, anything at all the rest.
known_ids = st.sampled_from([PRODUCT, MUG, CUP, STORE, SOLD, "sale-1", "refund-1"])
ids = known_ids | known_ids | st.text(max_size=140) | junk
counts = st.sampled_from(["2", "-1", "-2", "1.5", "2.000", "3"])
quantities = (
    counts
    | counts
    | st.sampled_from(["1e999", "NaN", "1e-999999", "9" * 5000, "-0"])
    | st.integers()
    | st.floats()
    | st.decimals(allow_nan=True).map(str)
    | junk
)
product_row = st.fixed_dictionaries(
    {"productUuid": ids, "variantUuid": ids, "quantity": quantities},
    optional={"sku": ids, "toLocationUuid": st.sampled_from([STORE, SOLD]) | ids},
) | st.fixed_dictionaries({}, optional={"sku": ids, "quantity": quantities, "type": junk})
purchase = st.fixed_dictionaries(
    {"purchaseUuid": ids, "products": st.lists(product_row, max_size=4) | junk},
    optional={
        "purchaseUUID1": ids,
        "refund": st.booleans() | st.booleans() | junk,
        "refundsPurchaseUUID1": ids,
        "refundedByPurchaseUUIDs1": st.lists(ids, max_size=3) | junk,
        "timestamp": st.integers() | st.floats() | st.text(max_size=30) | junk,
        "created": st.text(max_size=30),
    },
)
balance_row = st.fixed_dictionaries(
    {"locationUuid": ids, "productUuid": ids, "variantUuid": ids, "balance": quantities}
) | st.dictionaries(st.sampled_from(["locationUuid", "variantUuid", "balance"]), ids)
balance_change = st.fixed_dictionaries(
    {"balanceAfter": st.lists(balance_row, max_size=3) | junk},
    optional={
        "balanceBefore": st.lists(balance_row, max_size=3) | junk,
        "externalUuid": st.none() | ids,
        "updated": st.fixed_dictionaries({}, optional={"clientUuid": ids}) | junk,
        "productUuid": ids,
    },
)
payloads = (purchase | balance_change | junk).map(json.dumps)
envelopes = st.fixed_dictionaries(
    {
        "eventName": st.sampled_from(TOPICS),
        "messageUuid": st.text(max_size=40),
        "timestamp": st.text(max_size=30),
        "payload": payloads,
    }
) | st.fixed_dictionaries(
    {"eventName": st.sampled_from(TOPICS) | st.text(max_size=80) | junk},
    optional={
        "messageUuid": st.text(max_size=210) | junk,
        "timestamp": st.text(max_size=30) | junk,
        "payload": payloads | purchase | st.text(max_size=40) | junk,
    },
)
bodies = (
    st.binary(max_size=300)
    | envelopes.map(lambda e: json.dumps(e).encode())
    | envelopes.map(lambda e: json.dumps(e).encode())
    | st.sampled_from([b"[" * 5000 + b"]" * 5000, b"\x00\xff", b'{"eventName": "\xed\xa0\x80"}'])
)
headers = st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=4) | st.builds(
    lambda value: {"x-izettle-signature": value}, st.text(max_size=80)
)


def signed(envelope, secret):
    """A body signed with `secret` where its fields allow, so the check itself is reached."""
    body = json.dumps(envelope).encode()
    stamp, payload = envelope.get("timestamp"), envelope.get("payload")
    try:
        signature = hmac_hex(secret, f"{stamp}.{payload}".encode())
    except UnicodeEncodeError:
        signature = "0" * 64
    return {"x-izettle-signature": signature}, body


@settings(max_examples=300, deadline=None)
@given(
    given_headers=headers,
    body=bodies,
    secret=st.text(max_size=40),
    now=st.floats(allow_nan=True),
)
def test_verify_webhook_never_raises(given_headers, body, secret, now):
    verdict = ZettleConnector.verify_webhook(given_headers, body, secret, now)

    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.reason, str)
    assert verdict.reason


@settings(max_examples=200, deadline=None)
@given(envelope=envelopes, secret=st.text(min_size=1, max_size=40))
def test_a_signed_message_of_any_shape_verifies_and_reads_or_is_unreadable(envelope, secret):
    given_headers, body = signed(envelope, secret)

    verdict = ZettleConnector.verify_webhook(given_headers, body, secret, time.time())
    assert isinstance(verdict, Verdict)
    envelope = outcome_of(lambda: ZettleConnector.webhook_envelope(given_headers, body))
    event = outcome_of(lambda: connector().read_webhook(given_headers, body))
    if isinstance(event, Event):
        assert (event.event_id, event.topic) == envelope


@settings(max_examples=300, deadline=None)
@given(body=bodies, data=st.data())
def test_envelope_and_read_raise_only_unreadable(body, data):
    reader = connector()
    reader.purchase = lambda purchase_id: data.draw(st.none() | purchase)

    envelope = outcome_of(lambda: ZettleConnector.webhook_envelope({}, body))
    event = outcome_of(lambda: reader.read_webhook({}, body))

    assert isinstance(envelope, tuple | Unreadable)
    assert isinstance(event, Event | Unreadable)


def outcome_of(read):
    """What `read` returns, or the Unreadable it raises (anything else fails the test)."""
    try:
        return read()
    except Unreadable as exc:
        return exc if str(exc) else None  # an Unreadable says why


shaped_row = st.fixed_dictionaries(
    {"productUuid": known_ids, "variantUuid": st.sampled_from([MUG, CUP]), "quantity": counts},
    optional={"toLocationUuid": st.sampled_from([STORE, SOLD]), "sku": known_ids},
)
shaped = st.fixed_dictionaries(
    {
        "purchaseUUID1": known_ids,
        "products": st.lists(shaped_row, max_size=4),
        "refund": st.booleans(),
    },
    optional={
        "refundsPurchaseUUID1": known_ids,
        "refundedByPurchaseUUIDs1": st.lists(known_ids, max_size=3),
        "timestamp": st.integers(0, 2**42),
    },
)


@settings(max_examples=300, deadline=None)
@given(sold=shaped, data=st.data())
def test_a_purchase_of_zettles_shape_always_reads_and_its_lines_add_up(sold, data):
    reader = connector()
    reader.purchase = lambda purchase_id: data.draw(st.none() | shaped)

    event = reader.read_webhook(*message("PurchaseCreated", sold))

    for order in event.orders:
        assert order.stage in (FULFILLED, RETURNED)
        assert all(line.quantity > 0 for line in order.lines)
    if not purchases.is_refund(sold):
        whole = [Decimal(r["quantity"]) for r in sold["products"]]
        units = sum(abs(int(q)) for q in whole if q == int(q))
        assert sum(line.quantity for o in event.orders for line in o.lines) == units
