from inventory.services.catalog import (
    product_archive,
    product_restore,
    variant_archive,
    variant_restore,
)
from inventory.services.stock import StockLine, StockResult, movement_reverse, stock_apply

__all__ = [
    "StockLine",
    "StockResult",
    "movement_reverse",
    "product_archive",
    "product_restore",
    "stock_apply",
    "variant_archive",
    "variant_restore",
]
