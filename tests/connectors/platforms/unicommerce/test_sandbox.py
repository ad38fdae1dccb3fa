"""Unicommerce marketplace sandbox (the partner side of /updateInventory): channels.md §3.1."""

import pytest
import requests

from connectors.platforms.unicommerce.testing import UnicommerceHooks

PLATFORM = "unicommerce"
CREDENTIALS = {"username": "uniware", "password": "uniware-sandbox-password"}


@pytest.fixture
def uc(sandbox):
    sandbox.seed(
        items=[
            {"productId": "979", "variantId": "4726", "sku": "TEE-S", "inventory": 1},
            {"productId": "979", "variantId": "4727", "sku": "TEE-M"},
            {"productId": "980", "variantId": "5000", "sku": "CAP"},
        ]
    )
    sandbox.headers = UnicommerceHooks().login(sandbox.url)
    return sandbox


def push(uc, lines, headers=None):
    body = {"inventoryList": lines}
    return requests.post(
        f"{uc.url}/updateInventory",
        json=body,
        headers=uc.headers if headers is None else headers,
        timeout=5,
    )


def inventory(uc) -> dict:
    products = uc.state()["products"]
    return {v["variantId"]: v["inventory"] for p in products.values() for v in p["variants"]}


def test_get_and_post_auth_token_issue_an_access_token(sandbox):
    got = requests.get(f"{sandbox.url}/authToken", params=CREDENTIALS, timeout=5)
    posted = requests.post(f"{sandbox.url}/authToken", json=CREDENTIALS, timeout=5)

    for response in (got, posted):
        assert response.status_code == 200
        assert response.json()["status"] == "SUCCESS"
        assert response.json()["accessToken"]


def test_bad_credentials_fail_in_each_verbs_words(sandbox):
    bad = {**CREDENTIALS, "password": "wrong"}

    got = requests.get(f"{sandbox.url}/authToken", params=bad, timeout=5)
    posted = requests.post(f"{sandbox.url}/authToken", json=bad, timeout=5)

    assert got.json() == {"status": "FAILED"}
    assert posted.json() == {"status": "INVALID_CREDENTIALS"}


def test_an_update_with_string_and_integer_inventory_succeeds(uc):
    response = push(
        uc,
        [
            {"productId": "979", "variantId": "4726", "inventory": "10", "hsnCode": "610910"},
            {"productId": "979", "variantId": "4727", "inventory": 4},
        ],
    )

    assert response.status_code == 200
    assert response.json() == {"status": "SUCCESS", "failedProductList": []}
    assert inventory(uc) == {"4726": 10, "4727": 4, "5000": 0}


def test_bad_lines_fail_alone_as_partial_success(uc):
    response = push(
        uc,
        [
            {"productId": "979", "variantId": "4726", "inventory": "3"},
            {"productId": "999", "variantId": "1", "inventory": "3"},
            {"productId": "979", "variantId": "9999", "inventory": "3"},
            {"productId": "980", "variantId": "5000", "inventory": "ten"},
            {"productId": "979", "variantId": "4727", "inventory": -1},
        ],
    )

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "PARTIAL_SUCCESS"
    assert [(f["productId"], f["variantId"]) for f in body["failedProductList"]] == [
        ("999", "1"),
        ("979", "9999"),
        ("980", "5000"),
        ("979", "4727"),
    ]
    assert [f["message"].split(":")[0] for f in body["failedProductList"]] == [
        "Product not found",
        "Variant not found",
        "Invalid inventory value",
        "Invalid inventory value",
    ]
    assert inventory(uc) == {"4726": 3, "4727": 0, "5000": 0}


def test_all_lines_failing_is_failed(uc):
    response = push(uc, [{"productId": "999", "variantId": "1", "inventory": "3"}])

    assert response.json()["status"] == "FAILED"


def test_a_list_over_the_maximum_is_refused_whole(uc):
    uc.seed(settings={"max_list_size": 2})
    lines = [{"productId": "979", "variantId": "4726", "inventory": "1"}] * 3

    response = push(uc, lines)

    assert response.status_code == 400
    assert response.json()["status"] == "FAILED"
    assert inventory(uc)["4726"] == 1


def test_a_body_without_inventory_list_is_a_400(uc):
    response = requests.post(
        f"{uc.url}/updateInventory", json={"items": []}, headers=uc.headers, timeout=5
    )

    assert response.status_code == 400
    assert response.json()["status"] == "FAILED"


@pytest.mark.parametrize("headers", [{}, {"apiKey": "wrong"}])
def test_a_missing_or_unknown_api_key_is_401(uc, headers):
    response = push(uc, [], headers=headers)

    assert response.status_code == 401
    assert response.json()["status"] == "FAILED"


def test_the_marketplace_expires_tokens(uc):
    uc.seed(settings={"token_ttl": 0})
    short_lived = UnicommerceHooks().login(uc.url)

    assert push(uc, [], headers=short_lived).status_code == 401
    uc.control("POST", "expire-tokens")
    assert push(uc, []).status_code == 401


def test_products_pages_and_filters_by_sku(uc):
    url = f"{uc.url}/products"

    first = requests.get(
        url, params={"pageNumber": 1, "pageSize": 1}, headers=uc.headers, timeout=5
    )
    by_sku = requests.get(url, params={"skus": "TEE-M,CAP"}, headers=uc.headers, timeout=5)
    count = requests.get(f"{uc.url}/productsCount", headers=uc.headers, timeout=5)

    assert [p["id"] for p in first.json()["products"]] == ["979"]
    assert {v["sku"] for p in by_sku.json()["products"] for v in p["variants"]} == {"TEE-M", "CAP"}
    variant = first.json()["products"][0]["variants"][0]
    assert {"variantId", "sku", "inventory", "live", "title"} <= set(variant)
    assert count.json() == {"count": 3}


def test_facility_stock_is_kept_apart_and_summed(uc):
    uc.seed(settings={"facilities": ["WH1", "WH2"]})

    response = push(
        uc,
        [
            {"productId": "979", "variantId": "4726", "inventory": "2", "facilityCode": "WH1"},
            {"productId": "979", "variantId": "4726", "inventory": "5", "facilityCode": "WH2"},
            {"productId": "979", "variantId": "4727", "inventory": "5", "facilityCode": "XX"},
        ],
    )

    assert response.json()["status"] == "PARTIAL_SUCCESS"
    assert inventory(uc)["4726"] == 7


def test_a_lost_answer_still_applies_the_absolute_push(uc):
    uc.fail(drop_after_apply_next=1)

    with pytest.raises(requests.ConnectionError):
        push(uc, [{"productId": "980", "variantId": "5000", "inventory": "9"}])

    assert inventory(uc)["5000"] == 9
