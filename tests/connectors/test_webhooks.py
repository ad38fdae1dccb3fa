"""The webhook endpoint: every delivery stored before it is answered, forgeries refused,
duplicates kept and ignored, and no input, however odd, a 500 (connectors.views)."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import queue
from connectors.models import Channel, InboundRecord, Listing
from connectors.platforms import inbound
from connectors.services.inbound import inbound_process_waiting

SECRET = "tally-signing-secret"
ORDER = {
    "id": "ev-1",
    "topic": "order",
    "order": {
        "id": "A-1",
        "status": "paid",
        "lines": [{"id": "1", "level_id": "t1", "quantity": 1}],
    },
}


@pytest.fixture
def channel(db, make):
    wh = make.location("WH1")
    mug = make.variant("MUG")
    make.stock(mug, wh, 3)
    channel = Channel.objects.create(
        name="Tally shop",
        platform="tally",
        base_url="http://127.0.0.1:9",
        credentials={"api_key": "k", "webhook_secret": SECRET},
    )
    channel.locations.set([wh])
    Listing.objects.create(channel=channel, variant=mug, remote_id="t1")
    return channel


def signed(body, secret=SECRET, stamp=None):
    stamp = str(int(stamp if stamp is not None else time.time()))
    signature = inbound.hmac_hex(secret, stamp.encode() + b"." + body)
    return {"HTTP_X_TALLY_TIMESTAMP": stamp, "HTTP_X_TALLY_SIGNATURE": signature}


def post(client, channel, body, **headers):
    return client.post(channel.webhook_path, data=body, content_type="application/json", **headers)


def test_a_signed_delivery_is_stored_then_applied_once_even_if_delivered_twice(client, channel):
    body = json.dumps(ORDER).encode()
    first = post(client, channel, body, **signed(body))
    again = post(client, channel, body, **signed(body))
    assert (first.status_code, again.status_code) == (200, 200)
    assert "duplicate" in again.content.decode()
    original, duplicate = InboundRecord.objects.order_by("pk")
    assert (original.status, original.signature, original.event_id) == ("received", "valid", "ev-1")
    assert (duplicate.status, duplicate.duplicate_of) == ("duplicate", original)
    assert "x-tally-signature" in original.headers
    inbound_process_waiting(channel)
    original.refresh_from_db()
    assert original.status == "processed"
    assert original.movements.count() == 1
    assert original.orders.get().remote_id == "A-1"


def test_a_forged_or_stale_delivery_is_refused_and_applies_nothing(client, channel):
    body = json.dumps(ORDER).encode()
    forged = post(client, channel, body, **signed(body, secret="guess"))
    stale = post(client, channel, body, **signed(body, stamp=time.time() - 3600))
    unsigned = post(client, channel, body)
    assert [r.status_code for r in (forged, stale, unsigned)] == [401, 401, 401]
    assert "does not match" in forged.content.decode()
    assert "five minutes" in stale.content.decode()
    records = InboundRecord.objects.all()
    assert {r.status for r in records} == {"rejected"}
    assert {r.event_id for r in records} == {""}  # a forger cannot use up a real delivery id
    inbound_process_waiting(channel)
    assert not channel.orders.exists()


def test_a_body_that_is_not_the_platforms_is_a_400_with_the_reason_kept(client, channel):
    body = b"\x00\xff not json"
    response = post(client, channel, body, **signed(body))
    assert response.status_code == 400
    record = InboundRecord.objects.get()
    assert (record.status, record.outcome) == ("unreadable", "the body is not JSON")
    assert "\\x00" in record.body  # kept, NUL escaped (PostgreSQL text takes no NUL)


def test_unknown_addresses_other_methods_and_huge_bodies_get_clear_refusals(
    client, channel, settings
):
    assert (
        client.post("/hooks/not-a-token/", data=b"{}", content_type="application/json").status_code
        == 404
    )
    assert client.get(channel.webhook_path).status_code == 405
    settings.INBOUND = {**settings.INBOUND, "MAX_BODY": 1000}
    body = b"{" + b" " * 2000 + b"}"
    assert post(client, channel, body, **signed(body)).status_code == 413
    assert not InboundRecord.objects.exists()


def test_the_signing_secret_never_lands_in_a_stored_header(client, channel):
    body = json.dumps({**ORDER, "id": "ev-2"}).encode()
    post(
        client,
        channel,
        body,
        HTTP_AUTHORIZATION=f"Bearer {SECRET}",
        HTTP_X_ECHO=SECRET,
        **signed(body),
    )
    headers = InboundRecord.objects.get().headers
    assert headers["authorization"] == "[redacted]"
    assert headers["x-echo"] == "[redacted]"


def test_redis_down_the_delivery_is_stored_and_answered(client, channel, monkeypatch):
    def down():
        raise ConnectionError("Redis is down (test)")

    monkeypatch.setattr(queue, "redis", down)
    body = json.dumps(ORDER).encode()
    assert post(client, channel, body, **signed(body)).status_code == 200
    assert InboundRecord.objects.get().status == "received"  # the sweeper will queue it


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=10), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
        st.builds(
            lambda order: json.dumps({"id": "x", "topic": "order", "order": order}).encode(),
            st.dictionaries(
                st.sampled_from(["id", "status", "lines", "restocked", "shipped"]),
                st.one_of(
                    st.text(max_size=300),
                    st.integers(min_value=-(2**70), max_value=2**70),
                    st.lists(
                        st.dictionaries(
                            st.sampled_from(["id", "level_id", "quantity", "sku"]),
                            st.one_of(
                                st.text(max_size=20),
                                st.integers(min_value=-(2**70), max_value=2**70),
                                st.floats(),
                            ),
                        ),
                        max_size=3,
                    ),
                ),
            ),
        ),
    ),
    sign=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["HTTP_X_TALLY_SIGNATURE", "HTTP_X_TALLY_TIMESTAMP", "HTTP_X_OTHER"]),
        st.text(max_size=80).filter(lambda t: "\n" not in t and "\r" not in t),
        max_size=3,
    ),
)
def test_no_delivery_whatever_its_bytes_is_a_500_or_applies_half(
    client, channel, body, sign, extra
):
    headers = {**extra, **(signed(body) if sign else {})}
    response = post(client, channel, body, **headers)
    assert response.status_code in (200, 400, 401, 413), response.content[:300]
    inbound_process_waiting(channel)
    for record in InboundRecord.objects.filter(status="failed"):
        pytest.fail(f"processing failed: {record.outcome}")


def test_a_new_signing_secret_is_used_at_once_by_a_process_that_read_the_old(client, channel):
    body = json.dumps({**ORDER, "id": "ev-3"}).encode()
    assert post(client, channel, body, **signed(body)).status_code == 200  # read and kept
    Channel.objects.filter(pk=channel.pk).update(
        credentials={"api_key": "k", "webhook_secret": "a-new-secret"}
    )
    again = json.dumps({**ORDER, "id": "ev-4"}).encode()
    response = post(client, channel, again, **signed(again, secret="a-new-secret"))
    assert response.status_code == 200


def test_nul_bytes_in_headers_and_ids_are_kept_escaped_not_a_database_error(client, channel):
    """PostgreSQL text refuses NUL: a header or a delivery id holding one is stored escaped,
    an order id holding one is unreadable (never a 503 or a 500)."""
    body = json.dumps({**ORDER, "id": "ev\x00-5"}).encode()
    response = post(client, channel, body, HTTP_X_ODD="a\x00b", **signed(body))
    assert response.status_code == 200
    record = InboundRecord.objects.get()
    assert (record.event_id, record.headers["x-odd"]) == ("ev\\x00-5", "a\\x00b")
    bad = {**ORDER, "id": "ev-6", "order": {**ORDER["order"], "id": "A\x00"}}
    body = json.dumps(bad).encode()
    assert post(client, channel, body, **signed(body)).status_code == 200
    inbound_process_waiting(channel)
    record = InboundRecord.objects.get(event_id="ev-6")
    assert record.status == "unreadable"
    assert "NUL" in record.outcome
