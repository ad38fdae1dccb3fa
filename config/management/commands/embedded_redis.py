import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.embedded_redis import owned_embedded_redis


class Command(BaseCommand):
    help = "Own the embedded Redis server until Ctrl-C (for running web and worker separately)."

    def handle(self, *args, **opts):
        if not settings.EMBEDDED_REDIS:
            raise CommandError("REDIS_URL is set: there is no embedded server to run")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        with owned_embedded_redis(stdout=self.stdout) as server:
            if server is None:
                return
            stop.wait()
