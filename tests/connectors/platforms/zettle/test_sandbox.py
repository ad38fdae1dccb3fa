"""Zettle sandbox: channels.md §5."""

import json

import pytest
import requests

from connectors.platforms.zettle.sandbox_ledger import LOCATION_UUIDS
from connectors.platforms.zettle.testing import GRANT as ZETTLE_GRANT

PLATFORM = "zettle"
STORE, SUPPLIER, SOLD, BIN = (LOCATION_UUIDS[k] for k in ("STORE", "SUPPLIER", "SOLD", "BIN"))
PRODUCT, VARIANT, OTHER_VARIANT = "p-0001", "v-0001", "v-0002"
UNTRACKED = "p-0002"


@pytest.fixture
def zt(sandbox):
    sandbox.seed(
        items=[
            {"productUuid": PRODUCT, "variants": {VARIANT: 10, OTHER_VARIANT: 0}},
            {"productUuid": UNTRACKED, "tracked": False, "variants": {"v-0003": 0}},
        ]
    )
    sandbox.headers = sandbox.login()
    return sandbox


def call(zt, method, path, body=None, headers=None):
    headers = headers if headers is not None else zt.headers
    return requests.request(method, zt.url + path, json=body, headers=headers, timeout=5)


def move(source, target, change, product=PRODUCT, variant=VARIANT) -> dict:
    return {
        "productUuid": product,
        "variantUuid": variant,
        "fromLocationUuid": source,
        "toLocationUuid": target,
        "change": change,
    }


def put(zt, *changes, **extra):
    return call(zt, "PUT", "/organizations/self/inventory", {"changes": list(changes), **extra})


def store_balance(zt, variant=VARIANT) -> int:
    rows = call(zt, "GET", f"/organizations/self/inventory/locations/{STORE}/products/{PRODUCT}")
    return next(
        (int(r["balance"]) for r in rows.json()["variants"] if r["variantUuid"] == variant), 0
    )


def token_form(**overrides) -> dict:
    form = {
        "grant_type": ZETTLE_GRANT,
        "client_id": "zettle-sandbox-client-id",
        "assertion": "zettle-sandbox-api-key",
    }
    return {**form, **overrides}


def test_the_assertion_grant_issues_a_two_hour_token_without_refresh(sandbox):
    response = requests.post(f"{sandbox.url}/token", data=token_form(), timeout=5)

    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "expires_in"}
    assert response.json()["expires_in"] == 7200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (token_form(assertion="revoked"), "invalid_grant"),
        (token_form(client_id="other"), "invalid_client"),
        (token_form(grant_type="password"), "unsupported_grant_type"),
    ],
)
def test_a_bad_grant_is_an_oauth_error(sandbox, form, error):
    response = requests.post(f"{sandbox.url}/token", data=form, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_an_expired_token_says_so_in_www_authenticate(zt):
    zt.control("POST", "expire-tokens")

    response = call(zt, "GET", "/organizations/self/locations")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_request", error_description="ACCESS_TOKEN_EXPIRED"'
    )


def test_an_unknown_token_is_401_without_the_expired_description(zt):
    response = call(
        zt, "GET", "/organizations/self/locations", headers={"Authorization": "Bearer x"}
    )

    assert response.status_code == 401
    assert "ACCESS_TOKEN_EXPIRED" not in response.headers["WWW-Authenticate"]


def test_the_four_system_locations_are_listed(zt):
    locations = call(zt, "GET", "/organizations/self/locations").json()

    assert {loc["type"]: loc["uuid"] for loc in locations} == LOCATION_UUIDS
    assert all(loc["default"] for loc in locations)


def test_movements_between_locations_update_balances(zt):
    response = put(zt, move(SUPPLIER, STORE, 5), move(STORE, SOLD, 2), move(STORE, BIN, 1))

    assert response.status_code == 200
    assert response.json() == {
        "locationUuid": STORE,
        "variants": [
            {
                "locationUuid": STORE,
                "locationType": "STORE",
                "productUuid": PRODUCT,
                "variantUuid": VARIANT,
                "balance": 12,
            }
        ],
    }
    sold = call(zt, "GET", f"/organizations/self/inventory/locations/{SOLD}").json()
    assert [(r["variantUuid"], r["balance"]) for r in sold["variants"]] == [(VARIANT, "2")]


def test_balance_reads_list_non_zero_balances_as_strings(zt):
    by_type = call(zt, "GET", "/organizations/self/inventory/locations?type=STORE").json()
    products = call(
        zt,
        "POST",
        "/organizations/self/inventory/products",
        {"locationType": "STORE", "productUuids": [PRODUCT, UNTRACKED]},
    ).json()

    assert by_type["locationUuid"] == STORE
    assert by_type["trackedProducts"] == [PRODUCT]
    assert [(r["variantUuid"], r["balance"]) for r in by_type["variants"]] == [(VARIANT, "10")]
    assert [(r["variantUuid"], r["balance"]) for r in products["variants"]] == [(VARIANT, "10")]


def test_return_balance_for_location_picks_the_answered_location(zt):
    response = put(zt, move(STORE, BIN, 4), returnBalanceForLocationUuid=BIN)

    assert response.json()["locationUuid"] == BIN
    assert response.json()["variants"][0]["balance"] == 4


def test_an_untracked_product_cannot_move_and_nothing_is_applied(zt):
    response = put(zt, move(SUPPLIER, STORE, 1), move(SUPPLIER, STORE, 1, UNTRACKED, "v-0003"))

    assert response.status_code == 422
    assert response.json()["errorType"] == "PRODUCT_NOT_TRACKED"
    assert response.json().keys() == {"developerMessage", "errorType", "violations"}
    assert store_balance(zt) == 10


def test_reading_an_untracked_product_is_product_not_tracked(zt):
    path = f"/organizations/self/inventory/locations/{STORE}/products/{UNTRACKED}"

    assert call(zt, "GET", path).json()["errorType"] == "PRODUCT_NOT_TRACKED"


@pytest.mark.parametrize("change", [0, -3, 1.5])
def test_a_change_that_is_not_a_positive_integer_is_refused(zt, change):
    response = put(zt, move(SUPPLIER, STORE, change))

    assert response.status_code == 400
    assert response.json()["violations"][0]["propertyName"] == "changes[0].change"
    assert store_balance(zt) == 10


def test_an_unknown_location_is_entity_not_found(zt):
    response = put(zt, move("no-such-location", STORE, 1))

    assert response.status_code == 404
    assert response.json()["errorType"] == "ENTITY_NOT_FOUND"


def test_store_cannot_go_below_zero_unless_allowed(zt):
    refused = put(zt, move(STORE, SOLD, 11))
    zt.seed(settings={"allow_negative_store": True})
    allowed = put(zt, move(STORE, SOLD, 11))

    assert refused.status_code == 422
    assert allowed.status_code == 200
    assert allowed.json()["variants"][0]["balance"] == -1


def test_each_change_records_an_event_carrying_the_external_uuid(zt):
    put(zt, move(SUPPLIER, STORE, 3), externalUuid="push-42")

    event = zt.state()["events"][-1]
    payload = json.loads(event["payload"])
    assert event["eventName"] == "InventoryBalanceChanged"
    assert payload["externalUuid"] == "push-42"
    assert payload["balanceBefore"][0]["balance"] == "10"
    assert payload["balanceAfter"][0]["balance"] == "13"


def test_bulk_starts_tracking_and_sets_the_first_balance_in_one_call(zt):
    body = {
        "productChanges": [
            {
                "productUuid": UNTRACKED,
                "trackingStatusChange": "START_TRACKING",
                "variantChanges": [
                    {
                        "variantUuid": "v-0003",
                        "fromLocationUuid": SUPPLIER,
                        "toLocationUuid": STORE,
                        "change": 7,
                    }
                ],
            }
        ]
    }

    response = call(zt, "POST", "/organizations/self/v2/inventory/bulk/", body)

    assert response.status_code == 200
    assert response.json() == {
        "locationUuid": STORE,
        "variants": [{"productUuid": UNTRACKED, "variantUuid": "v-0003", "balance": 7}],
    }
    names = [e["eventName"] for e in zt.state()["events"]]
    assert names[-2:] == ["InventoryTrackingStarted", "InventoryBalanceChanged"]


def test_bulk_no_change_on_an_untracked_product_is_refused(zt):
    body = {
        "productChanges": [
            {
                "productUuid": UNTRACKED,
                "trackingStatusChange": "NO_CHANGE",
                "variantChanges": [
                    {
                        "variantUuid": "v-0003",
                        "fromLocationUuid": SUPPLIER,
                        "toLocationUuid": STORE,
                        "change": 1,
                    }
                ],
            }
        ]
    }

    response = call(zt, "POST", "/organizations/self/v2/inventory/bulk", body)

    assert response.json()["errorType"] == "PRODUCT_NOT_TRACKED"


def test_bulk_stop_tracking_keeps_the_levels(zt):
    body = {"productChanges": [{"productUuid": PRODUCT, "trackingStatusChange": "STOP_TRACKING"}]}

    assert call(zt, "POST", "/organizations/self/v2/inventory/bulk", body).status_code == 200
    assert zt.state()["tracked"] == []
    assert call(zt, "POST", "/organizations/self/inventory", {"productUuid": PRODUCT}).ok
    assert store_balance(zt) == 10


def test_v3_movements_and_stock_share_the_ledger(zt):
    body = {
        "movements": [
            {"productUuid": PRODUCT, "variantUuid": VARIANT, "from": STORE, "to": SOLD, "change": 4}
        ]
    }

    assert call(zt, "POST", "/v3/movements", body).status_code == 204
    stock = call(zt, "GET", f"/v3/stock/{STORE}/products/{PRODUCT}").json()
    assert stock == [{"productUuid": PRODUCT, "variantUuid": VARIANT, "balance": 6}]
    assert store_balance(zt) == 6


def test_v3_has_a_soft_rate_limit_that_v1_does_not(zt):
    zt.seed(settings={"v3_burst": 2, "v3_rps": 0.5})
    path = f"/v3/stock/{STORE}/products/{PRODUCT}"

    statuses = [call(zt, "GET", path).status_code for _ in range(3)]
    limited = call(zt, "GET", path)

    assert statuses == [200, 200, 429]
    assert limited.headers["Retry-After"] == "1"
    assert call(zt, "GET", "/organizations/self/locations").status_code == 200


def test_limit_all_paths_puts_v1_under_the_same_limit(zt):
    zt.seed(settings={"v3_burst": 2, "v3_rps": 0.5, "limit_all_paths": True})
    statuses = [call(zt, "GET", "/organizations/self/locations").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_lost_answer_to_a_movement_still_applies_it(zt):
    zt.fail(drop_after_apply_next=1)

    with pytest.raises(requests.ConnectionError):
        put(zt, move(STORE, SOLD, 3), externalUuid="lost-1")

    assert store_balance(zt) == 7
    assert json.loads(zt.state()["events"][-1]["payload"])["externalUuid"] == "lost-1"
