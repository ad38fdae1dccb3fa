"""Zettle's connector against its sandbox: the shared contract, and what is Zettle's own."""

import json

import requests

from connectors.platforms.base import PushItem
from connectors.platforms.zettle.connector import ZettleConnector
from connectors.platforms.zettle.sandbox_ledger import LOCATION_UUIDS
from tests.connectors.platforms.contract import PlatformCase

STORE, SUPPLIER, SOLD, BIN = (LOCATION_UUIDS[k] for k in ("STORE", "SUPPLIER", "SOLD", "BIN"))
INVENTORY = "/organizations/self/inventory"


class TestZettle(PlatformCase):
    platform = "zettle"

    # ------------------------------------------------------------------ Zettle's own

    def moves(self, sandbox):
        return [r["body"] for r in sandbox.log(path=INVENTORY) if r["method"] == "PUT"]

    def test_additions_come_from_supplier_and_removals_go_to_the_bin(self, sandbox):
        items = self.make_items(3)
        self.seed(sandbox, items, quantity=5)
        targets = [8, 2, 5]
        items = [
            PushItem(**{**i.__dict__, "quantity": q}) for i, q in zip(items, targets, strict=True)
        ]

        outcomes = self.push(self.connector(sandbox), items)

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 8), (True, 2), (True, 5)]
        [body] = self.moves(sandbox)
        assert body["returnBalanceForLocationUuid"] == STORE
        assert [
            (c["variantUuid"], c["fromLocationUuid"], c["toLocationUuid"], c["change"])
            for c in body["changes"]
        ] == [
            (items[0].remote_id, SUPPLIER, STORE, 3),
            (items[1].remote_id, STORE, BIN, 3),
        ]
        assert sandbox.state()["balances"]["BIN"][0]["balance"] == 3

    def test_one_read_and_one_write_per_batch_and_nothing_when_unchanged(self, sandbox):
        items = self.make_items(6, quantity=4)
        self.seed(sandbox, items, quantity=4)
        connector = self.connector(sandbox)
        connector.locations()
        connector.exchanges.clear()

        self.push(connector, items)  # all at target
        assert [e.purpose for e in connector.exchanges] == ["read"]

        items[1] = PushItem(**{**items[1].__dict__, "quantity": 9})
        items[4] = PushItem(**{**items[4].__dict__, "quantity": 0})
        connector.exchanges.clear()
        outcomes = self.push(connector, items)

        assert [e.purpose for e in connector.exchanges] == ["read", "write"]
        assert len(self.moves(sandbox)[-1]["changes"]) == 2
        assert connector.exchanges[-1].keys == (2, 5)
        assert [o["key"] for o in connector.exchanges[-1].items] == [2, 5]
        assert [o.quantity for o in outcomes] == [4, 9, 4, 4, 0, 4]

    def test_each_write_carries_a_fresh_external_uuid_echoed_in_the_webhooks(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        self.push(connector, [PushItem(**{**items[0].__dict__, "quantity": 2})])
        self.push(connector, [PushItem(**{**items[0].__dict__, "quantity": 3})])
        sent = [body["externalUuid"] for body in self.moves(sandbox)]
        assert len(set(sent)) == 2
        events = [
            e for e in sandbox.state()["events"] if e["eventName"] == "InventoryBalanceChanged"
        ]
        assert [json.loads(e["payload"])["externalUuid"] for e in events] == sent

    def test_locations_are_read_once_and_kept_in_auth_state(self, sandbox):
        items = self.make_items(2, quantity=1)
        self.seed(sandbox, items, quantity=0)
        self.push(self.connector(sandbox), items)
        assert sandbox.auth_state["locations"] == LOCATION_UUIDS

        later = self.connector(sandbox)
        self.push(later, [PushItem(**{**i.__dict__, "quantity": 2}) for i in items])

        assert "locations" not in [e.purpose for e in later.exchanges]
        assert len(sandbox.log(path="/organizations/self/locations")) == 1

    def test_an_untracked_product_starts_tracking_without_doubling_its_kept_level(self, sandbox):
        items = self.make_items(2)
        # Tracking stopped earlier: Zettle kept the level of 5 (channels.md §5.3).
        self.seed(sandbox, items, quantity=5, tracked=False)
        items = [
            PushItem(**{**items[0].__dict__, "quantity": 8}),
            PushItem(**{**items[1].__dict__, "quantity": 3}),
        ]
        connector = self.connector(sandbox)
        connector.locations()
        connector.exchanges.clear()

        outcomes = self.push(connector, items)

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 8), (True, 3)]
        assert [self.remote_quantity(sandbox, i) for i in items] == [8, 3]
        assert [e.purpose for e in connector.exchanges] == ["read", "track", "read", "write"]
        [start] = [r["body"] for r in sandbox.log(path="/organizations/self/v2/inventory/bulk")]
        assert start == {
            "productChanges": [
                {"productUuid": items[0].remote_parent_id, "trackingStatusChange": "START_TRACKING"}
            ]
        }

    def test_product_not_tracked_on_the_write_starts_tracking_and_reads_again(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=5)
        target = PushItem(**{**items[0].__dict__, "quantity": 8})
        connector = self.connector(sandbox)
        read = connector._read
        headers = sandbox.login()

        def read_then_lose_tracking():
            # Someone stops tracking between our read and our write (levels are kept).
            result = read()
            if not sandbox.log(path="/organizations/self/inventory/products/"):
                url = f"{sandbox.url}{INVENTORY}/products/{target.remote_parent_id}"
                assert requests.delete(url, headers=headers, timeout=5).status_code == 204
            return result

        connector._read = read_then_lose_tracking
        outcomes = self.push(connector, [target])

        assert outcomes[0].ok
        assert outcomes[0].quantity == 8
        assert self.remote_quantity(sandbox, target) == 8
        refused = [e for e in connector.exchanges if e.purpose == "write" and e.status == 422]
        assert "PRODUCT_NOT_TRACKED" in refused[0].response_body
        assert "track" in [e.purpose for e in connector.exchanges]

    def test_a_sale_between_read_and_write_is_read_again_not_forced(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=5)
        target = PushItem(**{**items[0].__dict__, "quantity": 0})
        connector = self.connector(sandbox)
        read = connector._read
        headers = sandbox.login()

        def read_then_sell():
            result = read()
            if not [r for r in sandbox.log(path=INVENTORY) if r["method"] == "PUT"]:
                sale = {
                    "productUuid": target.remote_parent_id,
                    "variantUuid": target.remote_id,
                    "fromLocationUuid": STORE,
                    "toLocationUuid": SOLD,
                    "change": 2,
                }
                url = sandbox.url + INVENTORY
                requests.put(url, json={"changes": [sale]}, headers=headers, timeout=5)
            return result

        connector._read = read_then_sell
        outcomes = self.push(connector, [target])

        assert outcomes[0].ok
        assert outcomes[0].quantity == 0
        assert [c["change"] for body in self.moves(sandbox)[1:] for c in body["changes"]] == [5, 3]
        assert self.remote_quantity(sandbox, target) == 0

    def test_untracked_variants_show_the_untracked_quantity(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=2)
        untracked = PushItem(**{**items[0].__dict__, "quantity": None})
        connector = self.connector(sandbox, settings_extra={"untracked_quantity": "500"})

        [outcome] = self.push(connector, [untracked])

        assert outcome.ok
        assert outcome.quantity is None
        assert self.remote_quantity(sandbox, untracked) == 500
        assert self.remote_quantity(sandbox, items[1]) == 2  # its sibling stays tracked
        assert connector.read_levels([untracked, items[1]]) == {1: None, 2: 2}

    def test_a_product_zettle_does_not_track_is_already_unlimited(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=0, tracked=False)
        untracked = [PushItem(**{**i.__dict__, "quantity": None}) for i in items]
        connector = self.connector(sandbox)

        outcomes = self.push(connector, untracked)

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, None), (True, None)]
        assert "write" not in [e.purpose for e in connector.exchanges]
        assert connector.read_levels(untracked) == {1: None, 2: None}

    def test_the_token_is_granted_again_after_it_expires(self, sandbox):
        items = self.make_items(1, quantity=2)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        self.push(connector, items)
        first = sandbox.auth_state["access_token"]
        sandbox.control("POST", "expire-tokens")
        connector.exchanges.clear()

        self.push(connector, [PushItem(**{**items[0].__dict__, "quantity": 7})])

        assert [(e.purpose, e.status) for e in connector.exchanges] == [
            ("read", 401),
            ("auth", 200),
            ("read", 200),
            ("write", 200),
        ]
        grants = [r for r in sandbox.log(path="/token")]
        assert len(grants) == 2
        assert grants[-1]["body"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        assert grants[-1]["body"]["assertion"] == "[redacted]"
        assert sandbox.auth_state["access_token"] != first
        assert self.remote_quantity(sandbox, items[0]) == 7

    def test_an_item_the_channel_refuses_keeps_its_developer_message(self, sandbox):
        items = self.make_items(2, quantity=3)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        send = connector.request

        def spoil_the_second_change(method, path, **kwargs):
            # The sandbox answers a change of 0 with a 400 whose violation names changes[1].
            if method == "PUT" and len(kwargs["json"]["changes"]) == 2:
                kwargs["json"]["changes"][1]["change"] = 0
            return send(method, path, **kwargs)

        connector.request = spoil_the_second_change
        outcomes = self.push(connector, items)

        assert outcomes[0].ok
        assert outcomes[0].quantity == 3
        assert not outcomes[1].ok
        assert not outcomes[1].retry
        assert outcomes[1].message.startswith("Validation failed")
        assert "changes[1].change" in outcomes[1].message
        assert [self.remote_quantity(sandbox, i) for i in items] == [3, 0]

    def test_a_product_zettle_refuses_to_track_fails_only_its_items(self, sandbox):
        items = self.make_items(4, quantity=2)
        self.seed(sandbox, items[:2], quantity=0, tracked=False)
        self.seed(sandbox, items[2:], quantity=0)
        stranger = items[0].remote_parent_id
        connector = self.connector(sandbox)
        send = connector.request

        def not_found(method, path, **kwargs):
            # The sandbox tracks any uuid; the real service may not know the product.
            response = send(method, path, **kwargs)
            if path.endswith("/bulk"):
                body = {
                    "developerMessage": f"Product {stranger} not found",
                    "errorType": "ENTITY_NOT_FOUND",
                    "violations": [],
                }
                response.status_code, response._content = 404, json.dumps(body).encode()
            return response

        connector.request = not_found
        outcomes = self.push(connector, items)

        assert [(o.ok, o.retry) for o in outcomes] == [(False, False)] * 2 + [(True, False)] * 2
        assert outcomes[0].message == f"Product {stranger} not found"
        assert [self.remote_quantity(sandbox, i) for i in items[2:]] == [2, 2]

    def connector(self, sandbox, credentials=None, settings_extra=None, **kwargs):
        connector = super().connector(sandbox, credentials, **kwargs)
        connector.settings.update(settings_extra or {})
        return connector


def test_the_oauth_host_defaults_by_inventory_host():
    credentials = {"client_id": "c", "api_key": "k"}
    real = ZettleConnector(base_url="https://inventory.izettle.com/", credentials=credentials)
    assert real.oauth_url == "https://oauth.zettle.com"
    local = ZettleConnector(base_url="http://127.0.0.1:8105", credentials=credentials)
    assert local.oauth_url == "http://127.0.0.1:8105"
    chosen = ZettleConnector(
        base_url="https://inventory.izettle.com",
        credentials=credentials,
        settings={"oauth_url": "https://oauth.izettle.com/"},
    )
    assert chosen.oauth_url == "https://oauth.izettle.com"


def test_a_429_without_retry_after_waits_one_second():
    response = requests.Response()
    response.status_code = 429
    connector = ZettleConnector(
        base_url="http://127.0.0.1:1", credentials={"client_id": "c", "api_key": "k"}
    )
    assert connector.retry_after(response) == (1.0, False)
    response.headers["Retry-After"] = "3"
    assert connector.retry_after(response) == (3.0, False)


def test_settings_and_credentials_are_checked():
    problems = ZettleConnector.config_problems(
        {"client_id": "c"}, {"oauth_url": "oauth.zettle.com", "untracked_quantity": "-1"}
    )
    assert "credential 'API key' is required" in problems
    assert any("OAuth URL" in p for p in problems)
    assert any("untracked" in p for p in problems)
