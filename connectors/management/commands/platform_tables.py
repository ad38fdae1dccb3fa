"""Print the README's platform tables, or write them into a file between their markers."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connectors.platforms import docs


class Command(BaseCommand):
    help = "Print the platform tables the README shows (--write FILE: replace them there)."

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="FILE", help="the file to rewrite (README.md)")

    def handle(self, *args, write=None, **options):
        if write is None:
            self.stdout.write(docs.tables())
            return
        path = Path(write)
        try:
            path.write_text(docs.rewrite(path.read_text()))
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.stdout.write(f"{path}: platform tables written")
