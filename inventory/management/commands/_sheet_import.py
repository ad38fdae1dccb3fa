"""The shared body of the import commands (a leading underscore: not a command itself)."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inventory.imports.console import ProgressBar, read_bytes, refused_text, summary_lines
from inventory.imports.files import FileProblem, read_table


class SheetImportCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("file", help="a CSV (UTF-8) or XLSX file")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report, apply nothing"
        )
        parser.add_argument("--user", help="username to record as the author")

    def resource(self, opts):
        raise NotImplementedError

    def import_options(self, resource, opts, data):
        """Keyword arguments for the resource's import of the file's bytes `data`."""
        return {}

    def handle(self, *args, **opts):
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"unknown user {opts['user']!r}")
        resource = self.resource(opts)
        name = os.path.basename(opts["file"])
        try:
            data = read_bytes(opts["file"])
            dataset = read_table(data)
        except FileProblem as exc:
            raise CommandError(f"{name}: {exc}") from exc
        options = self.import_options(resource, opts, data)
        bar = ProgressBar(getattr(self.stderr, "_out", None))
        try:
            result = resource.import_data(
                dataset, dry_run=opts["dry_run"], file_name=name, user=user, progress=bar, **options
            )
        finally:
            bar.close()
        for line in summary_lines(result, name, opts["dry_run"], again=opts.get("again", False)):
            self.stdout.write(line)
        if result.refused:
            raise CommandError(f"refused, nothing was applied: {refused_text(result.summary())}")
