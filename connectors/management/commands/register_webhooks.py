"""Subscribe the channels' webhook URLs with their platforms."""

from django.core.management.base import BaseCommand, CommandError

from connectors.exceptions import ConnectorError
from connectors.models import Channel
from connectors.services.inbound import channel_register_webhooks


class Command(BaseCommand):
    help = (
        "Register each channel's webhook URL (--base-url + /hooks/<token>/) with its platform "
        "where the platform's API allows; say where to set it by hand where it does not."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            required=True,
            help="this app's public address, e.g. https://stock.example",
        )
        parser.add_argument("--channel", action="append", help="a channel's name (repeatable)")

    def handle(self, *args, **opts):
        base_url = opts["base_url"].rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise CommandError("--base-url must start with http:// or https://")
        channels = Channel.objects.order_by("name")
        if opts["channel"]:
            channels = channels.filter(name__in=opts["channel"])
        failed = []
        for channel in channels:
            try:
                registration = channel_register_webhooks(channel, base_url)
            except NotImplementedError as exc:
                self.stdout.write(f"{channel.name}: {exc}")
                continue
            except ConnectorError as exc:
                failed.append(channel.name)
                self.stderr.write(f"{channel.name}: {exc}")
                continue
            secret = "; signing secret kept" if registration.secret else ""
            self.stdout.write(
                f"{channel.name}: {', '.join(registration.topics)} -> "
                f"{base_url}{channel.webhook_path}{secret}"
            )
        if failed:
            raise CommandError(f"could not register {', '.join(failed)}")
