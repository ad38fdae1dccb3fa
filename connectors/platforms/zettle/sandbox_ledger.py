"""Zettle's inventory model for the sandbox: four system locations, a ledger of positive
movements between them, per-product tracking, and the webhook events the changes raise.

Every change is made by someone (`by`: the `updated` block of its event, less its uuid and
timestamp): an API client (our connector, by the client id of its token), the Zettle Go app
at the till (POS_CLIENT) or a person in Zettle's back-office (BACK_OFFICE_CLIENT). An event
lists the STORE balances of the variants moved, and their SOLD balances too when the change
moved stock to or from SOLD (a sale or its refund)."""

import json
import uuid
from collections import deque
from datetime import UTC, datetime
from types import MappingProxyType
from typing import NamedTuple

ORGANIZATION_UUID = "7f5e7c1a-35b0-11ee-9b1e-0242ac120002"
LOCATION_UUIDS = {
    "STORE": "89ac1e4a-5f0f-11ec-bf63-0242ac130002",  # the docs' example STORE uuid
    "SUPPLIER": "92646e02-5f0f-11ec-bf63-0242ac130002",
    "SOLD": "a1d4c1e8-5f0f-11ec-bf63-0242ac130002",
    "BIN": "b7e3f0c2-5f0f-11ec-bf63-0242ac130002",
}
POS_CLIENT = "2b0e5a3c-6a1d-11ee-8c99-0242ac120002"  # the Zettle Go app's OAuth client
BACK_OFFICE_CLIENT = "3c1f6b4d-6a1d-11ee-8c99-0242ac120002"  # my.zettle.com
POS = MappingProxyType({"userType": "USER", "clientUuid": POS_CLIENT})
BACK_OFFICE = MappingProxyType({"userType": "USER", "clientUuid": BACK_OFFICE_CLIENT})


class ZettleError(Exception):
    """An answer in Zettle's error shape: {developerMessage, errorType, violations}."""

    def __init__(self, status: int, message: str, error_type=None, violations=()):
        super().__init__(message)
        self.status, self.error_type, self.violations = status, error_type, list(violations)

    def body(self) -> dict:
        return {
            "developerMessage": str(self),
            "errorType": self.error_type,
            "violations": self.violations,
        }


class Change(NamedTuple):
    product: str
    variant: str
    source: str
    target: str
    quantity: int


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Ledger:
    def __init__(self, client_id: str, publish=None):
        self.client_id = client_id
        self.publish = publish  # called with each event's envelope (the Pusher's deliveries)
        self.locations = {
            uid: {
                "uuid": uid,
                "type": kind,
                "name": kind.title(),
                "description": "System generated location ",
                "default": True,
            }
            for kind, uid in LOCATION_UUIDS.items()
        }
        self.variants: dict[str, dict[str, None]] = {}  # product -> ordered variant set
        self.tracked: set[str] = set()
        self.balances: dict[tuple[str, str, str], int] = {}  # (location, product, variant)
        self.events: deque = deque(maxlen=10_000)
        self.latest = 0

    def location(self, location_uuid: str) -> dict:
        if location_uuid not in self.locations:
            raise ZettleError(404, f"Location {location_uuid} not found", "ENTITY_NOT_FOUND")
        return self.locations[location_uuid]

    def require_tracked(self, product: str) -> None:
        if product not in self.tracked:
            message = f"Product {product} is not tracked"
            raise ZettleError(422, message, "PRODUCT_NOT_TRACKED")

    def api(self, client_id: str | None = None) -> dict:
        """`by` for a call through the API by the client that holds the token."""
        return {"userType": "API", "clientUuid": client_id or self.client_id}

    def track(self, product: str, on: bool, by=None) -> None:
        if on == (product in self.tracked):
            return
        (self.tracked.add if on else self.tracked.discard)(product)
        self.variants.setdefault(product, {})
        name = "InventoryTrackingStarted" if on else "InventoryTrackingStopped"
        self.emit(name, {"productUuid": product}, by)

    def move(self, changes: list[Change], external_uuid, allow_negative_store: bool, by=None):
        self.apply(changes, self.check(changes, allow_negative_store), external_uuid, by)

    def check(self, changes, allow_negative_store: bool, starting=frozenset()) -> dict:
        """The balance deltas of `changes`, or ZettleError if any rule fails (nothing applied).
        `starting` holds products the same request starts tracking."""
        deltas: dict[tuple[str, str, str], int] = {}
        for change in changes:
            self.location(change.source), self.location(change.target)
            if change.product not in starting:
                self.require_tracked(change.product)
            for loc, sign in ((change.source, -1), (change.target, 1)):
                key = (loc, change.product, change.variant)
                deltas[key] = deltas.get(key, 0) + sign * change.quantity
        store = LOCATION_UUIDS["STORE"]
        for key, delta in deltas.items():
            if key[0] == store and not allow_negative_store and self.balance(*key) + delta < 0:
                message = f"STORE balance of variant {key[2]} cannot go below zero"
                raise ZettleError(422, message, "INSUFFICIENT_STOCK")
        return deltas

    def apply(self, changes: list[Change], deltas: dict, external_uuid, by=None) -> None:
        store, sold = LOCATION_UUIDS["STORE"], LOCATION_UUIDS["SOLD"]
        touched = {(c.product, c.variant): None for c in changes}
        selling = {c.product for c in changes if sold in (c.source, c.target)}
        before = {(loc, *pv): self.balance(loc, *pv) for pv in touched for loc in (store, sold)}
        for key, delta in deltas.items():
            self.balances[key] = self.balance(*key) + delta
            self.variants.setdefault(key[1], {})[key[2]] = None
        self.latest += 1
        for product in dict.fromkeys(p for p, _ in touched):
            pairs = [pv for pv in touched if pv[0] == product]
            places = (store, sold) if product in selling else (store,)
            rows = [(loc, pv) for loc in places for pv in pairs]
            self.emit(
                "InventoryBalanceChanged",
                {
                    "balanceBefore": [
                        self.balance_event(loc, pv, before[(loc, *pv)]) for loc, pv in rows
                    ],
                    "balanceAfter": [
                        self.balance_event(loc, pv, self.balance(loc, *pv)) for loc, pv in rows
                    ],
                    "externalUuid": external_uuid,
                },
                by,
            )

    def balance(self, location: str, product: str, variant: str) -> int:
        return self.balances.get((location, product, variant), 0)

    def product_balances(self, location: str, product: str, non_zero: bool = True) -> list[dict]:
        rows = []
        for variant in self.variants.get(product, {}):
            value = self.balance(location, product, variant)
            if value or not non_zero:
                rows.append(self.row(location, product, variant, value))
        return rows

    def tracked_balances(self, location: str) -> list[dict]:
        """The non-zero balances at `location` of every tracked product, by product."""
        return [r for p in sorted(self.tracked) for r in self.product_balances(location, p)]

    def row(self, location: str, product: str, variant: str, value: int) -> dict:
        return {
            "locationUuid": location,
            "locationType": self.locations[location]["type"],
            "productUuid": product,
            "variantUuid": variant,
            "balance": value,
        }

    @staticmethod
    def balance_event(location: str, pv: tuple[str, str], value: int) -> dict:
        return {
            "organizationUuid": ORGANIZATION_UUID,
            "locationUuid": location,
            "productUuid": pv[0],
            "variantUuid": pv[1],
            "balance": str(value),
        }

    def emit(self, event_name: str, payload: dict, by=None) -> None:
        """Record an inventory event (made `by` whom: an API client by default) and publish
        it as the real service pushes it."""
        stamp = now_iso()
        updated = {"uuid": str(uuid.uuid1()), "timestamp": stamp, **(by or self.api())}
        payload = {"organizationUuid": ORGANIZATION_UUID, "updated": updated, **payload}
        self.record(envelope(event_name, payload, stamp))

    def record(self, event: dict) -> None:
        """Keep an event (GET /_sandbox/state, "events") and hand it to the Pusher."""
        self.events.append(event)
        if self.publish is not None:
            self.publish(event)

    def to_json(self) -> dict:
        balances: dict[str, list] = {}
        for (loc, product, variant), value in self.balances.items():
            if value:
                balances.setdefault(self.locations[loc]["type"], []).append(
                    {"productUuid": product, "variantUuid": variant, "balance": value}
                )
        return {
            "organizationUuid": ORGANIZATION_UUID,
            "locations": list(self.locations.values()),
            "tracked": sorted(self.tracked),
            "balances": balances,
            "events": list(self.events),
        }


def envelope(event_name: str, payload: dict, stamp: str | None = None) -> dict:
    """A Pusher message: the payload travels as a JSON string (it is what the signature
    covers, with the timestamp)."""
    return {
        "organizationUuid": ORGANIZATION_UUID,
        "messageUuid": str(uuid.uuid1()),
        "eventName": event_name,
        "messageId": str(uuid.uuid4()),
        "payload": json.dumps(payload),
        "timestamp": stamp or now_iso(),
    }


# ------------------------------------------------------------------ request parsing
FIELDS = {
    "v1": ("productUuid", "variantUuid", "fromLocationUuid", "toLocationUuid"),
    "v3": ("productUuid", "variantUuid", "from", "to"),
    "bulk": ("variantUuid", "fromLocationUuid", "toLocationUuid"),
}
TRACKING = ("START_TRACKING", "STOP_TRACKING", "NO_CHANGE")


def violation(prop: str, message: str, constraint: str) -> dict:
    return {"propertyName": prop, "developerMessage": message, "constraintType": constraint}


def parse_changes(raw, prop: str, kind: str, product: str | None = None, violations=None):
    """Changes of a v1 `changes`, a v3 `movements` or one bulk product's `variantChanges`;
    raises a 400 listing every violation."""
    own = violations is None
    violations = [] if own else violations
    changes = []
    if not isinstance(raw, list) or (not raw and kind != "bulk"):
        violations.append(violation(prop, "must be a non-empty list", "NOT_EMPTY"))
        raw = []
    for i, item in enumerate(raw):
        item = item if isinstance(item, dict) else {}
        values = [item.get(name) for name in FIELDS[kind]]
        for name, value in zip(FIELDS[kind], values, strict=True):
            if not isinstance(value, str) or not value:
                violations.append(violation(f"{prop}[{i}].{name}", "must not be null", "NOT_NULL"))
        change = item.get("change")
        if type(change) is not int or change <= 0:
            violations.append(violation(f"{prop}[{i}].change", "must be greater than 0", "MIN"))
        if values[-2] and values[-2] == values[-1]:
            violations.append(violation(f"{prop}[{i}]", "from and to must differ", "INVALID"))
        if kind == "bulk":
            values.insert(0, product)
        changes.append(Change(*values, change))
    if own and violations:
        raise ZettleError(400, "Validation failed", None, violations)
    return changes


def parse_bulk(raw) -> tuple[list[tuple[str, str]], list[Change]]:
    """(product, trackingStatusChange) pairs and the changes of a v2 bulk body."""
    violations, plan, changes = [], [], []
    if not isinstance(raw, list):
        raise ZettleError(
            400,
            "Validation failed",
            None,
            [violation("productChanges", "must be a list", "NOT_NULL")],
        )
    for i, item in enumerate(raw):
        item = item if isinstance(item, dict) else {}
        product, status = item.get("productUuid"), item.get("trackingStatusChange", "NO_CHANGE")
        prefix = f"productChanges[{i}]"
        if not isinstance(product, str) or not product:
            violations.append(violation(f"{prefix}.productUuid", "must not be null", "NOT_NULL"))
        if status not in TRACKING:
            violations.append(
                violation(
                    f"{prefix}.trackingStatusChange",
                    "must be one of " + ", ".join(TRACKING),
                    "INVALID",
                )
            )
        plan.append((product, status))
        variant_changes = item.get("variantChanges") or []
        changes += parse_changes(
            variant_changes, f"{prefix}.variantChanges", "bulk", product, violations
        )
    if violations:
        raise ZettleError(400, "Validation failed", None, violations)
    return plan, changes
