"""Announcements of the stock domain. Receivers live in other apps (connectors)."""

from django.dispatch import Signal

# Sent by the stock service inside the transaction, after the ledger rows are written.
# kwargs: movement (Movement), pairs (frozenset of (variant_id, location_id)),
#         variant_ids (frozenset), location_ids (frozenset).
# A receiver may write its own rows in the same transaction; anything else (I/O,
# queueing) belongs in transaction.on_commit(..., robust=True).
stock_changed = Signal()

# Sent inside the transaction when variants stop or start being tracked, or being sold when
# out of stock (the admin's variant form, a catalog file): what channels show of them changes
# though no stock moved. kwargs: variant_ids (frozenset).
selling_rules_changed = Signal()

SELLING_RULES = ("tracked", "allow_backorder")

# Sent inside the transaction when variants are archived (discontinued). kwargs: variant_ids
# (frozenset), unlist (bool): True, the channels stop selling them (their listings go);
# False, they stay listed and are shown as 0. Restoring sends selling_rules_changed: what
# the channels show of them is their stock again.
variants_archived = Signal()
