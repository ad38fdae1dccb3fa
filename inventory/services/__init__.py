from inventory.services.stock import StockLine, StockResult, movement_reverse, stock_apply

__all__ = ["StockLine", "StockResult", "movement_reverse", "stock_apply"]
