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
revoked token is an AuthError (as is a 403 missing_scopes).

Answers: 404 resource_not_found (unknown collection or SKU) and 400 validation_error refuse
the item, with Webflow's message and details; 409 ecommerce_not_enabled is a ChannelError.
Webflow has no backorder flag for inventory, so allow_backorder is not sent. Negative targets
are sent as 0 (Webflow refuses a negative quantity).

Rate limit: 60 requests a minute per key on the Starter and Basic plans, 120 on CMS,
eCommerce and Business (setting "requests_per_minute"); every answer carries
X-RateLimit-Remaining, and a 429's Retry-After is typically 60 s.

Sales coming back (channels-inbound.md §1). Orders and webhooks belong to a site: setting
"site_id" (polling and registering need it). Webflow posts {"triggerType", "payload"} for
ecomm_new_order and ecomm_order_changed (the whole Order) and ecomm_inventory_changed (a
SKU's level after the change), signed with x-webflow-timestamp (epoch ms) and
x-webflow-signature: hex HMAC-SHA256 of "timestamp:raw body". There is no delivery id: the
envelope's id is "" and the core dedupes by effect. webflow.payloads reads bodies and orders
(the stage table is there), webflow.polling the orders listing. register_webhooks creates one
webhook per trigger through POST /v2/sites/{site}/webhooks (scope sites:write, besides
ecommerce:read). Webflow takes a paid sale off a finite SKU's quantity itself, but that is the
number our absolute writes replace: it holds nothing apart from what we send, so our
ledger must book the order before the next push (the push engine takes in waiting
deliveries first).

Choices where the docs are silent:
- A site-token webhook gets its own secretKey, once, at creation, so the three webhooks have
  three secrets: the credential "webhook_secret" keeps them separated by spaces, and a
  delivery is valid when it matches any of them. For webhooks of an OAuth app it is the
  app's client secret. Registering again creates three new webhooks (new secrets), then
  deletes the earlier ones for the same URL: no gap, and a delivery twice only in between
  (the core dedupes by effect). The stage of each status, the line ids and the poll's
  cursor are chosen in webflow.payloads and webflow.polling.
- The 5 minute tolerance applies both ways (a timestamp 5 minutes ahead is refused too).
  Without a secret every delivery is refused: dashboard webhooks, which Webflow does not
  sign, cannot be told from a forgery.
- A listed order that cannot be read stops the poll with the reason (Unreadable) rather
  than being skipped: skipped, its sale would never be booked.
- Webflow's listing carries whole orders (purchasedItems included): no detail fetch.
- The secret's field is read as `secretKey`, else `secret` (the sources disagree).
- ecomm_inventory_changed carries no SKU collection id: its change has only the SKU id.
"""

from datetime import UTC, datetime
from urllib.parse import quote

from connectors.exceptions import ConfigError
from connectors.platforms.base import ABSOLUTE, Batch, Capabilities, Connector, Level, Setting
from connectors.platforms.inbound import Registration, Unreadable, Verdict, hmac_hex, same
from connectors.platforms.webflow import payloads, polling

VERSION_PATH = "/v2"
PLAN_RATES = (60, 120)
TIMESTAMP, SIGNATURE = "x-webflow-timestamp", "x-webflow-signature"
TOLERANCE_MS = 5 * 60 * 1000
MAX_SECRETS = 8  # secrets tried per delivery (three webhooks, and an app's client secret)


class WebflowConnector(Connector):
    platform = "webflow"
    credential_fields = (
        Setting(
            "token",
            "Site API token",
            help="A site token or OAuth access token with ecommerce:read and ecommerce:write "
            "(and sites:write to register webhooks).",
        ),
        Setting(
            "webhook_secret",
            "Webhook signing secrets",
            required=False,
            help="Kept by Register webhooks: the secretKey of each webhook, separated by "
            "spaces; for webhooks of an OAuth app, its client secret.",
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
        Setting(
            "site_id",
            "Site id",
            required=False,
            help="The site whose orders are polled and whose webhooks are registered.",
        ),
    )
    webhooks = True
    stock_events = True
    polls_orders = True
    registers_webhooks = True

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

    # ------------------------------------------------------------------ sales coming back

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        secrets = [s for s in secret.split() if s.isprintable()] if isinstance(secret, str) else []
        if not secrets:
            return Verdict(False, "the channel has no webhook signing secret: register webhooks")
        stamp, signature = _header(headers, TIMESTAMP), _header(headers, SIGNATURE)
        if not stamp or not signature:
            missing = " and ".join(
                n for n, v in ((TIMESTAMP, stamp), (SIGNATURE, signature)) if not v
            )
            return Verdict(False, f"no {missing} header: not signed by Webflow")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 15):
            return Verdict(False, f"{TIMESTAMP} is not a time in epoch milliseconds")
        if not isinstance(body, bytes | bytearray):
            return Verdict(False, "the body is not bytes")
        message = stamp.encode() + b":" + bytes(body)
        signature = signature.strip().lower() if signature.isascii() else ""
        if not any(same(hmac_hex(s, message), signature) for s in secrets[:MAX_SECRETS]):
            return Verdict(False, f"{SIGNATURE} does not match the body and the channel's secret")
        age = now * 1000 - int(stamp)
        if not abs(age) <= TOLERANCE_MS:  # `not <=`: a NaN clock is refused too
            return Verdict(False, f"{TIMESTAMP} is {age / 1000:.0f} s from now, past 5 minutes")
        return Verdict(True, "signed by Webflow within 5 minutes")

    @classmethod
    def webhook_envelope(cls, headers, body):
        return "", payloads.envelope(body)[0]

    def read_webhook(self, headers, body):
        return payloads.read_event(body)

    def poll_orders(self, cursor, since=None):
        site = self._site("poll orders")
        return polling.poll(
            cursor,
            since,
            datetime.now(UTC),
            count=lambda: self._orders(site, "", 0, limit=1)[1],
            page=lambda status, offset: self._orders(site, status, offset, polling.LIMIT),
            fetch=lambda order_id: self._order(site, order_id),
        )

    def register_webhooks(self, url):
        site = self._site("register webhooks")
        earlier = [
            hook["id"]
            for hook in self._webhooks(site)
            if hook.get("id")
            and hook.get("url") == url
            and hook.get("triggerType") in payloads.TOPICS
        ]
        secrets = [self._create_webhook(site, topic, url) for topic in payloads.TOPICS]
        for webhook_id in earlier:
            self._delete_webhook(webhook_id)
        kept = [s for s in secrets if s]
        note = f"replaced {len(earlier)} earlier webhooks for this URL" if earlier else ""
        return Registration(payloads.TOPICS, " ".join(kept) or None, note)

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
        body = _json(response)
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

    def _api(self, method, path, purpose, **kwargs):
        return self.request(method, path, url=self.api_root + path, purpose=purpose, **kwargs)

    def _site(self, doing):
        site = self.setting("site_id")
        if not site:
            raise ConfigError(f"{self.platform} channel: setting 'Site id' is needed to {doing}")
        return quote(site, safe="")

    def _orders(self, site, status, offset, limit):
        """(Orders, total) of one page of the site's orders ("" status: every status)."""
        params = {"offset": offset, "limit": limit, **({"status": status} if status else {})}
        response = self._api("GET", f"/sites/{site}/orders", "orders", params=params)
        if response.status_code != 200:
            self.channel_error(response, "refused to list orders")
        body = _json(response)
        orders, total = body.get("orders"), (body.get("pagination") or {}).get("total")
        if not isinstance(orders, list) or isinstance(total, bool) or not isinstance(total, int):
            raise Unreadable("Webflow's order listing has no orders list and pagination.total")
        return [payloads.read_order(order) for order in orders], total

    def _order(self, site, order_id):
        response = self._api("GET", f"/sites/{site}/orders/{quote(order_id, safe='')}", "orders")
        if response.status_code == 404 and _json(response).get("code") == "resource_not_found":
            return None
        if response.status_code != 200:
            self.channel_error(response, f"refused to show order {order_id}")
        return payloads.read_order(_json(response))

    def _webhooks(self, site):
        response = self._api("GET", f"/sites/{site}/webhooks", "webhooks")
        if response.status_code != 200:
            self.channel_error(response, "refused to list webhooks")
        hooks = _json(response).get("webhooks")
        return [h for h in hooks if isinstance(h, dict)] if isinstance(hooks, list) else []

    def _create_webhook(self, site, topic, url):
        """Create one webhook; its signing secret (returned only now), or ""."""
        body = {"triggerType": topic, "url": url}
        response = self._api("POST", f"/sites/{site}/webhooks", "webhooks", json=body)
        if response.status_code not in (200, 201):
            self.channel_error(response, f"refused the {topic} webhook")
        body = _json(response)
        secret = body.get("secretKey") or body.get("secret") or ""
        if not isinstance(secret, str):
            return ""
        self.redactor.add(secret)  # the exchange keeps the answer: not the secret in it
        self.exchanges[-1].response_body = self.redactor.text(self.exchanges[-1].response_body)
        return secret

    def _delete_webhook(self, webhook_id):
        response = self._api("DELETE", f"/webhooks/{quote(str(webhook_id), safe='')}", "webhooks")
        if response.status_code not in (200, 204, 404):  # 404: deleted already
            self.channel_error(response, f"refused to delete the earlier webhook {webhook_id}")


def _header(headers, name):
    value = headers.get(name, "") if hasattr(headers, "get") else ""
    return value.strip() if isinstance(value, str) else ""


def _json(response):
    """The answer's JSON object ({} when it is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
