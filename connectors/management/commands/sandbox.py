"""Serve the channel sandboxes in the foreground: `manage.py sandbox [--platform NAME]`."""

from django.core.management.base import BaseCommand, CommandError

try:  # the sandboxes are an extra (Werkzeug): the command says so instead of a traceback
    from connectors.platforms.sandbox.serve import sandboxed, serve_forever
except ImportError as exc:  # pragma: no cover - exercised where the extra is not installed
    serve_forever = sandboxed = None
    MISSING = str(exc)


class Command(BaseCommand):
    help = "Serve one channel sandbox, or every platform's on its default port, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--platform", help="a platform's name (default: all)")
        parser.add_argument("--port", type=int, help="only with --platform")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, platform=None, port=None, host="127.0.0.1", **options):
        if serve_forever is None:
            raise CommandError(
                f"the sandboxes need the 'sandboxes' extra ({MISSING}): "
                "pip install -e '.[sandboxes]'"
            )
        names = [p.name for p in sandboxed()]
        if platform is not None and platform not in names:
            raise CommandError(f"no sandbox for {platform!r}; choose from {', '.join(names)}")
        if port is not None and platform is None:
            raise CommandError("--port needs --platform: each sandbox needs its own port")
        ports = {platform: port} if port is not None else {}
        self.stdout.write("Serving channel sandboxes (Ctrl-C to stop):")
        serve_forever([platform] if platform else names, ports, host=host, out=self.stdout.write)
