"""Serve the channel sandboxes in the foreground: `manage.py sandbox [--platform NAME]`."""

from django.core.management.base import BaseCommand, CommandError

from connectors.sandboxes import PLATFORMS, serve_forever


class Command(BaseCommand):
    help = "Serve one channel sandbox, or all five on their default ports, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--platform", choices=sorted(PLATFORMS), help="default: all five")
        parser.add_argument("--port", type=int, help="only with --platform")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, platform=None, port=None, host="127.0.0.1", **options):
        if port is not None and platform is None:
            raise CommandError("--port needs --platform: the five sandboxes need five ports")
        platforms = [platform] if platform else list(PLATFORMS)
        ports = {platform: port} if port is not None else {}
        self.stdout.write("Serving channel sandboxes (Ctrl-C to stop):")
        serve_forever(platforms, ports, host=host, out=self.stdout.write)
