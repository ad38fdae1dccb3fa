from connectors.platforms.base import PushItem
from connectors.platforms.testing import Hooks

SKU_COLLECTION = "6377a7c4b7a79608c34a46f7"
TOKEN = "wf-sandbox-site-token"
SITE = "wf-sandbox-site"  # the sandbox's default site, which holds its orders and webhooks


class WebflowHooks(Hooks):
    renews_tokens = False  # a site token does not expire; a revoked one is an AuthError
    static_login = True
    error_keys = frozenset({"code", "message", "externalReference", "details"})
    probe = ("GET", "/v2/collections/c1/items/s1/inventory", {})

    def credentials(self):
        return {"token": TOKEN}

    def bad_credentials(self):
        return {"token": "wf-not-a-real-token"}

    def settings(self):
        return {"site_id": SITE}

    def make_items(self, n, quantity=0):
        return [
            PushItem(
                key=i,
                remote_id=f"sku{i:04d}",
                remote_parent_id=SKU_COLLECTION,
                quantity=quantity,
                sku=f"SKU-{i}",
            )
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(
            items=[
                {
                    "collectionId": i.remote_parent_id,
                    "skuId": i.remote_id,
                    "quantity": quantity,
                    "sku": i.sku,
                }
                for i in items
            ]
        )

    def remote_quantity(self, sandbox, item):
        collection = sandbox.state()["collections"][item.remote_parent_id]
        row = collection["items"][item.remote_id]
        return None if row["inventoryType"] == "infinite" else row["quantity"]

    def unknown_item(self, key):
        return PushItem(key=key, remote_id="sku-unknown", remote_parent_id=SKU_COLLECTION)

    def login(self, url):
        return {"Authorization": f"Bearer {TOKEN}"}

    def prepare_probe(self, sandbox):
        sandbox.seed(items=[{"collectionId": "c1", "skuId": "s1", "quantity": 5}])

    def documented_limits(self):
        # The CMS, eCommerce and Business plans' 120 requests a minute.
        return {"rate_per_minute": 120}, {"requests_per_minute": 120}
