"""Zettle purchases as inbound orders (channels-inbound.md §4.5, §4.6, §6.1).

A purchase comes in two shapes: the Purchase API's (purchaseUUID1, an ISO timestamp) and
PurchaseCreated's payload (purchaseUuid, the same v1 uuid; timestamp in epoch ms); both
list `products` rows with productUuid, variantUuid, sku and `quantity` as a string.

- A purchase is paid and handed over at the till: an Order at stage fulfilled, under its
  purchase uuid.
- A line is a variant of the product library (its productUuid and variantUuid: the listing's
  remote_parent_id and remote_id), or failing those an SKU. Rows of the same variant are
  one line, its id "productUuid/variantUuid" (or "sku:SKU"), the same in a webhook and a
  poll. Rows that are neither (custom amounts, gift cards) and rows sold by measure (a
  quantity like "1.5": Zettle's inventory moves whole units) carry no stock and are left out.
- A refund is a purchase of its own (`refund`, negative quantities, refundsPurchaseUUID1).
  It changes our stock only when its goods went back to STORE (its rows' toLocationUuid is
  the STORE's uuid): then it is read as the ORIGINAL purchase's Order, whose lines that the
  restocked refunds of that purchase cover in full are `returned`, the others staying
  fulfilled; the order is returned when every line is. A line counted back only in part
  stays fulfilled (status "refunded, partly restocked"): the ledger returns a line whole, so
  the units that came back are for staff to count in. A refund without restock is nothing
  to apply (the goods stay gone, as the sale already booked).
"""

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from connectors.platforms.inbound import (
    FULFILLED,
    MAX_QUANTITY,
    RETURNED,
    Order,
    OrderLine,
    Unreadable,
)

ID_KEYS = ("purchaseUUID1", "purchaseUuid1", "purchaseUuid")
REFUNDS_KEYS = ("refundsPurchaseUUID1", "refundsPurchaseUuid1", "refundsPurchaseUuid")
REFUNDED_BY_KEYS = ("refundedByPurchaseUUIDs1", "refundedByPurchaseUuids1")
MAX_ID = 128


def purchase_id(purchase) -> str:
    found = _text(purchase, ID_KEYS, "purchase")
    if not found:
        raise Unreadable("the purchase has no purchaseUUID1 (or purchaseUuid)")
    return found


def refunded_id(purchase) -> str:
    """The purchase a refund refunds ("" when it names none)."""
    return _text(purchase, REFUNDS_KEYS, "refund")


def is_refund(purchase) -> bool:
    return _object(purchase).get("refund") is True or bool(refunded_id(purchase))


def refunds_of(purchase) -> list:
    """The refunds Zettle lists on a refunded purchase."""
    for key in REFUNDED_BY_KEYS:
        found = _object(purchase).get(key)
        if found is not None:
            if not isinstance(found, list) or not all(
                isinstance(i, str) and 0 < len(i) <= MAX_ID for i in found
            ):
                raise Unreadable(f"{key} is not a list of purchase uuids")
            return found
    return []


def sale(purchase) -> Order:
    """A purchase as a handed-over order (lines may be empty: custom amounts only)."""
    moment = when(purchase)
    return Order(
        order_id=purchase_id(purchase),
        status="purchase",
        stage=FULFILLED,
        lines=tuple(lines(purchase).values()),
        placed_at=moment,
        updated_at=moment,
    )


def returns(original, refunds, store: str) -> Order:
    """The original purchase once its `refunds` are known: lines that their restocked rows
    cover in full are returned."""
    back = Counter()
    for refund in refunds:
        back.update(restocked(refund, store))
    sold = [
        replace(line, stage=RETURNED if back[line.line_id] >= line.quantity else None)
        for line in lines(original).values()
    ]
    every = bool(sold) and all(line.stage == RETURNED for line in sold)
    times = [t for t in (when(r) for r in refunds) if t is not None]
    return Order(
        order_id=purchase_id(original),
        status="refunded, restocked" if every else "refunded, partly restocked",
        stage=RETURNED if every else FULFILLED,
        lines=tuple(sold),
        placed_at=when(original),
        updated_at=max(times, default=None),
    )


def restocked(refund, store: str) -> Counter:
    """{line id: units} of a refund's rows that went back to STORE."""
    return Counter({line_id: n for line_id, n, to, _ in _rows(refund) if to == store})


def lines(purchase) -> dict:
    """{line id: OrderLine} of the stock rows of a purchase, units counted positive."""
    units, first = Counter(), {}
    for line_id, n, _, ids in _rows(purchase):
        units[line_id] += n
        first.setdefault(line_id, ids)
    return {
        line_id: OrderLine(line_id, units[line_id], *first[line_id])
        for line_id in first
        if units[line_id]
    }


def when(purchase) -> datetime | None:
    """When the purchase was made: its timestamp (epoch ms or ISO) or `created`."""
    for value in (_object(purchase).get("timestamp"), purchase.get("created")):
        moment = _moment(value)
        if moment is not None:
            return moment
    return None


def _rows(purchase):
    """(line id, units, toLocationUuid, (remote_id, remote_parent_id, sku)) per stock row."""
    rows = _object(purchase).get("products") or []
    if not isinstance(rows, list):
        raise Unreadable("the purchase's products are not a list")
    for i, row in enumerate(rows):
        where = f"products[{i}]"
        if not isinstance(row, dict):
            raise Unreadable(f"{where} is not an object")
        variant, product, sku, to = (
            _text(row, (key,), where)
            for key in ("variantUuid", "productUuid", "sku", "toLocationUuid")
        )
        units = _units(row.get("quantity"), where)
        if not units or not (variant or sku):
            continue
        if variant:
            line_id = "/".join(part for part in (product, variant) if part)
            ids = (variant, product, sku)
        else:
            line_id, ids = f"sku:{sku}", ("", "", sku)
        if len(line_id) > MAX_ID:
            raise Unreadable(f"{where}: its ids are longer than Zettle's uuids")
        yield line_id, abs(units), to, ids


def _units(value, where: str) -> int | None:
    """A row's quantity as whole units (None: sold by measure, like "1.5")."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unreadable(f"{where}: quantity {str(value)[:40]!r} is not a number")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise Unreadable(f"{where}: quantity {str(value)[:40]!r} is not a number") from None
    if not number.is_finite() or abs(number) > MAX_QUANTITY:
        raise Unreadable(f"{where}: quantity {str(value)[:40]!r} is not a count of units")
    if number != number.to_integral_value():
        return None
    return int(number)


def _moment(value) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def _object(purchase) -> dict:
    if not isinstance(purchase, dict):
        raise Unreadable("the purchase is not a JSON object")
    return purchase


def _text(data, keys, where: str) -> str:
    """The first of `keys` present, as text ("" when none is)."""
    for key in keys:
        value = _object(data).get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_ID:
            raise Unreadable(f"{where}: {key} is not an id of at most {MAX_ID} characters")
        return value
    return ""
