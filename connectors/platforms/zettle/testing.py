import requests

from connectors.platforms.base import PushItem
from connectors.platforms.testing import Hooks
from connectors.platforms.zettle.demo import CREDENTIALS

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def product_uuid(n):
    return f"0000000{n % 10}-aaaa-4000-8000-{n:012d}"


def variant_uuid(n):
    return f"0000000{n % 10}-bbbb-4000-8000-{n:012d}"


def item(key, product, quantity):
    return PushItem(
        key=key,
        remote_id=variant_uuid(key),
        remote_parent_id=product_uuid(product),
        quantity=quantity,
        sku=f"SKU-{key}",
    )


class ZettleHooks(Hooks):
    error_keys = frozenset({"developerMessage", "errorType", "violations"})
    probe = ("GET", "/organizations/self/locations", {})

    def credentials(self):
        return dict(CREDENTIALS)

    def bad_credentials(self):
        return {**CREDENTIALS, "api_key": "zettle-revoked-api-key"}

    def settings(self):
        # The OAuth, Pusher and Purchase hosts default to the base URL: the sandbox's port.
        return {"contact_email": "ops@example.com"}

    def make_items(self, n, quantity=0):
        # Two variants per product, as a Zettle product with sizes would have.
        return [item(i, (i + 1) // 2, quantity) for i in range(1, n + 1)]

    def seed(self, sandbox, items, quantity, tracked=True):
        products = {}
        for i in items:
            products.setdefault(i.remote_parent_id, {})[i.remote_id] = quantity
        sandbox.seed(
            items=[
                {"productUuid": p, "tracked": tracked, "variants": v} for p, v in products.items()
            ]
        )

    def remote_quantity(self, sandbox, item):
        state = sandbox.state()
        if item.remote_parent_id not in state["tracked"]:
            return None
        rows = state["balances"].get("STORE", [])
        return next((r["balance"] for r in rows if r["variantUuid"] == item.remote_id), 0)

    def login(self, url):
        form = {"grant_type": GRANT, **CREDENTIALS, "assertion": CREDENTIALS["api_key"]}
        form.pop("api_key")
        token = requests.post(f"{url}/token", data=form, timeout=5).json()
        return {"Authorization": f"Bearer {token['access_token']}"}

    def documented_limits(self):
        # 4 requests a second, documented for v3 and assumed for the v1 paths we use.
        return {"limit_all_paths": True, "v3_rps": 4}, {}
