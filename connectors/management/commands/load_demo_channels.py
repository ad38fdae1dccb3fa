from django.core.management.base import BaseCommand

from connectors.demo import demo_channels, seed_sandboxes


class Command(BaseCommand):
    help = "Create demo channels on the five local sandboxes (--seed: give them their items)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", action="store_true",
                            help="seed the running sandboxes and push every listing")  # fmt: skip

    def handle(self, *args, **opts):
        if opts["seed"]:
            seed_sandboxes()
            self.stdout.write("sandboxes seeded; every demo listing queued for a push")
            return
        demo_channels()
        self.stdout.write("demo channels: HighLevel, Webflow, Unicommerce, Elastic Path, Zettle")
