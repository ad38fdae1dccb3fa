"""Zettle's v3 lists page with a `Link: <...>; rel="next"` header, and a client follows it
until it is absent (channels.md §5.4). Zettle has no official client library, so these
follow the links with plain requests, as any HTTP client does (requests parses `Link`)."""

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.platforms.zettle.sandbox_ledger import LOCATION_UUIDS

PLATFORM = "zettle"
STORE = LOCATION_UUIDS["STORE"]


def seed_variants(sandbox, count: int, product="p-0001") -> list[str]:
    """One tracked product with `count` variants in STORE (1, 2, 3... units)."""
    variants = {f"v-{i:04d}": i for i in range(1, count + 1)}
    sandbox.seed(items=[{"productUuid": product, "variants": variants}])
    return list(variants)


def follow(sandbox, path, headers, **params) -> tuple[list, list]:
    """(every row, every response) of a v3 list, from its first page to its last."""
    rows, responses = [], []
    response = requests.get(sandbox.url + path, params=params, headers=headers, timeout=5)
    while True:
        assert response.status_code == 200, response.text
        rows += response.json()
        responses.append(response)
        if "next" not in response.links:
            return rows, responses
        response = requests.get(response.links["next"]["url"], headers=headers, timeout=5)


@pytest.fixture
def zt(sandbox):
    sandbox.fail(rate_limits=False)  # v3's 4 a second would only slow the paging down
    sandbox.headers = sandbox.login()
    return sandbox


def test_a_stock_list_longer_than_a_page_is_followed_to_its_end(zt):
    variants = seed_variants(zt, 250)

    rows, responses = follow(zt, f"/v3/stock/{STORE}", zt.headers, limit=100)

    assert [r["variantUuid"] for r in rows] == variants
    assert [len(r.json()) for r in responses] == [100, 100, 50]
    assert "limit=100" in responses[0].links["next"]["url"]
    assert "Link" not in responses[-1].headers


def test_a_short_list_has_no_next_link(zt):
    seed_variants(zt, 3)

    response = requests.get(f"{zt.url}/v3/stock/{STORE}", headers=zt.headers, timeout=5)

    assert len(response.json()) == 3
    assert "Link" not in response.headers


def test_one_products_stock_and_the_inventories_page_alike(zt):
    variants = seed_variants(zt, 5)

    stock, stock_pages = follow(zt, f"/v3/stock/{STORE}/products/p-0001", zt.headers, limit=2)
    inventories, inventory_pages = follow(zt, "/v3/inventories", zt.headers, limit=3)

    assert [r["variantUuid"] for r in stock] == variants
    assert len(stock_pages) == 3
    assert {r["inventoryType"] for r in inventories} == {"STORE", "SUPPLIER", "SOLD", "BIN"}
    assert len(inventory_pages) == 2


@pytest.mark.parametrize(
    ("params", "named"),
    [({"cursor": "not-ours"}, "cursor"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")],
)
def test_a_bad_cursor_or_limit_is_a_400_naming_it(zt, params, named):
    response = requests.get(
        f"{zt.url}/v3/stock/{STORE}", params=params, headers=zt.headers, timeout=5
    )

    assert response.status_code == 400
    assert response.json()["violations"][0]["propertyName"] == named
    assert response.json()["developerMessage"].startswith(named)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(count=st.integers(0, 40), limit=st.integers(1, 15))
def test_following_the_links_yields_every_row_once_in_order(zt, count, limit):
    zt.control("POST", "reset")
    zt.fail(rate_limits=False)
    variants = seed_variants(zt, count)

    rows, responses = follow(zt, f"/v3/stock/{STORE}", zt.login(), limit=limit)

    assert [r["variantUuid"] for r in rows] == variants
    assert len(responses) == max(1, -(-count // limit))
