import logging

from django.core.management.base import BaseCommand

from config.management.commands.load_demo import demo_skus
from connectors.demo import demo_channels, demo_platforms, seed_sandboxes


class Command(BaseCommand):
    help = "Create demo channels on the local sandboxes (--seed: give them their items)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed", action="store_true", help="seed the running sandboxes and push every listing"
        )
        parser.add_argument(
            "--app-url",
            help="with --seed: where the app answers (e.g. http://127.0.0.1:8000), to subscribe "
            "the demo channels to their sandboxes' webhooks",
        )

    def handle(self, *args, **opts):
        if opts["seed"]:
            seed_sandboxes(app_url=opts["app_url"])
            subscribed = "; webhooks subscribed" if opts["app_url"] else ""
            self.stdout.write(f"sandboxes seeded; every demo listing queued for a push{subscribed}")
            return
        # `make run` creates the channels before Redis is up: every new listing's push would
        # warn that it cannot be queued. Nothing is lost (the listings are pending in the
        # database) and `run` pushes them all once the sandboxes are up (--seed).
        jobs_log = logging.getLogger("connectors.queue")
        level = jobs_log.level
        jobs_log.setLevel(logging.ERROR)
        try:
            made = demo_channels(demo_skus())
        finally:
            jobs_log.setLevel(level)
        if made:
            labels = ", ".join(p.label for p in demo_platforms())
            self.stdout.write(f"demo channels: {labels}")
        else:
            self.stdout.write("demo channels: already there, left as they are")
