"""Zettle (PayPal) Inventory API, v1/v2 paths (channels.md §5).

Delta writes: Zettle cannot set a balance, it moves a positive `change` between locations.
Per batch we read the STORE right before writing: GET .../inventory/locations/{STORE}, one
request that also lists `trackedProducts` (it returns the whole STORE; POST
.../inventory/products would read only the batch but cannot tell untracked from zero). Then
one PUT /organizations/self/inventory moves the differences, SUPPLIER -> STORE to add and
STORE -> BIN to remove, with a fresh externalUuid (it only correlates the webhooks Zettle
sends back; it does not deduplicate).
(The v1 PUT, not the v2 bulk, because only it documents externalUuid.) The STORE balances
it returns are the quantities we report. A movement is never resent: a write that fails or
loses its answer is retried by the sync, which reads again first. After a 422 (tracking
stopped, or a sale since our read) we read again and move what is still missing, up to three
rounds: the fresh read makes that safe even if Zettle applied part of the refused request.
A 400/404 naming an item fails that item with Zettle's developerMessage.

Products are tracked per product. Those not tracked yet are started with a v2 bulk
START_TRACKING *without* variantChanges, then read again, then moved: Zettle keeps the levels
of a product whose tracking stopped, so starting and moving from an assumed 0 in one call
would add our target on top of the kept level (the doubling of channels.md §6). A write
answered 422 PRODUCT_NOT_TRACKED (tracking stopped after our read) reads again and starts it.

Untracked variants (quantity None) get the setting "untracked_quantity" (default 9999) at
STORE: STOP_TRACKING is product-wide and would make the variant's tracked siblings unlimited
too. A product that Zettle does not track already sells without limit, so its untracked
variants are left alone.

Credentials: "client_id" and "api_key" (the assertion of the JWT-bearer grant; the token lasts
7200 s, has no refresh token and is granted again when it expires or on a 401).
Settings: "oauth_url", the OAuth host: https://oauth.zettle.com when the base URL is the real
inventory host, else the base URL itself (the sandbox serves both on one port).
Items: remote_parent_id = productUuid, remote_id = variantUuid. The four system location uuids
are read once and kept in auth_state["locations"]. Rate limit: 4 rps, documented for v3 only;
assumed for v1/v2 too. A 429 waits Retry-After, else 1 s. Batches of 100 changes [I].
"""

import re
import uuid

from connectors.exceptions import AuthError
from connectors.platforms.base import Batch, Capabilities, Connector, Setting

REAL_INVENTORY = "https://inventory.izettle.com"
REAL_OAUTH = "https://oauth.zettle.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG = "/organizations/self"
ATTEMPTS = 3  # reads-then-writes per batch when the channel moved under us
CHANGE_INDEX = re.compile(r"^changes\[(\d+)\]")


class ZettleConnector(Connector):
    platform = "zettle"
    capabilities = Capabilities(writes="delta", batch_max=100, reads_levels=True, rate_limit=(4, 1))
    credential_fields = (
        Setting("client_id", "Client id"),
        Setting("api_key", "API key", help="Sent as the assertion of the JWT-bearer grant."),
    )
    setting_fields = (
        Setting(
            "oauth_url",
            "OAuth URL",
            required=False,
            help="Default: https://oauth.zettle.com for the real inventory host.",
        ),
        Setting(
            "untracked_quantity",
            "Quantity shown for untracked variants",
            required=False,
            help="Default 9999.",
            kind="int",
        ),
    )
    uses_token = True

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        url = settings.get("oauth_url")
        if url and not str(url).startswith(("http://", "https://")):
            problems.append("setting 'OAuth URL' must start with http:// or https://")
        value = settings.get("untracked_quantity")
        if value not in (None, "") and (not str(value).isdigit() or int(value) < 1):
            problems.append(
                "setting 'Quantity shown for untracked variants' must be a whole number > 0"
            )
        return problems

    @property
    def oauth_url(self):
        default = REAL_OAUTH if self.base_url == REAL_INVENTORY else self.base_url
        return (self.settings.get("oauth_url") or default).rstrip("/")

    @property
    def untracked_quantity(self):
        return int(self.settings.get("untracked_quantity") or 9999)

    def obtain_token(self):
        response = self.send_unauthenticated(
            "POST",
            self.oauth_url + "/token",
            data={
                "grant_type": JWT_GRANT,
                "client_id": self.credentials["client_id"],
                "assertion": self.credentials["api_key"],
            },
        )
        if response.status_code == 429 or response.status_code >= 500:
            self.judge(response)
        if response.status_code != 200:
            self.exchanges[-1].outcome = "auth"
            raise AuthError(
                f"zettle refused the API key ({response.status_code}): {response.text[:200]}"
            )
        body = response.json()
        return body["access_token"], int(body.get("expires_in", 7200))

    def retry_after(self, response):
        try:
            return max(float(response.headers.get("Retry-After", "")), 1.0), False
        except ValueError:
            return 1.0, False

    # ------------------------------------------------------------------ locations and reads

    def locations(self):
        """{type: uuid} of the system locations, read once per channel."""
        if not self.auth_state.get("locations"):
            response = self.request("GET", f"{ORG}/locations", purpose="locations")
            if response.status_code != 200:
                self.channel_error(response, "could not list locations")
            self.auth_state["locations"] = {r["type"]: r["uuid"] for r in response.json()}
            if self.on_auth_change is not None:
                self.on_auth_change(dict(self.auth_state))
        return self.auth_state["locations"]

    def _read(self):
        """(tracked product uuids, {(product, variant): STORE balance})."""
        store = self.locations()["STORE"]
        response = self.request("GET", f"{ORG}/inventory/locations/{store}", purpose="read")
        if response.status_code != 200:
            self.channel_error(response, "could not read the STORE balances")
        body = response.json()
        balances = {
            (r["productUuid"], r["variantUuid"]): int(r["balance"])
            for r in body.get("variants") or []
        }
        return set(body.get("trackedProducts") or []), balances

    def _shown(self, item, balance):
        return None if item.quantity is None and balance >= self.untracked_quantity else balance

    def read_levels(self, items):
        tracked, balances = self._read()
        return {
            i.key: self._shown(i, balances.get((i.remote_parent_id, i.remote_id), 0))
            if i.remote_parent_id in tracked
            else None
            for i in items
            if i.remote_parent_id and i.remote_id
        }

    # ------------------------------------------------------------------ writes

    def push_batch(self, items):
        batch = Batch(items)
        pending = [i for i in items if i.remote_parent_id and i.remote_id]
        for item in items:
            if item not in pending:
                batch.rejected(item, "the listing has no Zettle productUuid and variantUuid")
        self._why = "the product did not start tracking"
        for _ in range(ATTEMPTS):
            if not pending:
                break
            pending = self._attempt(batch, pending)
        for item in pending:  # not applied; the sync will read and try again later
            batch.retry(item, self._why)
        return batch.result()

    def _attempt(self, batch, pending):
        """Read, move the differences, record outcomes; return the items to try again."""
        tracked, balances = self._read()
        to_start = {i.remote_parent_id for i in pending if i.quantity is not None} - tracked
        if to_start:
            self._start_tracking(batch, pending, sorted(to_start))
            tracked, balances = self._read()  # levels kept from an earlier tracking show now
        loc, lines, changes = self.locations(), [], []
        for item in pending:
            if item.key in batch.outcomes:  # refused when starting its product
                continue
            if item.remote_parent_id not in tracked:
                if item.quantity is None:  # Zettle already sells it without limit
                    batch.ok(item, None)
                continue  # a finite item whose product did not start: next attempt
            now = balances.get((item.remote_parent_id, item.remote_id), 0)
            diff = (
                self.untracked_quantity if item.quantity is None else max(item.quantity, 0)
            ) - now
            if diff == 0:
                batch.ok(item, self._shown(item, now))
                continue
            lines.append(item)
            changes.append(
                {
                    "productUuid": item.remote_parent_id,
                    "variantUuid": item.remote_id,
                    "fromLocationUuid": loc["SUPPLIER"] if diff > 0 else loc["STORE"],
                    "toLocationUuid": loc["STORE"] if diff > 0 else loc["BIN"],
                    "change": abs(diff),
                }
            )
        retry = [i for i in pending if i.key not in batch.outcomes and i not in lines]
        if changes:
            retry += self._write(batch, lines, changes)
        return retry

    def _start_tracking(self, batch, pending, products):
        response = self.request(
            "POST",
            f"{ORG}/v2/inventory/bulk",
            purpose="track",
            json={
                "productChanges": [
                    {"productUuid": p, "trackingStatusChange": "START_TRACKING"} for p in products
                ]
            },
        )
        if response.status_code < 300:
            return
        message = _message(response)
        named = [p for p in products if p in message]  # e.g. a product Zettle does not know
        if not named:
            self.channel_error(response, "refused to start tracking " + ", ".join(products))
        self.exchanges[-1].outcome = "partial"
        for item in pending:
            if item.remote_parent_id in named:
                batch.rejected(item, message)

    def _write(self, batch, lines, changes):
        store = self.locations()["STORE"]
        response = self.request(
            "PUT",
            f"{ORG}/inventory",
            purpose="write",
            keys=[i.key for i in lines],
            json={
                "changes": changes,
                "returnBalanceForLocationUuid": store,
                "externalUuid": str(uuid.uuid4()),
            },
        )
        retry = []
        if response.status_code in (200, 201):
            rows = response.json().get("variants") or []
            after = {(r["productUuid"], r["variantUuid"]): int(r["balance"]) for r in rows}
            for item in lines:  # a variant moved to 0 may be left out: only non-zero are listed
                batch.ok(
                    item, self._shown(item, after.get((item.remote_parent_id, item.remote_id), 0))
                )
        elif response.status_code == 422:
            # Tracking stopped or a sale moved stock since our read: read again (whatever
            # was applied shows then) and move what is still missing.
            self.exchanges[-1].outcome = "rejected"
            self._why = _message(response)
            retry = list(lines)
        elif 400 <= response.status_code < 500:
            refused = self._refused(response, lines)
            if not refused:
                if response.status_code == 404:  # a location we cached may be gone
                    self.auth_state.pop("locations", None)
                self.channel_error(response, "refused the inventory movement")
            for item, message in refused.items():
                batch.rejected(item, message)
            retry = [i for i in lines if i not in refused]  # the request was refused whole
        else:
            self.channel_error(response, "answered the inventory movement unexpectedly")
        done = [batch.outcomes[i.key].__dict__ for i in lines if i.key in batch.outcomes]
        self.exchanges[-1].items = done
        return retry

    def _refused(self, response, lines):
        """{item: message} for the items an error's violations or message point at."""
        message, refused = _message(response), {}
        for v in _body(response).get("violations") or []:
            match = CHANGE_INDEX.match(str(v.get("propertyName", "")))
            if match and int(match.group(1)) < len(lines):
                detail = f"{v.get('propertyName')} {v.get('developerMessage', '')}"
                refused[lines[int(match.group(1))]] = f"{message}: {detail}".strip()
        for item in lines:
            if item not in refused and (
                item.remote_id in message or item.remote_parent_id in message
            ):
                refused[item] = message
        self.exchanges[-1].outcome = "partial" if refused else "rejected"
        return refused


def _body(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(response):
    """Zettle's developerMessage: what an item failure says."""
    return _body(response).get("developerMessage") or response.text[:200]
