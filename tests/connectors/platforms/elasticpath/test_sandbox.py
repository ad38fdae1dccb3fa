"""Elastic Path sandbox: channels.md §4."""

import time

import pytest
import requests

PLATFORM = "elasticpath"
CLIENT = {"client_id": "ep-sandbox-client-id", "client_secret": "ep-sandbox-client-secret"}
MLI = {"EP-Inventories-Multi-Location": "true"}
PRODUCT = "9eda5ba0-4f4a-4074-8547-ccb05d1b5981"


@pytest.fixture
def ep(sandbox):
    sandbox.seed(
        locations=[{"slug": "york_warehouse"}],
        items=[{"id": PRODUCT, "available": 10, "locations": {"york_warehouse": {"available": 4}}}],
    )
    sandbox.headers = sandbox.login()
    return sandbox


def call(ep, method, path, body=None, headers=None):
    headers = {**ep.headers, **(headers or {})}
    return requests.request(method, f"{ep.url}/v2{path}", json=body, headers=headers, timeout=5)


def transact(ep, action, quantity, **extra):
    body = {"data": {"type": "stock-transaction", "action": action, "quantity": quantity, **extra}}
    return call(ep, "POST", f"/inventories/{PRODUCT}/transactions", body)


def mli_transact(ep, **attributes):
    body = {"data": {"type": "stock-transaction", "attributes": attributes}}
    return call(ep, "POST", f"/inventories/{PRODUCT}/transactions", body, MLI)


def stock(ep) -> dict:
    return call(ep, "GET", f"/inventories/{PRODUCT}").json()["data"]


def test_client_credentials_token_has_the_documented_shape(sandbox):
    form = {"grant_type": "client_credentials", **CLIENT}

    token = requests.post(f"{sandbox.url}/oauth/access_token", data=form, timeout=5).json()

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["identifier"] == "client_credentials"
    assert token["expires"] == pytest.approx(time.time() + 3600, abs=5)


def test_a_wrong_secret_is_401_in_the_errors_shape(sandbox):
    form = {"grant_type": "client_credentials", **CLIENT, "client_secret": "wrong"}

    response = requests.post(f"{sandbox.url}/oauth/access_token", data=form, timeout=5)

    assert response.status_code == 401
    assert response.json()["errors"][0]["status"] == "401"


def test_an_implicit_token_reads_but_cannot_write(ep):
    form = {"grant_type": "implicit", "client_id": CLIENT["client_id"]}
    token = requests.post(f"{ep.url}/oauth/access_token", data=form, timeout=5).json()
    ep.headers = {"Authorization": f"Bearer {token['access_token']}"}

    assert call(ep, "GET", f"/inventories/{PRODUCT}").status_code == 200
    assert transact(ep, "increment", 1).status_code == 403


def test_basic_stock_is_total_available_allocated(ep):
    assert stock(ep) == {
        "id": PRODUCT,
        "type": "stock",
        "total": 14,
        "available": 14,
        "allocated": 0,
    }


def test_an_increment_answers_200_with_the_transaction(ep):
    response = transact(ep, "increment", 10)

    data = response.json()["data"]
    assert response.status_code == 200
    assert data["type"] == "stock-transaction"
    assert data["action"] == "increment"
    assert data["product_id"] == PRODUCT
    assert data["quantity"] == 10
    assert data["timestamps"]["created_at"].endswith("+0000 UTC")
    assert stock(ep)["available"] == 24


def test_allocate_and_deallocate_move_units_between_available_and_allocated(ep):
    transact(ep, "allocate", 3)
    assert (stock(ep)["available"], stock(ep)["allocated"], stock(ep)["total"]) == (11, 3, 14)

    transact(ep, "deallocate", 2)
    assert (stock(ep)["available"], stock(ep)["allocated"]) == (13, 1)


@pytest.mark.parametrize(
    ("action", "quantity"), [("decrement", 11), ("allocate", 11), ("deallocate", 1)]
)
def test_beyond_what_is_there_is_a_422_insufficient_stock(ep, action, quantity):
    response = transact(ep, action, quantity)

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["status"] == "422"
    assert error["title"] == "Cannot complete request"
    assert "insufficient stock levels" in error["detail"]
    assert stock(ep)["available"] == 14


@pytest.mark.parametrize(
    "data",
    [
        {"type": "stock-transaction", "action": "increment", "quantity": 0},
        {"type": "stock-transaction", "action": "set", "quantity": 3},
        {"type": "stock-transaction", "action": "increment", "quantity": "3"},
        {"action": "increment", "quantity": 3},
    ],
)
def test_invalid_basic_transactions_are_400_validation_errors(ep, data):
    response = call(ep, "POST", f"/inventories/{PRODUCT}/transactions", {"data": data})

    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == "Validation Error"


def test_an_unknown_product_is_404_no_stock_found(ep):
    response = call(ep, "GET", "/inventories/nope")

    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"status": "404", "title": "Not Found", "detail": "No stock found"}]
    }


def test_creating_stock_answers_201_once(ep):
    created = call(ep, "POST", "/inventories/new-product", {"data": {"quantity": 5}})
    again = call(ep, "POST", "/inventories/new-product", {"quantity": 5})

    assert created.status_code == 201
    assert created.json()["data"]["available"] == 5
    assert again.status_code == 409


def test_mli_set_at_a_location_answers_201_and_shows_per_location_stock(ep):
    response = mli_transact(ep, action="set", quantity=20, location="york_warehouse")

    assert response.status_code == 201
    assert response.json()["data"]["attributes"] == {
        "action": "set",
        "product_id": PRODUCT,
        "quantity": 20,
        "location": "york_warehouse",
    }
    mli = call(ep, "GET", f"/inventories/{PRODUCT}", headers=MLI).json()["data"]
    assert mli["attributes"]["locations"] == {
        "york_warehouse": {"available": 20, "allocated": 0, "total": 20}
    }
    assert mli["attributes"]["total"] == 30
    assert "stock_id" in mli["meta"]


def test_mli_allows_quantity_zero_and_refuses_unknown_locations(ep):
    assert mli_transact(ep, action="set", quantity=0, location="york_warehouse").status_code == 201

    response = mli_transact(ep, action="increment", quantity=1, location="leeds")

    assert response.status_code == 404
    assert response.json()["errors"][0]["detail"] == "No location found"


def test_mli_set_below_allocated_is_a_422(ep):
    mli_transact(ep, action="allocate", quantity=3, location="york_warehouse")

    response = mli_transact(ep, action="set", quantity=2, location="york_warehouse")

    assert response.status_code == 422


def test_list_pages_with_links_and_meta(ep):
    ep.seed(items=[{"id": "second", "available": 1}])

    body = call(ep, "GET", "/inventories?page[limit]=1&page[offset]=1").json()

    assert [s["id"] for s in body["data"]] == ["second"]
    assert body["meta"]["results"] == {"total": 2}
    assert body["meta"]["page"] == {"limit": 1, "offset": 1, "current": 2, "total": 2}
    assert {"current", "first", "last"} <= set(body["links"])
    assert call(ep, "GET", "/inventories?page[limit]=101").status_code == 400


def test_multiple_returns_the_known_ids(ep):
    body = {"data": [{"id": PRODUCT}, {"id": "unknown"}]}

    response = call(ep, "POST", "/inventories/multiple", body)

    assert [s["id"] for s in response.json()["data"]] == [PRODUCT]


def test_bad_and_expired_tokens_are_401(ep):
    assert call(ep, "GET", "/inventories", headers={"Authorization": "Bearer x"}).status_code == 401

    ep.control("POST", "expire-tokens")

    assert call(ep, "GET", "/inventories").status_code == 401


def test_the_store_rate_limit_answers_429_and_can_be_switched_off(ep):
    ep.seed(settings={"rps": 2})

    statuses = [call(ep, "GET", "/inventories").status_code for _ in range(4)]

    assert 429 in statuses
    assert statuses[:2] == [200, 200]
    ep.fail(rate_limits=False)
    assert {call(ep, "GET", "/inventories").status_code for _ in range(4)} == {200}


def test_a_lost_answer_to_a_decrement_still_applies_it(ep):
    ep.fail(drop_after_apply_next=1)

    with pytest.raises(requests.ConnectionError):
        transact(ep, "decrement", 4)

    assert stock(ep)["available"] == 10


def test_a_transaction_is_read_back_by_its_id(ep):
    made = transact(ep, "increment", 2).json()["data"]

    found = call(ep, "GET", f"/inventories/{PRODUCT}/transactions/{made['id']}")
    missing = call(ep, "GET", f"/inventories/{PRODUCT}/transactions/nope")

    assert found.status_code == 200
    assert found.json()["data"] == made
    assert missing.status_code == 404


def test_mli_stock_is_created_and_set_by_location(ep):
    new = "9eda5ba0-4f4a-4074-8547-000000000007"
    body = {"type": "stock", "id": new, "attributes": {"locations": {"york_warehouse": {}}}}
    refused = call(ep, "POST", "/inventories", {"data": body}, MLI)
    body["attributes"]["locations"]["york_warehouse"]["available"] = 3
    created = call(ep, "POST", "/inventories", {"data": body}, MLI)
    body["attributes"]["locations"]["york_warehouse"]["available"] = 9
    updated = call(ep, "PUT", f"/inventories/{new}", {"data": body}, MLI)
    basic = call(ep, "POST", "/inventories", {"data": body})

    assert refused.status_code == 400
    assert "locations.york_warehouse.available" in refused.json()["errors"][0]["detail"]
    assert created.status_code == 201
    assert updated.status_code == 200
    assert updated.json()["data"]["attributes"]["locations"]["york_warehouse"]["available"] == 9
    assert basic.status_code == 400
    assert "EP-Inventories-Multi-Location" in basic.json()["errors"][0]["detail"]


def test_a_location_named_locations_is_a_location_not_stock(ep):
    body = {"type": "inventory_location", "attributes": {"name": "Depot", "slug": "locations"}}

    created = call(ep, "POST", "/inventories/locations", {"data": body}, MLI)
    listed = call(ep, "GET", "/inventories/locations", headers=MLI).json()

    assert created.status_code == 201
    assert "locations" not in ep.state()["stock"]
    assert [loc["attributes"]["slug"] for loc in listed["data"]] == ["york_warehouse", "locations"]
    assert listed["meta"]["results"] == {"total": 2}
    assert {"current", "first", "last"} <= set(listed["links"])
