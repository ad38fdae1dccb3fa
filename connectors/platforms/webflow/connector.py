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

Rate limit: 60 requests a minute per key on the Starter and Basic plans, 120 on CMS,
eCommerce and Business (setting "requests_per_minute"); every answer carries
X-RateLimit-Remaining, and a 429's Retry-After is typically 60 s.
"""

from urllib.parse import quote

from connectors.platforms.base import ABSOLUTE, Batch, Capabilities, Connector, Level, Setting

VERSION_PATH = "/v2"
PLAN_RATES = (60, 120)


class WebflowConnector(Connector):
    platform = "webflow"
    credential_fields = (
        Setting(
            "token",
            "Site API token",
            help="A site token or OAuth access token with ecommerce:read and ecommerce:write.",
        ),
    )
    setting_fields = (
        Setting(
            "requests_per_minute",
            "Requests per minute",
            required=False,
            kind="int",
            minimum=1,
            help="The site plan's rate limit: 60 (Starter, Basic; the default) or 120 (CMS, "
            "eCommerce, Business).",
        ),
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.api_root = self.base_url.removesuffix(VERSION_PATH) + VERSION_PATH

    @property
    def capabilities(self):
        rate = self.setting("requests_per_minute", PLAN_RATES[0])
        return Capabilities(
            writes=ABSOLUTE, batch_max=1, reads_levels=True, rate_limit=(rate, 60), infinite=True
        )

    def auth_headers(self):
        return {
            "Authorization": f"Bearer {self.credentials['token']}",
            "Accept": "application/json",
        }

    def problem(self, item):
        if not (item.remote_parent_id and item.remote_id):
            return "the listing needs its SKU collection id and SKU id"
        return ""

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        for write in writes:
            response = self._call("PATCH", write.item, purpose="write", json=self._body(write))
            if response.status_code == 200:
                batch.ok(write, self._shown(response.json()))
            else:
                batch.rejected(write, self._refusal(response, "refused the inventory update"))
            batch.record(self.exchanges[-1], [write])
        return batch.result()

    @staticmethod
    def _body(write):
        if write.target is None:
            return {"inventoryType": "infinite"}
        return {"inventoryType": "finite", "quantity": write.target}

    # ------------------------------------------------------------------ reads

    def read(self, items):
        levels = {}
        for item in items:
            if self.problem(item):
                continue
            response = self._call("GET", item, purpose="read")
            if response.status_code == 200:
                shown = self._shown(response.json())
                levels[item.key] = Level(shown, shown)
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
