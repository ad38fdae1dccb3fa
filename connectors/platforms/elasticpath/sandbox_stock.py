"""Elastic Path's stock model for the sandbox: buckets of available and allocated units.

A product's stock is a dict of buckets, "" for the units without a location and one per
location slug, each {"available", "allocated"}; total = available + allocated everywhere.
"""

import uuid
from collections import deque
from datetime import UTC, datetime

INSUFFICIENT = "Your request could not be completed due to insufficient stock levels"


class StockError(ValueError):
    """A transaction the stock levels cannot cover (answered 422)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Stocks(dict):
    """product id -> stock record; `locations` holds the MLI locations by slug."""

    def __init__(self):
        super().__init__()
        self.locations: dict[str, dict] = {}

    def seed(self, raw: dict) -> dict:
        stock = self.setdefault(
            str(raw["id"]),
            {
                "stock_id": str(uuid.uuid4()),
                "buckets": {"": {"available": 0, "allocated": 0}},
                "created_at": now_iso(),
                "updated_at": now_iso(),
                # Bounded: benchmarks send thousands of transactions to one product.
                "transactions": deque(maxlen=1000),
            },
        )
        if "available" in raw or "allocated" in raw:
            stock["buckets"][""] = {
                "available": int(raw.get("available", 0)),
                "allocated": int(raw.get("allocated", 0)),
            }
        for slug, level in (raw.get("locations") or {}).items():
            self.locations.setdefault(slug, {"id": str(uuid.uuid4()), "slug": slug, "name": slug})
            stock["buckets"][slug] = {
                "available": int(level.get("available", 0)),
                "allocated": int(level.get("allocated", 0)),
            }
        return stock

    @staticmethod
    def apply(stock: dict, action: str, quantity: int, bucket_key: str) -> None:
        """Apply one transaction to one bucket, or raise StockError and change nothing."""
        bucket = dict(stock["buckets"].get(bucket_key) or {"available": 0, "allocated": 0})
        if action == "increment":
            bucket["available"] += quantity
        elif action in ("decrement", "allocate"):
            if bucket["available"] < quantity:
                raise StockError(INSUFFICIENT)
            bucket["available"] -= quantity
            if action == "allocate":
                bucket["allocated"] += quantity
        elif action == "deallocate":
            if bucket["allocated"] < quantity:
                raise StockError(INSUFFICIENT)
            bucket["allocated"] -= quantity
            bucket["available"] += quantity
        elif action == "set":
            if quantity < bucket["allocated"]:
                raise StockError(INSUFFICIENT)
            bucket["available"] = quantity - bucket["allocated"]
        elif action == "ship":  # an order fulfilled: its allocated units leave, total drops
            if bucket["allocated"] < quantity:
                raise StockError(INSUFFICIENT)
            bucket["allocated"] -= quantity
        stock["buckets"][bucket_key] = bucket
        stock["updated_at"] = now_iso()


def transaction_json(product_id, action, quantity, location, mli) -> dict:
    """A stock transaction as its API answers it: the MLI (attributes) or the basic shape."""
    now = datetime.now(UTC)
    txn_id = str(uuid.uuid4())
    if mli:
        attributes = {"action": action, "product_id": product_id, "quantity": quantity}
        if location:
            attributes["location"] = location
        return {
            "id": txn_id,
            "type": "stock-transaction",
            "attributes": attributes,
            "meta": {"timestamps": {"created_at": now.isoformat().replace("+00:00", "Z")}},
        }
    return {
        "id": txn_id,
        "type": "stock-transaction",
        "action": action,
        "product_id": product_id,
        "quantity": quantity,
        "timestamps": {"created_at": now.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")},
    }


def levels(bucket: dict) -> dict:
    available, allocated = bucket["available"], bucket["allocated"]
    return {"available": available, "allocated": allocated, "total": available + allocated}


def stock_json(product_id: str, stock: dict, mli: bool, listed: bool = False) -> dict:
    """The stock object in the basic shape, or the MLI (JSON:API attributes) shape."""
    buckets = stock["buckets"]
    totals = levels(
        {
            "available": sum(b["available"] for b in buckets.values()),
            "allocated": sum(b["allocated"] for b in buckets.values()),
        }
    )
    timestamps = {"created_at": stock["created_at"], "updated_at": stock["updated_at"]}
    if mli:
        located = {slug: levels(b) for slug, b in buckets.items() if slug}
        return {
            "id": product_id,
            "type": "stock",
            "attributes": {**totals, "locations": located},
            "meta": {"stock_id": stock["stock_id"], "timestamps": timestamps},
        }
    data = {"id": product_id, "type": "stock", **totals}
    if listed:
        data["meta"] = {"timestamps": timestamps}
    return data
