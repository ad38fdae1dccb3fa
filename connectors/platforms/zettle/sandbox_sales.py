"""Zettle's purchases for the sandbox: receipts made at the till (the Zettle Go app), their
refunds, and the Purchase API's listing (purchase.izettle.com, /purchases/v2).

A purchase is paid and handed over at once and never changes, except that a refund (itself a
purchase, `refund: true`, with negative quantities and `refundsPurchaseUUID1`) marks the
original `refunded` and lists itself in its `refundedByPurchaseUUIDs1`. A sale of a tracked
product moves STORE -> SOLD and its lines say so (fromLocationUuid STORE, toLocationUuid
SOLD); a refund with restock moves SOLD -> STORE (fromLocationUuid SOLD, toLocationUuid
STORE); a refund without restock, or any line of an untracked product, moves nothing and
names no location. Each new purchase is published as PurchaseCreated, in the webhook's own
shape (`purchaseUuid`, `timestamp` in epoch ms), before the InventoryBalanceChanged of its
movement.
"""

import base64
import bisect
import hashlib
import itertools
import uuid
from datetime import UTC, datetime

from connectors.platforms.sandbox.base import Refused, SeedError
from connectors.platforms.zettle.sandbox_ledger import (
    LOCATION_UUIDS,
    ORGANIZATION_UUID,
    POS,
    Change,
    ZettleError,
    envelope,
)

STORE, SOLD = LOCATION_UUIDS["STORE"], LOCATION_UUIDS["SOLD"]
SELLER_UUID = "4d2a7c5e-6a1d-11ee-8c99-0242ac120002"  # the person at the till
UNIT_PRICE = 1000  # minor units, when a sale names none
MAX_LIMIT = 1000


def short_id(purchase_id: str) -> str:
    """The deprecated `purchaseUUID`: the uuid's 16 bytes in URL-safe base64."""
    try:
        raw = uuid.UUID(purchase_id).bytes
    except ValueError:
        raw = hashlib.md5(purchase_id.encode()).digest()  # an id made from a name, not a secret
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def stamp(moment: datetime) -> str:
    """Zettle's purchase timestamps: milliseconds and a +0000 offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def quantity(row: dict) -> int:
    return int(row["quantity"])


class Purchases:
    """The organisation's purchases, in the listing's order (timestamp, then creation)."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.by_id: dict[str, dict] = {}
        self.keys: list[tuple[int, int, str]] = []  # (epoch ms, sequence, id), sorted
        self.sequence = itertools.count(1)

    # ----------------------------------------------------------------- selling
    def sell(self, lines: list, purchase_id: str | None, allow_negative_store: bool) -> dict:
        """A sale at the till of `lines` ({remote_id, remote_parent_id?, quantity, sku?,
        unitPrice?}); refused whole when a tracked variant lacks the stock."""
        purchase_id = str(purchase_id or uuid.uuid1())
        if purchase_id in self.by_id:
            raise SeedError(f"purchase {purchase_id} exists already")
        rows, changes = [], []
        for index, line in enumerate(lines):
            product, variant = self.product_of(line), line["remote_id"]
            count = line.get("quantity", 1)
            row = self.row(index, product, variant, count, line)
            if product in self.ledger.tracked:
                changes.append(Change(product, variant, STORE, SOLD, count))
                row.update(fromLocationUuid=STORE, toLocationUuid=SOLD)
            rows.append(row)
        deltas = self.checked(changes, allow_negative_store)
        purchase = self.add(self.receipt(purchase_id, rows))
        self.ledger.apply(changes, deltas, None, POS)
        return purchase

    def refund(self, purchase_id: str, restock: bool, allow_negative_store: bool) -> dict:
        """Refund what is left of a purchase, as a new purchase; with `restock` its tracked
        goods go back to STORE. Returns the refund."""
        original = self.by_id.get(purchase_id)
        if original is None:
            raise SeedError(f"no purchase {purchase_id}")
        if original["refund"]:
            raise Refused(f"purchase {purchase_id} is a refund: it cannot be refunded")
        taken = self.refunded(original)
        rows, changes = [], []
        for row in original["products"]:
            left = quantity(row) - taken.get(row["id"], 0)
            if left <= 0:
                continue
            back = {k: row[k] for k in row if k not in ("fromLocationUuid", "toLocationUuid")}
            back.update(quantity=str(-left), rowTaxableAmount=-row["unitPrice"] * left)
            if restock and row["productUuid"] in self.ledger.tracked:
                changes.append(Change(row["productUuid"], row["variantUuid"], SOLD, STORE, left))
                back.update(fromLocationUuid=SOLD, toLocationUuid=STORE)
            rows.append(back)
        if not rows:
            raise Refused(f"purchase {purchase_id} is refunded in full already")
        deltas = self.checked(changes, allow_negative_store)
        refund = self.receipt(str(uuid.uuid1()), rows)
        refund.update(
            refund=True,
            refundsPurchaseUUID1=purchase_id,
            refundsPurchaseUUID=original["purchaseUUID"],
        )
        original["refunded"] = True
        original.setdefault("refundedByPurchaseUUIDs1", []).append(refund["purchaseUUID1"])
        original.setdefault("refundedByPurchaseUUIDs", []).append(refund["purchaseUUID"])
        self.add(refund)
        self.ledger.apply(changes, deltas, None, POS)
        return refund

    def product_of(self, line: dict) -> str:
        variant, product = line["remote_id"], line.get("remote_parent_id")
        owners = [p for p, variants in self.ledger.variants.items() if variant in variants]
        if product and product in owners:
            return product
        if not product and len(owners) == 1:
            return owners[0]
        raise SeedError(f"variant {variant} is not in the sandbox's catalog (seed it first)")

    def checked(self, changes, allow_negative_store: bool) -> dict:
        try:
            return self.ledger.check(changes, allow_negative_store)
        except ZettleError as exc:
            raise Refused(f"Zettle would refuse the sale: {exc}") from None

    def refunded(self, original: dict) -> dict:
        """{line id: units refunded so far} of a purchase."""
        taken: dict[str, int] = {}
        for refund_id in original.get("refundedByPurchaseUUIDs1", []):
            for row in self.by_id[refund_id]["products"]:
                taken[row["id"]] = taken.get(row["id"], 0) - quantity(row)
        return taken

    @staticmethod
    def row(index: int, product: str, variant: str, count: int, line: dict) -> dict:
        price = line.get("unitPrice", UNIT_PRICE)
        row = {
            "quantity": str(count),
            "productUuid": product,
            "variantUuid": variant,
            "vatPercentage": 25.0,
            "unitPrice": price,
            "rowTaxableAmount": price * count,
            "name": f"Product {product[:8]}",
            "variantName": "",
            "id": str(index),
            "type": "PRODUCT",
            "libraryProduct": True,
        }
        if line.get("sku"):
            row["sku"] = str(line["sku"])
        return row

    def receipt(self, purchase_id: str, rows: list) -> dict:
        """A purchase as GET /purchase/v2/{id} answers it, made now."""
        moment = datetime.now(UTC)
        amount = sum(r["rowTaxableAmount"] for r in rows)
        number = next(self.sequence)
        return {
            "source": "POS",
            "purchaseUUID": short_id(purchase_id),
            "purchaseUUID1": purchase_id,
            "amount": amount,
            "vatAmount": amount // 5,
            "country": "SE",
            "currency": "SEK",
            "timestamp": stamp(moment),
            "purchaseNumber": number,
            "globalPurchaseNumber": number,
            "userDisplayName": "Sandbox Till",
            "userId": 1,
            "organizationId": 1,
            "products": rows,
            "discounts": [],
            "payments": [
                {
                    "uuid": str(uuid.uuid1()),
                    "amount": amount,
                    "type": "IZETTLE_CASH",
                    "attributes": {"handedAmount": amount},
                }
            ],
            "created": stamp(moment),
            "refunded": False,
            "refund": False,
            "groupedVatAmounts": {"25.0": amount},
        }

    def add(self, purchase: dict) -> dict:
        ms = epoch_ms(datetime.fromisoformat(purchase["timestamp"]))
        self.by_id[purchase["purchaseUUID1"]] = purchase
        bisect.insort(self.keys, (ms, next(self.sequence), purchase["purchaseUUID1"]))
        self.ledger.record(envelope("PurchaseCreated", self.webhook_payload(purchase, ms)))
        return purchase

    @staticmethod
    def webhook_payload(purchase: dict, ms: int) -> dict:
        """PurchaseCreated's payload: the Pusher's names (purchaseUuid, epoch ms), with the
        refund fields as the Purchase API names them [I]."""
        payload = {
            "purchaseUuid": purchase["purchaseUUID1"],
            "source": purchase["source"],
            "userUuid": SELLER_UUID,
            "currency": purchase["currency"],
            "country": purchase["country"],
            "amount": purchase["amount"],
            "vatAmount": purchase["vatAmount"],
            "timestamp": ms,
            "created": purchase["created"],
            "purchaseNumber": purchase["purchaseNumber"],
            "userDisplayName": purchase["userDisplayName"],
            "organizationUuid": ORGANIZATION_UUID,
            "products": purchase["products"],
            "discounts": [],
            "payments": purchase["payments"],
            "refund": purchase["refund"],
        }
        if purchase["refund"]:
            payload["refundsPurchaseUUID1"] = purchase["refundsPurchaseUUID1"]
        return payload

    # ----------------------------------------------------------------- reading
    def get(self, purchase_id: str) -> dict:
        if purchase_id not in self.by_id:
            raise ZettleError(404, f"Purchase {purchase_id} not found", "ENTITY_NOT_FOUND")
        return self.by_id[purchase_id]

    def page(self, args) -> dict:
        """GET /purchases/v2: startDate (inclusive), endDate (exclusive), descending,
        lastPurchaseHash (continue after it), limit (1-1000)."""
        start, end = moment_ms(args.get("startDate")), moment_ms(args.get("endDate"))
        limit = args.get("limit", str(MAX_LIMIT))
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            raise ZettleError(400, f"limit must be between 1 and {MAX_LIMIT}")
        keys = [
            k for k in self.keys if (start is None or k[0] >= start) and (end is None or k[0] < end)
        ]
        if args.get("descending", "false").lower() == "true":
            keys.reverse()
        after = args.get("lastPurchaseHash")
        if after:
            hashes = [self.hash(k) for k in keys]
            if after not in hashes:
                raise ZettleError(400, f"lastPurchaseHash {after} is not known")
            keys = keys[hashes.index(after) + 1 :]
        page, more = keys[: int(limit)], len(keys) > int(limit)
        links = []
        if more:
            query = "&".join(f"{k}={v}" for k, v in args.items() if k != "lastPurchaseHash")
            next_url = f"/purchases/v2?{query}&lastPurchaseHash={self.hash(page[-1])}"
            links.append(f'<{next_url}>; rel="next"')
        return {
            "purchases": [self.by_id[k[2]] for k in page],
            "firstPurchaseHash": self.hash(page[0]) if page else None,
            "lastPurchaseHash": self.hash(page[-1]) if page else None,
            "linkUrls": links,
        }

    def hash(self, key: tuple) -> str:
        """`<epoch ms><purchaseUUID>`, as Zettle's hashes look [I]."""
        return f"{key[0]}{self.by_id[key[2]]['purchaseUUID']}"

    def to_json(self) -> list:
        return [self.by_id[k[2]] for k in self.keys]


def moment_ms(value: str | None) -> int | None:
    """Epoch ms of a startDate/endDate: a date or an ISO date-time (UTC when it names no
    offset)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ZettleError(400, f"{value!r} is not an ISO-8601 date or date-time") from None
    return epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
