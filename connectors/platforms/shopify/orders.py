"""Shopify's orders and webhook bodies, read as inbound values (shopify.md §6).

A webhook carries the REST shape of its resource, whose line items name a variant, never the
InventoryItem our listings are keyed by. So an order webhook (orders/create, paid, fulfilled,
cancelled) and a refund (refunds/create, which names its order) are read for the order's id
only, and the order itself is read through GraphQL as it stands now, with its refunds
where a line has less left than ordered: one mapping for webhooks and polls (a poll finds
a return whose webhook was lost), and an old snapshot arriving late (Shopify does not keep
deliveries in order, §6.3) never wins over a newer state. inventory_levels/update is read
from its body.

Stages (inbound.STAGES), line by line, from the order as it stands:

    cancelled (cancelledAt set), line not fulfilled     cancelled
    a refund restocked the line (restockType RETURN)    returned
    nothing left of the line (currentQuantity 0):
      the order is FULFILLED (refunded after shipping)  fulfilled
      else (refunded or removed before it shipped)      cancelled
    nothing left to fulfil (unfulfilledQuantity 0)       fulfilled
    otherwise                                           open

Shopify commits an order's units (available down, committed up) as soon as it is placed,
paid or not (§6.4): so does our ledger (open), else our next push would put them back on
sale. The order's own stage is its lines' when they agree, else `open`.
"""

from datetime import UTC, datetime

from connectors.platforms.inbound import (
    CANCELLED,
    FULFILLED,
    MAX_QUANTITY,
    OPEN,
    RETURNED,
    Order,
    OrderLine,
    StockChange,
    Unreadable,
    json_object,
    whole,
)

ORDER_TOPICS = ("orders/create", "orders/paid", "orders/fulfilled", "orders/cancelled")
REFUND_TOPIC = "refunds/create"
LEVEL_TOPIC = "inventory_levels/update"
TOPICS = (*ORDER_TOPICS, REFUND_TOPIC, LEVEL_TOPIC)
MAX_ID = 128
MAX_SKU = 64
GID = "gid://shopify/"

# An order's refunds, read when a line has less left than ordered: REFUNDS_FIRST refunds
# (Order.refunds is a list, not a connection) of REFUND_LINES lines each (a refund of more
# is read on, by its id, REFUND_LINE_PAGE at a time); under 1,000 points even where Shopify
# counts the list as REFUNDS_FIRST objects.
REFUNDS_FIRST = 20
REFUND_LINES = 20
REFUND_LINE_PAGE = 100
REFUND_LINE_FIELDS = "quantity restockType lineItem { id }"
REFUND_FIELDS = f"""
    id
    refundLineItems(first: {REFUND_LINES}) {{
      nodes {{ {REFUND_LINE_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
"""

# What an order is read as, by a webhook and by a poll: 25 lines at once (an order of more is
# read on, LINE_PAGE at a time), which keeps ORDER_PAGE orders near 800 points.
LINES_FIRST = 25
LINE_PAGE = 100
ORDER_PAGE = 10
LINE_FIELDS = (
    "id sku quantity currentQuantity unfulfilledQuantity variant { id inventoryItem { id } }"
)
ORDER_FIELDS = f"""
    id name createdAt updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus
    lineItems(first: {LINES_FIRST}) {{
      nodes {{ {LINE_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
"""


def gid(kind, value):
    """A Shopify GID of `kind` from a GID or a bare number (REST ids are numbers)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return f"{GID}{kind}/{value}" if value > 0 else ""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if value.isdigit() and value != "0":
        return f"{GID}{kind}/{value}"
    prefix = f"{GID}{kind}/"
    if value.startswith(prefix) and value[len(prefix) :].split("?")[0].isdigit():
        return value if len(value) <= MAX_ID else ""
    return ""


def number(value):
    """The number of a GID (what the admin and REST call the order's id; our order id)."""
    return value.rsplit("/", 1)[-1].split("?")[0]


def loads(body):
    return json_object(body, "Shopify")


def order_gid(topic, payload):
    """The GID of the order a webhook body concerns: the order's own (orders/*), or the one
    a refund belongs to (refunds/create's order_id)."""
    if topic == REFUND_TOPIC:
        found = gid("Order", payload.get("order_id"))
        what = "the refund's order_id"
    else:
        found = gid("Order", payload.get("admin_graphql_api_id")) or gid("Order", payload.get("id"))
        what = "the order's id"
    if not found:
        raise Unreadable(f"{topic}: {what} is not a Shopify order id")
    return found


def read_level(payload, location_of):
    """An inventory_levels/update body as a StockChange (None where it carries no
    available: the item stopped being tracked, or the level was removed);
    `location_of(location GID)` gives the remote_parent_id listings use for it."""
    item = gid("InventoryItem", payload.get("inventory_item_id"))
    location = gid("Location", payload.get("location_id"))
    if not item or not location:
        raise Unreadable("inventory_levels/update names no inventory_item_id and location_id")
    available = payload.get("available")
    if available is None:  # the item stopped being tracked, or the level was removed
        return None
    quantity = whole(available, f"{item} at {location}: available")
    if abs(quantity) > MAX_QUANTITY:
        raise Unreadable(f"{item}: available {quantity} is out of range")
    return StockChange(remote_id=item, quantity=quantity, remote_parent_id=location_of(location))


def refund_returns(payload):
    """{line item GID: units} a refunds/create body restocks as returned goods
    (refund_line_items with restock_type "return"; "cancel" and "no_restock" bring nothing
    back that the order itself does not show)."""
    found = {}
    rows = payload.get("refund_line_items")
    if rows is None:
        return found
    if not isinstance(rows, list):
        raise Unreadable("refunds/create: refund_line_items is not a list")
    for row in rows:
        if not isinstance(row, dict):
            raise Unreadable("refunds/create: a refund line item is not a JSON object")
        if _text(row.get("restock_type")).lower() != "return":
            continue
        line = gid("LineItem", row.get("line_item_id"))
        if not line:
            raise Unreadable("refunds/create: a refund line item names no line_item_id")
        found[line] = found.get(line, 0) + whole(row.get("quantity"), f"refund of {line}")
    return found


def refunded(node):
    """Whether an Order node has a line with less left than was ordered (currentQuantity
    below quantity): only then can a refund have restocked something, and its refunds are
    worth a query."""
    for line in _nodes(node.get("lineItems") if isinstance(node, dict) else None, "lineItems"):
        if isinstance(line, dict):
            quantity, current = line.get("quantity"), line.get("currentQuantity")
            if isinstance(quantity, int) and isinstance(current, int) and current < quantity:
                return True
    return False


def refund_rows_returned(rows, oid):
    """{line item GID: units} GraphQL RefundLineItem nodes restock as returned goods
    (restockType RETURN; CANCEL and NO_RESTOCK bring back nothing the order itself does not
    show): what a refund's webhook says (refund_returns), read from the order instead, so
    that a poll finds a return whose webhook was lost."""
    found = {}
    for row in rows:
        if not isinstance(row, dict):
            raise Unreadable(f"order {oid}: a refund line item is not a JSON object")
        if _text(row.get("restockType")).upper() != "RETURN":
            continue
        line = row.get("lineItem") if isinstance(row.get("lineItem"), dict) else {}
        line_id = gid("LineItem", line.get("id"))
        if not line_id:
            raise Unreadable(f"order {oid}: a returned refund line item names no line item")
        units = whole(row.get("quantity"), f"order {oid}: the refund of {line_id}")
        found[line_id] = found.get(line_id, 0) + units
    return found


def read_order(node, returned=None):
    """A GraphQL Order node as an inbound.Order; `returned`: {line item GID: units} its
    refunds restocked as returned goods (refund_returns, refund_rows_returned)."""
    if not isinstance(node, dict):
        raise Unreadable("an order is a JSON object")
    oid = gid("Order", node.get("id"))
    if not oid:
        raise Unreadable("an order needs a Shopify Order id (gid://shopify/Order/…)")
    line_nodes = _nodes(node.get("lineItems"), f"order {oid}: lineItems")
    returned = returned or {}
    cancelled = bool(node.get("cancelledAt"))
    shipped = _text(node.get("displayFulfillmentStatus")).upper() == "FULFILLED"
    lines = []
    for line in line_nodes:
        read = _line(oid, line, cancelled, shipped, returned)
        if read is not None:
            lines.append(read)
    stages = {line.stage for line in lines}
    stage = stages.pop() if len(stages) == 1 else (CANCELLED if cancelled and not lines else OPEN)
    words = [_text(node.get("displayFinancialStatus"))[:24] or "?"]
    words.append(_text(node.get("displayFulfillmentStatus"))[:24] or "?")
    if cancelled:
        words.append("CANCELLED")
    name = _text(node.get("name"))[:40]
    return Order(
        order_id=number(oid),
        status=(f"{name} " if name else "") + " / ".join(words),
        stage=stage,
        lines=tuple(lines),
        placed_at=when(node.get("createdAt")),
        updated_at=when(node.get("updatedAt")),
    )


def _line(oid, line, cancelled, shipped, returned):
    if not isinstance(line, dict):
        raise Unreadable(f"order {oid}: a line item is not a JSON object")
    line_id = line.get("id")
    if not isinstance(line_id, str) or not 0 < len(line_id) <= MAX_ID:
        raise Unreadable(f"order {oid}: a line item has no id")
    variant = line.get("variant") if isinstance(line.get("variant"), dict) else {}
    inventory = (
        variant.get("inventoryItem") if isinstance(variant.get("inventoryItem"), dict) else {}
    )
    item = gid("InventoryItem", inventory.get("id"))
    sku = _text(line.get("sku"))
    if not item and not sku:
        return None  # a custom item, a tip, a gift card: no stock
    what = f"order {oid} line {line_id}"
    quantity = whole(line.get("quantity"), f"{what}: quantity")
    if quantity <= 0:
        return None
    current = _count(line.get("currentQuantity"), quantity, what)
    unfulfilled = _count(line.get("unfulfilledQuantity"), current, what)
    if returned.get(line_id, 0) > 0:
        stage = RETURNED
    elif current == 0 and shipped:
        stage = FULFILLED  # shipped, then refunded (goods back only by refunds/create)
    elif current == 0 or (cancelled and unfulfilled == current):
        stage = CANCELLED
    elif unfulfilled == 0:
        stage = FULFILLED
    else:
        stage = OPEN
    return OrderLine(
        line_id=line_id,
        quantity=quantity,
        remote_id=item,
        sku=sku if len(sku) <= MAX_SKU else "",
        stage=stage,
    )


def _count(value, default, what):
    if value is None:
        return default
    count = whole(value, what)
    if count < 0:
        raise Unreadable(f"{what}: a negative count {count}")
    return count


def _nodes(connection, what):
    """A connection's nodes (edges { node } too); [] when it is none."""
    if connection is None:
        return []
    if isinstance(connection, list):
        return connection
    if not isinstance(connection, dict):
        raise Unreadable(f"{what} is not a connection")
    if isinstance(connection.get("nodes"), list):
        return connection["nodes"]
    if isinstance(connection.get("edges"), list):
        return [e.get("node") for e in connection["edges"] if isinstance(e, dict)]
    return []


def _text(value):
    return value if isinstance(value, str) else ""


def when(value):
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def wire(moment):
    """A datetime as Shopify's search syntax quotes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
