"""Elastic Path Composable Commerce > Inventories (channels.md §4).

Base URL: the API host without /v2 (https://useast.api.elasticpath.com or
https://euwest.api.elasticpath.com), because the token endpoint is outside /v2; the connector
adds /v2 to API paths (a base URL given with /v2 is accepted and trimmed).
Credentials: "client_id" and "client_secret" of a client_credentials grant (the stock
transactions are for administrators); the token is renewed when expires_in runs out and on a 401.
Settings:
- "location_slug": empty for basic ("legacy") inventories; set, for multi-location mode.
- "untracked_quantity" (default 9999): Elastic Path has no infinite stock, so an untracked
  variant is shown as this many units; reads report it back as untracked (None).
- "development_store": a development store's rate limit is 25 rps instead of 100.

Basic mode (delta): per batch of up to READ_BATCH items, one POST /v2/inventories/multiple
reads `available`, then each item that differs gets one POST /v2/inventories/{id}/transactions
increment or decrement of the difference. A transaction is never resent: if its answer is lost
the sync retries the push, which reads again first.
Multi-location mode (absolute): the same read with EP-Inventories-Multi-Location: true, then
`set` at the slug. `set` sets the location's total (available + allocated), so we send the
target plus what that location holds allocated (paid orders awaiting shipment): the channel
then shows the target as available, and a checkout that allocates between our read and our set
still counts against it.
Writes are one product per request, so batch_max is 1; `batches` groups items by read instead.
"""

from connectors.exceptions import AuthError, TransientError
from connectors.platforms.base import Batch, Capabilities, Connector, Setting

READ_BATCH = 100  # ids per POST /inventories/multiple: the API's page limit, none documented
MLI_HEADER = "EP-Inventories-Multi-Location"
UNTRACKED = 9999
ITEM_STATUSES = (400, 404, 409, 422)  # the product's own refusal: the others go on


class ElasticPathConnector(Connector):
    platform = "elasticpath"
    uses_token = True
    credential_fields = (
        Setting("client_id", "Client id"),
        Setting("client_secret", "Client secret"),
    )
    setting_fields = (
        Setting(
            "location_slug",
            "Location slug",
            required=False,
            help="Multi-location inventories: the location to set. Empty: basic inventories.",
        ),
        Setting(
            "untracked_quantity",
            "Quantity shown for untracked variants",
            required=False,
            help=f"Elastic Path has no infinite stock (default {UNTRACKED}).",
            kind="int",
        ),
        Setting(
            "development_store", "Development store (25 requests/s)", required=False, kind="bool"
        ),
    )

    def __init__(self, *, base_url, **kwargs):
        base_url = base_url.rstrip("/")
        super().__init__(base_url=base_url.removesuffix("/v2"), **kwargs)

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        slug = settings.get("location_slug") or ""
        if len(str(slug)) > 128:
            problems.append("the location slug is at most 128 characters")
        untracked = settings.get("untracked_quantity")
        if untracked not in (None, "") and not str(untracked).strip().isdigit():
            problems.append("the quantity shown for untracked variants is a whole number >= 0")
        return problems

    @property
    def slug(self):
        return str(self.settings.get("location_slug") or "").strip()

    @property
    def untracked(self):
        value = self.settings.get("untracked_quantity")
        return UNTRACKED if value in (None, "") else int(value)

    @property
    def capabilities(self):
        dev = str(self.settings.get("development_store", "")).lower() in ("1", "true", "yes", "on")
        return Capabilities(
            writes="absolute" if self.slug else "delta",
            batch_max=1,
            reads_levels=True,
            rate_limit=(25 if dev else 100, 1),
        )

    def batches(self, items):
        return [items[i : i + READ_BATCH] for i in range(0, len(items), READ_BATCH)]

    def obtain_token(self):
        response = self.send_unauthenticated(
            "POST",
            self.base_url + "/oauth/access_token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
            },
        )
        if response.status_code != 200:
            self.exchanges[-1].outcome = "auth"
            raise AuthError(f"elasticpath refused the client credentials: {_message(response)}")
        body = response.json()
        return body["access_token"], int(body.get("expires_in") or 3600)

    def retry_after(self, response):
        # No rate-limit header is documented; the SDK waits attempt x 1 s plus jitter.
        value = response.headers.get("Retry-After", "")
        try:
            return max(float(value), 1.0), False
        except ValueError:
            return 1.0, False

    # ------------------------------------------------------------------ writes

    def push_batch(self, items):
        batch, written = Batch(items), set()
        stock = self._stock(items)
        read = self.exchanges[-1]
        for item in items:
            target = self.untracked if item.quantity is None else max(item.quantity, 0)
            shown = None if item.quantity is None else target
            level = stock.get(item.remote_id)
            if level is None:
                batch.rejected(item, "No stock found: the product has no inventory")
            elif level["available"] == target:
                batch.ok(item, shown)
            else:
                self._write(batch, item, target, shown, level)
                written.add(item.key)
        # Outcomes decided by the read alone are kept on it, so each has a record.
        read.items = [o.__dict__ for o in batch.result() if o.key not in written]
        missing = sum(i.remote_id not in stock for i in items)
        read.outcome = "ok" if not missing else "rejected" if missing == len(items) else "partial"
        return batch.result()

    def _write(self, batch, item, target, shown, level):
        if self.slug:
            attributes = {
                "action": "set",
                "quantity": target + level["allocated"],
                "location": self.slug,
            }
            body = {"data": {"type": "stock-transaction", "attributes": attributes}}
        else:
            change = target - level["available"]
            body = {
                "data": {
                    "type": "stock-transaction",
                    "quantity": abs(change),
                    "action": "increment" if change > 0 else "decrement",
                }
            }
        response = self.request(
            "POST",
            f"/v2/inventories/{item.remote_id}/transactions",
            purpose="write",
            keys=[item.key],
            json=body,
            headers=self._mode_headers(),
        )
        status = response.status_code
        if status in (200, 201):
            batch.ok(item, shown)
        elif status == 404 and self.slug and "location" in _message(response).lower():
            self.channel_error(response, f"does not know the location '{self.slug}'")
        elif status in ITEM_STATUSES:
            self.exchanges[-1].outcome = "rejected"
            batch.rejected(item, _message(response))
        else:
            self.channel_error(response, "refused the stock transaction")
        self.exchanges[-1].items = [batch.outcomes[item.key].__dict__]

    # ------------------------------------------------------------------ reads

    def _mode_headers(self):
        return {MLI_HEADER: "true"} if self.slug else {}

    def _stock(self, items):
        """{product id: {"available", "allocated"}} at our location (basic: the product's)."""
        try:
            response = self.request(
                "POST",
                "/v2/inventories/multiple",
                purpose="read",
                keys=[i.key for i in items],
                json={"data": [{"id": i.remote_id} for i in items]},
                headers=self._mode_headers(),
            )
        except TransientError as exc:  # a read applies nothing, though it is a POST
            raise TransientError(str(exc), maybe_applied=False) from exc
        if response.status_code != 200:
            self.channel_error(response, "could not read stock")
        return self._levels(response.json().get("data") or [])

    def _levels(self, rows):
        stock = {}
        for row in rows:
            level = row
            if self.slug:
                located = (row.get("attributes") or {}).get("locations") or {}
                level = located.get(self.slug) or {}  # no stock there yet: set creates it
            stock[str(row.get("id"))] = {
                "available": int(level.get("available") or 0),
                "allocated": int(level.get("allocated") or 0),
            }
        return stock

    def read_levels(self, items):
        levels = {}
        for group in self.batches(items):
            stock = self._stock(group)
            for item in group:
                level = stock.get(item.remote_id)
                if level is None:
                    continue
                untracked = item.quantity is None and level["available"] >= self.untracked
                levels[item.key] = None if untracked else level["available"]
        return levels


def _message(response):
    """Each error's "title: detail" from Elastic Path's {"errors": [...]} body."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return response.text[:300] or f"HTTP {response.status_code}"
    parts = [": ".join(str(e[k]) for k in ("title", "detail") if e.get(k)) for e in errors]
    return "; ".join(p for p in parts if p) or f"HTTP {response.status_code}"
