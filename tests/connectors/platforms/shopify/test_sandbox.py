"""Shopify GraphQL Admin sandbox (shopify.md §7), over real HTTP on 127.0.0.1.

The sandbox is served directly (ShopifySandbox in RunningSandbox), so these tests do not
depend on the connector's test hooks."""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.platforms.sandbox.server import RunningSandbox
from connectors.platforms.shopify.sandbox import ShopifySandbox

TOKEN = "shpat_sandbox_token"
HEADERS = {"X-Shopify-Access-Token": TOKEN}
SECRET = "shopify-sandbox-client-secret"
LOC = "gid://shopify/Location/1"
LOC2 = "gid://shopify/Location/2"
ITEM = "gid://shopify/InventoryItem/11"
ITEM2 = "gid://shopify/InventoryItem/12"
UNTRACKED = "gid://shopify/InventoryItem/13"
UNSTOCKED = "gid://shopify/InventoryItem/14"
SET = """
mutation PushStock($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}"""
LEVELS = """
query Levels($ids: [ID!]!, $loc: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem { id sku tracked
      inventoryLevel(locationId: $loc) {
        quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } }"""


@pytest.fixture(scope="module")
def running():
    with RunningSandbox(ShopifySandbox()) as sandbox:
        yield sandbox


@pytest.fixture
def shop(running):
    url = running.url
    assert requests.post(f"{url}/_sandbox/reset", timeout=5).status_code == 200
    seed = {
        "locations": [{"id": LOC, "name": "Warehouse"}, {"id": LOC2, "name": "Shop floor"}],
        "items": [
            {"id": ITEM, "sku": "TEE-M", "levels": {LOC: {"available": 5}}},
            {"id": ITEM2, "sku": "TEE-L", "levels": {LOC: {"available": 3}, LOC2: {}}},
            {"id": UNTRACKED, "sku": "GIFT", "tracked": False, "levels": {LOC: {}}},
            {"id": UNSTOCKED, "sku": "NEW"},
        ],
    }
    assert requests.post(f"{url}/_sandbox/seed", json=seed, timeout=5).status_code == 200
    return running


def gql(shop, query, variables=None, version="2026-10", headers=HEADERS, name=None):
    body = {"query": query, "variables": variables, "operationName": name}
    return requests.post(
        f"{shop.url}/admin/api/{version}/graphql.json", json=body, headers=headers, timeout=5
    )


def control(shop, method, path, body=None, status=200):
    response = requests.request(method, f"{shop.url}/_sandbox/{path}", json=body, timeout=5)
    assert response.status_code == status, response.text
    return response.json()


def level(shop, item=ITEM, loc=LOC):
    return control(shop, "GET", "state")["items"][item]["levels"][loc]


def set_input(quantity, change_from, item=ITEM, loc=LOC, **extra):
    row = {"inventoryItemId": item, "locationId": loc, "quantity": quantity}
    if change_from is not ...:
        row["changeFromQuantity"] = change_from
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://backoffice/StockMovement/1",
        "quantities": [row],
        **extra,
    }


def push(shop, quantity, change_from, key="k1", **kwargs):
    response = gql(shop, SET, {"input": set_input(quantity, change_from, **kwargs), "key": key})
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------ writes
def test_a_set_with_the_right_change_from_quantity_applies(shop):
    body = push(shop, 11, 5)

    payload = body["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    changes = {c["name"]: c for c in payload["inventoryAdjustmentGroup"]["changes"]}
    assert (changes["available"]["delta"], changes["available"]["quantityAfterChange"]) == (6, 11)
    assert changes["on_hand"]["quantityAfterChange"] == 11
    assert (level(shop)["available"], level(shop)["on_hand"]) == (11, 11)


def test_a_stale_change_from_quantity_is_a_user_error_and_applies_nothing(shop):
    body = push(shop, 11, 4)

    payload = body["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "quantities", "0", "changeFromQuantity"],
            "message": "The changeFromQuantity value does not match persisted value.",
            "code": "CHANGE_FROM_QUANTITY_STALE",
        }
    ]
    assert level(shop)["available"] == 5


def test_a_null_change_from_quantity_skips_the_check(shop):
    assert push(shop, 2, None)["data"]["inventorySetQuantities"]["userErrors"] == []
    assert level(shop)["available"] == 2


def test_an_omitted_change_from_quantity_is_refused_from_2026_04(shop):
    body = push(shop, 2, ...)

    assert body["data"]["inventorySetQuantities"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "changeFromQuantity" in body["errors"][0]["message"]
    assert level(shop)["available"] == 5


def test_2026_01_still_takes_compare_quantity(shop):
    legacy = set_input(9, ..., ignoreCompareQuantity=False)
    legacy["quantities"][0]["compareQuantity"] = 4
    body = gql(shop, SET, {"input": legacy, "key": "k"}, version="2026-01").json()
    assert (
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "COMPARE_QUANTITY_STALE"
    )

    modern = gql(shop, SET, {"input": legacy, "key": "k"}, version="2026-10").json()
    assert "data" not in modern
    assert "compareQuantity" in json.dumps(modern["errors"])


def test_one_bad_quantity_fails_the_whole_batch(shop):
    data = set_input(8, 5)
    data["quantities"].append(
        {"inventoryItemId": ITEM2, "locationId": LOC, "quantity": 9, "changeFromQuantity": 0}
    )
    body = gql(shop, SET, {"input": data, "key": "batch"}).json()

    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["field"] for e in errors] == [["input", "quantities", "1", "changeFromQuantity"]]
    assert (level(shop)["available"], level(shop, ITEM2)["available"]) == (5, 3)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (
            {"inventoryItemId": "gid://shopify/InventoryItem/999"},
            "INVALID_INVENTORY_ITEM",
            "inventoryItemId",
        ),
        ({"locationId": "gid://shopify/Location/999"}, "INVALID_LOCATION", "locationId"),
        ({"inventoryItemId": UNSTOCKED}, "ITEM_NOT_STOCKED_AT_LOCATION", "locationId"),
        ({"quantity": -1}, "INVALID_QUANTITY_NEGATIVE", "quantity"),
        ({"quantity": 1_000_000_001}, "INVALID_QUANTITY_TOO_HIGH", "quantity"),
        ({"inventoryItemId": UNTRACKED}, "INVALID_INVENTORY_ITEM", "inventoryItemId"),
    ],
)
def test_quantity_user_errors(shop, change, code, field):
    data = set_input(7, None)
    data["quantities"][0].update(change)
    payload = gql(shop, SET, {"input": data, "key": code}).json()["data"]["inventorySetQuantities"]

    assert [(e["code"], e["field"][-1]) for e in payload["userErrors"]] == [(code, field)]
    assert payload["inventoryAdjustmentGroup"] is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": "committed"}, "INVALID_NAME"),
        ({"reason": "because"}, "INVALID_REASON"),
        ({"referenceDocumentUri": "no scheme here"}, "INVALID_REFERENCE_DOCUMENT"),
    ],
)
def test_input_user_errors(shop, change, code):
    data = {**set_input(7, None), **change}
    payload = gql(shop, SET, {"input": data, "key": code}).json()["data"]["inventorySetQuantities"]

    assert [e["code"] for e in payload["userErrors"]] == [code]


def test_a_duplicate_pair_is_refused(shop):
    data = set_input(7, None)
    data["quantities"].append(dict(data["quantities"][0]))
    payload = gql(shop, SET, {"input": data, "key": "d"}).json()["data"]["inventorySetQuantities"]

    assert [e["code"] for e in payload["userErrors"]] == [
        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"
    ]


def test_more_than_250_quantities_is_a_top_level_error(shop):
    data = set_input(7, None)
    data["quantities"] = [dict(data["quantities"][0]) for _ in range(251)]
    body = gql(shop, SET, {"input": data, "key": "big"}).json()

    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


def test_an_idempotent_replay_answers_the_first_result_without_applying_again(shop):
    first = push(shop, 11, 5, key="same")
    control(
        shop, "POST", "levels", {"inventory_item_id": ITEM, "location_id": LOC, "available": 20}
    )

    again = push(shop, 11, 5, key="same")

    assert again["data"] == first["data"]
    assert level(shop)["available"] == 20


def test_the_same_key_with_other_variables_is_a_parameter_mismatch(shop):
    push(shop, 11, 5, key="same")

    payload = push(shop, 12, 11, key="same")["data"]["inventorySetQuantities"]

    assert [e["code"] for e in payload["userErrors"]] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert level(shop)["available"] == 11


def test_a_missing_idempotent_directive_is_refused_unless_switched_off(shop):
    query = SET.replace(" @idempotent(key: $key)", "").replace(", $key: String!", "")
    body = gql(shop, query, {"input": set_input(9, 5)}).json()
    assert body["data"]["inventorySetQuantities"] is None
    assert "@idempotent" in body["errors"][0]["message"]
    assert level(shop)["available"] == 5

    control(shop, "POST", "seed", {"settings": {"require_idempotency": False}})
    body = gql(shop, query, {"input": set_input(9, 5)}).json()
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert level(shop)["available"] == 9


def test_inline_literals_aliases_and_typename(shop):
    query = f"""mutation {{
      push: inventorySetQuantities(input: {{name: "on_hand", reason: "restock",
          quantities: [{{inventoryItemId: "{ITEM}", locationId: "{LOC}", quantity: 8,
                        changeFromQuantity: 5}}]}}) @idempotent(key: "lit") {{
        __typename
        inventoryAdjustmentGroup {{ changes(quantityNames: ["available"]) {{ name delta }} }}
        userErrors {{ code }} }} }}"""
    body = gql(shop, query).json()

    assert body["data"]["push"]["__typename"] == "InventorySetQuantitiesPayload"
    assert body["data"]["push"]["inventoryAdjustmentGroup"]["changes"] == [
        {"name": "available", "delta": 3}
    ]


def test_adjust_and_activate(shop):
    adjust = """mutation($input: InventoryAdjustQuantitiesInput!) {
      inventoryAdjustQuantities(input: $input) @idempotent(key: "a1") {
        inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
        userErrors { field code } } }"""
    change = {"inventoryItemId": ITEM, "locationId": LOC, "delta": -2, "changeFromQuantity": 5}
    data = {"name": "available", "reason": "shrinkage", "changes": [change]}
    body = gql(shop, adjust, {"input": data}).json()
    assert body["data"]["inventoryAdjustQuantities"]["userErrors"] == []
    assert level(shop)["available"] == 3

    activate = """mutation { inventoryActivate(inventoryItemId: "%s", locationId: "%s",
      available: 4) @idempotent(key: "act") { inventoryLevel { id
      quantities(names: ["available"]) { quantity } } userErrors { field message } } }"""
    body = gql(shop, activate % (UNSTOCKED, LOC2)).json()
    assert body["data"]["inventoryActivate"]["inventoryLevel"]["quantities"] == [{"quantity": 4}]
    assert level(shop, UNSTOCKED, LOC2)["available"] == 4


# ------------------------------------------------------------------ reads
def test_nodes_reads_levels_and_null_for_unknown_ids(shop):
    ids = [ITEM, UNSTOCKED, "gid://shopify/InventoryItem/999"]
    body = gql(shop, LEVELS, {"ids": ids, "loc": LOC}).json()

    nodes = body["data"]["nodes"]
    assert nodes[0]["inventoryLevel"]["quantities"] == [
        {"name": "available", "quantity": 5},
        {"name": "on_hand", "quantity": 5},
        {"name": "committed", "quantity": 0},
    ]
    assert nodes[1]["inventoryLevel"] is None
    assert nodes[2] is None


def test_inventory_items_filter_by_sku_and_page_with_cursors(shop):
    query = """query($after: String) { inventoryItems(first: 2, after: $after) {
      nodes { sku } pageInfo { hasNextPage endCursor } } }"""
    first = gql(shop, query).json()["data"]["inventoryItems"]
    second = gql(shop, query, {"after": first["pageInfo"]["endCursor"]}).json()
    skus = [n["sku"] for n in first["nodes"] + second["data"]["inventoryItems"]["nodes"]]
    assert skus == ["TEE-M", "TEE-L", "GIFT", "NEW"]

    by_sku = gql(shop, '{ inventoryItems(first: 5, query: "sku:TEE-L") { nodes { id } } }')
    assert by_sku.json()["data"]["inventoryItems"]["nodes"] == [{"id": ITEM2}]


def test_multi_operation_documents_run_the_named_operation(shop):
    document = """
      query Shop { shop { ...ShopFields } }
      query Versions { publicApiVersions { handle supported } }
      fragment ShopFields on Shop { id name }"""
    body = gql(shop, document, name="Versions").json()

    versions = {v["handle"]: v["supported"] for v in body["data"]["publicApiVersions"]}
    assert versions["2026-10"] is True
    assert versions["2027-01"] is False
    assert gql(shop, document, name="Shop").json()["data"]["shop"]["name"]
    assert gql(shop, document).json()["errors"]


def test_validation_errors_are_answered_at_200(shop):
    body = gql(shop, "{ shop { nope } }").json()

    assert "data" not in body
    assert "nope" in body["errors"][0]["message"]
    assert gql(shop, "{ shop {").status_code == 200


# ------------------------------------------------------------------ transport
def test_a_retired_version_falls_forward_and_a_malformed_one_is_404(shop):
    retired = gql(shop, "{ shop { id } }", version="2025-07")
    assert retired.status_code == 200
    assert retired.headers["X-Shopify-API-Version"] == "2026-01"
    assert gql(shop, "{ shop { id } }").headers["X-Shopify-API-Version"] == "2026-10"

    for version in ("banana", "2026-13", "2031-01"):
        missing = gql(shop, "{ shop { id } }", version=version)
        assert (missing.status_code, missing.json()) == (404, {"errors": "Not Found"})


def test_a_bad_token_is_401_with_a_string_body(shop):
    response = gql(shop, "{ shop { id } }", headers={"X-Shopify-Access-Token": "shpat_nope"})

    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_client_credentials_give_a_token_that_expire_tokens_revokes(shop):
    grant = {
        "client_id": "shopify-sandbox-client-id",
        "client_secret": SECRET,
        "grant_type": "client_credentials",
    }
    answer = requests.post(f"{shop.url}/admin/oauth/access_token", json=grant, timeout=5).json()
    assert answer["expires_in"] == 86399
    headers = {"X-Shopify-Access-Token": answer["access_token"]}
    assert gql(shop, "{ shop { id } }", headers=headers).status_code == 200

    control(shop, "POST", "expire-tokens")
    assert gql(shop, "{ shop { id } }", headers=headers).status_code == 401
    bad = requests.post(
        f"{shop.url}/admin/oauth/access_token", json={**grant, "client_secret": "x"}, timeout=5
    )
    assert bad.status_code == 401


def test_every_answer_carries_the_cost_extension(shop):
    body = gql(shop, LEVELS, {"ids": [ITEM, ITEM2], "loc": LOC}).json()

    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 * (1 + 1 + 3)
    assert 0 < cost["actualQueryCost"] <= cost["requestedQueryCost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert cost["throttleStatus"]["restoreRate"] == 100.0
    mutation = push(shop, 6, 5)["extensions"]["cost"]
    assert (mutation["requestedQueryCost"], mutation["actualQueryCost"]) == (10, 10)


def test_an_empty_bucket_answers_throttled_at_200_without_data(shop):
    control(shop, "POST", "failures", {"bucket": {"currentlyAvailable": 5, "restoreRate": 1}})

    body = push(shop, 6, 5)

    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 10
    assert level(shop)["available"] == 5


def test_throttle_next_forces_one_throttled_answer(shop):
    control(shop, "POST", "failures", {"throttle_next": 1})

    assert push(shop, 6, 5)["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert push(shop, 6, 5)["data"]["inventorySetQuantities"]["userErrors"] == []


def test_a_query_above_1000_points_is_max_cost_exceeded(shop):
    query = """{ locations(first: 100) { nodes { inventoryLevels(first: 100) {
      nodes { id } } } } }"""
    body = gql(shop, query).json()

    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["extensions"]["maxCost"] == 1000


def test_first_above_250_is_a_top_level_error(shop):
    body = gql(shop, "{ inventoryItems(first: 251) { nodes { id } } }").json()

    assert "data" not in body
    assert body["errors"]


def test_stale_next_and_internal_error_next(shop):
    control(shop, "POST", "failures", {"stale_next": 1})
    payload = push(shop, 6, 5)["data"]["inventorySetQuantities"]
    assert payload["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"

    control(shop, "POST", "failures", {"internal_error_next": 1})
    body = push(shop, 6, 5, key="k2")
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert level(shop)["available"] == 5


def test_bad_bodies_are_400_not_500(shop):
    url = f"{shop.url}/admin/api/2026-10/graphql.json"
    for data in (
        b"not json",
        b"[]",
        b'{"query": 3}',
        b'{"query": "{ shop { id } }", "variables": 1}',
    ):
        response = requests.post(url, data=data, headers=HEADERS, timeout=5)
        assert response.status_code == 400, data
    assert requests.get(url, headers=HEADERS, timeout=5).status_code == 405


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    path=st.sampled_from(
        ["graphql.json", "inventory_levels/set.json", "inventory_levels/adjust.json"]
    ),
)
def test_random_bytes_never_give_a_500(shop, body, path):
    url = f"{shop.url}/admin/api/2026-10/{path}"
    response = requests.post(url, data=body, headers=HEADERS, timeout=5)

    assert response.status_code < 500


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
QUERIES = st.sampled_from(
    [SET, LEVELS, "{ shop { id } }", "mutation { x }", "{ orders { nodes { id } } }"]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=QUERIES | st.text(max_size=40), variables=JSON, name=st.none() | st.text(max_size=8))
def test_random_json_bodies_never_give_a_500(shop, query, variables, name):
    body = {"query": query, "variables": variables, "operationName": name}
    url = f"{shop.url}/admin/api/2026-10/graphql.json"
    response = requests.post(url, json=body, headers=HEADERS, timeout=5)
    rest(shop, "POST", "inventory_levels/set.json", json=variables)

    assert response.status_code < 500
    assert control(shop, "GET", "state")["internal_errors"] == []


# ------------------------------------------------------------------ orders and webhooks
class Receiver:
    """A local endpoint that records every webhook delivered to it."""

    def __init__(self, status=200):
        self.received: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), raw))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.status = status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def topics(self):
        return [h["X-Shopify-Topic"] for h, _ in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


SUBSCRIBE = """mutation Sub($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri endpoint { __typename ... on WebhookHttpEndpoint {
      callbackUrl } } }
    userErrors { field message } } }"""


def subscribe(shop, url, *topics):
    ids = []
    for topic in topics:
        body = gql(shop, SUBSCRIBE, {"topic": topic, "sub": {"uri": url, "format": "JSON"}})
        payload = body.json()["data"]["webhookSubscriptionCreate"]
        assert payload["userErrors"] == []
        ids.append(payload["webhookSubscription"]["id"])
    return ids


def place(shop, sku="TEE-M", quantity=2, **extra):
    body = {"line_items": [{"inventory_item_id": sku, "quantity": quantity}], **extra}
    return control(shop, "POST", "orders", body)


def test_an_order_lowers_available_and_raises_committed(shop):
    order = place(shop)

    assert order["order"]["line_items"][0]["sku"] == "TEE-M"
    assert (level(shop)["available"], level(shop)["committed"], level(shop)["on_hand"]) == (3, 2, 5)
    nodes = gql(shop, LEVELS, {"ids": [ITEM], "loc": LOC}).json()["data"]["nodes"]
    assert nodes[0]["inventoryLevel"]["quantities"][2] == {"name": "committed", "quantity": 2}


def test_fulfil_cancel_and_refund_move_stock_as_shopify_does(shop):
    first = place(shop)["id"]
    control(shop, "POST", f"orders/{first}/fulfil")
    assert (level(shop)["available"], level(shop)["committed"], level(shop)["on_hand"]) == (3, 0, 3)

    line = control(shop, "GET", "state")["orders"][first]["line_items"][0]["id"]
    refund = {"line_items": [{"line_item_id": line, "quantity": 1, "restock_type": "return"}]}
    control(shop, "POST", f"orders/{first}/refund", refund)
    assert (level(shop)["available"], level(shop)["on_hand"]) == (4, 4)

    second = place(shop, quantity=3)["id"]
    assert level(shop)["available"] == 1
    control(shop, "POST", f"orders/{second}/cancel")
    assert (level(shop)["available"], level(shop)["committed"]) == (4, 0)
    control(shop, "POST", f"orders/{second}/cancel", status=409)


REFUNDS = """query($id: ID!) { order(id: $id) { refunds(first: 5) { id
  refundLineItems(first: 1) { nodes { quantity restockType restocked lineItem { id sku } }
    pageInfo { hasNextPage endCursor } } } } }"""
REFUND_LINES = """query($id: ID!, $after: String) { node(id: $id) { ... on Refund {
  refundLineItems(first: 5, after: $after) { nodes { quantity restockType } } } } }"""


def test_an_orders_refunds_list_their_lines_restock_types_and_read_on_by_id(shop):
    order = place(shop, quantity=3)
    control(shop, "POST", f"orders/{order['id']}/fulfil")
    line = order["order"]["line_items"][0]["id"]
    rows = [
        {"line_item_id": line, "quantity": 1, "restock_type": "return"},
        {"line_item_id": line, "quantity": 1, "restock_type": "no_restock"},
    ]
    control(shop, "POST", f"orders/{order['id']}/refund", {"line_items": rows})
    gid = order["order"]["admin_graphql_api_id"]

    body = gql(shop, REFUNDS, {"id": gid}).json()
    [refund] = body["data"]["order"]["refunds"]
    lines = refund["refundLineItems"]
    [first] = lines["nodes"]
    assert first["quantity"] == 1
    assert (first["restockType"], first["restocked"]) == ("RETURN", True)
    assert first["lineItem"]["id"] == f"gid://shopify/LineItem/{line}"
    assert lines["pageInfo"]["hasNextPage"]
    # A list sized by its first: 5 refunds x (1 + a connection of 1 line: 2 + 1 x 2), + 1.
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 5 * (1 + 2 + 2)

    after = lines["pageInfo"]["endCursor"]
    more = gql(shop, REFUND_LINES, {"id": refund["id"], "after": after}).json()["data"]["node"]
    assert more["refundLineItems"]["nodes"] == [{"quantity": 1, "restockType": "NO_RESTOCK"}]
    assert gql(shop, REFUNDS, {"id": "gid://shopify/Order/999"}).json()["data"]["order"] is None
    unrefunded = place(shop, quantity=1)["order"]["admin_graphql_api_id"]
    assert gql(shop, REFUNDS, {"id": unrefunded}).json()["data"]["order"]["refunds"] == []


def test_an_order_beyond_available_is_refused(shop):
    response = requests.post(
        f"{shop.url}/_sandbox/orders",
        json={"line_items": [{"inventory_item_id": ITEM, "quantity": 6}]},
        timeout=5,
    )
    assert response.status_code == 409
    assert level(shop)["available"] == 5


def test_orders_are_listed_by_updated_at_with_line_items(shop):
    place(shop)
    query = """query($q: String!) { orders(first: 10, sortKey: UPDATED_AT, query: $q) {
      nodes { id name displayFinancialStatus lineItems(first: 5) { nodes { sku quantity
        variant { inventoryItem { id } } } } } } }"""
    since = gql(shop, query, {"q": "updated_at:>'2020-01-01T00:00:00Z'"}).json()
    nodes = since["data"]["orders"]["nodes"]
    assert [n["name"] for n in nodes] == ["#1001"]
    line = nodes[0]["lineItems"]["nodes"][0]
    assert (line["sku"], line["quantity"], line["variant"]["inventoryItem"]["id"]) == (
        "TEE-M",
        2,
        ITEM,
    )

    later = gql(shop, query, {"q": "updated_at:>'2099-01-01T00:00:00Z'"}).json()
    assert later["data"]["orders"]["nodes"] == []


def test_webhooks_are_signed_with_the_client_secret(shop, receiver):
    subscribe(shop, receiver.url, "ORDERS_CREATE", "INVENTORY_LEVELS_UPDATE")

    place(shop)

    deliveries = receiver.wait(2)
    assert sorted(receiver.topics()) == ["inventory_levels/update", "orders/create"]
    for headers, raw in deliveries:
        digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
        assert hmac.compare_digest(
            base64.b64encode(digest).decode(), headers["X-Shopify-Hmac-Sha256"]
        )
        assert headers["X-Shopify-Shop-Domain"] == "sandbox-shop.myshopify.com"
        assert headers["X-Shopify-API-Version"] == "2026-10"
        for name in ("X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-Triggered-At"):
            assert headers[name]
    bodies = {h["X-Shopify-Topic"]: json.loads(raw) for h, raw in deliveries}
    assert bodies["inventory_levels/update"]["available"] == 3
    assert bodies["inventory_levels/update"]["inventory_item_id"] == 11
    assert bodies["orders/create"]["line_items"][0]["quantity"] == 2


def test_our_own_set_and_a_merchant_edit_fire_inventory_levels_update(shop, receiver):
    subscribe(shop, receiver.url, "INVENTORY_LEVELS_UPDATE")
    push(shop, 9, 5)
    control(shop, "POST", "levels", {"inventory_item_id": ITEM, "location_id": LOC, "available": 4})

    deliveries = receiver.wait(2)
    assert [json.loads(raw)["available"] for _, raw in deliveries] == [9, 4]


def test_webhook_subscriptions_take_callback_url_and_can_be_updated_and_deleted(shop, receiver):
    create = """mutation { webhookSubscriptionCreate(topic: ORDERS_PAID,
      webhookSubscription: {callbackUrl: "%s", format: JSON}) {
      webhookSubscription { id uri endpoint { __typename } } userErrors { message } } }"""
    payload = gql(shop, create % receiver.url).json()["data"]["webhookSubscriptionCreate"]
    sub = payload["webhookSubscription"]
    assert (sub["uri"], sub["endpoint"]["__typename"]) == (receiver.url, "WebhookHttpEndpoint")

    update = """mutation($id: ID!, $sub: WebhookSubscriptionInput!) {
      webhookSubscriptionUpdate(id: $id, webhookSubscription: $sub) {
        webhookSubscription { uri } userErrors { message } } }"""
    moved = gql(shop, update, {"id": sub["id"], "sub": {"uri": receiver.url + "/v2"}}).json()
    assert moved["data"]["webhookSubscriptionUpdate"]["webhookSubscription"]["uri"].endswith("/v2")
    bad = gql(shop, update, {"id": sub["id"], "sub": {"uri": "not a url"}}).json()
    assert (
        bad["data"]["webhookSubscriptionUpdate"]["userErrors"][0]["message"] == "Address is invalid"
    )

    listed = gql(shop, "{ webhookSubscriptions(first: 10) { nodes { id topic } } }").json()
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [
        {"id": sub["id"], "topic": "ORDERS_PAID"}
    ]
    delete = 'mutation { webhookSubscriptionDelete(id: "%s") { deletedWebhookSubscriptionId } }'
    deleted = gql(shop, delete % sub["id"]).json()["data"]["webhookSubscriptionDelete"]
    assert deleted["deletedWebhookSubscriptionId"] == sub["id"]
    assert control(shop, "GET", "state")["webhooks"] == []


def test_a_duplicate_delivery_keeps_the_event_id(shop, receiver):
    subscribe(shop, receiver.url, "ORDERS_CREATE")
    control(shop, "POST", "webhook-failures", {"duplicate_next": 1})

    place(shop)

    (first, _), (second, _) = receiver.wait(2)
    assert first["X-Shopify-Event-Id"] == second["X-Shopify-Event-Id"]
    assert first["X-Shopify-Webhook-Id"] != second["X-Shopify-Webhook-Id"]


def test_a_subscription_is_deleted_after_every_retry_fails(shop):
    control(shop, "POST", "seed", {"settings": {"webhook_retry_seconds": 0.01}})
    failing = Receiver(status=500)
    try:
        subscribe(shop, failing.url, "ORDERS_CREATE")
        place(shop)
        assert len(failing.wait(9)) == 9
        deadline = time.monotonic() + 5
        while control(shop, "GET", "state")["webhooks"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert control(shop, "GET", "state")["webhooks"] == []
    finally:
        failing.close()


def test_the_js_library_listing_query_runs(shop, receiver):
    subscribe(shop, receiver.url, "ORDERS_CREATE")
    query = """query shopifyApiReadWebhookSubscriptions { webhookSubscriptions(first: 250,
      after: null) { edges { node { id topic includeFields metafieldNamespaces
      endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } } }
      pageInfo { endCursor hasNextPage } } }"""
    body = gql(shop, query).json()

    node = body["data"]["webhookSubscriptions"]["edges"][0]["node"]
    assert node["endpoint"] == {"__typename": "WebhookHttpEndpoint", "callbackUrl": receiver.url}


def test_an_unknown_field_reads_as_shopify_words_it(shop):
    error = gql(shop, "{ shop { nope } }").json()["errors"][0]

    assert error["message"] == "Field 'nope' doesn't exist on type 'Shop'"
    assert error["extensions"]["code"] == "undefinedField"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["orders", "levels", "seed", "stock", "failures", "orders/1/refund"]),
    body=JSON,
)
def test_random_control_bodies_never_give_a_500(shop, path, body):
    response = requests.post(f"{shop.url}/_sandbox/{path}", json=body, timeout=5)

    assert response.status_code in (200, 400, 409)
    assert control(shop, "GET", "state")["internal_errors"] == []


# ------------------------------------------------------------------ legacy REST
def rest(shop, method, path, **kwargs):
    url = f"{shop.url}/admin/api/2026-10/{path}"
    return requests.request(method, url, headers=HEADERS, timeout=5, **kwargs)


def post_level(shop, action, **body):
    return rest(shop, "POST", f"inventory_levels/{action}.json", json=body)


def test_rest_reads_sets_adjusts_and_connects_levels(shop):
    listed = rest(shop, "GET", "inventory_levels.json", params={"inventory_item_ids": "11,12"})
    assert listed.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    rows = listed.json()["inventory_levels"]
    found = {(r["inventory_item_id"], r["location_id"]): r["available"] for r in rows}
    assert found == {(11, 1): 5, (12, 1): 3, (12, 2): 0}

    answer = post_level(shop, "set", location_id=1, inventory_item_id=11, available=42)
    assert answer.json()["inventory_level"]["available"] == 42
    answer = post_level(
        shop, "adjust", location_id=1, inventory_item_id=11, available_adjustment=-2
    )
    assert answer.json()["inventory_level"]["available"] == 40
    assert post_level(shop, "connect", location_id=2, inventory_item_id=14).status_code == 201
    assert level(shop, UNSTOCKED, LOC2)["available"] == 0
    assert post_level(shop, "adjust", location_id=2, inventory_item_id=11).status_code == 422


def test_rest_pages_with_a_link_header(shop):
    page = rest(shop, "GET", "inventory_levels.json", params={"location_ids": "1", "limit": 2})
    assert len(page.json()["inventory_levels"]) == 2

    next_url = page.headers["Link"].split(";")[0].strip("<>")
    rest_page = requests.get(next_url, headers=HEADERS, timeout=5)
    assert len(rest_page.json()["inventory_levels"]) == 1
    assert "Link" not in rest_page.headers


def test_rest_has_a_40_request_bucket(shop):
    statuses = [
        rest(shop, "GET", "inventory_levels.json", params={"location_ids": "1"}) for _ in range(42)
    ]

    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled
    assert throttled[0].headers["Retry-After"] == "2.0"


@pytest.mark.parametrize(("mode", "after"), [("ignore", 0), ("apply", 7)])
def test_untracked_writes_can_be_ignored_or_applied(shop, mode, after):
    control(shop, "POST", "seed", {"settings": {"untracked_writes": mode}})

    payload = push(shop, 7, None, item=UNTRACKED)["data"]["inventorySetQuantities"]

    assert payload["userErrors"] == []
    assert level(shop, UNTRACKED)["available"] == after


def test_item_update_switches_tracking(shop):
    query = """mutation($id: ID!, $input: InventoryItemInput!) { inventoryItemUpdate(id: $id,
      input: $input) { inventoryItem { id tracked } userErrors { message } } }"""
    body = gql(shop, query, {"id": UNTRACKED, "input": {"tracked": True}}).json()

    assert body["data"]["inventoryItemUpdate"]["inventoryItem"] == {
        "id": UNTRACKED,
        "tracked": True,
    }
    assert push(shop, 7, 0, item=UNTRACKED)["data"]["inventorySetQuantities"]["userErrors"] == []


def test_2026_01_needs_no_directive_and_unstable_is_served(shop):
    query = SET.replace(" @idempotent(key: $key)", "").replace(", $key: String!", "")
    body = gql(shop, query, {"input": set_input(9, 5)}, version="2026-01").json()
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []

    unstable = gql(shop, "{ shop { id } }", version="unstable")
    assert unstable.headers["X-Shopify-API-Version"] == "unstable"


def test_injected_503_and_429_carry_retry_after(shop):
    control(
        shop, "POST", "failures", {"error_next": 1, "error_statuses": [503], "rate_limit_next": 1}
    )

    limited = gql(shop, "{ shop { id } }")
    failed = gql(shop, "{ shop { id } }")

    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2.0")
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "1")
    assert isinstance(failed.json()["errors"], str)
