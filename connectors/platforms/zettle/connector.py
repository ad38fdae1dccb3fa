"""Zettle (PayPal) Inventory API, v1/v2 paths (channels.md §5).

Delta writes: Zettle cannot set a balance, it moves a positive `change` between locations.
Per batch the engine reads the STORE right before writing: GET
.../inventory/locations/{STORE}, one request that also lists `trackedProducts` (it returns
the whole STORE; POST .../inventory/products would read only the batch but cannot tell
untracked from zero). Then one PUT /organizations/self/inventory moves the differences,
SUPPLIER -> STORE to add and STORE -> BIN to remove, with a fresh externalUuid (it only
correlates the webhooks Zettle sends back; it does not deduplicate).
(The v1 PUT, not the v2 bulk, because only it documents externalUuid.) The STORE balances
it returns are the quantities we report. A movement is never resent: a write that fails or
loses its answer is retried by the sync, which reads again first. A 422 (tracking stopped,
or a sale since our read) answers "stale": the engine reads again and moves what is still
missing, up to three rounds; the fresh read makes that safe even if Zettle applied part of
the refused request. A 400/404 naming an item fails that item with Zettle's developerMessage.

Products are tracked per product. Those not tracked yet are started with a v2 bulk
START_TRACKING *without* variantChanges and answered "stale", so that the engine reads again
before moving: Zettle keeps the levels of a product whose tracking stopped, so starting and
moving from an assumed 0 in one call would add our target on top of the kept level (the
doubling of channels.md §6).

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
from types import MappingProxyType

from connectors.exceptions import AuthError
from connectors.platforms.base import (
    DELTA,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
    untracked_setting,
)

REAL_INVENTORY = "https://inventory.izettle.com"
REAL_OAUTH = "https://oauth.zettle.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG = "/organizations/self"
CHANGE_INDEX = re.compile(r"^changes\[(\d+)\]")
TRACKED = MappingProxyType({"tracked": True})
NOT_TRACKED = MappingProxyType({"tracked": False})


class ZettleConnector(Connector):
    platform = "zettle"
    capabilities = Capabilities(
        writes=DELTA, batch_max=100, reads_levels=True, rate_limit=(4, 1), read_max=100
    )
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
        untracked_setting(),
    )
    uses_token = True
    default_retry_after = 1.0

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        url = settings.get("oauth_url")
        if url and not str(url).startswith(("http://", "https://")):
            problems.append("setting 'OAuth URL' must start with http:// or https://")
        return problems

    @property
    def oauth_url(self):
        default = REAL_OAUTH if self.base_url == REAL_INVENTORY else self.base_url
        return (self.setting("oauth_url") or default).rstrip("/")

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

    def problem(self, item):
        if not (item.remote_parent_id and item.remote_id):
            return "the listing has no Zettle productUuid and variantUuid"
        return ""

    # ------------------------------------------------------------------ locations and reads

    def locations(self):
        """{type: uuid} of the system locations, read once per channel."""
        if not self.auth_state.get("locations"):
            response = self.request("GET", f"{ORG}/locations", purpose="locations")
            if response.status_code != 200:
                self.channel_error(response, "could not list locations")
            self.auth_state["locations"] = {r["type"]: r["uuid"] for r in response.json()}
            self.keep_auth_state()
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

    def read(self, items):
        """Every item with its ids: a variant of a product Zettle does not track sells without
        limit (None); one it does holds its STORE balance (0 when Zettle lists none)."""
        tracked, balances = self._read()
        levels = {}
        for item in items:
            if self.problem(item):
                continue
            if item.remote_parent_id not in tracked:
                levels[item.key] = Level(None, None, NOT_TRACKED)
                continue
            balance = balances.get((item.remote_parent_id, item.remote_id), 0)
            levels[item.key] = Level(self.shown(item, balance), balance, TRACKED)
        return levels

    # ------------------------------------------------------------------ writes

    def write(self, writes):
        batch = Batch(writes)
        untracked = [w for w in writes if w.current is not None and not w.current.detail["tracked"]]
        if untracked:
            self._start_tracking(batch, untracked)
        loc, moves, changes = self.locations(), [], []
        for write in writes:
            if write in untracked:
                continue
            change = write.change
            if change == 0:
                batch.ok(write, write.current.shown)
                continue
            moves.append(write)
            changes.append(
                {
                    "productUuid": write.item.remote_parent_id,
                    "variantUuid": write.item.remote_id,
                    "fromLocationUuid": loc["SUPPLIER"] if change > 0 else loc["STORE"],
                    "toLocationUuid": loc["STORE"] if change > 0 else loc["BIN"],
                    "change": abs(change),
                }
            )
        if changes:
            self._move(batch, moves, changes)
        return batch.result()

    def _start_tracking(self, batch, writes):
        """Start tracking the writes' products, then have them read again (a product's kept
        level shows once it is tracked)."""
        products = sorted({w.item.remote_parent_id for w in writes})
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
            for write in writes:
                batch.stale(write, "tracking started: read again before moving")
            return
        message = _message(response)
        named = [p for p in products if p in message]  # e.g. a product Zettle does not know
        if not named:
            self.channel_error(response, "refused to start tracking " + ", ".join(products))
        self.exchanges[-1].outcome = "partial"
        for write in writes:
            if write.item.remote_parent_id in named:
                batch.rejected(write, message)
            else:
                batch.retry(write, "the product did not start tracking")

    def _move(self, batch, moves, changes):
        store = self.locations()["STORE"]
        response = self.request(
            "PUT",
            f"{ORG}/inventory",
            purpose="write",
            keys=[w.key for w in moves],
            json={
                "changes": changes,
                "returnBalanceForLocationUuid": store,
                "externalUuid": str(uuid.uuid4()),
            },
        )
        status = response.status_code
        if status in (200, 201):
            rows = response.json().get("variants") or []
            after = {(r["productUuid"], r["variantUuid"]): int(r["balance"]) for r in rows}
            for write in moves:  # a variant moved to 0 may be left out: only non-zero are listed
                ids = (write.item.remote_parent_id, write.item.remote_id)
                batch.ok(write, self.shown(write.item, after.get(ids, 0)))
        elif status == 422:
            # Tracking stopped or a sale moved stock since our read: read again (whatever
            # was applied shows then) and move what is still missing.
            self.exchanges[-1].outcome = "rejected"
            for write in moves:
                batch.stale(write, _message(response))
        elif 400 <= status < 500:
            refused = self._refused(response, moves)
            if not refused:
                if status == 404:  # a location we cached may be gone
                    self.auth_state.pop("locations", None)
                self.channel_error(response, "refused the inventory movement")
            for write in moves:  # the request was refused whole: the others go again
                if write in refused:
                    batch.rejected(write, refused[write])
                else:
                    batch.stale(write, "a batch-mate was refused")
        else:
            self.channel_error(response, "answered the inventory movement unexpectedly")
        batch.record(self.exchanges[-1], moves)

    def _refused(self, response, moves):
        """{write: message} for the items an error's violations or message point at."""
        message, refused = _message(response), {}
        for v in _body(response).get("violations") or []:
            match = CHANGE_INDEX.match(str(v.get("propertyName", "")))
            if match and int(match.group(1)) < len(moves):
                detail = f"{v.get('propertyName')} {v.get('developerMessage', '')}"
                refused[moves[int(match.group(1))]] = f"{message}: {detail}".strip()
        for write in moves:
            item = write.item
            if write not in refused and (
                item.remote_id in message or item.remote_parent_id in message
            ):
                refused[write] = message
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
