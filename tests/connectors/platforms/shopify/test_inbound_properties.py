"""Whatever arrives at Shopify's webhook address (random bytes, random JSON, forged or odd
headers), the connector's reading of it says valid or not, or raises Unreadable with words:
never another exception, which would be a 500 or a delivery failed for a bug."""

import base64
import hashlib
import hmac
import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.platforms.inbound import Unreadable, Verdict
from connectors.platforms.shopify import orders
from connectors.platforms.shopify.connector import ShopifyConnector

SECRET = "shopify-sandbox-client-secret"
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)
IDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=40),
    st.just("gid://shopify/Order/1"),
    st.none(),
)
LEVEL = st.fixed_dictionaries(
    {},
    optional={
        "inventory_item_id": IDS,
        "location_id": IDS,
        "available": st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=5),
        "updated_at": st.text(max_size=30),
    },
)
REFUND = st.fixed_dictionaries(
    {},
    optional={
        "order_id": IDS,
        "refund_line_items": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "line_item_id": IDS,
                    "quantity": st.integers(min_value=-(2**70), max_value=2**70) | JSON,
                    "restock_type": st.sampled_from(["return", "cancel", "no_restock", ""]),
                    "location_id": IDS,
                },
            ),
            max_size=3,
        ),
    },
)
BODIES = (
    st.binary(max_size=400)
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.one_of(LEVEL, REFUND, st.fixed_dictionaries({"id": IDS})).map(
        lambda v: json.dumps(v).encode()
    )
)
TOPICS = st.sampled_from([*orders.TOPICS, "app/uninstalled", "", "x" * 80, "orders/\x00"])


def sign(body, secret=SECRET):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@settings(max_examples=300, deadline=None)
@given(
    body=BODIES,
    secret=st.text(max_size=40),
    forged=st.one_of(st.none(), st.text(max_size=60)),
    other=st.dictionaries(st.text(max_size=20).map(str.lower), st.text(max_size=40), max_size=3),
)
def test_verify_webhook_never_raises_and_takes_only_the_secrets_signature(
    body, secret, forged, other
):
    signature = sign(body, secret) if forged is None else forged
    headers = {**other, "x-shopify-hmac-sha256": signature}
    verdict = ShopifyConnector.verify_webhook(headers, body, secret, time.time())
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.reason, str)
    usable = [s for s in secret.split() if s.isprintable()]
    if verdict.valid:
        assert any(hmac.compare_digest(sign(body, s), signature.strip()) for s in usable)
    elif forged is None and usable == [secret]:
        raise AssertionError(f"its own signature refused: {verdict.reason}")


@settings(max_examples=300, deadline=None)
@given(body=BODIES, topic=TOPICS, event=st.text(max_size=200))
def test_any_envelope_is_read_or_unreadable_with_words(body, topic, event):
    headers = {"x-shopify-topic": topic, "x-shopify-event-id": event}
    try:
        event_id, read_topic = ShopifyConnector.webhook_envelope(headers, body)
    except Unreadable as exc:
        refusal = str(exc)
    else:
        refusal = None
        assert isinstance(event_id, str)
        assert read_topic == topic.strip()
    assert refusal is None or refusal.strip()


@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(LEVEL, REFUND, st.dictionaries(st.text(max_size=20), JSON, max_size=5)),
    topic=st.sampled_from(orders.TOPICS),
)
def test_any_payload_of_a_known_topic_is_read_or_unreadable_with_words(payload, topic):
    """(A body that is not a JSON object never gets here: loads() refuses it.)"""
    refusal = None
    try:
        if topic == orders.LEVEL_TOPIC:
            orders.read_level(payload, lambda location: location)
        else:
            orders.order_gid(topic, payload)
            if topic == orders.REFUND_TOPIC:
                orders.refund_returns(payload)
    except Unreadable as exc:
        refusal = str(exc)
    assert refusal is None or refusal.strip()


REFUND_NODES = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "quantity": st.integers(min_value=-(2**70), max_value=2**70) | JSON,
            "restockType": st.sampled_from(["RETURN", "CANCEL", "NO_RESTOCK", "return", ""]) | JSON,
            "lineItem": st.fixed_dictionaries({}, optional={"id": IDS}) | JSON,
        },
    )
    | JSON,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(rows=REFUND_NODES, lines=JSON)
def test_any_refund_lines_and_order_lines_are_read_or_unreadable_with_words(rows, lines):
    """What a poll reads of an order's refunds (GraphQL RefundLineItem nodes), and whether
    an order's lines say it was refunded: a count per line item, or Unreadable with words."""
    refusal, returned = None, {}
    try:
        assert orders.refunded({"lineItems": {"nodes": lines}}) in (True, False)
        returned = orders.refund_rows_returned(rows, "gid://shopify/Order/1")
    except Unreadable as exc:
        refusal = str(exc)
    assert refusal is None or refusal.strip()
    assert all(k.startswith("gid://shopify/LineItem/") for k in returned)
    assert all(isinstance(v, int) for v in returned.values())
