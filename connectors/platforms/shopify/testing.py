"""What the shared tests need to drive Shopify's sandbox (connectors.platforms.testing)."""

import requests

from connectors.platforms.base import PushItem
from connectors.platforms.shopify.connector import API_VERSION
from connectors.platforms.shopify.demo import CREDENTIALS
from connectors.platforms.testing import Hooks

LOCATION = "gid://shopify/Location/1"
OTHER_LOCATION = "gid://shopify/Location/2"
TOKEN = "shpat_sandbox_token"  # the sandbox's admin-created app token
GRAPHQL = f"/admin/api/{API_VERSION}/graphql.json"


def item_gid(i):
    return f"gid://shopify/InventoryItem/{30_000_000 + i}"


class ShopifyHooks(Hooks):
    """A Dev Dashboard app: the client credentials grant (24-hour tokens, renewed)."""

    error_keys = frozenset({"errors"})
    probe = ("POST", GRAPHQL, {"json": {"query": "{ shop { id name } }"}})

    def credentials(self):
        return dict(CREDENTIALS)

    def bad_credentials(self):
        return {**CREDENTIALS, "client_secret": "not-the-secret"}

    def settings(self):
        return {"location_id": LOCATION}

    def make_items(self, n, quantity=0):
        return [
            PushItem(
                key=i,
                remote_id=item_gid(i),
                remote_parent_id=LOCATION,
                quantity=quantity,
                sku=f"SKU-{i}",
            )
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(
            locations=[
                {"id": LOCATION, "name": "Warehouse"},
                {"id": OTHER_LOCATION, "name": "Shop floor"},
            ],
            items=[
                {
                    "id": i.remote_id,
                    "sku": i.sku,
                    "tracked": True,
                    "levels": {
                        i.remote_parent_id or LOCATION: {"available": quantity},
                        OTHER_LOCATION: {"available": 7},
                    },
                }
                for i in items
            ],
        )

    def remote_quantity(self, sandbox, item):
        row = sandbox.state()["items"][item.remote_id]
        if not row.get("tracked", True):
            return None
        return row["levels"][item.remote_parent_id or LOCATION]["available"]

    def unknown_item(self, key):
        return PushItem(key=key, remote_id=item_gid(999_999), remote_parent_id=LOCATION, quantity=1)

    def login(self, url):
        body = {**CREDENTIALS, "grant_type": "client_credentials"}
        token = requests.post(f"{url}/admin/oauth/access_token", json=body, timeout=5).json()
        return {"X-Shopify-Access-Token": token["access_token"]}

    def documented_limits(self):
        # A standard plan's bucket: 2,000 points, refilled at 100 a second.
        return {"bucket": {"maximumAvailable": 2000, "restoreRate": 100}}, {}


class ShopifyTokenHooks(ShopifyHooks):
    """A legacy admin-created custom app: a static X-Shopify-Access-Token."""

    renews_tokens = False
    static_login = True

    def credentials(self):
        return {"access_token": TOKEN}

    def bad_credentials(self):
        return {"access_token": "shpat_not_a_real_token"}

    def login(self, url):
        return {"X-Shopify-Access-Token": TOKEN}
