"""What a platform tells us about its sales and its stock, in the words the services apply.

A platform's connector turns a webhook or a page of polled orders into these plain values;
connectors.services.orders applies them to the ledger. Nothing here knows Django.

An order's `stage` is where its stock stands on the platform, whatever event said so:

    pending    placed, not paid (or awaiting acceptance): no stock effect yet
    open       paid or accepted, not shipped: its units are allocated
    fulfilled  shipped or handed over: on hand and allocated go down together
    cancelled  cancelled, or refunded before it shipped: the allocation is released
    returned   refunded with the goods back (the platform says restocked): on hand goes up

A refund without the goods back, after shipping, stays `fulfilled`. A line may carry its own
stage where the platform tracks lines separately (Unicommerce's items, HighLevel's
fulfilments); otherwise it follows the order's.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime

PENDING, OPEN, FULFILLED, CANCELLED, RETURNED = (
    "pending",
    "open",
    "fulfilled",
    "cancelled",
    "returned",
)
STAGES = (PENDING, OPEN, FULFILLED, CANCELLED, RETURNED)
MAX_QUANTITY = 1_000_000  # a line past this is unreadable, not a sale (a typo or a forgery)


class Unreadable(ValueError):
    """The body cannot be read as the platform's event or order; the message says why, in a
    sentence staff can act on (it is stored on the inbound record and answered as a 400)."""


@dataclass(frozen=True)
class OrderLine:
    """One line of an order: which item (the listing's remote ids, or the SKU as the platform
    knows it), how many, and the platform's id for the line (or one built from the item's
    ids, stable across events and polls)."""

    line_id: str
    quantity: int
    remote_id: str = ""
    remote_parent_id: str = ""
    sku: str = ""
    stage: str | None = None

    def __post_init__(self):
        _check_text(self.line_id, self.remote_id, self.remote_parent_id, self.sku)
        _check_quantity(self.quantity, f"line {self.line_id!r}")
        if self.stage is not None and self.stage not in STAGES:
            raise Unreadable(f"line {self.line_id!r}: unknown stage {self.stage!r}")


@dataclass(frozen=True)
class Order:
    """An order as the platform shows it now. `status` is the platform's own words (shown to
    staff); `stage` is what they mean for stock (above)."""

    order_id: str
    status: str
    stage: str
    lines: tuple = ()
    placed_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self):
        _check_text(self.order_id, self.status)
        if not self.order_id or len(self.order_id) > 128:
            raise Unreadable("an order needs an id of at most 128 characters")
        if self.stage not in STAGES:
            raise Unreadable(f"order {self.order_id!r}: unknown stage {self.stage!r}")
        ids = [line.line_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise Unreadable(f"order {self.order_id!r}: two lines share an id")


@dataclass(frozen=True)
class StockChange:
    """The platform's level for one item changed on its side (staff editing it there, or its
    own sale). `quantity` is the level after the change (None: unlimited); `ours` is True
    when the platform marks the change as our own write (Zettle's externalUuid)."""

    remote_id: str
    quantity: int | None
    remote_parent_id: str = ""
    ours: bool = False
    sale: bool = False  # the platform says this change is a sale (booked from the order)

    def __post_init__(self):
        _check_text(self.remote_id, self.remote_parent_id)
        if self.quantity is not None and not (
            isinstance(self.quantity, int) and abs(self.quantity) <= MAX_QUANTITY * 1000
        ):
            raise Unreadable(f"item {self.remote_id!r}: level {self.quantity!r} is out of range")


@dataclass(frozen=True)
class Event:
    """One delivered webhook, read. `event_id` is the platform's delivery id ("" where it
    sends none); `note` says why an event carries nothing we act on."""

    event_id: str = ""
    topic: str = ""
    orders: tuple = ()
    stock: tuple = ()
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """Whether a webhook is the platform's: `valid`, and the reason in words."""

    valid: bool
    reason: str


@dataclass
class OrderPage:
    """One poll's worth of orders and where the next poll starts (`cursor`, kept on the
    channel as JSON); `more`: another page is waiting now."""

    orders: list = field(default_factory=list)
    cursor: dict = field(default_factory=dict)
    more: bool = False


@dataclass(frozen=True)
class Registration:
    """What registering our webhook URL did: the topics subscribed, and the signing secret
    the platform gave back (None where it gives none: the channel's credential stands)."""

    topics: tuple
    secret: str | None = None
    note: str = ""


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings (a signature, a secret)."""
    return hmac.compare_digest(a.encode(), b.encode())


def header(headers, name: str) -> str:
    """A header's value from a mapping with lower-case names ("" when absent)."""
    return headers.get(name.lower(), "") or ""


def json_object(body, sender: str) -> dict:
    """A webhook body as the JSON object `sender` (a platform's name) sends; Unreadable for
    anything else (not JSON, bad UTF-8, huge numbers, deep nesting, another JSON value)."""
    try:
        value = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        raise Unreadable(f"the body is not JSON ({sender} sends one JSON object)") from None
    if not isinstance(value, dict):
        raise Unreadable(f"the body is JSON but not an object ({sender} sends one JSON object)")
    return value


def whole(value, what: str) -> int:
    """A quantity sent as a number or a string ("2", "2.0"), as a whole number of units."""
    if isinstance(value, bool):
        raise Unreadable(f"{what}: {value!r} is not a quantity")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if "." in value else int(value.strip())
        except ValueError:
            raise Unreadable(f"{what}: {value[:40]!r} is not a quantity") from None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise Unreadable(f"{what}: {value!r} is not a whole number of units")
        value = int(value)
    if not isinstance(value, int):
        raise Unreadable(f"{what}: {value!r} is not a quantity")
    return value


def _check_text(*values):
    for value in values:
        if not isinstance(value, str):
            raise Unreadable(f"{value!r} is not text")
        if "\x00" in value:
            raise Unreadable(f"{value[:40]!r} holds a NUL byte")
        if len(value) > 255:
            raise Unreadable(f"{value[:40]!r}... is longer than 255 characters")


def _check_quantity(quantity, what):
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise Unreadable(f"{what}: quantity {quantity!r} is not a whole number")
    if not 0 < quantity <= MAX_QUANTITY:
        raise Unreadable(f"{what}: quantity {quantity} is not between 1 and {MAX_QUANTITY:,}")
