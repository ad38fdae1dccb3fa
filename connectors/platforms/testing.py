"""What the shared tests need to drive a platform's sandbox, declared once per platform.

Each platform's `testing.py` subclasses Hooks: credentials its sandbox accepts (and ones it
refuses), items to push and how to seed them, how to read what the sandbox holds, a logged-in
probe, the keys of its error bodies. The shared contract (tests/connectors/contract.py), the
sandbox control tests, the end-to-end sync tests and the benchmarks use nothing else, so a
new platform is driven by them without a line changed there. `sandbox` below is a running
sandbox's client: `url`, and `seed(**body)` / `state()` on its control API.
"""

import requests

from connectors.platforms.base import PushItem


class Hooks:
    renews_tokens = True  # False: a static token, whose expiry is an AuthError
    static_login = False  # True: the probe's login is a seeded token, no token endpoint
    error_keys = frozenset()  # the keys of the platform's error body
    probe = ("GET", "/", {})  # an authenticated read every fresh sandbox answers 200

    def credentials(self):
        raise NotImplementedError

    def bad_credentials(self):
        raise NotImplementedError

    def settings(self):
        return {}

    def make_items(self, n, quantity=0):
        """PushItems for n remote items (keys 1..n)."""
        raise NotImplementedError

    def seed(self, sandbox, items, quantity):
        """Create the items in the sandbox, each holding `quantity`."""
        raise NotImplementedError

    def remote_quantity(self, sandbox, item):
        """What the sandbox holds for the item (None: unlimited)."""
        raise NotImplementedError

    def unknown_item(self, key):
        """A PushItem the channel does not know (its push must be refused)."""
        return PushItem(key=key, remote_id=f"unknown-{key}", remote_parent_id="", quantity=1)

    def login(self, url):
        """Headers of an authenticated API call on the sandbox at `url`."""
        raise NotImplementedError

    def prepare_probe(self, sandbox):
        """Seed what the probe reads, in a fresh sandbox (most need nothing)."""

    def webhook_setup(self, sandbox, url):
        """Subscribe `url` to the sandbox's webhooks where the platform has no API for it
        (HighLevel's app settings) and return the credentials the channel then needs (its
        signing key); None where the connector's register_webhooks does it through the API,
        or where the platform sends no webhooks."""
        return None

    def documented_limits(self):
        """(sandbox settings, channel settings) that put the sandbox at the rate limit the
        platform documents and tell the channel so (the benchmarks' limited run)."""
        return {}, {}

    def probe_request(self, url, headers=None, **kwargs):
        method, path, extra = self.probe
        kwargs.setdefault("timeout", 5)
        return requests.request(
            method, url + path, headers=headers or self.login(url), **extra, **kwargs
        )
