"""HighLevel (LeadConnector) Products > Inventory (channels.md §1).

Absolute writes: POST /products/inventory sets availableQuantity per priceId, in batches.
Credentials: a Private Integration Token ("token"), or an OAuth app ("client_id",
"client_secret", "refresh_token"), whose refresh token rotates on every use (the newest is
kept in auth_state). Settings: "location_id", the altId of the sub-account.
Untracked variants are sent as allowOutOfStockPurchases=true without a quantity: HighLevel's
way of saying "keep selling".
"""

import re

from connectors.exceptions import AuthError
from connectors.platforms.base import Batch, Capabilities, Connector, Setting

VERSION = "2021-07-28"
ITEM_INDEX = re.compile(r"^items\.(\d+)\.")
PAGE = 100


class HighLevelConnector(Connector):
    platform = "highlevel"
    capabilities = Capabilities(
        writes="absolute", batch_max=100, reads_levels=True, rate_limit=(100, 10)
    )
    credential_fields = (
        Setting("token", "Private Integration Token", required=False),
        Setting("client_id", "OAuth client id", required=False),
        Setting("client_secret", "OAuth client secret", required=False),
        Setting("refresh_token", "OAuth refresh token", required=False),
    )
    setting_fields = (Setting("location_id", "Location id (altId)"),)

    @classmethod
    def config_problems(cls, credentials, settings):
        problems = super().config_problems(credentials, settings)
        oauth = all(credentials.get(k) for k in ("client_id", "client_secret", "refresh_token"))
        if not credentials.get("token") and not oauth:
            problems.append(
                "give a Private Integration Token, or an OAuth client id, secret and refresh token"
            )
        return problems

    @property
    def uses_token(self):
        return not self.credentials.get("token")

    def auth_headers(self):
        token = self.credentials.get("token") or self.auth_state["access_token"]
        return {
            "Authorization": f"Bearer {token}",
            "Version": VERSION,
            "Accept": "application/json",
        }

    def obtain_token(self):
        refresh = self.auth_state.get("refresh_token") or self.credentials["refresh_token"]
        response = self.send_unauthenticated(
            "POST",
            self.base_url + "/oauth/token",
            data={
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "user_type": "Location",
            },
        )
        if response.status_code >= 400:
            raise AuthError(f"highlevel refused the refresh token ({response.status_code})")
        body = response.json()
        self.auth_state["refresh_token"] = body["refresh_token"]
        self.redactor.add(body["refresh_token"])
        return body["access_token"], int(body.get("expires_in", 86_400))

    # ------------------------------------------------------------------ writes

    def push_batch(self, items):
        batch = Batch(items)
        pending = list(items)
        while pending:
            response = self.request(
                "POST",
                "/products/inventory",
                purpose="write",
                keys=[i.key for i in pending],
                json={
                    "altId": self.settings["location_id"],
                    "altType": "location",
                    "items": [self._line(i) for i in pending],
                },
            )
            if response.status_code in (200, 201):
                for item in pending:
                    batch.ok(item, item.quantity)
                break
            if response.status_code == 422:
                refused = self._refused(response, pending)
                if not refused:  # nothing we can pin on one item: the request itself is wrong
                    self.channel_error(response, "refused the inventory update")
                for item, message in refused.items():
                    batch.rejected(item, message)
                # The whole request was refused: send the others again without the culprits.
                pending = [i for i in pending if i not in refused]
                continue
            self.channel_error(response, "refused the inventory update")
        self.exchanges[-1].items = [o.__dict__ for o in batch.result()]
        return batch.result()

    @staticmethod
    def _line(item):
        if item.quantity is None:
            return {"priceId": item.remote_id, "allowOutOfStockPurchases": True}
        return {
            "priceId": item.remote_id,
            "availableQuantity": max(item.quantity, 0),
            "allowOutOfStockPurchases": item.allow_backorder,
        }

    def _refused(self, response, items):
        """{item: message} for the items a 422's messages point at ("items.3.priceId …")."""
        messages = response.json().get("message") or []
        refused = {}
        for message in messages if isinstance(messages, list) else [messages]:
            match = ITEM_INDEX.match(str(message))
            if match and int(match.group(1)) < len(items):
                refused[items[int(match.group(1))]] = str(message)
        self.exchanges[-1].outcome = "partial" if refused else "rejected"
        return refused

    # ------------------------------------------------------------------ reads

    def read_levels(self, items):
        wanted = {i.remote_id: i for i in items}
        found, offset = {}, 0
        while len(found) < len(wanted):
            response = self.request(
                "GET",
                "/products/inventory",
                purpose="read",
                params={
                    "altId": self.settings["location_id"],
                    "altType": "location",
                    "limit": PAGE,
                    "offset": offset,
                },
            )
            if response.status_code != 200:
                self.channel_error(response, "could not list inventory")
            page = response.json().get("inventory") or []
            for row in page:
                item = wanted.get(row.get("_id"))
                if item is None:
                    continue
                # "Keep selling" is how an untracked variant shows; a quantity is then moot.
                keeps_selling = item.quantity is None and row.get("allowOutOfStockPurchases")
                found[item.key] = None if keeps_selling else int(row.get("availableQuantity") or 0)
            offset += PAGE
            if len(page) < PAGE:
                break
        return found

    def probe(self):
        response = self.request(
            "GET",
            "/products/inventory",
            purpose="read",
            params={"altId": self.settings["location_id"], "altType": "location", "limit": 1},
        )
        if response.status_code != 200:
            self.channel_error(response, "could not list inventory")
        return "authenticated"

    def retry_after(self, response):
        headers = response.headers
        if headers.get("X-RateLimit-Daily-Remaining") == "0":
            return 3600.0, True  # the daily quota: try again in an hour, not in a second
        interval = headers.get("X-RateLimit-Interval-Milliseconds")
        if interval and interval.isdigit():
            return max(int(interval) / 1000, 1.0), False
        return super().retry_after(response)
