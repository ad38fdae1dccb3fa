"""Webflow v2 sandbox: channels.md §2."""

import pytest
import requests

from connectors.platforms.webflow.testing import WebflowHooks

PLATFORM = "webflow"
WF_HEADERS = WebflowHooks().login("")
ITEM = "/v2/collections/c1/items/s1/inventory"
ERROR_KEYS = {"code", "message", "externalReference", "details"}


def patch(wf, body, path=ITEM, headers=WF_HEADERS):
    return requests.patch(wf.url + path, json=body, headers=headers, timeout=5)


def get(wf, path=ITEM, headers=WF_HEADERS):
    return requests.get(wf.url + path, headers=headers, timeout=5)


def test_get_returns_the_inventory_item(sandbox):
    response = get(sandbox)

    assert response.status_code == 200
    assert response.json() == {"id": "s1", "quantity": 5, "inventoryType": "finite"}


def test_quantity_sets_and_update_quantity_adds(sandbox):
    assert patch(sandbox, {"inventoryType": "finite", "quantity": 100}).json()["quantity"] == 100

    response = patch(sandbox, {"inventoryType": "finite", "updateQuantity": -2})

    assert response.status_code == 200
    assert response.json() == {"id": "s1", "quantity": 98, "inventoryType": "finite"}


def test_infinite_without_quantities_switches_the_type(sandbox):
    response = patch(sandbox, {"inventoryType": "infinite"})

    assert response.json()["inventoryType"] == "infinite"
    assert get(sandbox).json()["inventoryType"] == "infinite"


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 3},
        {"inventoryType": "lots", "quantity": 3},
        {"inventoryType": "finite", "quantity": 3, "updateQuantity": 1},
        {"inventoryType": "infinite", "quantity": 3},
        {"inventoryType": "infinite", "updateQuantity": 1},
        {"inventoryType": "finite", "quantity": "3"},
        {"inventoryType": "finite", "updateQuantity": -6},
    ],
)
def test_invalid_bodies_are_400_validation_errors(sandbox, body):
    response = patch(sandbox, body)

    assert response.status_code == 400
    assert response.json().keys() == ERROR_KEYS
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"][0]["param"]
    assert get(sandbox).json()["quantity"] == 5


@pytest.mark.parametrize(
    "path", ["/v2/collections/nope/items/s1/inventory", "/v2/collections/c1/items/nope/inventory"]
)
def test_unknown_ids_are_404_resource_not_found(sandbox, path):
    response = patch(sandbox, {"inventoryType": "finite", "quantity": 1}, path=path)

    assert response.status_code == 404
    assert response.json()["code"] == "resource_not_found"
    assert response.json()["externalReference"] is None


def test_a_site_without_ecommerce_answers_409(sandbox):
    sandbox.seed(sites={"wf-sandbox-site": {"ecommerce": False}})

    response = patch(sandbox, {"inventoryType": "finite", "quantity": 1})

    assert response.status_code == 409
    assert response.json()["code"] == "ecommerce_not_enabled"


def test_a_token_without_ecommerce_write_gets_403_missing_scopes(sandbox):
    headers = {"Authorization": "Bearer wf-sandbox-readonly-token"}

    assert get(sandbox, headers=headers).status_code == 200
    response = patch(sandbox, {"inventoryType": "finite", "quantity": 1}, headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scopes"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_a_missing_or_wrong_token_is_401(sandbox, headers):
    response = get(sandbox, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authorized"


def test_the_per_token_window_answers_429_with_retry_after(sandbox):
    sandbox.seed(settings={"rate_per_minute": 2})

    answers = [get(sandbox) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert answers[0].headers["X-RateLimit-Remaining"] == "1"
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    assert answers[2].headers["Retry-After"] == "60"
    assert answers[2].json()["code"] == "too_many_requests"
    other = {"Authorization": "Bearer wf-sandbox-readonly-token"}
    assert get(sandbox, headers=other).status_code == 200


def test_the_window_is_configurable_and_can_be_switched_off(sandbox):
    sandbox.seed(settings={"rate_per_minute": 120})
    assert get(sandbox).headers["X-RateLimit-Limit"] == "120"

    sandbox.seed(settings={"rate_per_minute": 1})
    sandbox.fail(rate_limits=False)
    assert {get(sandbox).status_code for _ in range(3)} == {200}


def test_a_lost_answer_to_a_delta_still_applies_it(sandbox):
    sandbox.fail(drop_after_apply_next=1)

    with pytest.raises(requests.ConnectionError):
        patch(sandbox, {"inventoryType": "finite", "updateQuantity": 3})

    assert get(sandbox).json()["quantity"] == 8
