"""The admin, where staff keep the catalog and change stock (always through the service)."""

from inventory.admin import catalog, imports, ledger  # noqa: F401  (registers the ModelAdmins)
