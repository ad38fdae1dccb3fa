"""Accepting a channel's quantity (a drift, or a change made on the channel's side) counts the
on hand that its rules turn into that quantity, or refuses and says why."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.models import Channel, Drift, Listing
from connectors.platforms.inbound import StockChange
from connectors.quantities import available_showing, channel_target, targets_for
from connectors.services.inbound import stock_change_apply
from connectors.services.reconcile import drift_accept
from inventory.exceptions import InventoryError
from inventory.models import StockLevel, StockTransaction

# ------------------------------------------------------------------ the inversion itself

rules = st.fixed_dictionaries(
    {
        "buffer": st.integers(0, 20),
        "percentage": st.none() | st.integers(0, 100),
        "cap": st.none() | st.integers(0, 500),
        "zero_out_threshold": st.integers(0, 20),
    }
)


def shown(channel, available):
    return channel_target(channel, tracked=True, available_by_location=[("WH1", available)])


@given(rules=rules, available=st.integers(0, 5000))
def test_the_stock_found_for_a_quantity_is_exactly_what_shows_it(rules, available):
    channel = Channel(**rules)
    quantity = shown(channel, available).quantity

    found = available_showing(channel, quantity)

    assert found is not None
    assert found.low <= available
    assert found.high is None or available <= found.high
    assert shown(channel, found.low).quantity == quantity
    assert found.low == 0 or shown(channel, found.low - 1).quantity < quantity
    if found.high is None:  # the cap (or a zero-out at or above it): so it shows for ever
        assert shown(channel, 10**9).quantity == quantity
    else:
        assert shown(channel, found.high).quantity == quantity
        assert shown(channel, found.high + 1).quantity > quantity


@given(rules=rules, quantity=st.integers(0, 600))
def test_a_quantity_no_stock_shows_is_said_to_be_none(rules, quantity):
    channel = Channel(**rules)
    found = available_showing(channel, quantity)
    if found is None:
        assert all(shown(channel, a).quantity != quantity for a in range(0, 2000))


# ------------------------------------------------------------------ accepting, in the database

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make):
    wh, store = make.location("WH1"), make.location("STORE")
    variant = make.variant("TEE-M-BLA")
    channel = Channel.objects.create(name="HL shop", platform="highlevel", base_url="http://x")
    channel.locations.set([wh, store])
    listing = Listing.objects.create(channel=channel, variant=variant, remote_id="price1")
    return channel, listing, wh, store


def accept(listing, channel_quantity):
    """Open a drift as a reconcile would (the channel shows `channel_quantity`), accept it."""
    listing.channel.refresh_from_db()  # its rules, as the test set them
    target = targets_for(listing.channel, [listing.variant])[listing.variant_id].quantity
    drift = Drift.objects.create(listing=listing, channel_quantity=channel_quantity, target=target)
    drift_accept(drift)
    return drift


def now_shows(listing):
    listing.channel.refresh_from_db()
    return targets_for(listing.channel, [listing.variant])[listing.variant_id].quantity


def on_hand(listing, location):
    return StockLevel.objects.get(variant=listing.variant, location=location).on_hand


def test_under_a_percentage_the_count_makes_the_channel_show_its_quantity(shop, make):
    channel, listing, wh, store = shop
    make.stock(listing.variant, wh, 16)
    make.stock(listing.variant, store, 4)
    Channel.objects.filter(pk=channel.pk).update(percentage=50)  # 20 available: shows 10

    drift = accept(listing, 5)

    # 10 or 11 available show 5 at 50%: 11 is the nearest to our 20; STORE keeps its 4.
    assert (on_hand(listing, wh), on_hand(listing, store)) == (7, 4)
    assert now_shows(listing) == 5
    counted = StockTransaction.objects.filter(variant=listing.variant).latest("pk")
    assert counted.movement.source == "channel"
    assert counted.movement.reason.endswith(
        "10 to 11 available show 5 (50%); 11, the nearest to our 20"
    )
    drift.refresh_from_db()
    assert (drift.resolution, drift.movement_id) == ("accepted", counted.movement_id)


def test_allocated_units_stay_allocated_and_the_others_count_as_they_are(shop, make):
    channel, listing, wh, store = shop
    make.stock(listing.variant, wh, 10, allocated=4)
    make.stock(listing.variant, store, 2)
    Channel.objects.filter(pk=channel.pk).update(buffer=1, percentage=50)  # (8 - 1) / 2 = 3

    accept(listing, 2)  # (available 5 or 6 - 1) / 2: the nearer to ours, 6

    assert on_hand(listing, wh) == 8  # 4 available at WH1 + 2 at STORE = 6
    assert now_shows(listing) == 2


@pytest.mark.parametrize(
    ("rules", "shows", "why"),
    [
        ({"cap": 10}, 10, "HL shop shows 10, its cap: any 10 or more available shows that"),
        ({"zero_out_threshold": 3}, 0, "anything from 0 to 3 available shows 0"),
        ({"buffer": 2}, 0, "anything from 0 to 2 available shows 0 under its rules (buffer 2)"),
        ({"zero_out_threshold": 3}, 2, "HL shop shows 2: no stock gives that under its rules"),
    ],
    ids=["cap", "zero-out", "buffer", "below zero-out"],
)
def test_a_quantity_that_says_too_little_is_refused_and_a_count_offered(
    shop, make, rules, shows, why
):
    channel, listing, wh, _ = shop
    make.stock(listing.variant, wh, 6)
    Channel.objects.filter(pk=channel.pk).update(**rules)
    entries = StockTransaction.objects.count()

    with pytest.raises(InventoryError) as refused:
        accept(listing, shows)

    assert why in str(refused.value)
    assert "count TEE-M-BLA instead (Adjust stock on its page)" in str(refused.value)
    assert StockTransaction.objects.count() == entries  # nothing counted
    assert on_hand(listing, wh) == 6


def test_a_count_the_other_locations_already_exceed_is_refused(shop, make):
    _, listing, wh, store = shop
    make.stock(listing.variant, wh, 9)
    make.stock(listing.variant, store, 5)

    with pytest.raises(InventoryError) as refused:
        accept(listing, 3)

    assert "the other locations it sells hold 5 available" in str(refused.value)
    assert (on_hand(listing, wh), on_hand(listing, store)) == (9, 5)


def test_a_change_on_the_channels_side_is_accepted_under_its_rules_too(shop, make):
    channel, listing, wh, _ = shop
    make.stock(listing.variant, wh, 30)
    Channel.objects.filter(pk=channel.pk).update(
        percentage=50, remote_changes=Channel.RemoteChanges.ACCEPT
    )
    channel.refresh_from_db()

    note, movement = stock_change_apply(channel, StockChange(remote_id="price1", quantity=12))

    assert movement is not None, note
    assert on_hand(listing, wh) == 25  # 24 or 25 show 12: 25 is the nearest to our 30
    assert now_shows(listing) == 12
