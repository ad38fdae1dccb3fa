from django.core.management.base import CommandError

from inventory.imports.stock import COUNT, MODES, StockResource
from inventory.management.commands._sheet_import import SheetImportCommand
from inventory.models import Location


class Command(SheetImportCommand):
    help = (
        "Import a stock file as one movement (source import, reference the file's name): "
        "count sets on hand, adjust adds or removes. All of it or nothing; exit 1 if refused. "
        "The same file (content, mode and location) is applied once: a second run says which "
        "movement applied it, unless --again."
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
        parser.add_argument(
            "--again",
            action="store_true",
            help="apply the file even if the same file was applied before",
        )

    def resource(self, opts):
        code = opts["location"]
        if code and not Location.objects.with_codes([code]).exists():
            raise CommandError(f"unknown location {code!r}")
        try:
            return StockResource(mode=opts["mode"], reason=opts["reason"], location=code)
        except ValueError as exc:
            raise CommandError(f"--reason: {exc}") from exc

    def import_options(self, resource, opts, data):
        # The file's key marks its first application; --again applies it without a key.
        own_key = resource.file_key(data)
        return {"file_key": own_key, "key": None if opts["again"] else own_key}
