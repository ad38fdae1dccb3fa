from inventory.imports.catalog import CatalogResource
from inventory.management.commands._sheet_import import SheetImportCommand


class Command(SheetImportCommand):
    help = (
        "Import a catalog file: products and variants, created or updated by SKU. "
        "All of it or nothing; exit 1 if refused."
    )

    def resource(self, opts):
        return CatalogResource()
