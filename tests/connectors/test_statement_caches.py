"""A long-lived worker meets stock changes of every size: the statements built per size (the
stock service's and the listing state's) are cached, but only so many of them."""

import pytest

from connectors import listing_state
from connectors.models import Channel, Listing
from inventory.models import Source, StockLevel
from inventory.services import StockLine, stock_apply, stock_sql

pytestmark = pytest.mark.django_db

SIZED = (
    stock_sql._lock_sql,
    stock_sql._create_sql,
    stock_sql._ledger_sql,
    stock_sql._pg_document_sql,
    listing_state._stock_changed_sql,
)


def test_changes_of_many_sizes_keep_the_statement_caches_bounded(make):
    wh = make.location("WH1")
    channel = Channel.objects.create(name="HL shop", platform="highlevel", base_url="http://x")
    channel.locations.set([wh])
    sizes = stock_sql.SHAPES + 20
    variants = [make.variant(f"TEE-{i}") for i in range(sizes)]
    Listing.objects.bulk_create(
        Listing(channel=channel, variant=v, remote_id=f"p{v.pk}") for v in variants
    )
    listing_state.forget_sold_locations()
    for cache in SIZED:
        cache.cache_clear()

    for n in range(1, sizes + 1):  # one change of each size, from 1 to SHAPES + 20 lines
        stock_apply(
            lines=[
                StockLine(action="increment", quantity=1, variant_id=v.pk, location_id=wh.pk)
                for v in variants[:n]
            ],
            source=Source.ADMIN,
        )

    for cache in SIZED:
        assert cache.cache_info().currsize <= stock_sql.SHAPES, cache.__name__
    # The statements still did what they say: variant i was changed by sizes - i changes.
    on_hand = dict(StockLevel.objects.values_list("variant_id", "on_hand"))
    assert [on_hand[v.pk] for v in variants] == list(range(sizes, 0, -1))
    assert Listing.objects.filter(channel=channel, pending_since__isnull=False).count() == sizes
