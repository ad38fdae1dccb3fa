"""Push records are kept PUSH_RECORD_DAYS days; each listing's latest exchange and latest write
stay whatever their age, so its page still says what the channel was last sent."""

import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from connectors.models import Channel, Listing, PushRecord
from connectors.services.retention import push_records_purge

pytestmark = pytest.mark.django_db


@pytest.fixture
def listings(make):
    channel = Channel.objects.create(name="HL shop", platform="highlevel", base_url="http://x")
    return [
        Listing.objects.create(channel=channel, variant=make.variant(f"TEE-{i}"), remote_id=f"p{i}")
        for i in range(3)
    ]


def record(listings, purpose="write", days_old=40):
    channel = listings[0].channel if listings else Channel.objects.get()
    r = PushRecord.objects.create(
        channel=channel, purpose=purpose, method="POST", url="http://x", outcome="ok"
    )
    r.listings.set(listings)
    PushRecord.objects.filter(pk=r.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    return r.pk


def left():
    return set(PushRecord.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("batch", [1000, 2])
def test_old_records_go_but_each_listings_latest_exchange_and_write_stay(listings, batch):
    a, b, c = listings
    a_old_write, a_old_read, a_latest = record([a]), record([a], "read"), record([a])
    b_write = record([b])
    b_recent_read = record([b], "read", days_old=1)
    shared = record([a, c], "read")  # c's latest, though a has later ones: stays
    a_newest = record([a], "read", days_old=35)
    token = record([], "auth")
    recent_token = record([], "auth", days_old=2)

    deleted = push_records_purge(days=30, batch=batch)

    assert left() == {a_latest, a_newest, b_write, b_recent_read, shared, recent_token}
    assert deleted == 3  # a_old_write, a_old_read, token
    assert not PushRecord.listings.through.objects.filter(
        pushrecord_id__in=[a_old_write, a_old_read, token]
    ).exists()
    # The variant's page links each listing's latest write: still there.
    assert a.push_records.filter(purpose="write").order_by("-pk").first().pk == a_latest


def test_nothing_younger_than_the_setting_goes(listings, settings):
    settings.SYNC = {**settings.SYNC, "PUSH_RECORD_DAYS": 60}
    kept = {record(listings[:1]) for _ in range(3)} | {record([], "auth")}
    push_records_purge()
    assert left() == kept


def test_whatever_the_history_each_listings_latest_records_survive(listings):
    rng = random.Random(12)
    made = []
    for _ in range(300):
        linked = rng.sample(listings, rng.randint(0, 2))
        purpose = rng.choice(["write", "read", "auth"])
        days = rng.choice([1, 10, 31, 45, 90])
        made.append((record(linked, purpose, days), {x.pk for x in linked}, purpose, days))

    push_records_purge(days=30, batch=7)

    must = set()
    for listing in listings:
        mine = [m for m in made if listing.pk in m[1]]
        if mine:
            must.add(mine[-1][0])
        writes = [m for m in mine if m[2] == "write"]
        if writes:
            must.add(writes[-1][0])
    recent = {m[0] for m in made if m[3] < 30}
    assert left() == must | recent


def test_the_command_says_how_many_went(listings, capsys):
    record(listings[:1])
    record(listings[:1])
    call_command("purge_push_records", "--days", "30")
    assert "deleted 1 push record(s) older than 30 days" in capsys.readouterr().out
