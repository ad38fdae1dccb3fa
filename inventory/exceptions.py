"""Errors of the stock domain. Messages are read by people: they say what is wrong and where."""

from dataclasses import asdict, dataclass


class InventoryError(Exception):
    """Base of every refusal of the stock domain."""


class LedgerImmutable(InventoryError):
    """Someone tried to change or delete a ledger row or a movement document."""


class IdempotencyConflict(InventoryError):
    """The idempotency key was used before for a different request."""


class InvalidRequest(InventoryError):
    """A request's own fields (key, reason, reference) cannot be stored as given."""


class AlreadyReversed(InventoryError):
    """A movement can be reversed once."""


class NothingToReverse(InventoryError):
    """The movement has no ledger lines."""


# Codes of line errors, shown to users and stored with partial movements.
UNKNOWN_SKU = "unknown_sku"
UNKNOWN_LOCATION = "unknown_location"
INVALID_ACTION = "invalid_action"
INVALID_QUANTITY = "invalid_quantity"
INSUFFICIENT_STOCK = "insufficient_stock"
INSUFFICIENT_ALLOCATED = "insufficient_allocated"
STALE = "stale"
SAME_LOCATION = "same_location"


@dataclass(frozen=True)
class LineError:
    """Why one line of a stock request was refused."""

    line: int
    code: str
    message: str
    sku: str = ""
    location: str = ""

    def __str__(self):
        return f"line {self.line}: {self.message}"

    def as_dict(self):
        return asdict(self)


class StockRefused(InventoryError):
    """One or more lines broke a stock rule; nothing was applied."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__(self._summary())

    def _summary(self):
        if len(self.errors) == 1:
            return self.errors[0].message
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        return f"{len(self.errors)} lines refused, nothing applied: {shown}{more}"
