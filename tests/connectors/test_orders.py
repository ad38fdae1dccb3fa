"""An order's lines follow its stage through the stock service, each step once, whatever
order the news arrives in (connectors.services.orders), against the real database."""

import threading
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.db import connection

from connectors import queue
from connectors.models import Channel, ChannelOrder, Listing, OrderLine
from connectors.platforms import inbound
from connectors.quantities import targets_for
from connectors.services.orders import order_apply, order_reapply, order_retry_short, step_key
from inventory.models import Movement, Source, StockLevel
from inventory.services import StockLine, stock_apply

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def shop(db, make):
    wh1, wh2, back = make.location("WH1"), make.location("WH2"), make.location("RETURNS")
    mug = make.variant("MUG")
    make.stock(mug, wh1, 1)
    make.stock(mug, wh2, 5)
    web = Channel.objects.create(
        name="Web shop", platform="tally", base_url="http://127.0.0.1:9", allocation_order="wh1,WH2"
    )
    web.locations.set([wh1, wh2])
    Listing.objects.create(channel=web, variant=mug, remote_id="t-mug")
    return web, mug, wh1, wh2, back


def order(stage, *, quantity=1, status=None, at=0, lines=None, order_id="A-1"):
    lines = lines or (inbound.OrderLine("1", quantity, remote_id="t-mug"),)
    return inbound.Order(
        order_id, status or stage, stage, tuple(lines), updated_at=T0 + timedelta(minutes=at)
    )


def level(variant, location):
    row = StockLevel.objects.get(variant=variant, location=location)
    return row.on_hand, row.allocated


def channel_moves():
    return Movement.objects.filter(source=Source.CHANNEL).count()


def test_a_paid_order_allocates_at_the_first_location_with_enough(shop):
    web, mug, wh1, wh2, _ = shop
    applied = order_apply(web, order(inbound.OPEN, quantity=2))
    assert level(mug, wh1) == (1, 0)  # WH1 comes first but holds only one
    assert level(mug, wh2) == (5, 2)
    line = OrderLine.objects.get()
    assert (line.state, line.location.code) == ("allocated", "WH2")
    movement = applied.movements[0]
    assert movement.reference == "Web shop order A-1"
    assert movement.idempotency_key == step_key(web, "A-1", "1", "allocate")


def test_the_same_news_twice_or_by_poll_and_webhook_applies_once(shop):
    web, mug, wh1, _, _ = shop
    for _ in range(3):
        order_apply(web, order(inbound.OPEN))
    assert level(mug, wh1) == (1, 1)
    assert channel_moves() == 1


def test_shipped_before_placed_allocates_and_ships_and_an_old_paid_changes_nothing(shop):
    web, mug, wh1, _, _ = shop
    order_apply(web, order(inbound.FULFILLED, at=5))
    assert level(mug, wh1) == (0, 0)  # on hand and allocated down together
    order_apply(web, order(inbound.OPEN, status="paid", at=1))  # the late "paid"
    assert level(mug, wh1) == (0, 0)
    stored = ChannelOrder.objects.get()
    assert (stored.stage, stored.status) == ("fulfilled", "fulfilled")
    assert channel_moves() == 2
    ship = Movement.objects.get(idempotency_key=step_key(web, "A-1", "1", "ship"))
    assert sorted(ship.lines.values_list("action", flat=True)) == ["deallocate", "decrement"]


def test_cancel_releases_and_a_restocked_return_counts_back_in(shop):
    web, mug, wh1, _, back = shop
    order_apply(web, order(inbound.OPEN))
    order_apply(web, order(inbound.CANCELLED, at=1))
    assert level(mug, wh1) == (1, 0)
    assert OrderLine.objects.get().state == "cancelled"
    web.return_location = back
    web.save()
    order_apply(web, order(inbound.FULFILLED, order_id="B-2"))
    order_apply(web, order(inbound.RETURNED, order_id="B-2", at=2))
    assert level(mug, wh1) == (0, 0)
    assert level(mug, back) == (1, 0)
    assert OrderLine.objects.get(order__remote_id="B-2").state == "returned"


def test_a_sale_with_no_stock_is_short_never_below_zero_and_every_channel_shows_0(shop, make):
    web, mug, wh1, wh2, _ = shop
    other = Channel.objects.create(name="Market", platform="tally", base_url="http://127.0.0.1:9")
    other.locations.set([wh1, wh2])
    order_apply(web, order(inbound.OPEN, quantity=9))
    assert level(mug, wh1) == (1, 0)
    assert level(mug, wh2) == (5, 0)
    line = OrderLine.objects.get()
    assert line.state == "short"
    assert "no stock to allocate 9 at WH1, WH2" in line.note
    for channel in (web, other):
        target = targets_for(channel, [mug])[mug.pk]
        assert target.quantity == 0
        assert "oversold" in target.explanation
    # Goods come in; staff (or the next news of the order) try again: allocated.
    stock_apply(
        lines=[StockLine("increment", 10, variant_id=mug.pk, location_id=wh2.pk)],
        source=Source.ADMIN,
    )
    order_retry_short(ChannelOrder.objects.get())
    assert level(mug, wh2) == (15, 9)
    assert targets_for(other, [mug])[mug.pk].quantity == 7


def test_an_order_for_an_unknown_item_is_held_whole_until_it_is_listed(shop, make):
    web, mug, wh1, _, _ = shop
    tee = make.variant("TEE")
    make.stock(tee, wh1, 4)
    lines = (
        inbound.OrderLine("1", 1, remote_id="t-mug"),
        inbound.OrderLine("2", 1, remote_id="t-tee", sku="TEE"),
    )
    applied = order_apply(web, order(inbound.OPEN, lines=lines))
    assert "no listing on this channel for line '2' (SKU 'TEE' item t-tee)" in applied.attention
    assert channel_moves() == 0  # not half-applied: the mug is not allocated either
    Listing.objects.create(channel=web, variant=tee, remote_id="t-tee")
    stored = ChannelOrder.objects.get()
    assert order_reapply(stored).attention == ""
    assert level(mug, wh1) == (1, 1)
    assert level(tee, wh1) == (4, 1)


def test_a_line_is_found_by_sku_when_its_remote_id_is_unknown(shop):
    web, mug, wh1, _, _ = shop
    lines = (inbound.OrderLine("1", 1, remote_id="renamed", sku="MUG"),)
    order_apply(web, order(inbound.OPEN, lines=lines))
    assert level(mug, wh1) == (1, 1)


def test_untracked_and_backorder_variants_allocate_where_stock_is_short(shop, make):
    web, _, wh1, _, _ = shop
    card = make.variant("GIFT", tracked=False)
    pre = make.variant("PRE", allow_backorder=True)
    for v, rid in ((card, "t-gift"), (pre, "t-pre")):
        Listing.objects.create(channel=web, variant=v, remote_id=rid)
    lines = (
        inbound.OrderLine("1", 3, remote_id="t-gift"),
        inbound.OrderLine("2", 2, remote_id="t-pre"),
    )
    order_apply(web, order(inbound.OPEN, lines=lines))
    assert sorted(OrderLine.objects.values_list("state", flat=True)) == ["allocated", "allocated"]
    assert level(pre, wh1) == (0, 2)


def test_long_ids_make_a_key_that_fits(shop):
    web, *_ = shop
    key = step_key(web, "o" * 128, "l" * 128, "allocate")
    assert len(key) <= 255
    assert key != step_key(web, "o" * 128, "l" * 127 + "x", "allocate")


@pytest.mark.django_db(transaction=True)
def test_two_workers_taking_in_the_same_order_at_once_apply_it_once(make):
    wh1 = make.location("WH1")
    mug = make.variant("MUG")
    make.stock(mug, wh1, 10)
    web = Channel.objects.create(name="Web", platform="tally", base_url="http://127.0.0.1:9")
    web.locations.set([wh1])
    Listing.objects.create(channel=web, variant=mug, remote_id="t-mug")
    barrier = threading.Barrier(4)
    errors = []

    def take_in(stage):
        try:
            barrier.wait()
            order_apply(web, order(stage, quantity=3))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=take_in, args=(s,))
        for s in (inbound.OPEN, inbound.OPEN, inbound.FULFILLED, inbound.FULFILLED)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert level(mug, wh1) == (7, 0)
    assert Movement.objects.filter(source=Source.CHANNEL).count() == 2


def test_a_sale_is_pushed_at_once_and_a_staff_change_after_a_moment(
    shop, settings, django_capture_on_commit_callbacks
):
    """Each second the other channels show a sold unit they may sell it again: a channel's
    sale queues its pushes now; a staff change waits SYNC_COALESCE to gather a burst."""
    web, mug, wh1, _, _ = shop
    settings.SYNC = {**settings.SYNC, "COALESCE": 30}
    redis = django_rq.get_connection("sync")
    jobs = django_rq.get_queue("sync")
    for key in redis.scan_iter("inventory:sync-queued:*"):
        redis.delete(key)
    jobs.empty()
    for job_id in jobs.scheduled_job_registry.get_job_ids():
        jobs.scheduled_job_registry.remove(job_id, delete_job=True)
    # Requests gathered by earlier tests' transactions (rolled back, never committed) would
    # go out with this one's.
    queue._wanted.ids = None
    with django_capture_on_commit_callbacks(execute=True):
        order_apply(web, order(inbound.OPEN))
    assert (jobs.count, jobs.scheduled_job_registry.count) == (1, 0)
    jobs.empty()
    redis.delete(f"inventory:sync-queued:{web.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        stock_apply(
            lines=[StockLine("increment", 1, variant_id=mug.pk, location_id=wh1.pk)],
            source=Source.ADMIN,
        )
    assert (jobs.count, jobs.scheduled_job_registry.count) == (0, 1)
