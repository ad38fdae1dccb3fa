"""Whatever bytes and headers reach HighLevel's webhook URL, the web process's two calls never
raise (verify_webhook at all, webhook_envelope nothing but Unreadable), nor does the worker's
read_webhook: random bytes, and random JSON of roughly the shape HighLevel sends, signed with
the channel's keys so that they get past the signature."""

import base64
import json
import time
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.platforms.highlevel.connector import HighLevelConnector
from connectors.platforms.inbound import Event, Unreadable, Verdict

ED25519 = Ed25519PrivateKey.generate()
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SPKI = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
KEYS = "".join(k.public_key().public_bytes(*SPKI).decode() for k in (ED25519, RSA))
CONNECTOR = HighLevelConnector(
    base_url="http://127.0.0.1:9",
    credentials={"token": "t", "webhook_public_key": KEYS},
    settings={"location_id": "loc"},
)
# No example database: the shared checkout gets no .hypothesis folder.
FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

text = st.text(max_size=40)
big = st.integers(min_value=-(10**30), max_value=10**30)
scalars = st.none() | st.booleans() | big | st.floats() | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def mostly(expected):
    """Three draws in four of the expected kind, the fourth anything."""
    return st.integers(0, 3).flatmap(lambda n: expected if n else scalars)


ids = mostly(st.sampled_from(["p1", "p2", "loc", ""]))
fresh = st.builds(lambda: datetime.now(UTC).isoformat())
times = mostly(fresh | st.sampled_from(["", "2025-01-28T14:35:00Z", "9999-12-31T23:59:59+14:00"]))
quantities = mostly(st.sampled_from([1, 3, "2", "2.0", 2.5, 10**7, -1, 0, "nan"]))
prices = st.fixed_dictionaries({"_id": ids}, optional={"sku": ids}) | ids
items = st.lists(
    st.fixed_dictionaries(
        {"qty": quantities, "price": prices}, optional={"sku": ids, "product": json_values}
    )
    | json_values,
    max_size=4,
)
envelope = {
    "webhookId": ids,
    "locationId": st.sampled_from(["loc", "elsewhere"]) | scalars,
    "createdAt": times,
    "updatedAt": times,
}
orders = st.fixed_dictionaries(
    {
        "type": mostly(st.sampled_from(["OrderCreate", "OrderStatusUpdate"])),
        "_id": ids,
        "items": mostly(items),
        "timestamp": times,
    },
    optional={
        **envelope,
        "status": st.sampled_from(["pending", "completed", "cancelled", "refunded"]) | scalars,
        "paymentStatus": st.sampled_from(["paid", "unpaid", "refunded"]) | scalars,
        "fulfillmentStatus": st.sampled_from(["fulfilled", "partially_fulfilled"]) | scalars,
    },
)
prices_updated = st.fixed_dictionaries(
    {
        "type": mostly(st.sampled_from(["PriceUpdate", "one_time"])),
        "_id": ids,
        "timestamp": times,
    },
    optional={
        **envelope,
        "availableQuantity": quantities,
        "allowOutOfStockPurchases": scalars,
        "trackInventory": scalars,
    },
)
shaped = orders | prices_updated
odd_bodies = (
    st.binary(max_size=200)
    | st.just(b"[" * 100_000)
    | st.just(b'{"type": "OrderCreate", "_id": "o", "items": [{"qty": 1e999}]}')
    | json_values.map(lambda v: json.dumps(v).encode())
)
# Two bodies in three are HighLevel's shape, with fields of any kind.
bodies = st.integers(0, 2).flatmap(
    lambda n: shaped.map(lambda v: json.dumps(v).encode()) if n else odd_bodies
)
header_names = st.sampled_from(["x-ghl-signature", "x-wh-signature", "content-type"]) | text
headers = st.dictionaries(
    header_names, text | st.binary(max_size=80).map(base64.b64encode).map(bytes.decode)
)
key_texts = (
    st.sampled_from(
        ["", KEYS, KEYS[:200], "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]
    )
    | text
)


def signed(body):
    return {
        "x-ghl-signature": base64.b64encode(ED25519.sign(body)).decode(),
        "x-wh-signature": base64.b64encode(
            RSA.sign(body, padding.PKCS1v15(), hashes.SHA256())
        ).decode(),
    }


@FUZZ
@given(headers, bodies, key_texts, st.floats(min_value=0, max_value=1e11))
def test_verify_webhook_never_raises(headers, body, secret, now):
    verdict = HighLevelConnector.verify_webhook(headers, body, secret, now)

    assert isinstance(verdict, Verdict)
    assert verdict.reason


@FUZZ
@given(bodies, st.booleans())
def test_a_signed_body_is_judged_without_raising(body, legacy):
    headers = signed(body)
    if legacy:
        del headers["x-ghl-signature"]

    verdict = HighLevelConnector.verify_webhook(headers, body, KEYS, time.time())

    event(" ".join(verdict.reason.split()[:4]))
    assert verdict.valid or "timestamp" in verdict.reason or "JSON" in verdict.reason


@FUZZ
@given(headers, bodies)
def test_the_envelope_and_the_reading_raise_only_unreadable(headers, body):
    envelope = outcome(HighLevelConnector.webhook_envelope, headers, body)
    read = outcome(CONNECTOR.read_webhook, headers, body)

    if isinstance(envelope, Unreadable):
        assert str(envelope)
    else:
        delivery, topic = envelope
        assert isinstance(delivery, str)
        assert isinstance(topic, str)
        assert topic
    if isinstance(read, Unreadable):
        assert str(read)
    else:
        assert isinstance(read, Event)
        assert read.orders or read.stock or read.note
    event(
        "unreadable"
        if isinstance(read, Unreadable)
        else "read"
        if read.orders or read.stock
        else "note"
    )


def outcome(call, *args):
    """What `call` returns, or the Unreadable it raises (anything else fails the test)."""
    try:
        return call(*args)
    except Unreadable as exc:
        return exc
