"""HighLevel sandbox: channels.md §1."""

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    assert reused.json() == {
        "statusCode": 400,
        "message": "Invalid grant: refresh token is invalid",
    }
    assert rotated.status_code == 200
    bearer = {**HL_HEADERS, "Authorization": f"Bearer {token['access_token']}"}
    assert list_inventory(hl, headers=bearer).status_code == 200


def test_oauth_refuses_a_wrong_client_secret(hl):
    form = {**OAUTH, "client_secret": "wrong", "grant_type": "client_credentials"}

    response = requests.post(f"{hl.url}/oauth/token", data=form, timeout=5)

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert "client credentials are invalid" in response.json()["message"]


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


@pytest.mark.parametrize("version", ["2021-07-28", "v3", "2023-02-21"])
def test_every_version_a_real_client_sends_is_taken(hl, version):
    assert list_inventory(hl, headers={**HL_HEADERS, "Version": version}).status_code == 200


def test_oauth_takes_v3_camel_case_fields_and_answers_in_them(hl):
    form = {
        "clientId": OAUTH["client_id"],
        "clientSecret": OAUTH["client_secret"],
        "grantType": "refresh_token",
        "refreshToken": "hl-sandbox-refresh-token",
    }

    response = requests.post(f"{hl.url}/oauth/token", json=form, timeout=5)

    assert response.status_code == 200
    assert {"accessToken", "refreshToken", "expiresIn", "tokenType", "userId"} <= set(
        response.json()
    )


def get_orders(hl, path="", headers=HL_HEADERS, **params):
    params = {"altId": HL_LOCATION, "altType": "location", **params}
    return requests.get(
        f"{hl.url}/payments/orders{path}", params=params, headers=headers, timeout=5
    )


def sell(hl, *lines, paid=True):
    body = {"lines": [{"remote_id": r, "quantity": q} for r, q in lines], "paid": paid}
    return hl.control("POST", "orders", body)["id"]


def test_orders_are_listed_newest_first_without_items_and_filtered(hl):
    first = sell(hl, ("p1", 1))
    second = sell(hl, ("p2", 2), paid=False)

    listed = get_orders(hl).json()
    unpaid = get_orders(hl, paymentStatus="unpaid").json()
    paged = get_orders(hl, limit=1, offset=1).json()

    assert [o["_id"] for o in listed["data"]] == [second, first]
    assert listed["totalCount"] == 2
    assert "items" not in listed["data"][0]
    assert {"status", "fulfillmentStatus", "createdAt", "updatedAt"} <= set(listed["data"][0])
    assert [o["_id"] for o in unpaid["data"]] == [second]
    assert (paged["totalCount"], [o["_id"] for o in paged["data"]]) == (2, [first])
    assert get_orders(hl, paymentMode="live").json()["totalCount"] == 0  # test-mode orders


def test_the_listing_is_a_creation_window_of_whole_days(hl):
    hl.seed(
        orders=[{"_id": "o-old", "items": [{"priceId": "p1"}], "createdAt": "2024-02-01T23:59:00Z"}]
    )

    inside = get_orders(hl, startAt="2024-02-01", endAt="2024-02-01").json()
    after = get_orders(hl, startAt="2024-02-02").json()

    assert [o["_id"] for o in inside["data"]] == ["o-old"]
    assert after["totalCount"] == 0


def test_an_order_is_read_with_its_items_and_an_unknown_one_is_a_400(hl):
    order_id = sell(hl, ("p1", 2))

    found = get_orders(hl, f"/{order_id}").json()
    missing = get_orders(hl, "/nope")

    assert [(i["price"]["_id"], i["qty"]) for i in found["items"]] == [("p1", 2)]
    assert (found["status"], found["paymentStatus"]) == ("completed", "paid")
    assert missing.status_code == 400
    assert missing.json()["message"] == "Order not found"


def test_listing_errors_are_nestjs_style_messages(hl):
    response = get_orders(hl, altType="company", limit=500, startAt="yesterday")

    assert response.status_code == 422
    assert response.json()["message"] == [
        "altType must be one of the following values: location",
        "limit must not be greater than 100",
        "startAt must be a valid ISO 8601 date string",
    ]


def fulfil(hl, order_id, items, headers=HL_HEADERS):
    body = {
        "altId": HL_LOCATION,
        "altType": "location",
        "trackings": [],
        "items": items,
        "notifyCustomer": False,
    }
    return requests.post(
        f"{hl.url}/payments/orders/{order_id}/fulfillments", json=body, headers=headers, timeout=5
    )


def test_a_fulfilment_ships_some_units_and_refuses_more_than_are_left(hl):
    order_id = sell(hl, ("p1", 2))

    partial = fulfil(hl, order_id, [{"priceId": "p1", "qty": 1}])
    too_many = fulfil(hl, order_id, [{"priceId": "p1", "qty": 2}])
    malformed = fulfil(hl, order_id, [{"priceId": "p1", "qty": 0}])
    listed = get_orders(hl, f"/{order_id}/fulfillments").json()

    assert partial.status_code == 200
    assert partial.json()["data"]["items"][0]["_id"] == "p1"
    assert (too_many.status_code, too_many.json()["message"]) == (
        400,
        "price p1: 2 to fulfil, 1 left",
    )
    assert malformed.json()["message"] == ["items.0.qty must be a positive number"]
    assert [[(i["_id"], i["qty"]) for i in f["items"]] for f in listed["data"]] == [[("p1", 1)]]
    assert get_orders(hl, f"/{order_id}").json()["fulfillmentStatus"] == "partially_fulfilled"


def test_orders_need_the_orders_scope(hl):
    hl.seed(credentials={"private_token": "pit-stock", "scopes": ["products/prices.write"]})
    headers = {**HL_HEADERS, "Authorization": "Bearer pit-stock"}

    assert get_orders(hl, headers=headers).status_code == 401
    assert list_inventory(hl, headers=headers).status_code == 200


def test_the_state_shows_orders_subscriptions_and_the_public_keys(hl):
    order_id = sell(hl, ("p1", 1))
    hl.control("POST", "webhooks", {"url": "http://127.0.0.1:9/hook"})

    state = hl.state()

    assert list(state["orders"]) == [order_id]
    assert state["subscriptions"][0]["url"] == "http://127.0.0.1:9/hook"
    assert state["webhook_public_keys"]["ed25519"].startswith("-----BEGIN PUBLIC KEY-----")
    assert state["webhook_public_keys"]["rsa"].startswith("-----BEGIN PUBLIC KEY-----")
    assert hl.control("POST", "reset")["webhook_public_keys"] == state["webhook_public_keys"]


def test_a_subscription_to_an_unknown_event_is_a_400(hl):
    body = {"url": "http://127.0.0.1:9/hook", "events": ["ContactCreate"]}

    response = requests.post(f"{hl.url}/_sandbox/webhooks", json=body, timeout=5)

    assert response.status_code == 400


TOKEN_FIELD_VALUES = {
    "client_id": st.sampled_from(["hl-sandbox-client-id", "other", ""]),
    "client_secret": st.sampled_from(["hl-sandbox-client-secret", "wrong"]),
    "grant_type": st.sampled_from(["refresh_token", "authorization_code", "client_credentials"])
    | st.text(max_size=8),
    "refresh_token": st.sampled_from(["hl-sandbox-refresh-token", "spent"]),
    "code": st.sampled_from(["hl-sandbox-auth-code", "nope"]),
    "user_type": st.sampled_from(["Location", "Company"]),
}
CAMEL = {"client_id": "clientId", "client_secret": "clientSecret", "grant_type": "grantType"}
CAMEL |= {"refresh_token": "refreshToken", "user_type": "userType"}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    form=st.fixed_dictionaries({}, optional=TOKEN_FIELD_VALUES),
    camel=st.booleans(),
    as_json=st.booleans(),
)
def test_any_token_request_gets_a_token_or_highlevels_error(hl, form, camel, as_json):
    hl.control("POST", "reset")
    if camel:
        form = {CAMEL.get(k, k): v for k, v in form.items()}
    sent = {"json": form} if as_json else {"data": form}

    response = requests.post(f"{hl.url}/oauth/token", timeout=5, **sent)

    body = response.json()
    if response.status_code == 200:
        assert body["userId"]
        assert ("accessToken" in body) == camel
    else:
        assert response.status_code in (400, 401, 422)
        assert body["statusCode"] == response.status_code
        assert body["message"]
