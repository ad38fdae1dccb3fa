import requests

from connectors.platforms.base import PushItem
from connectors.platforms.elasticpath.demo import CREDENTIALS
from connectors.platforms.testing import Hooks

SLUG = "york_warehouse"


def product_id(i):
    return f"9eda5ba0-4f4a-4074-8547-{i:012d}"


class ElasticPathHooks(Hooks):
    """Basic ("legacy") inventories: reads, then increments or decrements."""

    error_keys = frozenset({"errors"})
    probe = ("GET", "/v2/inventories", {})

    def credentials(self):
        return dict(CREDENTIALS)

    def bad_credentials(self):
        return {**CREDENTIALS, "client_secret": "not-the-secret"}

    def make_items(self, n, quantity=0):
        return [
            PushItem(key=i, remote_id=product_id(i), quantity=quantity, sku=f"SKU-{i}")
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(items=[{"id": i.remote_id, "available": quantity} for i in items])

    def remote_quantity(self, sandbox, item):
        return sandbox.state()["stock"][item.remote_id]["available"]

    def login(self, url):
        form = {"grant_type": "client_credentials", **CREDENTIALS}
        token = requests.post(f"{url}/oauth/access_token", data=form, timeout=5).json()
        return {"Authorization": f"Bearer {token['access_token']}"}

    def documented_limits(self):
        # A development store's 25 requests a second.
        return {"rps": 25}, {"development_store": True}


class ElasticPathMultiLocationHooks(ElasticPathHooks):
    """Multi-location inventories: `set` at the channel's location slug."""

    def settings(self):
        return {"location_slug": SLUG}

    def make_items(self, n, quantity=0):
        return [
            PushItem(key=i, remote_id=product_id(i), quantity=quantity) for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(
            locations=[{"slug": SLUG}, {"slug": "leeds"}],
            items=[
                {
                    "id": i.remote_id,
                    "available": 2,
                    "locations": {SLUG: {"available": quantity}, "leeds": {"available": 7}},
                }
                for i in items
            ],
        )

    def remote_quantity(self, sandbox, item):
        return sandbox.state()["stock"][item.remote_id]["locations"][SLUG]["available"]
