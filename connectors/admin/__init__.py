"""The channel side of the admin: channels, listings (also on each variant's page), drifts,
push records, and the pushes that carried each ledger entry; orders and inbound records."""

from connectors.admin import channels, listings, orders, records  # noqa: F401  (registers them)
