"""Elastic Path's official JS SDK (npm @elasticpath/js-sdk) against our sandbox: every
inventory call it offers, basic (`Inventories`) and multi-location
(`MultiLocationInventories`, its `Locations` too), through tests/conformance/js/."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from connectors.platforms.elasticpath.demo import CREDENTIALS

PLATFORM = "elasticpath"
JS = Path(__file__).resolve().parents[3] / "conformance" / "js"
PRODUCT = "9eda5ba0-4f4a-4074-8547-ccb05d1b5981"
NEW_PRODUCT = "9eda5ba0-4f4a-4074-8547-000000000042"
YORK = "york_warehouse"


@pytest.fixture(scope="module")
def sdk_installed():
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to drive Elastic Path's JS SDK")
    if not (JS / "node_modules" / "@elasticpath" / "js-sdk").is_dir():
        subprocess.run(
            ["npm", "install", "--no-package-lock", "--no-audit", "--no-fund"],
            cwd=JS,
            check=True,
            capture_output=True,
            timeout=300,
        )


@pytest.fixture
def ep(sandbox, sdk_installed):
    sandbox.seed(
        locations=[{"slug": YORK}],
        items=[{"id": PRODUCT, "available": 10, "locations": {YORK: {"available": 4}}}],
    )
    return sandbox


def sdk(ep, call, *args, **modifiers):
    """What the SDK's `call` (e.g. "Inventories.Get") resolved to: ("ok", body) or
    ("error", the body it rejected with)."""
    env = {
        **os.environ,
        "EP_CLIENT_ID": CREDENTIALS["client_id"],
        "EP_CLIENT_SECRET": CREDENTIALS["client_secret"],
    }
    done = subprocess.run(
        ["node", "ep-inventory.cjs", ep.url, call, json.dumps(args), json.dumps(modifiers)],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return ("ok", answer["body"]) if answer["ok"] else ("error", answer["error"])


def move_stock(ep, group, *location):
    """Increment 5, decrement 1, allocate 2, deallocate 1 through `group`'s SDK calls."""
    for call, quantity in [
        ("IncrementStock", 5),
        ("DecrementStock", 1),
        ("AllocateStock", 2),
        ("DeallocateStock", 1),
    ]:
        status, answer = sdk(ep, f"{group}.{call}", PRODUCT, quantity, *location)
        assert status == "ok", (call, answer)


def levels(ep, product=PRODUCT) -> dict:
    return ep.state()["stock"][product]


# ------------------------------------------------------------------ basic inventories


def test_basic_reads(ep):
    assert sdk(ep, "Inventories.Get", PRODUCT)[1]["data"]["total"] == 14
    status, listed = sdk(ep, "Inventories.All")
    assert status == "ok"
    assert [s["id"] for s in listed["data"]] == [PRODUCT]
    assert listed["meta"]["results"] == {"total": 1}
    status, multiple = sdk(ep, "Inventories.GetMultipleStock", [PRODUCT, "no-such-product"])
    assert [s["id"] for s in multiple["data"]] == [PRODUCT]


def test_basic_create_and_delete(ep):
    status, created = sdk(ep, "Inventories.Create", NEW_PRODUCT, 5)
    assert status == "ok"
    assert created["data"]["available"] == 5
    assert sdk(ep, "Inventories.Delete", NEW_PRODUCT)[0] == "ok"
    assert NEW_PRODUCT not in ep.state()["stock"]


def test_basic_transactions_move_the_unlocated_stock(ep):
    move_stock(ep, "Inventories")

    assert levels(ep)["available"] == 17  # 10 + 5 - 1 - 2 + 1, and 4 at York
    assert levels(ep)["allocated"] == 1


def test_basic_transactions_are_read_back_one_by_one(ep):
    made = sdk(ep, "Inventories.IncrementStock", PRODUCT, 2)[1]["data"]

    listed = sdk(ep, "Inventories.GetTransactions", PRODUCT)[1]["data"]
    status, one = sdk(ep, "Inventories.GetTransaction", PRODUCT, made["id"])

    assert [t["id"] for t in listed] == [made["id"]]
    assert status == "ok"
    assert one["data"] == made


def test_an_unknown_transaction_is_a_not_found(ep):
    status, error = sdk(ep, "Inventories.GetTransaction", PRODUCT, "no-such-transaction")

    assert status == "error"
    assert error["errors"][0]["status"] == "404"
    assert error["errors"][0]["detail"] == "No transaction found"


def test_a_decrement_beyond_the_stock_is_refused_as_insufficient(ep):
    status, error = sdk(ep, "Inventories.DecrementStock", PRODUCT, 11)

    assert status == "error"
    assert error["errors"][0]["status"] == "422"
    assert levels(ep)["available"] == 14


# ------------------------------------------------------------- multi-location inventories


def test_mli_create_sets_stock_by_location(ep):
    status, created = sdk(
        ep, "MultiLocationInventories.Create", {"locations": {YORK: {"available": 6}}}, NEW_PRODUCT
    )

    assert status == "ok", created
    assert created["data"]["attributes"]["locations"][YORK]["available"] == 6
    assert levels(ep, NEW_PRODUCT)["locations"][YORK]["available"] == 6


def test_mli_update_sets_and_removes_locations(ep):
    ep.seed(locations=[{"slug": "leeds"}])

    status, updated = sdk(
        ep,
        "MultiLocationInventories.Update",
        PRODUCT,
        {"locations": {YORK: None, "leeds": {"available": 8}}},
    )

    assert status == "ok", updated
    assert set(updated["data"]["attributes"]["locations"]) == {"leeds"}
    assert levels(ep)["locations"] == {"leeds": {"available": 8, "allocated": 0, "total": 8}}


def test_mli_update_of_an_unknown_location_changes_nothing(ep):
    status, error = sdk(
        ep, "MultiLocationInventories.Update", PRODUCT, {"locations": {"nowhere": {"available": 1}}}
    )

    assert status == "error"
    assert error["errors"][0]["detail"] == "No location found"
    assert set(levels(ep)["locations"]) == {YORK}


def test_mli_reads_and_delete(ep):
    got = sdk(ep, "MultiLocationInventories.Get", PRODUCT)[1]["data"]
    listed = sdk(ep, "MultiLocationInventories.All", Limit=1)[1]
    multiple = sdk(ep, "MultiLocationInventories.GetMultipleStock", [PRODUCT])[1]["data"]

    assert got["attributes"]["locations"][YORK]["available"] == 4
    assert listed["data"][0]["attributes"]["total"] == 14
    assert [s["id"] for s in multiple] == [PRODUCT]
    assert sdk(ep, "MultiLocationInventories.Delete", PRODUCT)[0] == "ok"
    assert PRODUCT not in ep.state()["stock"]


def test_mli_transactions_at_a_location(ep):
    move_stock(ep, "MultiLocationInventories", YORK)
    assert levels(ep)["locations"][YORK] == {"available": 7, "allocated": 1, "total": 8}

    status, answer = sdk(ep, "MultiLocationInventories.SetStock", PRODUCT, 20, YORK)
    assert status == "ok", answer

    assert levels(ep)["locations"][YORK] == {"available": 19, "allocated": 1, "total": 20}
    listed = sdk(ep, "MultiLocationInventories.GetTransactions", PRODUCT)[1]["data"]
    assert [t["attributes"]["action"] for t in listed][-1] == "set"
    status, one = sdk(ep, "MultiLocationInventories.GetTransaction", PRODUCT, listed[-1]["id"])
    assert status == "ok"
    assert one["data"]["attributes"]["quantity"] == 20


# ------------------------------------------------------------------------- locations


def test_locations_crud(ep):
    status, created = sdk(
        ep,
        "MultiLocationInventories.Locations.Create",
        {"name": "Locations depot", "slug": "locations", "address": ["1 Quay St"]},
    )
    assert status == "ok", created
    location_id = created["data"]["id"]
    assert created["data"]["attributes"]["slug"] == "locations"
    assert "locations" not in ep.state()["stock"]  # not stock for a product "locations"

    got = sdk(ep, "MultiLocationInventories.Locations.Get", location_id)[1]["data"]
    assert got["attributes"]["name"] == "Locations depot"
    status, updated = sdk(
        ep, "MultiLocationInventories.Locations.Update", location_id, {"name": "Quay depot"}
    )
    assert status == "ok", updated
    assert updated["data"]["attributes"] == {
        "name": "Quay depot",
        "slug": "locations",
        "address": ["1 Quay St"],
    }
    assert sdk(ep, "MultiLocationInventories.Locations.Delete", location_id)[0] == "ok"
    assert set(ep.state()["locations"]) == {YORK}


def test_locations_list_pages_with_links_and_meta(ep):
    ep.seed(locations=[{"slug": "leeds"}, {"slug": "hull"}])

    status, page = sdk(ep, "MultiLocationInventories.Locations.All", Limit=2, Offset=2)

    assert status == "ok"
    assert [loc["attributes"]["slug"] for loc in page["data"]] == ["hull"]
    assert page["meta"]["results"] == {"total": 3}
    assert page["meta"]["page"]["current"] == 2
    assert page["links"]["next"] is None
    assert "page[offset]=0" in page["links"]["first"]


def test_a_location_that_holds_stock_is_not_deleted(ep):
    york = next(
        loc["id"]
        for loc in sdk(ep, "MultiLocationInventories.Locations.All")[1]["data"]
        if loc["attributes"]["slug"] == YORK
    )

    status, error = sdk(ep, "MultiLocationInventories.Locations.Delete", york)

    assert status == "error"
    assert error["errors"][0]["status"] == "409"
    assert YORK in ep.state()["locations"]
