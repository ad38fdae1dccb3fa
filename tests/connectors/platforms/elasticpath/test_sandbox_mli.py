"""Elastic Path sandbox, multi-location calls (sandbox_mli.py): whatever body a client
sends to create or set located stock, or to create a location, the answer is a success or
an error in EP's shape that names what is wrong, and a refused call changes nothing."""

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PLATFORM = "elasticpath"
MLI = {"EP-Inventories-Multi-Location": "true"}
PRODUCT = "9eda5ba0-4f4a-4074-8547-ccb05d1b5981"

scalars = st.none() | st.booleans() | st.integers(-5, 50) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
slugs = st.sampled_from(["york_warehouse", "leeds", "nowhere", ""])
levels = st.none() | st.fixed_dictionaries({"available": scalars}) | json_values
stock_bodies = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["stock", "stocks"]) | scalars,
        "id": st.just(PRODUCT) | scalars,
        "attributes": st.fixed_dictionaries(
            {"locations": st.dictionaries(slugs, levels, max_size=3) | json_values}
        )
        | json_values,
    }
)
location_bodies = st.fixed_dictionaries(
    {
        "type": st.just("inventory_location") | scalars,
        "attributes": st.fixed_dictionaries(
            {"name": st.text(max_size=5) | scalars, "slug": st.text(max_size=5) | scalars},
            optional={"address": json_values, "geolocation": json_values},
        )
        | json_values,
    }
)
ANY_BODY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def answer_is_clean(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors[0]["status"] == str(response.status_code)
        assert errors[0]["title"]


@ANY_BODY
@given(body=stock_bodies, method=st.sampled_from(["POST", "PUT"]))
def test_any_located_stock_body_is_answered_cleanly(sandbox, body, method):
    sandbox.control("POST", "reset")
    sandbox.seed(
        locations=[{"slug": "york_warehouse"}, {"slug": "leeds"}],
        items=[{"id": PRODUCT, "locations": {"york_warehouse": {"available": 4, "allocated": 1}}}],
    )
    before = sandbox.state()["stock"]
    path = "/v2/inventories" + (f"/{PRODUCT}" if method == "PUT" else "")
    headers = {**sandbox.login(), **MLI}

    response = requests.request(
        method, sandbox.url + path, json={"data": body}, headers=headers, timeout=5
    )

    answer_is_clean(response)
    if response.status_code >= 400:
        assert sandbox.state()["stock"] == before


@ANY_BODY
@given(body=location_bodies)
def test_any_location_body_is_answered_cleanly(sandbox, body):
    sandbox.control("POST", "reset")
    sandbox.seed(locations=[{"slug": "york_warehouse"}])
    before = sandbox.state()["locations"]
    headers = {**sandbox.login(), **MLI}

    response = requests.post(
        f"{sandbox.url}/v2/inventories/locations", json={"data": body}, headers=headers, timeout=5
    )

    answer_is_clean(response)
    if response.status_code >= 400:
        assert sandbox.state()["locations"] == before
    else:
        assert response.json()["data"]["attributes"]["slug"] in sandbox.state()["locations"]
