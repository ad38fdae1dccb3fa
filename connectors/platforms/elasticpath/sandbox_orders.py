"""Elastic Path's shapes for the sandbox: its errors, and its orders and integrations
(channels-inbound.md §3) with the `filter` grammar of GET /v2/orders and the outbox that
numbers each attempt.

An order is kept as {"id", "status", "payment", "shipping", "created_at", "updated_at",
"items": [order_item], "location", "allocations": [{"product_id", "bucket", "quantity"}]}:
`allocations` are the units it holds allocated now (none before payment, after a cancel or
once shipped), taken back from the same buckets they came from.
"""

import json
import re
import uuid
from datetime import UTC, datetime

from connectors.platforms.sandbox.base import Abort, json_response
from connectors.platforms.sandbox.webhooks import Outbox

SECRET_HEADER = "X-MOLTIN-SECRET-KEY"
INTEGRATION_TYPES = ("webhook", "aws_sqs", "stomp")
# The filter grammar: op(field,operand) joined by ":" (an operand may be quoted, with "\"
# escapes); the fields and operators Get all orders documents (§3.5) that the sandbox keeps.
FILTER = re.compile(r"""(\w+)\((\w+),("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^()"':,]*)\)""")
OPERATORS = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
STATE_FIELDS = ("status", "payment", "shipping")  # eq only
DATE_FIELDS = ("created_at", "updated_at")
MAX_FILTERS = 10


def ep_error(status: int, title: str, detail: str | None = None):
    error = {"status": str(status), "title": title}
    if detail:
        error["detail"] = detail
    return json_response({"errors": [error]}, status)


def validation_error(detail: str):
    return Abort(ep_error(400, "Validation Error", detail))


class FilterError(ValueError):
    """A filter the API cannot parse (answered 400 "Could not parse the supplied filter")."""


def now_ms() -> str:
    """Order timestamps carry milliseconds, as the filter examples do."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_filter(text: str) -> list:
    """[(field, operator, value)]; a date operand is a date, a timestamp a datetime."""
    filters, position = [], 0
    while text and position < len(text):
        match = FILTER.match(text, position)
        if match is None:
            raise FilterError(text)
        op, name, operand = match.groups()
        filters.append((name, op, _operand(name, op, operand)))
        position = match.end()
        if position < len(text):
            if text[position] != ":":
                raise FilterError(text)
            position += 1
            if position == len(text):
                raise FilterError(text)
    if len(filters) > MAX_FILTERS:
        raise FilterError(text)
    return filters


def _operand(name, op, operand):
    if operand[:1] in "\"'" and len(operand) >= 2:
        operand = re.sub(r"\\(.)", r"\1", operand[1:-1])
    if name in STATE_FIELDS and op == "eq":
        return operand
    if name not in DATE_FIELDS or op not in OPERATORS:
        raise FilterError(operand)
    if operand.isdigit():  # milliseconds since 1970
        return datetime.fromtimestamp(int(operand) / 1000, UTC)
    try:
        moment = datetime.fromisoformat(operand)
    except ValueError:
        raise FilterError(operand) from None
    if len(operand) == 10:  # YYYY-MM-DD: compared by day
        return moment.date()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches(order: dict, filters: list) -> bool:
    for name, op, value in filters:
        have = order[name]
        if name in DATE_FIELDS:
            have = datetime.fromisoformat(have)
            if not isinstance(value, datetime):
                have = have.date()
        if not OPERATORS[op](have, value):
            return False
    return True


def new_order(order_id: str, lines: list, location) -> dict:
    """A checkout's order: incomplete, unpaid, unfulfilled, one item per line."""
    stamp = now_ms()
    items = [
        {
            "type": "order_item",
            "id": str(uuid.uuid4()),
            "quantity": line.get("quantity", 1),
            "product_id": str(line["remote_id"]),
            "name": str(line.get("name") or line["remote_id"]),
            "sku": str(line.get("sku") or ""),
            "meta": {"timestamps": {"created_at": stamp, "updated_at": stamp}},
        }
        for line in lines
    ]
    return {
        "id": order_id,
        "status": "incomplete",
        "payment": "unpaid",
        "shipping": "unfulfilled",
        "created_at": stamp,
        "updated_at": stamp,
        "items": items,
        "location": location,
        "allocations": [],
    }


def order_json(order: dict) -> dict:
    """The order as GET /v2/orders shows it (its items only as relationships)."""
    return {
        "type": "order",
        "id": order["id"],
        "status": order["status"],
        "payment": order["payment"],
        "shipping": order["shipping"],
        "links": {},
        "meta": {
            "timestamps": {"created_at": order["created_at"], "updated_at": order["updated_at"]}
        },
        "relationships": {
            "items": {"data": [{"type": "item", "id": i["id"]} for i in order["items"]]}
        },
    }


def order_document(order: dict) -> dict:
    """The order with its items included: an order event's payload."""
    return {"data": order_json(order), "included": {"items": list(order["items"])}}


def integration_fields(data, partial: bool = False) -> dict:
    """The attributes of an integration create (or, `partial`, update) body; ValueError
    naming the field that is wrong. The spec's `required` says `observers`, its property
    and the SDK `observes`: both are taken."""
    if not isinstance(data, dict) or data.get("type") != "integration":
        raise ValueError('data.type must be "integration"')
    if "observers" in data and "observes" not in data:
        data = {**data, "observes": data["observers"]}
    fields = {}
    checks = {
        "name": lambda v: isinstance(v, str) and v,
        "description": lambda v: isinstance(v, str),
        "enabled": lambda v: isinstance(v, bool),
        "integration_type": lambda v: v in INTEGRATION_TYPES,
        "observes": lambda v: isinstance(v, list) and v and all(isinstance(e, str) for e in v),
        "configuration": lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("url"), str)
            and isinstance(v.get("secret_key", ""), str)
        ),
    }
    for name, ok in checks.items():
        if name in data:
            if not ok(data[name]):
                raise ValueError(f"data.{name} is invalid")
            fields[name] = data[name]
        elif not partial and name in ("name", "observes", "configuration"):
            raise ValueError(f"data.{name} is required")
    return fields


def integration_json(integration: dict) -> dict:
    return {
        "id": integration["id"],
        "type": "integration",
        "name": integration["name"],
        "description": integration.get("description", ""),
        "enabled": integration["enabled"],
        "integration_type": integration["integration_type"],
        "observes": list(integration["observes"]),
        "configuration": dict(integration["configuration"]),
        "links": {"self": f"/v2/integrations/{integration['id']}"},
        "meta": {
            "timestamps": {
                "created_at": integration["created_at"],
                "updated_at": integration["updated_at"],
            }
        },
    }


def event_body(event_id: str, topic: str, integration: dict, payload: dict) -> bytes:
    """One delivery's body, as the integrations spec's example shows it (the secret_key
    echoed under configuration, `resources` the payload as a JSON string)."""
    event = {
        "id": event_id,
        "triggered_by": topic,
        "attempt": 1,
        "integration": {
            "id": integration["id"],
            "integration_type": integration["integration_type"],
            "name": integration["name"],
            "description": integration.get("description", ""),
        },
        "resources": json.dumps(payload, separators=(",", ":")),
        "payload": payload,
        "configuration": dict(integration["configuration"]),
    }
    return json.dumps(event, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> dict:
    """Elastic Path's "signature": the secret_key itself, in a header (none without one)."""
    return {SECRET_HEADER: secret} if secret else {}


class AttemptOutbox(Outbox):
    """Deliveries whose body counts its attempts: a redelivery keeps the event's id and
    says `attempt` 2, 3, ... (§6.2)."""

    def _post(self, delivery):
        event = json.loads(delivery.body)
        event["attempt"] = delivery.attempt
        delivery.body = json.dumps(event, separators=(",", ":")).encode()
        return super()._post(delivery)
