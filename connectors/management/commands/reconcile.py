"""Compare what each channel holds with what it should show; --fix pushes ours."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from connectors.exceptions import ConfigError, ConnectorError
from connectors.models import Channel
from connectors.services.push import sync_channel_run
from connectors.services.reconcile import channel_reconcile, drift_push_ours


class Command(BaseCommand):
    help = "Report listings whose channel quantity differs from the target (exit 1 if any)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="only this channel (by name)")
        parser.add_argument("--fix", action="store_true", help="push our quantity for each")

    def handle(self, *args, **opts):
        channels = Channel.objects.exclude(mode=Channel.Mode.PAUSED)
        if opts["channel"]:
            channels = Channel.objects.filter(name=opts["channel"])
            if not channels:
                raise CommandError(f"no channel named {opts['channel']!r}")
        remaining = 0
        for channel in channels:
            try:
                drifts = channel_reconcile(channel)
            except ConfigError as exc:
                self.stdout.write(f"{channel.name}: skipped ({exc})")
                continue
            except ConnectorError as exc:
                raise CommandError(f"{channel.name}: could not read levels: {exc}") from exc
            self.stdout.write(f"{channel.name}: {len(drifts)} listing(s) differ")
            for drift in drifts:
                self.stdout.write(
                    f"  {drift.listing.variant.sku}: channel shows {drift.channel_quantity}, "
                    f"should show {drift.target}"
                )
            if drifts and opts["fix"]:
                for drift in drifts:
                    drift_push_ours(drift)
                report = sync_channel_run(channel.pk, f"reconcile-{uuid.uuid4().hex[:12]}")
                self.stdout.write(f"  pushed ours: {report.pushed}, failed {report.failed}")
                remaining += report.failed
            elif drifts:
                remaining += len(drifts)
        if remaining:
            raise CommandError(f"{remaining} listing(s) still differ")
