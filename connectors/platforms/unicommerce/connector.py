"""Unicommerce's marketplace contract, with us as Uniware (channels.md §3.1; DESIGN.md
"Unicommerce's direction").

The marketplace hosts the contract and our connector calls it as Uniware would: it logs in at
/authToken with the seller's marketplace login, then POSTs /updateInventory with the header
`apiKey: <accessToken>` (raw, no "Bearer") and {"inventoryList": [{"productId":
remote_parent_id, "variantId": remote_id, "inventory": "<N>", "facilityCode"?}]}. The value is
absolute, sent as a string of digits as the current docs show (negative targets as "0"). The
answer's status (SUCCESS, FAILED, PARTIAL_SUCCESS) and failedProductList are mapped to
exactly the failed lines, with the marketplace's message.

Credentials: "username", "password". The marketplace decides how long its token lasts and
does not say, so it is kept until a call answers 401, when the base logs in again.
Settings (all optional):
- "auth_method": "POST" (the default: a JSON body, kept out of the marketplace's access logs)
  or "GET" (the login in the query string, both documented forms; http.Redactor strips it
  from stored exchanges, and config/settings.py keeps urllib3's request-line log quiet).
- "facility_code": the marketplace's warehouse code, sent as facilityCode on every line and
  used to read that facility's stock back.
- "batch_max": lines per request, the marketplace's maximum (1000 unless it says otherwise).
- "untracked_quantity": the contract has no "infinite", so an untracked variant is sent as
  this number (9999 by default) and read back as untracked when the marketplace shows at
  least that.
hsnCode is not sent: a listing carries no HSN code.

Reads use the "elementary" GET /products (pageSize 50), filtered by SKU where we know it.
"""

from connectors.exceptions import AuthError
from connectors.platforms.base import (
    ABSOLUTE,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)

DEFAULT_BATCH = 1000
# No expiry is announced; a 401 renews the token, so this only bounds how stale it gets.
TOKEN_LIFETIME = 30 * 86_400
PAGE = 50


class UnicommerceConnector(Connector):
    platform = "unicommerce"
    credential_fields = (
        Setting("username", "Marketplace username"),
        Setting("password", "Marketplace password"),
    )
    setting_fields = (
        Setting(
            "auth_method",
            "Login method",
            required=False,
            kind="choice",
            choices=("POST", "GET"),
            help="POST (default: a JSON body) or GET (the login in the query string).",
        ),
        Setting(
            "facility_code",
            "Facility code",
            required=False,
            help="The marketplace's warehouse code, sent on every line and read back.",
        ),
        Setting(
            "batch_max",
            "Lines per request",
            required=False,
            kind="int",
            minimum=1,
            help=f"The marketplace's maximum; {DEFAULT_BATCH} by default.",
        ),
        untracked_setting(),
    )
    uses_token = True

    @property
    def capabilities(self):
        # Uniware itself pushes every 10 minutes; the contract states no request limit, so
        # a request a second is our own courtesy pace [I]. Reads scan the catalogue once.
        return Capabilities(
            writes=ABSOLUTE,
            batch_max=self.setting("batch_max", DEFAULT_BATCH),
            reads_levels=True,
            rate_limit=(60, 60),
            read_max=100_000,
        )

    # ------------------------------------------------------------------ auth

    def obtain_token(self):
        login = {"username": self.credentials["username"], "password": self.credentials["password"]}
        url, accept = self.base_url + "/authToken", {"Accept": "application/json"}
        if self.setting("auth_method", "POST").upper() == "GET":
            response = self.send_unauthenticated("GET", url, params=login, headers=accept)
        else:
            response = self.send_unauthenticated("POST", url, json=login, headers=accept)
        if response.status_code == 429 or response.status_code >= 500:
            self.judge(response)
        body = _json(response)
        if response.status_code not in (200, 401, 403):
            self.channel_error(response, "has no usable /authToken at this address")
        if body.get("status") != "SUCCESS" or not body.get("accessToken"):
            self.exchanges[-1].outcome = "auth"
            raise AuthError(
                f"unicommerce marketplace refused the login ({response.status_code}: "
                f"{body.get('status') or 'no token'})"
            )
        return body["accessToken"], TOKEN_LIFETIME

    def auth_headers(self):
        return {"apiKey": self.auth_state["access_token"], "Accept": "application/json"}

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        response = self.request(
            "POST",
            "/updateInventory",
            purpose="write",
            keys=[w.key for w in writes],
            json={"inventoryList": [self._line(w) for w in writes]},
        )
        body = _json(response)
        failures = [f for f in body.get("failedProductList") or [] if isinstance(f, dict)]
        status = str(body.get("status") or "").upper()
        if not failures and (response.status_code != 200 or status != "SUCCESS"):
            # Nothing pinned on a line: the request itself was refused (too long, malformed).
            self.channel_error(response, "refused the inventory update")
        batch = Batch(writes)
        unmatched = []
        for row in failures:
            ids = (str(row.get("productId", "")), str(row.get("variantId", "")))
            culprits = [
                w for w in writes if (str(w.item.remote_parent_id), str(w.item.remote_id)) == ids
            ]
            for write in culprits:
                batch.rejected(write, str(row.get("message") or "refused by the marketplace"))
            if not culprits:
                unmatched.append(str(row.get("message") or ids))
        for write in writes:
            if write.key in batch.outcomes:
                continue
            if status == "FAILED" or unmatched:
                # Not refused itself, but not known to be applied: an absolute resend is safe.
                batch.retry(write, "the marketplace failed the batch: " + "; ".join(unmatched))
            else:
                batch.ok(write, self.shown(write.item, write.target))
        outcomes = batch.result()
        record = self.exchanges[-1]
        batch.record(record)
        if not all(o.ok for o in outcomes):
            record.outcome = "partial" if any(o.ok for o in outcomes) else "rejected"
        return outcomes

    def _line(self, write):
        item = write.item
        line = {
            "productId": str(item.remote_parent_id),
            "variantId": str(item.remote_id),
            "inventory": str(write.target),
        }
        if self.setting("facility_code"):
            line["facilityCode"] = self.setting("facility_code")
        return line

    # ------------------------------------------------------------------ reads

    def read(self, items):
        found = {}
        with_sku = [i for i in items if i.sku]
        # The SKU filter saves paging the whole catalogue; what it misses is looked for there.
        for start in range(0, len(with_sku), PAGE):
            chunk = with_sku[start : start + PAGE]
            self._scan(chunk, found, skus=",".join(i.sku for i in chunk))
        rest = [i for i in items if i.key not in found]
        if rest:
            self._scan(rest, found)
        return found

    def _scan(self, items, found, skus=None):
        wanted = {(str(i.remote_parent_id), str(i.remote_id)): i for i in items}
        page, left = 1, len(wanted)
        while left:
            params = {"pageNumber": page, "pageSize": PAGE, "publishedStatus": "PUBLISHED"}
            if skus:
                params["skus"] = skus
            response = self.request("GET", "/products", purpose="read", params=params)
            if response.status_code != 200:
                self.channel_error(response, "could not list products")
            products = _json(response).get("products") or []
            for product in products:
                for variant in product.get("variants") or []:
                    item = wanted.get((str(product.get("id")), str(variant.get("variantId"))))
                    if item is not None and item.key not in found:
                        held = self._held(variant)
                        found[item.key] = Level(self.shown(item, held), held)
                        left -= 1
            if len(products) < PAGE:
                break
            page += 1

    def _held(self, variant):
        by_facility = variant.get("facilityInventory") or {}
        return int(by_facility.get(self.setting("facility_code"), variant.get("inventory")) or 0)


def _json(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
