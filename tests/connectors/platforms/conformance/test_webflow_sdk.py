"""Webflow's official Python SDK (PyPI webflow) against our sandbox: both inventory calls it
offers (list, and update by quantity, by delta and to infinite), and the refusals it must
read as Webflow's own errors."""

import pytest
from webflow import Webflow
from webflow.core.api_error import ApiError
from webflow.environment import WebflowEnvironment

from connectors.platforms.webflow.testing import SKU_COLLECTION, TOKEN

PLATFORM = "webflow"
SKU = "sku0001"


def sdk(sandbox, token=TOKEN):
    """The SDK's client, pointed at the sandbox instead of api.webflow.com."""
    base = f"{sandbox.url}/v2"
    environment = WebflowEnvironment(base=base, data_api=base, content_delivery_api=base)
    return Webflow(access_token=token, environment=environment, timeout=5)


@pytest.fixture
def wf(sandbox):
    sandbox.seed(
        items=[{"collectionId": SKU_COLLECTION, "skuId": SKU, "quantity": 4, "sku": "MUG-R"}]
    )
    return sandbox


def shows(wf):
    row = wf.state()["collections"][SKU_COLLECTION]["items"][SKU]
    return row["inventoryType"], row["quantity"]


def test_the_sdk_lists_a_sku_inventory(wf):
    item = sdk(wf).inventory.list(SKU_COLLECTION, SKU)

    assert (item.id, item.quantity, item.inventory_type) == (SKU, 4, "finite")


def test_the_sdk_sets_a_quantity(wf):
    item = sdk(wf).inventory.update(SKU_COLLECTION, SKU, inventory_type="finite", quantity=9)

    assert item.quantity == 9
    assert shows(wf) == ("finite", 9)


def test_the_sdk_moves_a_quantity_by_a_delta(wf):
    sdk(wf).inventory.update(SKU_COLLECTION, SKU, inventory_type="finite", update_quantity=-3)

    assert shows(wf) == ("finite", 1)


def test_the_sdk_makes_a_sku_infinite(wf):
    item = sdk(wf).inventory.update(SKU_COLLECTION, SKU, inventory_type="infinite")

    assert item.inventory_type == "infinite"
    assert shows(wf)[0] == "infinite"


def test_the_sdk_reads_a_refused_token_and_an_unknown_sku_as_webflow_errors(wf):
    with pytest.raises(ApiError) as refused:
        sdk(wf, token="wf-not-a-real-token").inventory.list(SKU_COLLECTION, SKU)
    assert refused.value.status_code == 401
    with pytest.raises(ApiError) as unknown:
        sdk(wf).inventory.list(SKU_COLLECTION, "sku-unknown")
    assert unknown.value.status_code == 404
    assert shows(wf) == ("finite", 4)
