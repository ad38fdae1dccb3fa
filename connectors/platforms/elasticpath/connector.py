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

Basic mode (delta): the engine reads `available` (one POST /v2/inventories/multiple per 100
products), then each item that differs gets one POST /v2/inventories/{id}/transactions
increment or decrement of the difference. A transaction is never resent: if its answer is lost
the sync retries the push, which reads again first. A decrement refused for insufficient stock
(a checkout allocated units since the read) is read again and sent again.
Multi-location mode (absolute): the same read with EP-Inventories-Multi-Location: true, then
`set` at the slug. `set` sets the location's total (available + allocated), so we send the
target plus what that location holds allocated (paid orders awaiting shipment): the channel
then shows the target as available, and a checkout that allocates between our read and our set
still counts against it.
Writes are one product per request (batch_max 1); the engine reads 100 at a time.
Rate limit: 100 requests a second for a production store, 25 for a development store; no
rate-limit header is documented, and the SDK waits attempt x 1 s after a 429.
"""

from types import MappingProxyType

from connectors.exceptions import AuthError, TransientError
from connectors.platforms.base import (
    ABSOLUTE,
    DELTA,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)

READ_BATCH = 100  # ids per POST /inventories/multiple: the API's page limit, none documented
MLI_HEADER = "EP-Inventories-Multi-Location"
ITEM_STATUSES = (400, 404, 409, 422)  # the product's own refusal: the others go on


class ElasticPathConnector(Connector):
    platform = "elasticpath"
    uses_token = True
    default_retry_after = 1.0
    unknown_item = "No stock found: the product has no inventory"
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
        untracked_setting(),
        Setting(
            "development_store",
            "Development store (25 requests/s)",
            required=False,
            kind="bool",
            help="A development store's rate limit is 25 requests a second, not 100.",
        ),
    )

    def __init__(self, *, base_url, **kwargs):
        base_url = base_url.rstrip("/")
        super().__init__(base_url=base_url.removesuffix("/v2"), **kwargs)

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        if len(str(settings.get("location_slug") or "")) > 128:
            problems.append("the location slug is at most 128 characters")
        return problems

    @property
    def slug(self):
        return self.setting("location_slug", "")

    @property
    def capabilities(self):
        return Capabilities(
            writes=ABSOLUTE if self.slug else DELTA,
            batch_max=1,
            reads_levels=True,
            rate_limit=(25 if self.setting("development_store", False) else 100, 1),
            read_max=READ_BATCH,
            read_before_write=bool(self.slug),  # `set` adds what the location has allocated
        )

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

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        for write in writes:
            self._write(batch, write)
        return batch.result()

    def _write(self, batch, write):
        item, shown = write.item, self.shown(write.item, write.target)
        if self.slug:
            allocated = write.current.detail.get("allocated", 0) if write.current else 0
            attributes = {
                "action": "set",
                "quantity": write.target + allocated,
                "location": self.slug,
            }
            body = {"data": {"type": "stock-transaction", "attributes": attributes}}
        else:
            change = write.change
            if change == 0:
                batch.ok(write, shown)
                return
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
        status, message = response.status_code, _message(response)
        if status in (200, 201):
            batch.ok(write, shown)
        elif status == 404 and self.slug and "location" in message.lower():
            self.channel_error(response, f"does not know the location '{self.slug}'")
        elif status == 422 and "insufficient" in message.lower():
            # A checkout allocated units since our read: read again, then decrement what is
            # still over the target (never forced below what is left).
            self.exchanges[-1].outcome = "rejected"
            batch.stale(write, message)
        elif status in ITEM_STATUSES:
            self.exchanges[-1].outcome = "rejected"
            batch.rejected(write, message)
        else:
            self.channel_error(response, "refused the stock transaction")
        batch.record(self.exchanges[-1], [write])

    # ------------------------------------------------------------------ reads

    def _mode_headers(self):
        return {MLI_HEADER: "true"} if self.slug else {}

    def read(self, items):
        stock = self._stock(items)
        levels = {}
        for item in items:
            level = stock.get(item.remote_id)
            if level is not None:
                detail = MappingProxyType({"allocated": level["allocated"]})
                available = level["available"]
                levels[item.key] = Level(self.shown(item, available), available, detail)
        return levels

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


def _message(response):
    """Each error's "title: detail" from Elastic Path's {"errors": [...]} body."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return response.text[:300] or f"HTTP {response.status_code}"
    parts = [": ".join(str(e[k]) for k in ("title", "detail") if e.get(k)) for e in errors]
    return "; ".join(p for p in parts if p) or f"HTTP {response.status_code}"
