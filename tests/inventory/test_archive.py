"""Discontinue instead of delete: archiving products and variants in the admin, what the
channels then get (a real push to a sandbox), restoring, and a delete refused by history
that explains itself and offers Archive."""

import django_rq
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from config.roles import CLERK, MANAGER, sync_roles
from connectors import tasks
from connectors.models import Channel, Listing
from connectors.platforms import registry
from connectors.platforms.sandbox.serve import start_sandbox
from inventory import selectors
from inventory.models import Product, Variant
from inventory.services import variant_archive
from tests.connectors.sandbox_client import Client

PLATFORM = "webflow"


def login(client, make, username, role=None, **kwargs):
    make.user(username, role=role, **kwargs)
    client.login(username=username, password="pw-for-tests-1")
    return client


def changelist(client, model="variant", **query):
    url = reverse(f"admin:inventory_{model}_changelist")
    return client.get(url, query).content.decode()


def archive_url(obj):
    return reverse(f"admin:inventory_{obj._meta.model_name}_archive", args=[obj.pk])


# --------------------------------------------------------------------------- the channels


@pytest.fixture(scope="module")
def sandbox_server():
    with start_sandbox(PLATFORM) as running:
        yield running


@pytest.fixture
def listed(make, sandbox_server, transactional_db):
    """BLUE-MUG (12 at WH1) and RED-MUG (4) listed on a Webflow sandbox, both pushed once."""
    sync_roles()
    redis = django_rq.get_connection("sync")
    for key in redis.scan_iter("inventory:sync-queued:*"):
        redis.delete(key)
    django_rq.get_queue("sync").empty()
    hooks = registry.get(PLATFORM).hooks()
    sandbox = Client(sandbox_server)
    sandbox.control("POST", "reset")
    items = hooks.make_items(2)
    hooks.seed(sandbox, items, quantity=0)
    wh = make.location("WH1")
    blue, red = make.variant("BLUE-MUG"), make.variant("RED-MUG")
    make.stock(blue, wh, 12)
    make.stock(red, wh, 4)
    channel = Channel.objects.create(
        name="Webflow shop",
        platform=PLATFORM,
        base_url=sandbox.url,
        credentials=hooks.credentials(),
        settings=hooks.settings(),
    )
    channel.locations.set([wh])
    make.listings(channel, [blue, red], items)
    tasks.sync_channel(channel.pk)

    def shows():
        return [hooks.remote_quantity(sandbox, item) for item in items]

    assert shows() == [12, 4]
    return channel, blue, red, shows


def test_archived_and_kept_listed_the_channel_is_sent_0_and_restore_sends_the_stock(
    client, make, listed
):
    channel, blue, _red, shows = listed
    manager = login(client, make, "mona", MANAGER)
    page = manager.get(archive_url(blue)).content.decode()
    assert "It is listed on 1 channel" in page
    response = manager.post(archive_url(blue), {"channels": "zero"})
    assert response.status_code == 302
    tasks.sync_channel(channel.pk)
    assert shows() == [0, 4]
    blue.refresh_from_db()
    assert blue.archived
    assert "Archived; kept listed" in LogEntry.objects.get(object_id=str(blue.pk)).change_message

    manager.post(reverse("admin:inventory_variant_restore", args=[blue.pk]))
    tasks.sync_channel(channel.pk)
    assert shows() == [12, 4]


def test_archived_and_unlisted_its_listings_go_and_nothing_more_is_sent(client, make, listed):
    channel, blue, red, shows = listed
    manager = login(client, make, "mona", MANAGER)
    response = manager.post(
        reverse("admin:inventory_variant_changelist"),
        {"action": "archive_unlist", "_selected_action": [blue.pk]},
    )
    assert response.status_code == 302
    assert not Listing.objects.filter(variant=blue).exists()
    assert Listing.objects.filter(variant=red).exists()
    make.stock(blue, channel.locations.get(), 30)
    assert tasks.sync_channel(channel.pk)["pushed"] == 0
    assert shows() == [12, 4]  # the channel's item is left as it was


# --------------------------------------------------------------------------- the admin


@pytest.fixture
def shop(make, db):
    sync_roles()
    wh = make.location("WH1")
    mug = make.variant("BLUE-MUG", product_obj=make.product("Blue mug"))
    make.stock(mug, wh, 5)
    return mug, wh


def test_an_archived_variant_leaves_the_default_list_and_the_filter_finds_it(client, make, shop):
    mug, _ = shop
    fresh = make.variant("GREEN-MUG")
    variant_archive(variants=[mug], unlist=False)
    manager = login(client, make, "mona", MANAGER)
    default = changelist(manager)
    assert "GREEN-MUG" in default
    assert "BLUE-MUG" not in default
    archived = changelist(manager, archived="yes")
    assert "BLUE-MUG" in archived
    assert fresh.sku not in archived
    page = manager.get(reverse("admin:inventory_variant_change", args=[mug.pk])).content.decode()
    assert "Archived " in page
    assert "Restore" in page


def test_archiving_a_product_archives_its_variants_and_restoring_brings_them_back(
    client, make, shop
):
    mug, _ = shop
    product = mug.product
    older = make.variant("BLUE-MUG-OLD", product_obj=product)
    variant_archive(variants=[older], unlist=False)  # discontinued before the product
    manager = login(client, make, "mona", MANAGER)
    response = manager.post(
        reverse("admin:inventory_product_changelist"),
        {"action": "archive_keep_listed", "_selected_action": [product.pk]},
    )
    assert response.status_code == 302
    assert "Blue mug" not in changelist(manager, "product")
    mug.refresh_from_db()
    assert mug.archived
    restore = reverse("admin:inventory_product_restore", args=[product.pk])
    followed = manager.get(restore)  # a link followed: the page with the button, no change
    assert followed.status_code == 302
    assert followed.url == reverse("admin:inventory_product_change", args=[product.pk])
    assert Product.objects.get(pk=product.pk).archived_at is not None
    manager.post(restore)
    mug.refresh_from_db()
    older.refresh_from_db()
    assert not mug.archived
    assert older.archived  # archived on its own, earlier: stays archived
    assert Product.objects.get(pk=product.pk).archived_at is None


def test_archiving_needs_the_archive_permission(client, make, shop):
    mug, _ = shop
    clerk = login(client, make, "carl", CLERK)
    assert clerk.get(archive_url(mug)).status_code == 403
    assert clerk.post(archive_url(mug), {"channels": "zero"}).status_code == 403
    assert "archive_unlist" not in changelist(clerk)
    mug.refresh_from_db()
    assert not mug.archived


def test_the_archive_page_refuses_a_missing_choice_with_words(client, make, shop):
    mug, _ = shop
    manager = login(client, make, "mona", MANAGER)
    page = manager.post(archive_url(mug), {}).content.decode()
    assert "Choose what the channels do with it" in page
    mug.refresh_from_db()
    assert not mug.archived


def test_an_archived_variant_is_neither_out_of_stock_nor_to_reorder(make, shop):
    mug, wh = shop
    Variant.objects.filter(pk=mug.pk).update(reorder_point=10)
    assert [v.sku for v in selectors.variants_to_reorder()] == ["BLUE-MUG"]
    make.stock(mug, wh, 0)
    assert dict((loc.code, t["out"]) for loc, t in selectors.stock_by_location())["WH1"] == 1
    variant_archive(variants=[mug], unlist=False)
    assert list(selectors.variants_to_reorder()) == []
    assert dict((loc.code, t["out"]) for loc, t in selectors.stock_by_location())["WH1"] == 0


def test_a_delete_that_history_forbids_explains_why_and_offers_archive(client, make, shop):
    mug, _ = shop
    boss = login(client, make, "boss", superuser=True)
    url = reverse("admin:inventory_variant_delete", args=[mug.pk])
    page = boss.get(url).content.decode()
    assert "permission" not in page
    assert "BLUE-MUG has 1 stock movement and a stock level at 1 location." in page
    assert "archive it instead" in page.lower()
    assert f'action="{archive_url(mug)}"' in page
    assert boss.post(url, {"post": "yes"}).status_code == 200  # the same page: nothing deleted
    assert Variant.objects.filter(pk=mug.pk).exists()

    product_page = boss.get(
        reverse("admin:inventory_product_delete", args=[mug.product.pk])
    ).content.decode()
    assert "Blue mug has 1 variant (BLUE-MUG) with 1 stock movement" in product_page


def test_a_variant_without_history_is_still_deleted_as_usual(client, make, shop):
    typo = make.variant("TYPO")
    boss = login(client, make, "boss", superuser=True)
    url = reverse("admin:inventory_variant_delete", args=[typo.pk])
    assert "Are you sure" in boss.get(url).content.decode()
    assert boss.post(url, {"post": "yes"}).status_code == 302
    assert not Variant.objects.filter(pk=typo.pk).exists()
