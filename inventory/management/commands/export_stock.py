import sys

from django.core.management.base import BaseCommand, CommandError

from inventory.imports.formats import CSV, XLSX
from inventory.imports.stock import StockExportResource
from inventory.models import Location, StockLevel

FORMATS = {"csv": CSV, "xlsx": XLSX}


class Command(BaseCommand):
    help = (
        "Export stock levels (sku, name, location, quantity, expected), ready to edit and "
        "import as a count. Cells a spreadsheet would run as formulas are neutralised."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=list(FORMATS), default="csv")
        parser.add_argument("--location", help="only this location code")
        parser.add_argument("-o", "--output", help="write to this file (default: standard output)")

    def handle(self, *args, **opts):
        levels = StockLevel.objects.all()
        if opts["location"]:
            location = Location.objects.with_codes([opts["location"]]).first()
            if location is None:
                raise CommandError(f"unknown location {opts['location']!r}")
            levels = levels.filter(location=location)
        dataset = StockExportResource().export(levels)
        data = FORMATS[opts["format"]]().export_data(dataset)
        if opts["output"]:
            with open(opts["output"], "wb") as handle:
                handle.write(data)
            self.stderr.write(f"{len(dataset):,} levels written to {opts['output']}")
        elif opts["format"] == "csv":
            self.stdout.write(data.decode("utf-8"), ending="")
        else:
            out = getattr(self.stdout, "_out", sys.stdout)
            if out.isatty() or not hasattr(out, "buffer"):
                raise CommandError("XLSX is binary: give --output FILE (or redirect the output)")
            out.buffer.write(data)
