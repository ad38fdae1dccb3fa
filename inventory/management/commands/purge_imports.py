from django.conf import settings
from django.core.management.base import BaseCommand

from inventory.imports.jobs import job_purge


class Command(BaseCommand):
    help = (
        "Drop the stored files of uploads older than --days (IMPORT_KEEP_DAYS); their totals, "
        "problems and movements stay. Unconfirmed checks that old expire."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.IMPORT_KEEP_DAYS)

    def handle(self, *args, days, **opts):
        dropped = job_purge(days)
        self.stdout.write(f"dropped the files of {dropped} upload(s) older than {days} days")
