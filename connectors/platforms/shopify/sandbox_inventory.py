"""The Shopify sandbox's inventory: items, locations, levels of eight quantity names, the
adjustment groups, and the mutations that change them (shopify.md §2, §3).

A level stores seven names; `on_hand` is derived: available + committed + reserved +
damaged + safety_stock + quality_control (`incoming` is not on hand). Writes return the
payload dict the GraphQL layer selects from (sandbox_graphql.py).
"""

import re
import time

from connectors.platforms.sandbox.base import SeedError

STORED = (
    "available",
    "committed",
    "incoming",
    "reserved",
    "damaged",
    "safety_stock",
    "quality_control",
)
ON_HAND_PARTS = ("available", "committed", "reserved", "damaged", "safety_stock", "quality_control")
NAMES = (*STORED, "on_hand")
SET_NAMES = ("available", "on_hand")
ADJUST_NAMES = (
    "available",
    "on_hand",
    "incoming",
    "reserved",
    "damaged",
    "safety_stock",
    "quality_control",
)
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
SET_MAX = 1_000_000_000
ADJUST_MAX = 2_000_000_000
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)(\?.*)?$")
MESSAGES = {
    "CHANGE_FROM_QUANTITY_STALE": "The changeFromQuantity value does not match persisted value.",
    "COMPARE_QUANTITY_STALE": "The compareQuantity value does not match persisted value.",
    "COMPARE_QUANTITY_REQUIRED": "The compareQuantity argument must be given to each quantity "
    "or ignored using ignoreCompareQuantity.",
    "INVALID_INVENTORY_ITEM": "The specified inventory item could not be found.",
    "UNTRACKED_INVENTORY_ITEM": "The specified inventory item is not tracked.",
    "INVALID_LOCATION": "The specified location could not be found.",
    "ITEM_NOT_STOCKED_AT_LOCATION": "The specified inventory item is not stocked at the location.",
    "INVALID_NAME": "The quantity name must be either 'available' or 'on_hand'.",
    "INVALID_QUANTITY_NAME": "The quantity name is not valid.",
    "INVALID_REASON": "The specified reason is invalid.",
    "INVALID_REFERENCE_DOCUMENT": "The specified reference document is invalid.",
    "INVALID_QUANTITY_NEGATIVE": "The quantity can't be negative.",
    "INVALID_QUANTITY_TOO_HIGH": "The quantity can't be higher than 1,000,000,000.",
    "INVALID_QUANTITY_TOO_LOW": "The quantity can't be lower than -1,000,000,000.",
    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR": "The combination of inventoryItemId and "
    "locationId must be unique.",
    "INVALID_AVAILABLE_DOCUMENT": "The available quantity can't have a ledger document.",
    "INVALID_QUANTITY_DOCUMENT": "A ledger document is required for this quantity name.",
    "INVALID_LEDGER_DOCUMENT": "The specified ledger document is invalid.",
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": "The same idempotency key cannot be used with "
    "different operation parameters.",
}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def gid_number(gid, kind: str):
    """The number of a `gid://shopify/<kind>/<n>`, or None."""
    match = GID.match(gid) if isinstance(gid, str) else None
    return match.group(2) if match and match.group(1) == kind else None


def user_error(code: str, field: list, message: str | None = None) -> dict:
    return {"field": [str(f) for f in field], "message": message or MESSAGES[code], "code": code}


def on_hand(level: dict) -> int:
    return sum(level[n] for n in ON_HAND_PARTS)


def quantity(level: dict, name: str) -> int:
    return on_hand(level) if name == "on_hand" else level[name]


class Inventory:
    """The stock half of ShopifySandbox (a mixin: self.settings, self.switch, self.emit_level)."""

    def reset_inventory(self) -> None:
        self.locations: dict[str, dict] = {}
        self.items: dict[str, dict] = {}
        self.levels: dict[tuple[str, str], dict] = {}
        self.adjustments: list[dict] = []

    # ------------------------------------------------------------ seeding
    def seed_inventory(self, body: dict) -> None:
        locations, items = body.get("locations") or [], body.get("items") or []
        if not isinstance(locations, list) or not isinstance(items, list):
            raise SeedError('"locations" and "items" are lists')
        for raw in locations:
            if not isinstance(raw, dict) or gid_number(raw.get("id"), "Location") is None:
                raise SeedError('a location needs "id": "gid://shopify/Location/<n>"')
            self.locations[raw["id"]] = {
                "name": str(raw.get("name") or f"Location {gid_number(raw['id'], 'Location')}"),
                "active": bool(raw.get("active", True)),
                "created_at": now_iso(),
            }
        for raw in items:
            self.seed_item(raw)

    def seed_item(self, raw) -> None:
        if not isinstance(raw, dict) or gid_number(raw.get("id"), "InventoryItem") is None:
            raise SeedError('an item needs "id": "gid://shopify/InventoryItem/<n>"')
        levels = raw.get("levels") or {}
        if not isinstance(levels, dict):
            raise SeedError('an item\'s "levels" maps a location gid to its quantities')
        built = {}
        for location_id, quantities in levels.items():
            if location_id not in self.locations:
                raise SeedError(f'unknown location {location_id!r}: seed it in "locations"')
            built[location_id] = self.seed_level(quantities)
        gid = raw["id"]
        number = gid_number(gid, "InventoryItem")
        variant = raw.get("variant_id") or f"gid://shopify/ProductVariant/{number}"
        if gid_number(variant, "ProductVariant") is None:
            raise SeedError('"variant_id" is a gid://shopify/ProductVariant/<n>')
        self.items[gid] = {
            "sku": None if raw.get("sku") is None else str(raw["sku"]),
            "tracked": bool(raw.get("tracked", True)),
            "requires_shipping": bool(raw.get("requires_shipping", True)),
            "variant_id": variant,
            "title": str(raw.get("title") or raw.get("sku") or f"Item {number}"),
            "created_at": now_iso(),
            "updated_at": now_iso(),
        }
        for key in [k for k in self.levels if k[0] == gid]:
            del self.levels[key]
        for location_id, level in built.items():
            self.levels[(gid, location_id)] = level

    @staticmethod
    def seed_level(quantities) -> dict:
        if not isinstance(quantities, dict):
            raise SeedError("a level maps quantity names to whole numbers")
        for name, value in quantities.items():
            if name not in NAMES:
                raise SeedError(f"unknown quantity name {name!r}; known: {', '.join(NAMES)}")
            if isinstance(value, bool) or not isinstance(value, int):
                raise SeedError(f"{name} must be a whole number, not {value!r}")
        level = {n: quantities.get(n, 0) for n in STORED}
        if "on_hand" in quantities:
            rest = on_hand(level) - level["available"]
            if "available" not in quantities:
                level["available"] = quantities["on_hand"] - rest
            elif on_hand(level) != quantities["on_hand"]:
                raise SeedError(
                    "on_hand must equal available + committed + reserved + damaged "
                    "+ safety_stock + quality_control"
                )
        stamp = now_iso()
        level.update(created_at=stamp, updated_at=stamp)
        return level

    def inventory_json(self) -> dict:
        items = {}
        for gid, item in self.items.items():
            levels = {
                loc: {
                    **{n: level[n] for n in STORED},
                    "on_hand": on_hand(level),
                    "updated_at": level["updated_at"],
                }
                for (item_id, loc), level in self.levels.items()
                if item_id == gid
            }
            items[gid] = {
                "sku": item["sku"],
                "tracked": item["tracked"],
                "variant_id": item["variant_id"],
                "levels": levels,
            }
        return {
            "locations": {
                gid: {"name": loc["name"], "active": loc["active"]}
                for gid, loc in self.locations.items()
            },
            "items": items,
            "adjustments": self.adjustments,
        }

    # ------------------------------------------------------------ writes
    def change_level(self, item_id, location_id, name, delta) -> list[dict]:
        """Move one name by delta with what follows from it; the change rows (name, delta,
        after) for the names that moved, the asked one first."""
        level = self.levels[(item_id, location_id)]
        before_available = level["available"]
        stored = "available" if name == "on_hand" else name
        level[stored] += delta
        rows = [(name, delta)]
        if name == "on_hand":
            rows.append(("available", delta))
        elif name in ON_HAND_PARTS:
            rows.append(("on_hand", delta))
        if delta:
            level["updated_at"] = now_iso()
        if level["available"] != before_available:
            self.emit_level(item_id, location_id)
        return [
            {
                "name": n,
                "delta": d,
                "quantityAfterChange": quantity(level, n),
                "item": item_id,
                "location": location_id,
                "ledgerDocumentUri": None,
            }
            for n, d in rows
        ]

    def record_group(self, reason, reference, changes, source="api") -> dict:
        group = {
            "id": f"gid://shopify/InventoryAdjustmentGroup/{self.next_id()}",
            "createdAt": now_iso(),
            "reason": reason,
            "referenceDocumentUri": reference,
            "source": source,
            "changes": changes,
        }
        self.adjustments.append(group)
        del self.adjustments[:-1000]
        return group

    def check_header(self, data: dict, names, name_code: str, errors: list) -> None:
        if data["name"] not in names:
            errors.append(user_error(name_code, ["input", "name"]))
        if data["reason"] not in REASONS:
            errors.append(user_error("INVALID_REASON", ["input", "reason"]))
        reference = data.get("referenceDocumentUri")
        if reference is not None and not URI.match(reference):
            errors.append(
                user_error("INVALID_REFERENCE_DOCUMENT", ["input", "referenceDocumentUri"])
            )

    def check_target(self, row: dict, field: list, errors: list) -> bool:
        """The item, the location and the level exist (and the item is tracked, unless the
        untracked_writes setting says otherwise); False after adding the error."""
        item = self.items.get(row["inventoryItemId"])
        if item is None:
            errors.append(user_error("INVALID_INVENTORY_ITEM", [*field, "inventoryItemId"]))
            return False
        if row["locationId"] not in self.locations:
            errors.append(user_error("INVALID_LOCATION", [*field, "locationId"]))
            return False
        if (row["inventoryItemId"], row["locationId"]) not in self.levels:
            errors.append(user_error("ITEM_NOT_STOCKED_AT_LOCATION", [*field, "locationId"]))
            return False
        if not item["tracked"] and self.settings["untracked_writes"] == "error":
            errors.append(
                user_error(
                    "INVALID_INVENTORY_ITEM",
                    [*field, "inventoryItemId"],
                    MESSAGES["UNTRACKED_INVENTORY_ITEM"],
                )
            )
            return False
        return True

    def check_cas(self, row, field, current, legacy, data, errors, mutation) -> None:
        """changeFromQuantity (or 2026-01's compareQuantity) against the persisted value.
        An omitted changeFromQuantity from 2026-04 is the caller's to refuse first."""
        if "changeFromQuantity" in row:
            expected, code = row["changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE"
            name = "changeFromQuantity"
        elif legacy and mutation == "set":
            if data.get("ignoreCompareQuantity"):
                return
            if row.get("compareQuantity") is None:
                errors.append(user_error("COMPARE_QUANTITY_REQUIRED", [*field, "compareQuantity"]))
                return
            expected, code, name = (
                row["compareQuantity"],
                "COMPARE_QUANTITY_STALE",
                "compareQuantity",
            )
        else:
            return
        forced = mutation == "set" and self.switch_take("stale_next")
        if forced or (expected is not None and expected != current):
            errors.append(user_error(code, [*field, name]))

    def set_quantities(self, data: dict, legacy: bool) -> dict:
        errors: list = []
        self.check_header(data, SET_NAMES, "INVALID_NAME", errors)
        name, seen, planned = data["name"], set(), []
        for i, row in enumerate(data["quantities"]):
            field = ["input", "quantities", i]
            pair = (row["inventoryItemId"], row["locationId"])
            if pair in seen:
                errors.append(user_error("NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", field))
                continue
            seen.add(pair)
            if row["quantity"] < 0:
                errors.append(user_error("INVALID_QUANTITY_NEGATIVE", [*field, "quantity"]))
                continue
            if row["quantity"] > SET_MAX:
                errors.append(user_error("INVALID_QUANTITY_TOO_HIGH", [*field, "quantity"]))
                continue
            if not self.check_target(row, field, errors) or name not in SET_NAMES:
                continue
            current = quantity(self.levels[pair], name)
            count = len(errors)
            self.check_cas(row, field, current, legacy, data, errors, "set")
            if len(errors) == count:
                planned.append((pair, row["quantity"] - current))
        return self.apply(data, name, planned, errors, keep_zero=True)

    def adjust_quantities(self, data: dict, legacy: bool) -> dict:
        errors: list = []
        self.check_header(data, ADJUST_NAMES, "INVALID_QUANTITY_NAME", errors)
        name, planned = data["name"], []
        for i, row in enumerate(data["changes"]):
            field = ["input", "changes", i]
            ledger = row.get("ledgerDocumentUri")
            if name == "available" and ledger is not None:
                errors.append(
                    user_error("INVALID_AVAILABLE_DOCUMENT", [*field, "ledgerDocumentUri"])
                )
                continue
            if name not in ("available", "on_hand") and ledger is None:
                errors.append(
                    user_error("INVALID_QUANTITY_DOCUMENT", [*field, "ledgerDocumentUri"])
                )
                continue
            if ledger is not None and not URI.match(ledger):
                errors.append(user_error("INVALID_LEDGER_DOCUMENT", [*field, "ledgerDocumentUri"]))
                continue
            if not self.check_target(row, field, errors) or name not in ADJUST_NAMES:
                continue
            pair = (row["inventoryItemId"], row["locationId"])
            current = quantity(self.levels[pair], name)
            after = current + row["delta"]
            if after > ADJUST_MAX or after < -ADJUST_MAX:
                code = "INVALID_QUANTITY_TOO_HIGH" if after > 0 else "INVALID_QUANTITY_TOO_LOW"
                errors.append(
                    user_error(code, [*field, "delta"], "The quantity would be out of range.")
                )
                continue
            count = len(errors)
            self.check_cas(row, field, current, legacy, data, errors, "adjust")
            if len(errors) == count:
                planned.append((pair, row["delta"], ledger))
        return self.apply(data, name, planned, errors, keep_zero=False)

    def apply(self, data, name, planned, errors, keep_zero) -> dict:
        """All or nothing (the all_or_nothing setting, default true): with any userError
        nothing is applied and the group is null."""
        if errors and self.settings["all_or_nothing"]:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = []
        for pair, delta, *ledger in planned:
            if not delta and not keep_zero:
                continue
            if not self.items[pair[0]]["tracked"] and self.settings["untracked_writes"] == "ignore":
                continue
            rows = self.change_level(*pair, name, delta)
            if ledger:
                rows[0]["ledgerDocumentUri"] = ledger[0]
            changes.extend(rows)
        group = None
        if changes:
            group = self.record_group(data["reason"], data.get("referenceDocumentUri"), changes)
        return {"inventoryAdjustmentGroup": group, "userErrors": errors}

    def activate(self, args: dict) -> dict:
        item_id, location_id = args["inventoryItemId"], args["locationId"]
        if item_id not in self.items:
            return {
                "inventoryLevel": None,
                "userErrors": [
                    {"field": ["inventoryItemId"], "message": "Inventory item does not exist"}
                ],
            }
        if location_id not in self.locations:
            return {
                "inventoryLevel": None,
                "userErrors": [{"field": ["locationId"], "message": "Location does not exist"}],
            }
        available, on_hand_ = args.get("available"), args.get("onHand")
        if (item_id, location_id) in self.levels:
            if available is not None or on_hand_ is not None:
                return {
                    "inventoryLevel": None,
                    "userErrors": [
                        {
                            "field": ["available"],
                            "message": "The inventory item is already stocked at the location",
                        }
                    ],
                }
            return {"inventoryLevel": (item_id, location_id), "userErrors": []}
        if available is not None and on_hand_ is not None and available != on_hand_:
            return {
                "inventoryLevel": None,
                "userErrors": [
                    {
                        "field": ["onHand"],
                        "message": "available and onHand must match on a new level",
                    }
                ],
            }
        start = available if available is not None else on_hand_ or 0
        if start < 0 or start > SET_MAX:
            return {
                "inventoryLevel": None,
                "userErrors": [{"field": ["available"], "message": "The quantity is out of range"}],
            }
        self.levels[(item_id, location_id)] = self.seed_level({"available": start})
        self.emit_level(item_id, location_id, topic="inventory_levels/connect")
        return {"inventoryLevel": (item_id, location_id), "userErrors": []}

    def item_update(self, args: dict) -> dict:
        item = self.items.get(args["id"])
        if item is None:
            return {
                "inventoryItem": None,
                "userErrors": [{"field": ["id"], "message": "Inventory item does not exist"}],
            }
        changes = args["input"]
        for key, attr in (
            ("sku", "sku"),
            ("tracked", "tracked"),
            ("requiresShipping", "requires_shipping"),
        ):
            if changes.get(key) is not None:
                item[attr] = changes[key]
        item["updated_at"] = now_iso()
        return {"inventoryItem": args["id"], "userErrors": []}
