"""HighLevel sandbox: channels.md §1."""

import pytest
import requests

from connectors.platforms.highlevel.demo import LOCATION as HL_LOCATION
from connectors.platforms.highlevel.testing import HighLevelHooks

PLATFORM = "highlevel"
HL_HEADERS = HighLevelHooks().login("")
OAUTH = {"client_id": "hl-sandbox-client-id", "client_secret": "hl-sandbox-client-secret"}


@pytest.fixture
def hl(sandbox):
    sandbox.seed(
        items=[
            {"priceId": "p1", "name": "Red mug", "sku": "MUG-R", "availableQuantity": 3},
            {"priceId": "p2", "name": "Blue mug", "sku": "MUG-B", "availableQuantity": 7},
            {"priceId": "p3", "name": "Teapot", "sku": "POT", "availableQuantity": 1},
        ]
    )
    return sandbox


def list_inventory(hl, headers=HL_HEADERS, **params):
    params = {"altId": HL_LOCATION, "altType": "location", **params}
    return requests.get(f"{hl.url}/products/inventory", params=params, headers=headers, timeout=5)


def update(hl, items, headers=HL_HEADERS, alt_id=HL_LOCATION):
    body = {"altId": alt_id, "altType": "location", "items": items}
    return requests.post(f"{hl.url}/products/inventory", json=body, headers=headers, timeout=5)


def quantities(hl) -> dict:
    items = hl.state()["locations"][HL_LOCATION]
    return {pid: item["availableQuantity"] for pid, item in items.items()}


def test_list_returns_items_with_total_as_an_object(hl):
    body = list_inventory(hl).json()

    assert body["total"] == {"total": 3}
    assert {i["_id"]: i["availableQuantity"] for i in body["inventory"]} == {
        "p1": 3,
        "p2": 7,
        "p3": 1,
    }
    assert {"_id", "name", "sku", "product", "allowOutOfStockPurchases", "updatedAt"} <= set(
        body["inventory"][0]
    )


def test_list_searches_and_pages(hl):
    found = list_inventory(hl, search="mug", limit=1, offset=1).json()

    assert found["total"] == {"total": 2}
    assert [i["_id"] for i in found["inventory"]] == ["p2"]


def test_list_without_alt_type_is_a_422_with_an_array_message(hl):
    response = list_inventory(hl, altType="company")

    assert response.status_code == 422
    assert response.json() == {
        "statusCode": 422,
        "message": ["altType must be one of the following values: location"],
        "error": "Unprocessable Entity",
    }


def test_update_sets_absolute_quantities(hl):
    response = update(hl, [{"priceId": "p1", "availableQuantity": 10}, {"priceId": "p2"}])

    assert response.status_code == 201
    assert response.json() == {"status": True, "message": "Successfully created"}
    assert quantities(hl) == {"p1": 10, "p2": 7, "p3": 1}


def test_update_validation_errors_are_nestjs_style_messages(hl):
    response = update(hl, [{"priceId": 5, "availableQuantity": "7", "allowOutOfStockPurchases": 1}])

    assert response.status_code == 422
    assert response.json()["message"] == [
        "items.0.priceId must be a string",
        "items.0.availableQuantity must be a number conforming to the specified constraints",
        "items.0.allowOutOfStockPurchases must be a boolean value",
    ]


def test_an_unknown_price_rejects_the_whole_batch_naming_it(hl):
    response = update(hl, [{"priceId": "p1", "availableQuantity": 0}, {"priceId": "nope"}])

    assert response.status_code == 422
    assert "items.1.priceId nope" in response.json()["message"][0]
    assert quantities(hl)["p1"] == 3


def test_unknown_prices_can_be_ignored_by_setting(hl):
    hl.seed(settings={"unknown_price": "ignore"})

    response = update(hl, [{"priceId": "p1", "availableQuantity": 0}, {"priceId": "nope"}])

    assert response.status_code == 201
    assert quantities(hl)["p1"] == 0


def test_malformed_json_is_a_400(hl):
    response = requests.post(
        f"{hl.url}/products/inventory",
        data="{nope",
        headers={**HL_HEADERS, "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "message": "Bad Request"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Version": "2021-07-28"}, 401),
        ({"Version": "2021-07-28", "Authorization": "Bearer wrong"}, 401),
        ({"Authorization": HL_HEADERS["Authorization"]}, 400),
        ({**HL_HEADERS, "Version": "2021-04-15"}, 400),
    ],
)
def test_token_and_version_header_are_required(hl, headers, status):
    response = list_inventory(hl, headers=headers)

    assert response.status_code == status
    assert response.json()["statusCode"] == status
    if status == 401:
        assert response.json() == {
            "statusCode": 401,
            "message": "Invalid token: access token is invalid",
            "error": "Unauthorized",
        }


def test_a_read_only_token_cannot_write(hl):
    hl.seed(credentials={"private_token": "pit-read", "scopes": ["products/prices.readonly"]})
    headers = {**HL_HEADERS, "Authorization": "Bearer pit-read"}

    assert list_inventory(hl, headers=headers).status_code == 200
    assert update(hl, [{"priceId": "p1"}], headers=headers).status_code == 401


def test_a_location_never_seeded_is_forbidden(hl):
    response = update(hl, [{"priceId": "p1"}], alt_id="000000000000000000000000")

    assert response.status_code == 403


def test_every_answer_carries_the_five_rate_limit_headers(hl):
    answers = [
        list_inventory(hl),
        list_inventory(hl, headers={"Version": "2021-07-28"}),
        update(hl, [{"priceId": 1}]),
    ]

    assert [r.status_code for r in answers] == [200, 401, 422]
    for response in answers:
        assert {
            "X-RateLimit-Limit-Daily",
            "X-RateLimit-Daily-Remaining",
            "X-RateLimit-Interval-Milliseconds",
            "X-RateLimit-Max",
            "X-RateLimit-Remaining",
        } <= set(response.headers)
    assert answers[0].headers["X-RateLimit-Max"] == "100"


def test_an_empty_burst_bucket_answers_429_with_daily_quota_left(hl):
    hl.seed(settings={"burst_max": 3})

    statuses = [list_inventory(hl).status_code for _ in range(4)]
    limited = list_inventory(hl)

    assert statuses == [200, 200, 200, 429]
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Daily-Remaining"]) > 0


def test_the_daily_quota_answers_429_with_daily_remaining_zero(hl):
    hl.seed(settings={"daily_max": 2})

    statuses = [list_inventory(hl).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert list_inventory(hl).headers["X-RateLimit-Daily-Remaining"] == "0"


def test_rate_limits_can_be_switched_off(hl):
    hl.seed(settings={"burst_max": 1})
    hl.fail(rate_limits=False)

    assert {list_inventory(hl).status_code for _ in range(5)} == {200}


def test_oauth_refresh_rotates_the_refresh_token(hl):
    first = requests.post(
        f"{hl.url}/oauth/token",
        data={**OAUTH, "grant_type": "refresh_token", "refresh_token": "hl-sandbox-refresh-token"},
        timeout=5,
    )
    token = first.json()
    reused = requests.post(
        f"{hl.url}/oauth/token",
        data={**OAUTH, "grant_type": "refresh_token", "refresh_token": "hl-sandbox-refresh-token"},
        timeout=5,
    )
    rotated = requests.post(
        f"{hl.url}/oauth/token",
        data={**OAUTH, "grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        timeout=5,
    )

    assert first.status_code == 200
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 86_399
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert rotated.status_code == 200
    bearer = {**HL_HEADERS, "Authorization": f"Bearer {token['access_token']}"}
    assert list_inventory(hl, headers=bearer).status_code == 200


def test_oauth_refuses_a_wrong_client_secret(hl):
    form = {**OAUTH, "client_secret": "wrong", "grant_type": "client_credentials"}

    response = requests.post(f"{hl.url}/oauth/token", data=form, timeout=5)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_expired_access_tokens_answer_401(hl):
    form = {**OAUTH, "grant_type": "client_credentials"}
    token = requests.post(f"{hl.url}/oauth/token", data=form, timeout=5).json()["access_token"]
    hl.control("POST", "expire-tokens")

    response = list_inventory(hl, headers={**HL_HEADERS, "Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_a_write_is_applied_when_its_answer_is_lost(hl):
    hl.fail(drop_after_apply_next=1)

    with pytest.raises(requests.ConnectionError):
        update(hl, [{"priceId": "p1", "availableQuantity": 42}])

    assert quantities(hl)["p1"] == 42
    assert hl.log()[-1]["fault"] == "drop_after_apply"
    assert hl.log()[-1]["status"] == 201
