"""Zettle's Pusher messages, read for the inbound contract (channels-inbound.md §4.1-4.4,
§4.7): the envelope, its signature, and InventoryBalanceChanged as stock changes.

A message is {organizationUuid, messageUuid, eventName, messageId, payload, timestamp} where
`payload` is a JSON *string*; X-iZettle-Signature is the hex HMAC-SHA256, under the
subscription's signingKey, of `timestamp + "." + payload` (the envelope's two fields as
sent, not the raw body). Nothing here raises anything but Unreadable, whatever the bytes.
"""

import json

from connectors.platforms.inbound import (
    StockChange,
    Unreadable,
    Verdict,
    header,
    hmac_hex,
    same,
    whole,
)

SIGNATURE = "X-iZettle-Signature"
TEST_MESSAGE = "TestMessage"
MAX_EVENT_ID, MAX_TOPIC = 200, 64  # what the inbound record keeps
MAX_LEVEL = 10**9  # a balance past this is a forgery or a typo, not stock
NOTES = {
    TEST_MESSAGE: "Zettle's test message, sent when the subscription was made",
    "ApplicationConnectionRemoved": "Zettle says the app's connection was removed: pushes and "
    "polls fail until the channel has new credentials",
    "PersonalAssertionDeleted": "Zettle says the API key was deleted: pushes and polls fail "
    "until the channel has a new one",
}


def parse(body) -> dict:
    """The message, with a non-empty eventName and a messageUuid the records can keep."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Unreadable("the body is not JSON") from None
    if not isinstance(message, dict):
        raise Unreadable("the body is not a Zettle message (a JSON object)")
    name, message_id = message.get("eventName"), message.get("messageUuid", "")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_TOPIC:
        raise Unreadable(f"the message has no eventName of at most {MAX_TOPIC} characters")
    if not isinstance(message_id, str) or len(message_id) > MAX_EVENT_ID:
        raise Unreadable(f"the messageUuid is not text of at most {MAX_EVENT_ID} characters")
    return message


def verdict(headers, body, secret) -> Verdict:
    """Whether the message is signed with `secret`. The TestMessage is accepted unchecked:
    Zettle sends it while the subscription is being made, before we hold its signingKey,
    and it carries nothing (SwagPayPal skips its check too)."""
    try:
        message = parse(body)
    except Unreadable as exc:
        return Verdict(False, f"not a Zettle message: {exc}")
    if message["eventName"] == TEST_MESSAGE:
        return Verdict(True, "Zettle's test message: accepted unchecked, it carries nothing")
    if not isinstance(secret, str) or not secret:
        return Verdict(False, "the channel has no webhook signing key: register the webhook")
    signature = header(headers, SIGNATURE)
    if not isinstance(signature, str) or not signature.strip():
        return Verdict(False, f"no {SIGNATURE} header")
    stamp, payload = message.get("timestamp"), message.get("payload")
    if not isinstance(stamp, str) or not isinstance(payload, str):
        return Verdict(False, "the message has no timestamp and payload strings to check")
    try:
        expected = hmac_hex(secret, f"{stamp}.{payload}".encode())
    except UnicodeEncodeError:
        return Verdict(False, "the message or the signing key is not valid UTF-8 text")
    signature = signature.strip().lower()
    if not signature.isascii() or not same(expected, signature):
        return Verdict(False, f"{SIGNATURE} does not match the channel's signing key")
    return Verdict(True, f"{SIGNATURE} matches")


def ids(message: dict) -> tuple[str, str]:
    """(delivery id, topic): messageUuid stays the same when Zettle sends a message again.
    The TestMessage, accepted unchecked, keeps none: it must not take an id that one of
    Zettle's messages could carry."""
    if message["eventName"] == TEST_MESSAGE:
        return "", TEST_MESSAGE
    return message.get("messageUuid", ""), message["eventName"]


def payload(message: dict) -> dict:
    text = message.get("payload")
    if not isinstance(text, str):
        raise Unreadable("the payload is not a JSON string")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Unreadable("the payload string is not JSON") from None
    if not isinstance(data, dict):
        raise Unreadable("the payload is not a JSON object")
    return data


def note(topic: str, message: dict) -> str:
    """Why an event other than a purchase or a balance change carries nothing to apply."""
    if topic in ("InventoryTrackingStarted", "InventoryTrackingStopped"):
        product = payload(message).get("productUuid")
        what = f"product {product}" if isinstance(product, str) else "a product"
        if topic.endswith("Started"):
            return f"Zettle started tracking {what}: its levels count from the next read"
        return f"Zettle stopped tracking {what}: it sells without limit there now"
    return NOTES.get(topic, f"Zettle event {topic}: nothing to act on")


def stock_changes(data: dict, store: str, sold: str, client_id: str) -> tuple:
    """InventoryBalanceChanged as the STORE level of each variant after it. `ours`: our own
    write (our externalUuid, or the change made by our OAuth client); `sale`: the change
    moved stock to or from SOLD (a purchase or its refund, booked from the purchase)."""
    updated = data.get("updated") or {}
    external = data.get("externalUuid")
    if not isinstance(updated, dict) or not isinstance(external, str | None):
        raise Unreadable("the balance change has a malformed updated or externalUuid")
    ours = bool(external) or (bool(client_id) and updated.get("clientUuid") == client_id)
    after, before = _balances(data, "balanceAfter"), _balances(data, "balanceBefore")
    sold_after = {key[1:]: n for key, n in after.items() if key[0] == sold}
    sold_before = {key[1:]: n for key, n in before.items() if key[0] == sold}
    return tuple(
        StockChange(
            remote_id=variant,
            quantity=level,
            remote_parent_id=product,
            ours=ours,
            sale=sold_after.get((product, variant)) != sold_before.get((product, variant)),
        )
        for (loc, product, variant), level in after.items()
        if loc == store
    )


def _balances(data: dict, key: str) -> dict:
    """{(location, product, variant): balance} of one side of a balance change."""
    rows = data.get(key) or []
    if not isinstance(rows, list):
        raise Unreadable(f"{key} is not a list")
    balances = {}
    for i, row in enumerate(rows):
        where = f"{key}[{i}]"
        if not isinstance(row, dict):
            raise Unreadable(f"{where} is not an object")
        place = tuple(row.get(k) for k in ("locationUuid", "productUuid", "variantUuid"))
        if not all(isinstance(v, str) and 0 < len(v) <= 128 for v in place):
            raise Unreadable(f"{where} lacks its location, product or variant uuid")
        level = whole(row.get("balance"), f"{where} balance")
        if abs(level) > MAX_LEVEL:
            raise Unreadable(f"{where}: balance {level} is beyond any stock")
        balances[place] = level
    return balances
