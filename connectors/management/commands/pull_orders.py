"""Take in the channels' orders now: `pull_orders` for cron, `--since` after an outage."""

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from connectors.exceptions import ConnectorError
from connectors.models import Channel
from connectors.platforms import inbound, registry
from connectors.services.inbound import channel_poll, inbound_process_waiting


class Command(BaseCommand):
    help = (
        "Take in orders from every channel whose platform lists them (or --channel NAME), "
        "from each channel's cursor or from --since, and apply waiting webhook deliveries."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", action="append", help="a channel's name (repeatable)")
        parser.add_argument(
            "--since",
            type=_moment,
            help="catch up from this date or time (ISO, e.g. 2026-12-01 or 2026-12-01T08:00)",
        )

    def handle(self, *args, **opts):
        channels = Channel.objects.prefetch_related("locations").order_by("name")
        names = opts["channel"] or []
        if names:
            channels = channels.filter(name__in=names)
            missing = sorted(set(names) - set(channels.values_list("name", flat=True)))
            if missing:
                raise CommandError(f"no channel named {', '.join(map(repr, missing))}")
        failed = []
        for channel in channels:
            waiting = inbound_process_waiting(channel)
            if waiting.records:
                self.stdout.write(f"{channel.name}: {waiting.records} waiting delivery(ies)")
            if not _polls(channel):
                if names:
                    self.stdout.write(f"{channel.name}: its platform cannot list orders")
                continue
            try:
                polled = channel_poll(channel, since=opts["since"])
            except (ConnectorError, inbound.Unreadable) as exc:
                failed.append(channel.name)
                self.stderr.write(f"{channel.name}: {exc}")
                continue
            self.stdout.write(
                f"{channel.name}: {polled.orders} order(s) in {polled.pages} page(s), "
                f"{polled.movements} movement(s), {polled.attention} need attention"
            )
        if failed:
            raise CommandError(f"could not poll {', '.join(failed)}")


def _polls(channel):
    try:
        return registry.connector_class(channel.platform).polls_orders
    except LookupError:
        return False


def _moment(value):
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date or time") from None
    if len(value) <= 10:
        moment = datetime.combine(moment.date(), time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
