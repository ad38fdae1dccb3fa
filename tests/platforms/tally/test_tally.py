"""What is Tally's own: its compare-and-set mode, through the shared contract, the write
strategy and the push engine. (The shared contract, sandbox and sync tests run it in its
default absolute mode, found in the registry like any platform.)"""

import pytest

from connectors.models import Channel, Listing
from connectors.platforms import registry
from connectors.platforms.base import COMPARE_AND_SET
from connectors.platforms.sandbox.serve import start_sandbox
from connectors.platforms.strategy import push
from connectors.services.push import sync_channel_run
from inventory.models import Source
from inventory.services import StockLine, stock_apply
from tests.connectors.platforms.contract import ConnectorContract, at
from tests.connectors.sandbox_client import Client
from tests.platforms.tally.testing import TallyCompareAndSetHooks


def test_the_registry_found_it_with_no_line_changed_elsewhere():
    platform = registry.get("tally")
    assert ("tally", "Tally (test-only)") in registry.choices()
    assert platform.connector_class().platform == "tally"


class TestTallyCompareAndSet(ConnectorContract):
    platform = "tally"
    hooks_class = TallyCompareAndSetHooks

    def test_a_write_carries_the_number_it_replaces(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=3)
        connector = self.connector(sandbox)
        assert connector.capabilities.writes == COMPARE_AND_SET
        known = at(items[0], 7)  # its channel confirmed 3 before
        known = type(known)(**{**known.__dict__, "expected": 3})

        outcomes = push(connector, [known, at(items[1], 9)])

        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 7), (True, 9)]
        writes = [r for r in sandbox.log() if r["method"] == "POST"]
        assert [line["expected"] for line in writes[-1]["body"]["levels"]] == [3, 3]
        reads = [r for r in sandbox.log() if r["method"] == "GET"]
        assert [r["query"]["ids"] for r in reads] == ["t2"]  # only the unknown one was read

    def test_a_stale_expectation_is_read_again_never_forced(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=3)
        sandbox.seed(items=[{"id": "t1", "quantity": 2}])  # a sale we have not heard of
        item = type(items[0])(**{**at(items[0], 7).__dict__, "expected": 3})

        [outcome] = push(self.connector(sandbox), [item])

        assert (outcome.ok, outcome.quantity) == (True, 7)
        bodies = [r["body"]["levels"][0] for r in sandbox.log() if r["method"] == "POST"]
        assert [b["expected"] for b in bodies] == [3, 2]  # refused, read, sent again

    def test_a_channel_that_keeps_moving_is_left_for_a_later_push(self, sandbox):
        items = self.make_items(1)
        self.seed(sandbox, items, quantity=3)
        sandbox.seed(settings={"moving": True})  # a sale before each write reaches it

        [outcome] = push(self.connector(sandbox), [at(items[0], 10)])

        assert (outcome.ok, outcome.retry) == (False, True)
        assert "expected" in outcome.message
        assert sandbox.state()["levels"]["t1"]["quantity"] == 0  # only the sales, never ours


@pytest.fixture
def cas_shop(make):
    """TEE at 10 in WH1, listed as t1 on a compare-and-set Tally channel: (sandbox, channel,
    listing, warehouse)."""
    hooks = TallyCompareAndSetHooks()
    with start_sandbox("tally") as running:
        sandbox = Client(running)
        wh = make.location("WH1")
        tee = make.variant("TEE")
        make.stock(tee, wh, 10)
        channel = Channel.objects.create(
            name="Tally",
            platform="tally",
            base_url=sandbox.url,
            credentials=hooks.credentials(),
            settings=hooks.settings(),
        )
        channel.locations.set([wh])
        listing = Listing.objects.create(channel=channel, variant=tee, remote_id="t1")
        yield sandbox, channel, listing, wh


@pytest.mark.django_db
def test_the_engine_sends_what_the_channel_last_confirmed_as_the_expected_number(cas_shop):
    sandbox, channel, listing, wh = cas_shop
    sandbox.seed(items=[{"id": "t1", "quantity": 0}])
    assert sync_channel_run(channel.pk, "run-1").pushed == 1
    listing.refresh_from_db()
    assert listing.confirmed_quantity == 10

    sandbox.seed(items=[{"id": "t1", "quantity": 9}])  # sold on Tally, not taken in yet
    line = StockLine(
        action="increment", quantity=5, variant_id=listing.variant_id, location_id=wh.pk
    )
    stock_apply(lines=[line], source=Source.ADMIN)
    assert sync_channel_run(channel.pk, "run-2").pushed == 1

    bodies = [r["body"]["levels"][0] for r in sandbox.log() if r["method"] == "POST"]
    assert [(b["quantity"], b["expected"]) for b in bodies] == [(10, 0), (15, 10), (15, 9)]
    assert sandbox.state()["levels"]["t1"]["quantity"] == 15


@pytest.mark.django_db
def test_a_channel_that_keeps_moving_is_tried_again_after_a_backoff_not_at_once(cas_shop):
    sandbox, channel, listing, _ = cas_shop
    sandbox.seed(items=[{"id": "t1", "quantity": 50}], settings={"moving": True})

    report = sync_channel_run(channel.pk, "run-1")

    listing.refresh_from_db()
    assert report.pushed == 0
    assert (listing.attempts, listing.claimed_by) == (1, "")
    assert listing.next_attempt_at is not None  # not claimable again at once
    assert "expected" in listing.last_error
    writes = [r for r in sandbox.log() if r["method"] == "POST"]
    assert len(writes) == 3  # three rounds, then it waits its turn
    assert sync_channel_run(channel.pk, "run-2").pushed == 0
    assert len([r for r in sandbox.log() if r["method"] == "POST"]) == 3
