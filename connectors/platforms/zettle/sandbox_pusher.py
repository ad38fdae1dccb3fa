"""Zettle's Pusher API for the sandbox (pusher.izettle.com): webhook subscriptions, and the
delivery of every event to each subscription that asked for it, signed with its signingKey.

A message is the envelope {organizationUuid, messageUuid, eventName, messageId, payload (a
JSON string), timestamp}, POSTed with X-iZettle-Signature: hex HMAC-SHA256 of
`timestamp + "." + payload` under the subscription's signingKey. The key is returned once,
by the create; a new subscription first gets a TestMessage.
"""

import hashlib
import hmac
import json
import secrets
import uuid

from connectors.platforms.zettle.sandbox_ledger import ZettleError, envelope, now_iso

# The events a subscription may name, and the scope each needs (an empty list: all of them).
EVENT_SCOPES = {
    "PurchaseCreated": "READ:PURCHASE",
    "InventoryBalanceChanged": "READ:PRODUCT",
    "InventoryTrackingStarted": "READ:PRODUCT",
    "InventoryTrackingStopped": "READ:PRODUCT",
    "ProductCreated": "READ:PRODUCT",
    "ProductUpdated": "READ:PRODUCT",
    "ProductDeleted": "READ:PRODUCT",
    "InvoiceCreated": "READ:FINANCE",
    "OrganizationUpdated": "READ:USERINFO",
    "ApplicationConnectionRemoved": None,
    "PersonalAssertionDeleted": None,
}
SIGNATURE_HEADER = "X-iZettle-Signature"
TEST_PAYLOAD = {"data": "payload"}


def sign(body: bytes, secret: str) -> dict:
    """The signature header of one delivery (the outbox calls it at each attempt)."""
    message = json.loads(body)
    signed = f"{message['timestamp']}.{message['payload']}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: digest}


class Pusher:
    def __init__(self, outbox):
        self.outbox = outbox
        self.subscriptions: dict[str, dict] = {}

    def create(self, body, scopes) -> dict:
        body = body if isinstance(body, dict) else {}
        sid = body.get("uuid")
        if not _uuid1(sid):
            raise ZettleError(400, "uuid is required and must be a UUID version 1")
        if sid in self.subscriptions:
            raise ZettleError(
                400, f"Subscription {sid} already exists", "SUBSCRIPTION_ALREADY_EXIST"
            )
        if body.get("transportName") != "WEBHOOK":
            raise ZettleError(400, "transportName is required; only WEBHOOK is supported")
        names = _events(body.get("eventNames"), scopes)
        subscription = {
            "uuid": sid,
            "transportName": "WEBHOOK",
            "eventNames": names,
            "updated": now_iso(),
            "destination": _destination(body.get("destination")),
            "contactEmail": _email(body.get("contactEmail")),
            "status": "ACTIVE",
            "signingKey": secrets.token_urlsafe(32),
        }
        self.subscriptions[sid] = subscription
        self.deliver(subscription, envelope("TestMessage", TEST_PAYLOAD))
        return dict(subscription)

    def update(self, sid: str, body, scopes) -> None:
        subscription = self.get(sid)
        body = body if isinstance(body, dict) else {}
        if "eventNames" in body:
            subscription["eventNames"] = _events(body["eventNames"], scopes)
        if "destination" in body:
            subscription["destination"] = _destination(body["destination"])
        if "contactEmail" in body:
            subscription["contactEmail"] = _email(body["contactEmail"])
        subscription["updated"] = now_iso()

    def delete(self, sid: str) -> None:
        self.get(sid)
        del self.subscriptions[sid]

    def get(self, sid: str) -> dict:
        if sid not in self.subscriptions:
            raise ZettleError(404, f"Subscription {sid} not found", "SUBSCRIPTION_NOT_FOUND")
        return self.subscriptions[sid]

    @staticmethod
    def shown(subscription: dict) -> dict:
        """A subscription as GET lists it: the signing key is only ever in the create's
        answer."""
        return {k: v for k, v in subscription.items() if k != "signingKey"}

    def listing(self) -> list:
        return [self.shown(s) for s in self.subscriptions.values()]

    def publish(self, event: dict) -> None:
        """Send one event to every active subscription that names it (or names none)."""
        for subscription in self.subscriptions.values():
            names = subscription["eventNames"]
            if subscription["status"] == "ACTIVE" and (not names or event["eventName"] in names):
                self.deliver(subscription, event)

    def deliver(self, subscription: dict, event: dict) -> None:
        self.outbox.send(
            subscription["destination"],
            event["eventName"],
            json.dumps(event).encode(),
            sign,
            subscription["signingKey"],
            event["messageUuid"],
        )

    def to_json(self) -> list:
        """For GET /_sandbox/state: signing keys by prefix only."""
        return [
            {**self.shown(s), "signingKey": s["signingKey"][:6] + "…"}
            for s in self.subscriptions.values()
        ]


def _uuid1(value) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value).version == 1
    except ValueError:
        return False


def _events(names, scopes) -> list:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ZettleError(400, "eventNames must be a list of event names")
    unknown = [n for n in names if n not in EVENT_SCOPES]
    if unknown:
        raise ZettleError(400, f"Unsupported event names: {', '.join(unknown)}")
    needed = {EVENT_SCOPES[n] for n in names or EVENT_SCOPES} - set(scopes) - {None}
    if needed:
        raise ZettleError(403, f"Missing scope {', '.join(sorted(needed))}", "FORBIDDEN")
    return list(names)


def _destination(value) -> str:
    # Zettle asks for HTTPS; the sandbox takes http:// too, for tests on localhost.
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ZettleError(422, "destination must be an HTTPS URL")
    return value


def _email(value) -> str:
    if not isinstance(value, str) or "@" not in value or len(value) > 512:
        raise ZettleError(422, "contactEmail must be a valid email address of at most 512 chars")
    return value
