"""Shopify's official Python library (PyPI ShopifyAPI: `shopify.GraphQL`) against our
sandbox: the inventory reads and writes the connector makes, sent the library's way (all
three body keys, `null` when unset; its own headers), and the refusals it must read as
Shopify's (shopify.md §1.4)."""

import json
import urllib.error

import pytest
import requests
import shopify

from connectors.platforms.sandbox.server import RunningSandbox
from connectors.platforms.shopify.sandbox import ShopifySandbox

TOKEN = "shpat_sandbox_token"
VERSION = "2026-10"
LOC = "gid://shopify/Location/1"
ITEM = "gid://shopify/InventoryItem/30322695"
OTHER = "gid://shopify/InventoryItem/30322696"
LEVELS = """
query Levels($ids: [ID!]!, $loc: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem { id sku tracked
      inventoryLevel(locationId: $loc) {
        quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } }"""
DOCUMENT = """
mutation PushStock($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
mutation Activate($item: ID!, $loc: ID!, $key: String!) {
  inventoryActivate(inventoryItemId: $item, locationId: $loc) @idempotent(key: $key) {
    inventoryLevel { id } userErrors { field message }
  }
}
query Items($q: String) { inventoryItems(first: 10, query: $q) { nodes { id sku } } }
"""


@pytest.fixture(scope="module")
def running():
    with RunningSandbox(ShopifySandbox()) as sandbox:
        yield sandbox


@pytest.fixture
def client(running):
    """The library's GraphQL client, its session activated and its site on the sandbox."""
    requests.post(f"{running.url}/_sandbox/reset", timeout=5)
    seed = {
        "locations": [{"id": LOC, "name": "Warehouse"}],
        "items": [
            {"id": ITEM, "sku": "TEE-M", "levels": {LOC: {"available": 5}}},
            {"id": OTHER, "sku": "TEE-L"},
        ],
    }
    requests.post(f"{running.url}/_sandbox/seed", json=seed, timeout=5)
    session = shopify.Session("sandbox-shop.myshopify.com", VERSION, TOKEN)
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = f"http://127.0.0.1:{running.port}/admin/api/{VERSION}"
    yield shopify.GraphQL()
    shopify.ShopifyResource.clear_session()


def run(client, query, variables=None, operation_name=None):
    return json.loads(client.execute(query, variables, operation_name))


def push_input(quantity, change_from):
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://backoffice/StockMovement/4711",
        "quantities": [
            {
                "inventoryItemId": ITEM,
                "locationId": LOC,
                "quantity": quantity,
                "changeFromQuantity": change_from,
            }
        ],
    }


def test_the_library_reads_levels_with_nodes(client):
    body = run(client, LEVELS, {"ids": [ITEM, OTHER], "loc": LOC})

    item, other = body["data"]["nodes"]
    assert item["sku"] == "TEE-M"
    assert item["inventoryLevel"]["quantities"][0] == {"name": "available", "quantity": 5}
    assert other["inventoryLevel"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0


def test_the_library_pushes_with_cas_and_an_idempotency_key(client):
    variables = {"input": push_input(11, 5), "key": "push-4711"}
    body = run(client, DOCUMENT, variables, "PushStock")

    payload = body["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    assert payload["inventoryAdjustmentGroup"]["changes"][0]["quantityAfterChange"] == 11
    assert run(client, DOCUMENT, variables, "PushStock")["data"] == body["data"]


def test_the_library_sees_a_stale_push_as_a_user_error_at_200(client):
    body = run(client, DOCUMENT, {"input": push_input(11, 4), "key": "stale"}, "PushStock")

    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["CHANGE_FROM_QUANTITY_STALE"]


def test_the_library_activates_and_lists_by_sku(client):
    variables = {"item": OTHER, "loc": LOC, "key": "activate-1"}
    body = run(client, DOCUMENT, variables, "Activate")
    assert body["data"]["inventoryActivate"]["userErrors"] == []

    items = run(client, DOCUMENT, {"q": "sku:TEE-L"}, "Items")["data"]["inventoryItems"]
    assert items["nodes"] == [{"id": OTHER, "sku": "TEE-L"}]


def test_the_library_raises_on_a_bad_token(running, client):
    session = shopify.Session("sandbox-shop.myshopify.com", VERSION, "shpat_wrong")
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = f"http://127.0.0.1:{running.port}/admin/api/{VERSION}"

    with pytest.raises(urllib.error.HTTPError) as raised:
        shopify.GraphQL().execute("{ shop { id } }")

    assert raised.value.code == 401
