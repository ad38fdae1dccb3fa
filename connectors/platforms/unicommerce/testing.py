import requests

from connectors.platforms.base import PushItem
from connectors.platforms.testing import Hooks

LOGIN = {"username": "uniware", "password": "uniware-sandbox-password"}


class UnicommerceHooks(Hooks):
    error_keys = frozenset({"status", "message", "failedProductList"})
    probe = ("GET", "/productsCount", {})

    def credentials(self):
        return dict(LOGIN)

    def bad_credentials(self):
        return {"username": "uniware", "password": "not-the-password"}

    def settings(self):
        # batch_max: smaller than the default 1000 so the split test stays quick (the default
        # has its own test). GET: the contract's secrets test then covers a password sent in
        # a query string; the default POST has its own tests.
        # recheck_dispatched_hours 0: a shipped order's return is seen by the next poll.
        return {"batch_max": 100, "auth_method": "GET", "recheck_dispatched_hours": 0}

    def make_items(self, n, quantity=0):
        # Two variants per product, as a marketplace lists sizes of one shirt.
        return [
            PushItem(
                key=i,
                remote_id=f"v{i}",
                remote_parent_id=f"p{(i + 1) // 2}",
                quantity=quantity,
                sku=f"SKU-{i}",
            )
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(
            items=[
                {
                    "productId": i.remote_parent_id,
                    "variantId": i.remote_id,
                    "sku": i.sku,
                    "inventory": quantity,
                }
                for i in items
            ]
        )

    def remote_quantity(self, sandbox, item):
        return self.remote_variant(sandbox, item)["inventory"]

    def remote_variant(self, sandbox, item):
        product = sandbox.state()["products"][item.remote_parent_id]
        return next(v for v in product["variants"] if v["variantId"] == item.remote_id)

    def unknown_item(self, key):
        return PushItem(key=key, remote_id="v-unknown", remote_parent_id="p1", quantity=1)

    def login(self, url):
        token = requests.get(f"{url}/authToken", params=LOGIN, timeout=5).json()["accessToken"]
        return {"apiKey": token}
