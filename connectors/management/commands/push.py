"""Queue or run pushes: `push --pending` for cron (the sweeper), `push --channel NAME`."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from connectors import listing_state, queue
from connectors.models import Channel
from connectors.services.push import sync_channel_run


class Command(BaseCommand):
    help = "Queue pushes of pending listings (--pending), or push a channel's listings."

    def add_arguments(self, parser):
        parser.add_argument(
            "--pending", action="store_true", help="queue channels pending too long (for cron)"
        )
        parser.add_argument("--channel", help="a channel's name")
        parser.add_argument(
            "--all",
            action="store_true",
            help="push all its listings, whatever the channel shows (like the admin's Push now)",
        )
        parser.add_argument("--now", action="store_true", help="push here, not through a job")

    def handle(self, *args, **opts):
        if opts["pending"]:
            queued = queue.sweep_pending()
            self.stdout.write(f"queued pushes for {len(queued)} channel(s)")
            return
        if not opts["channel"]:
            raise CommandError("give --pending, or --channel NAME")
        channel = Channel.objects.filter(name=opts["channel"]).first()
        if channel is None:
            raise CommandError(f"no channel named {opts['channel']!r}")
        if opts["all"]:
            marked = listing_state.push_asked(channel.listings.all())
            self.stdout.write(f"{marked} listing(s) marked pending")
        if opts["now"]:
            report = sync_channel_run(channel.pk, f"command-{uuid.uuid4().hex[:12]}")
            self.stdout.write(
                f"pushed {report.pushed}, unchanged {report.unchanged}, failed {report.failed}"
                + (f"; stopped: {report.stopped}" if report.stopped else "")
            )
            if report.stopped == "paused" or report.failed:
                raise CommandError(f"{channel.name}: {report.stopped or 'some listings failed'}")
        elif not queue.request_sync([channel.pk], force=True):
            raise CommandError("could not queue the push (is Redis reachable?)")
