from connectors.platforms.base import PushItem
from connectors.platforms.testing import Hooks
from tests.platforms.tally.sandbox import KEY


class TallyHooks(Hooks):
    renews_tokens = False  # a static key: revoked, it is an AuthError
    static_login = True
    error_keys = frozenset({"error"})
    probe = ("GET", "/v1/levels", {"params": {"ids": ""}})

    def credentials(self):
        return {"api_key": KEY}

    def bad_credentials(self):
        return {"api_key": "not-the-key"}

    def make_items(self, n, quantity=0):
        return [
            PushItem(key=i, remote_id=f"t{i}", quantity=quantity, sku=f"SKU-{i}")
            for i in range(1, n + 1)
        ]

    def seed(self, sandbox, items, quantity):
        sandbox.seed(items=[{"id": i.remote_id, "quantity": quantity} for i in items])

    def remote_quantity(self, sandbox, item):
        level = sandbox.state()["levels"][item.remote_id]
        return None if level["unlimited"] else level["quantity"]

    def login(self, url):
        return {"X-Api-Key": KEY}


class TallyCompareAndSetHooks(TallyHooks):
    def settings(self):
        return {"write_mode": "compare_and_set"}
