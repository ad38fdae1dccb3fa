from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from connectors.services.retention import push_records_purge


class Command(BaseCommand):
    help = (
        "Delete push records older than --days (PUSH_RECORD_DAYS), keeping each listing's "
        "latest exchange and latest write whatever their age."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.SYNC["PUSH_RECORD_DAYS"])

    def handle(self, *args, days, **opts):
        if days < 1:
            raise CommandError(f"--days must be at least 1, not {days}")
        deleted = push_records_purge(days=days)
        self.stdout.write(f"deleted {deleted} push record(s) older than {days} days")
