from connectors.platforms.base import PushItem
from connectors.platforms.highlevel.demo import LOCATION
from connectors.platforms.testing import Hooks

VERSION = "2021-07-28"


class HighLevelHooks(Hooks):
    static_login = True
    error_keys = frozenset({"statusCode", "message"})
    probe = ("GET", "/products/inventory", {"params": {"altId": LOCATION, "altType": "location"}})

    def credentials(self):
        return {
            "client_id": "hl-sandbox-client-id",
            "client_secret": "hl-sandbox-client-secret",
            "refresh_token": "hl-sandbox-refresh-token",
        }

    def bad_credentials(self):
        return {"token": "pit-not-a-real-token"}

    def settings(self):
        return {"location_id": LOCATION}

    def make_items(self, n, quantity=0):
        return [
            PushItem(key=i, remote_id=f"price{i:020d}", quantity=quantity, sku=f"SKU-{i}")
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(items=[{"priceId": i.remote_id, "availableQuantity": quantity} for i in items])

    def remote_quantity(self, sandbox, item):
        return sandbox.state()["locations"][LOCATION][item.remote_id]["availableQuantity"]

    def login(self, url):
        return {"Authorization": "Bearer pit-hl-sandbox-token", "Version": VERSION}

    def webhook_setup(self, sandbox, url):
        """HighLevel has no API for it: the app's settings take the URL (the sandbox's control
        route); the channel then checks signatures with the sandbox's public keys."""
        sandbox.control("POST", "webhooks", {"url": url})
        keys = sandbox.state()["webhook_public_keys"]
        return {"webhook_public_key": keys["ed25519"] + keys["rsa"]}
