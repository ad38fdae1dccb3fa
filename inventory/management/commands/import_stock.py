from django.core.management.base import CommandError

from inventory.imports.stock import COUNT, MODES, StockResource
from inventory.management.commands._sheet_import import SheetImportCommand
from inventory.models import Location


class Command(SheetImportCommand):
    help = (
        "Import a stock file as one movement (source import, reference the file's name): "
        "count sets on hand, adjust adds or removes. All of it or nothing; exit 1 if refused."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--mode", choices=list(MODES), default=COUNT)
        parser.add_argument(
            "--location", help="every row is for this location code (the column may be left out)"
        )
        parser.add_argument(
            "--reason",
            default="",
            help="the movement's reason (adjust: needed unless the file has a reason column)",
        )

    def resource(self, opts):
        code = opts["location"]
        if code and not Location.objects.with_codes([code]).exists():
            raise CommandError(f"unknown location {code!r}")
        try:
            return StockResource(mode=opts["mode"], reason=opts["reason"], location=code)
        except ValueError as exc:
            raise CommandError(f"--reason: {exc}") from exc
