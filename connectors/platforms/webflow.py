"""Webflow Data API v2 Ecommerce > Inventory (channels.md §2).

Absolute writes, one SKU per request: PATCH /v2/collections/{SKU collection id}/items/{SKU
id}/inventory with {"inventoryType": "finite", "quantity": N} at the top level, or
{"inventoryType": "infinite"} for an untracked variant. `updateQuantity` is never sent: a
retried delta would be applied twice, while a repeated `quantity` is harmless. Reads GET the
same path. A listing's remote_parent_id is the SKU collection id (not the product
collection's: that gets "SKU collection not specified"), its remote_id the SKU id.

The channel's base_url is the API root without the version (https://api.webflow.com, or the
sandbox's http://127.0.0.1:PORT); this module adds /v2, and tolerates a root already ending
in /v2 so that either spelling works.

Credentials: "token", a site API token or OAuth access token with ecommerce:read and
ecommerce:write. Site tokens do not expire and there is nothing to renew them with, so a
revoked token is an AuthError (as is a 403 missing_scopes). No settings.

Answers: 404 resource_not_found (unknown collection or SKU) and 400 validation_error refuse
the item, with Webflow's message and details; 409 ecommerce_not_enabled is a ChannelError.
Webflow has no backorder flag for inventory, so allow_backorder is not sent. Negative targets
are sent as 0 (Webflow refuses a negative quantity).
"""

from urllib.parse import quote

from connectors.platforms.base import Batch, Capabilities, Connector, Setting

VERSION_PATH = "/v2"


class WebflowConnector(Connector):
    platform = "webflow"
    # 60 requests a minute is the Starter/Basic plan; CMS, eCommerce and Business get 120.
    capabilities = Capabilities(
        writes="absolute", batch_max=1, reads_levels=True, rate_limit=(60, 60), infinite=True
    )
    credential_fields = (
        Setting(
            "token",
            "Site API token",
            help="A site token or OAuth access token with ecommerce:read and ecommerce:write.",
        ),
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.api_root = self.base_url.removesuffix(VERSION_PATH) + VERSION_PATH

    def auth_headers(self):
        return {
            "Authorization": f"Bearer {self.credentials['token']}",
            "Accept": "application/json",
        }

    # ------------------------------------------------------------------ writes

    def push_batch(self, items):
        batch = Batch(items)
        for item in items:
            if not (item.remote_parent_id and item.remote_id):
                batch.rejected(item, "the listing needs its SKU collection id and SKU id")
                continue
            response = self._call("PATCH", item, purpose="write", json=self._body(item))
            if response.status_code == 200:
                batch.ok(item, self._shown(response.json()))
            else:
                batch.rejected(item, self._refusal(response, "refused the inventory update"))
            self.exchanges[-1].items = [batch.outcomes[item.key].__dict__]
        return batch.result()

    @staticmethod
    def _body(item):
        if item.quantity is None:
            return {"inventoryType": "infinite"}
        return {"inventoryType": "finite", "quantity": max(item.quantity, 0)}

    # ------------------------------------------------------------------ reads

    def read_levels(self, items):
        levels = {}
        for item in items:
            if not (item.remote_parent_id and item.remote_id):
                continue
            response = self._call("GET", item, purpose="read")
            if response.status_code == 200:
                levels[item.key] = self._shown(response.json())
            else:  # an unknown SKU is left out: the channel does not know it
                self._refusal(response, "could not read the inventory")
        return levels

    # ------------------------------------------------------------------ helpers

    def _call(self, method, item, *, purpose, **kwargs):
        path = (
            f"/collections/{quote(str(item.remote_parent_id), safe='')}"
            f"/items/{quote(str(item.remote_id), safe='')}/inventory"
        )
        return self.request(
            method, path, url=self.api_root + path, purpose=purpose, keys=[item.key], **kwargs
        )

    @staticmethod
    def _shown(body):
        if body.get("inventoryType") == "infinite":
            return None
        return int(body.get("quantity") or 0)

    def _refusal(self, response, what):
        """The message of a 400/404 that concerns the item; raises for whole-channel errors."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if response.status_code not in (400, 404) or body.get("code") == "ecommerce_not_enabled":
            self.channel_error(response, what)
        self.exchanges[-1].outcome = "rejected"
        details = "; ".join(
            f"{d.get('param', '')}: {d.get('description', '')}".strip(": ")
            for d in body.get("details") or []
            if isinstance(d, dict)
        )
        message = body.get("message") or response.text.strip()[:300] or str(response.status_code)
        return f"{message} ({details})" if details else message
