"""The demo of `make run`: made once, its channels listing the demo's own variants; on first
sight a variant at its reorder point, the pop-up below zero, a paused channel and a drift;
a second `make run` leaves the catalog, the stock and the channels as staff left them."""

from contextlib import ExitStack
from io import StringIO
from pathlib import Path

import django_rq
import pytest
from django.core.management import call_command

from config.management.commands.load_demo import GIFT_CARD, POPUP_SALE_REASON
from connectors.demo import DRIFT_SHOWS, DRIFT_SKU, PAUSED_REASON, demo_name, demo_platforms
from connectors.models import Channel, Drift, Listing, PushRecord
from connectors.platforms.base import PushItem
from connectors.platforms.sandbox.serve import start_sandbox
from connectors.quantities import targets_for
from connectors.services.actions import channel_resume
from connectors.services.reconcile import (
    channel_reconcile,
    drift_accept,
    drift_ignore,
    drift_push_ours,
)
from inventory.models import Location, Movement, Source, StockLevel, Variant
from inventory.selectors import stock_by_location, variants_to_reorder_shortlist
from inventory.services import StockLine, stock_apply
from tests.connectors.sandbox_client import Client
from tests.connectors.test_sync import drain

pytestmark = pytest.mark.django_db


def make_run_commands():
    out = StringIO()
    call_command("load_demo", "--no-login", stdout=out)
    call_command("load_demo_channels", stdout=out)


def test_a_second_make_run_lists_no_variant_made_by_hand(make):
    make_run_commands()
    demo_skus = set(Variant.objects.values_list("sku", flat=True))
    listed = {c.name: c.listings.count() for c in Channel.objects.all()}
    hand = [make.variant("HAND-MADE-1"), make.variant("HAND-MADE-2")]

    make_run_commands()

    assert Listing.objects.filter(variant__in=hand).count() == 0
    assert {c.name: c.listings.count() for c in Channel.objects.all()} == listed
    assert len(listed) == len(demo_platforms())
    for channel in Channel.objects.all():
        skus = list(channel.listings.values_list("variant__sku", flat=True))
        assert sorted(skus) == sorted(set(skus)), channel.name  # each variant once
        assert set(skus) <= demo_skus, channel.name


def test_the_demo_channels_list_only_the_demos_variants_even_made_after_staffs(make):
    call_command("load_demo", "--no-login", stdout=StringIO())
    own = make.variant("STAFF-OWN-1")  # made before the demo channels, by hand
    call_command("load_demo_channels", stdout=StringIO())

    assert not own.listings.exists()
    assert Listing.objects.filter(variant__sku="TEE-M-BLA").count() == len(demo_platforms())


def test_a_demo_channel_staff_deleted_is_not_made_again(make):
    make_run_commands()
    Channel.objects.get(name="Demo webflow").delete()
    out = StringIO()
    call_command("load_demo_channels", stdout=out)
    assert not Channel.objects.filter(name="Demo webflow").exists()
    assert "already there, left as they are" in out.getvalue()


# ----------------------------------------------------------------- what the README states
#
# The numbers "What to try first" (README.md) gives, checked against a real demo load, so
# the README cannot drift from the demo.

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_says(*phrases):
    """Each phrase is in the README (its line breaks read as spaces)."""
    text = " ".join(README.read_text().split())
    for phrase in phrases:
        assert " ".join(phrase.split()) in text, phrase


def test_the_readme_states_the_demos_numbers():
    readme_says(
        "The demo has 12 variants",
        "The Webflow channel keeps a buffer of 1 unit back",
        "`BOWL-LAR` at its reorder point: 4 available, its reorder point 5",
        "2 totes (`TOTE`) sold at `POPUP`",
        "leaving on hand -2 there",
        f'the reason "{PAUSED_REASON}"',
        f"its marketplace shows {DRIFT_SHOWS} `{DRIFT_SKU}` where we have 20 "
        "(17 at `WH1` + 3 at `STORE`)",
        "`POPUP` 1, the tote; `STORE` 4",
        "`available 10 at WH1 + 0 at STORE = 10 - buffer 1 = 9`",
        '"last confirmed 9 at',
        "the other live channels show 10",
        "Demo zettle is *Paused* with its 12 listings pending",
        "the channel showing 18 where it should show 20",
        "`WH1`, which holds most of it: 17 → 15",
        f'"{POPUP_SALE_REASON}"',
        "movement #3 TEE-M-BLA at WH1: on hand 10, allocated 0, available 10",
    )
    assert "../shared" not in README.read_text()


def test_the_first_load_shows_what_the_readme_says(make):
    make_run_commands()

    # "The demo has 12 variants ... three locations (WH1, STORE, and POPUP, which may go
    # negative) ... The Webflow channel keeps a buffer of 1 unit back."
    assert Variant.objects.count() == 12
    assert not Variant.objects.get(sku=GIFT_CARD).tracked
    assert list(Location.objects.order_by("code").values_list("code", "allow_negative")) == [
        ("POPUP", True),
        ("STORE", False),
        ("WH1", False),
    ]
    assert Channel.objects.get(name="Demo webflow").buffer == 1

    # At or below reorder point: BOWL-LAR, 4 available where its reorder point is 5.
    low, count = variants_to_reorder_shortlist()
    assert count == 1
    assert [(v.sku, v.available_total, v.reorder_point) for v in low] == [("BOWL-LAR", 4, 5)]

    # The pop-up below zero: 2 totes sold there, through the stock service, with a reason.
    popup = StockLevel.objects.get(location__code="POPUP")
    assert (popup.variant.sku, popup.on_hand) == ("TOTE", -2)
    sale = Movement.objects.get(reason=POPUP_SALE_REASON)
    assert sale.lines.get().on_hand_change == -2
    by_location = {loc.code: totals for loc, totals in stock_by_location()}
    assert (by_location["POPUP"]["skus"], by_location["POPUP"]["out"]) == (1, 1)

    # A paused channel, its reason in words; the other four live.
    modes = dict(Channel.objects.values_list("name", "mode"))
    assert modes.pop("Demo zettle") == Channel.Mode.PAUSED
    assert set(modes.values()) == {Channel.Mode.LIVE}
    assert Channel.objects.get(name="Demo zettle").paused_reason == PAUSED_REASON

    # Steps 4 and 5: TEE-M-BLA has 12 at WH1 and none at STORE; after "Decrement 2 at WH1"
    # Webflow's explanation reads as the README quotes it.
    tee = Variant.objects.get(sku="TEE-M-BLA")
    assert dict(tee.levels.values_list("location__code", "on_hand")) == {"WH1": 12, "STORE": 0}
    out = StringIO()
    call_command(
        "adjust_stock", "TEE-M-BLA", "WH1", "decrement", "2", "--reason", "damaged", stdout=out
    )
    # The Commands section's example: the third movement of a fresh demo.
    assert Movement.objects.count() == 3
    assert out.getvalue().splitlines()[-1] == (
        "TEE-M-BLA at WH1: on hand 10, allocated 0, available 10"
    )
    webflow = Channel.objects.get(name="Demo webflow")
    target = targets_for(webflow, [tee])[tee.pk]
    assert target.explanation == "available 10 at WH1 + 0 at STORE = 10 - buffer 1 = 9"
    assert target.quantity == 9


def test_a_second_load_changes_no_stock_and_no_channel_staff_changed(make):
    make_run_commands()
    zettle = Channel.objects.get(name="Demo zettle")
    channel_resume(zettle)  # staff resumed it
    Variant.objects.filter(sku="BOWL-LAR").update(reorder_point=None)
    movements = Movement.objects.count()

    make_run_commands()

    assert Movement.objects.count() == movements
    zettle.refresh_from_db()
    assert (zettle.mode, zettle.paused_reason) == (Channel.Mode.LIVE, "")
    assert Variant.objects.get(sku="BOWL-LAR").reorder_point is None
    assert StockLevel.objects.get(location__code="POPUP").on_hand == -2


# ----------------------------------------------------------------- the sandboxes' side


@pytest.fixture(scope="module")
def sandboxes():
    with ExitStack() as stack:
        yield {p.name: stack.enter_context(start_sandbox(p.name)) for p in demo_platforms()}


@pytest.fixture
def seeded(sandboxes, settings):
    """`make run`'s commands, the demo channels pointed at this test's sandboxes, then the
    seeding `run` does once the sandboxes answer."""
    settings.SYNC = {**settings.SYNC, "BACKOFF_BASE": 0.05, "BACKOFF_MAX": 0.2}
    queue = django_rq.get_queue("sync")
    queue.empty()
    for key in queue.connection.scan_iter("inventory:sync-queued:*"):
        queue.connection.delete(key)
    make_run_commands()
    seed(sandboxes)
    return sandboxes


def seed(sandboxes):
    for platform in demo_platforms():
        client = Client(sandboxes[platform.name])
        client.control("POST", "reset")  # a sandbox starts empty each time
        Channel.objects.filter(name=demo_name(platform)).update(base_url=client.url)
    registry = django_rq.get_queue("sync").scheduled_job_registry
    for job_id in registry.get_job_ids():  # the locations' second refresh: drain() pushes all
        registry.remove(job_id, delete_job=True)
    call_command("load_demo_channels", "--seed", stdout=StringIO())


def shows(sandboxes, channel, sku):
    listing = channel.listings.select_related("variant").get(variant__sku=sku)
    client = Client(sandboxes[channel.platform])
    item = PushItem(
        key=listing.pk,
        remote_id=listing.remote_id,
        remote_parent_id=listing.remote_parent_id,
        quantity=0,
        sku=sku,
    )
    return client.hooks.remote_quantity(client, item)


@pytest.mark.django_db(transaction=True)
def test_the_first_seeding_leaves_a_drift_to_resolve_and_a_paused_channel_to_resume(seeded):
    sandboxes = seeded
    unicommerce = Channel.objects.get(name="Demo unicommerce")
    # The drift, found by a real reconcile: the marketplace shows 18 where we have 20
    # (17 at WH1 + 3 at STORE).
    drift = Drift.objects.get(resolution=Drift.Resolution.OPEN)
    assert drift.listing.channel == unicommerce
    assert (drift.listing.variant.sku, drift.channel_quantity, drift.target) == (
        DRIFT_SKU,
        DRIFT_SHOWS,
        20,
    )
    assert shows(sandboxes, unicommerce, DRIFT_SKU) == 18
    assert dict(drift.listing.variant.levels.values_list("location__code", "available")) == {
        "WH1": 17,
        "STORE": 3,
    }

    drain()  # the other channels' pushes, as the worker of `make run` sends them
    zettle = Channel.objects.get(name="Demo zettle")
    for channel in Channel.objects.exclude(pk=zettle.pk):
        assert not channel.listings.filter(pending_since__isnull=False).exists(), channel.name
        assert shows(sandboxes, channel, "TEE-M-BLA") == (11 if channel.buffer else 12)
    # Paused: nothing sent, every listing pending; the record says what it would send.
    assert zettle.listings.filter(pending_since__isnull=True).count() == 0
    assert shows(sandboxes, zettle, "TEE-M-BLA") in (0, None)
    assert PushRecord.objects.filter(channel=zettle, outcome=PushRecord.Outcome.RECORDED)
    assert shows(sandboxes, unicommerce, DRIFT_SKU) == 18  # nothing pushed over the drift

    # Resume: the latest state goes, a sale made while paused included.
    stock_apply(
        lines=[StockLine(action="decrement", quantity=1, sku="TEE-M-BLA", location="WH1")],
        source=Source.ADMIN,
        reason="Sale",
    )
    channel_resume(zettle)
    drain()
    assert shows(sandboxes, zettle, "TEE-M-BLA") == 11
    assert not zettle.listings.filter(pending_since__isnull=False).exists()
    tee = Variant.objects.get(sku="TEE-M-BLA")
    targets = {c.name: targets_for(c, [tee])[tee.pk].quantity for c in Channel.objects.all()}
    # Every demo channel shows the 11 left; Webflow keeps its buffer of 1 back.
    assert targets == {c: 10 if c == "Demo webflow" else 11 for c in targets}
    assert len(targets) == len(demo_platforms())

    # Push ours settles the drift for real.
    drift_push_ours(drift)
    drain()
    assert shows(sandboxes, unicommerce, DRIFT_SKU) == 20
    assert channel_reconcile(unicommerce) == []


@pytest.mark.django_db(transaction=True)
def test_a_second_run_keeps_the_open_drift_and_makes_no_new_one(seeded):
    sandboxes = seeded
    unicommerce = Channel.objects.get(name="Demo unicommerce")
    drift = Drift.objects.get(resolution=Drift.Resolution.OPEN)

    make_run_commands()
    seed(sandboxes)  # the sandboxes start empty again: the open drift is still true

    assert list(Drift.objects.values_list("pk", "resolution")) == [(drift.pk, "open")]
    assert shows(sandboxes, unicommerce, DRIFT_SKU) == 18

    drift_ignore(Drift.objects.get(pk=drift.pk))
    make_run_commands()
    seed(sandboxes)  # resolved: no drift is made again
    drain()

    assert list(Drift.objects.values_list("resolution", flat=True)) == ["ignored"]
    assert shows(sandboxes, unicommerce, DRIFT_SKU) == 20


@pytest.mark.django_db(transaction=True)
def test_accepting_the_demos_drift_counts_the_warehouse_down(seeded):
    drift = Drift.objects.get(resolution=Drift.Resolution.OPEN)
    drift_accept(drift)
    levels = drift.listing.variant.levels.values_list("location__code", "on_hand")
    assert dict(levels) == {"WH1": 15, "STORE": 3}  # 17 -> 15: the channel's 18 in all
    drain()
    unicommerce = Channel.objects.get(name="Demo unicommerce")
    assert shows(seeded, unicommerce, DRIFT_SKU) == 18
    assert channel_reconcile(unicommerce) == []
