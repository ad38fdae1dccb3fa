"""The push engine with one channel (HighLevel's sandbox, over real HTTP), run in-process."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connectors import listing_state, tasks
from connectors.models import Channel, Listing, PushRecord
from connectors.services.channel_io import channel_test_connection
from connectors.services.push import sync_channel_run
from inventory.display import when
from inventory.models import StockTransaction

pytestmark = pytest.mark.django_db

LOCATION = "6578278e879ad2646715ba9c"
OAUTH = {
    "client_id": "hl-sandbox-client-id",
    "client_secret": "hl-sandbox-client-secret",
    "refresh_token": "hl-sandbox-refresh-token",
}


@pytest.fixture
def shop(make, running_highlevel):
    sandbox = running_highlevel
    wh, store = make.location("WH1"), make.location("STORE", kind="store")
    make.location("SUPPLIER", kind="supplier")  # not sold on the channel
    tee, cap = make.variant("TEE-M"), make.variant("CAP")
    make.stock(tee, wh, 10)
    make.stock(tee, store, 3)
    channel = Channel.objects.create(
        name="HL shop",
        platform="highlevel",
        base_url=sandbox.url,
        credentials=dict(OAUTH),
        settings={"location_id": LOCATION},
        buffer=1,
    )
    channel.locations.set([wh, store])
    sandbox.seed(
        items=[
            {"priceId": "price-tee", "availableQuantity": 0},
            {"priceId": "price-cap", "availableQuantity": 0},
        ]
    )
    tee_listing = Listing.objects.create(channel=channel, variant=tee, remote_id="price-tee")
    cap_listing = Listing.objects.create(channel=channel, variant=cap, remote_id="price-cap")
    return sandbox, channel, tee_listing, cap_listing


def push(channel):
    """Run the engine on the channel's pending listings (every listing starts pending)."""
    return sync_channel_run(channel.pk, "test-run")


def remote(sandbox, price_id):
    return sandbox.state()["locations"][LOCATION][price_id]["availableQuantity"]


def test_a_push_sends_each_target_and_keeps_what_the_channel_confirmed(shop):
    sandbox, channel, tee, cap = shop
    assert push(channel).pushed == 2
    assert set(Listing.objects.values_list("status", flat=True)) == {"ok"}
    assert (remote(sandbox, "price-tee"), remote(sandbox, "price-cap")) == (12, 0)
    tee.refresh_from_db()
    assert (tee.confirmed_quantity, tee.status) == (12, "ok")
    write = PushRecord.objects.get(purpose="write")
    assert (write.status, write.outcome, write.attempt) == (201, "ok", 1)
    assert write.ledger_entry_id == StockTransaction.objects.latest("pk").pk
    assert set(write.listings.values_list("pk", flat=True)) == {tee.pk, cap.pk}
    assert {i["key"]: i["quantity"] for i in write.items} == {tee.pk: 12, cap.pk: 0}


def test_a_refused_item_fails_only_its_own_listing(shop, make):
    sandbox, channel, tee, _ = shop
    ghost = Listing.objects.create(channel=channel, variant=make.variant("GHOST"), remote_id="nope")

    assert push(channel).failed == 1
    ghost.refresh_from_db()
    tee.refresh_from_db()
    assert ghost.status == "failed"
    assert "nope" in ghost.last_error
    assert (tee.status, remote(sandbox, "price-tee")) == ("ok", 12)


def test_push_records_hold_no_secret(shop):
    _, channel, _, _ = shop
    push(channel)
    channel.refresh_from_db()
    secrets = [
        *OAUTH.values(),
        channel.auth_state["access_token"],
        channel.auth_state["refresh_token"],
    ]
    for record in PushRecord.objects.all():
        stored = (
            f"{record.url} {record.request_headers} {record.request_body} {record.response_body}"
        )
        assert not [s for s in secrets if s in stored], record.purpose
    assert PushRecord.objects.filter(purpose="auth").exists()


def test_a_rotated_refresh_token_is_kept_for_the_next_push(shop):
    _, channel, _, _ = shop
    push(channel)
    fresh = Channel.objects.get(pk=channel.pk)
    assert fresh.auth_state["refresh_token"] != OAUTH["refresh_token"]
    # Force a new token (the rotated refresh token is needed) and a new push.
    Channel.objects.filter(pk=channel.pk).update(auth_state={**fresh.auth_state, "expires_at": 0})
    # Pending again, and as if never confirmed: sent even though the targets did not move.
    Listing.objects.update(pending_since=timezone.now(), status="pending", confirmed_at=None)
    assert push(channel).pushed == 2
    assert Channel.objects.get(pk=channel.pk).last_error == ""


def test_bad_credentials_are_recorded_on_the_channel(shop):
    _, channel, tee, _ = shop
    Channel.objects.filter(pk=channel.pk).update(credentials={"token": "pit-wrong"})
    assert push(channel).stopped == "paused"
    channel.refresh_from_db()
    assert channel.mode == "paused"
    assert channel.last_error.startswith("bad credentials: highlevel refused the credentials (401)")
    assert PushRecord.objects.get().outcome == "auth"
    tee.refresh_from_db()
    assert tee.status == "pending"


def test_test_connection_reads_one_level(shop):
    _, channel, _, _ = shop
    assert channel_test_connection(channel) == "authenticated; CAP shows 0"  # first by SKU


def test_each_item_records_the_ledger_entry_its_own_quantity_reflects(shop):
    _sandbox, channel, tee, cap = shop
    push(channel)
    write = PushRecord.objects.get(purpose="write")
    newest = {
        listing.pk: StockTransaction.objects.filter(variant=listing.variant_id)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
        for listing in (tee, cap)
    }
    assert {i["key"]: i["ledger_entry"] for i in write.items} == newest  # CAP has none
    assert {i["key"]: i["sku"] for i in write.items} == {tee.pk: "TEE-M", cap.pk: "CAP"}
    assert write.ledger_entry_id == max(e for e in newest.values() if e)


def test_a_push_records_outcome_per_item_names_each_sku_and_links_its_listing(shop, admin_client):
    _sandbox, channel, tee, cap = shop
    push(channel)
    write = PushRecord.objects.get(purpose="write")
    html = admin_client.get(reverse("admin:connectors_pushrecord_change", args=[write.pk]))
    html = html.content.decode()
    for listing, sku in ((tee, "TEE-M"), (cap, "CAP")):
        link = reverse("admin:connectors_listing_change", args=[listing.pk])
        assert f'<a href="{link}">{sku}</a>' in html
    assert '"key"' not in html.split('class="push-items"')[1].split("</table>")[0]


def test_a_push_record_counts_the_attempt_it_was(shop):
    sandbox, channel, tee, _cap = shop
    sandbox.fail(error_next=1, error_statuses=[503], paths=["/products/inventory"])
    assert push(channel).stopped == "transient"
    Listing.objects.filter(channel=channel).update(next_attempt_at=None)  # backoff over
    assert push(channel).pushed == 2
    attempts = list(
        PushRecord.objects.filter(purpose="write").order_by("pk").values_list("attempt", "status")
    )
    assert attempts == [(1, 503), (2, 201)]
    tee.refresh_from_db()
    assert tee.attempts == 0  # confirmed: counting starts again


def test_the_last_confirmation_stands_on_the_variant_page_after_a_failed_push(
    shop, admin_client, make
):
    sandbox, channel, tee, _cap = shop
    push(channel)  # the channel confirms 12
    make.stock(tee.variant, channel.locations.get(code="WH1"), 7)  # a change to send
    sandbox.fail(error_next=1, error_statuses=[503], paths=["/products/inventory"])
    assert push(channel).stopped == "transient"
    tee.refresh_from_db()
    page = admin_client.get(reverse("admin:inventory_variant_change", args=[tee.variant_id]))
    html = page.content.decode()
    confirmed = when(tee.last_confirmed_at)
    assert f"last confirmed 12 at {confirmed}; the latest attempt failed at " in html
    assert "503" in html
    assert "never confirmed" not in html
    assert "Attempt 2 of 6" in html or "attempt 2 of 6" in html  # the retry its record will carry


def test_push_all_now_sends_what_a_channel_lost_even_where_nothing_moved(shop):
    sandbox, channel, _tee, _ = shop
    push(channel)
    sandbox.seed(items=[{"priceId": "price-tee", "availableQuantity": 0}])  # the store lost it
    out = StringIO()
    call_command("push", "--channel", channel.name, "--all", "--now", stdout=out)
    assert "pushed 2" in out.getvalue()
    assert remote(sandbox, "price-tee") == 12


def test_a_listing_saved_by_staff_never_overwrites_its_sync_state(shop):
    _, channel, tee, _ = shop
    stale = Listing.objects.get(pk=tee.pk)  # loaded before the worker's push
    push(channel)
    stale.remote_parent_id = ""  # an edit of the ids' form, saved with the old copy
    stale.save()
    tee.refresh_from_db()
    assert (tee.status, tee.confirmed_quantity, tee.pending_since) == ("ok", 12, None)


def test_a_run_whose_claim_was_taken_over_writes_nothing_of_it(shop, settings):
    channel = shop[1]
    mine = listing_state.claim(channel, "slow-run", 1)[0]
    expired = timezone.now() - timedelta(seconds=settings.SYNC["CLAIM_TTL"] + 1)
    Listing.objects.filter(pk=mine.pk).update(claimed_at=expired)
    assert listing_state.claim(channel, "fresh-run", 1)[0].pk == mine.pk  # taken over
    assert listing_state.keep_claims("slow-run", [mine.pk]) == set()
    listing_state.confirm({mine.pk: 99}, "slow-run")  # the slow run's late answer
    listing_state.release([mine.pk], "slow-run")
    mine.refresh_from_db()
    assert (mine.claimed_by, mine.confirmed_quantity, mine.pending_since is None) == (
        "fresh-run",
        None,
        False,
    )


def test_a_poll_of_an_unreachable_channel_is_one_warning_and_noted_on_the_channel(shop, caplog):
    _sandbox, channel, _tee, _cap = shop
    Channel.objects.filter(pk=channel.pk).update(base_url="http://127.0.0.1:9")  # nothing there
    with caplog.at_level(logging.WARNING, logger="connectors.tasks"):
        result = tasks.poll_channel(channel.pk)  # as the worker runs it: no exception escapes
    assert result["error"].startswith("TransientError")
    channel.refresh_from_db()
    assert channel.last_poll_error.startswith("TransientError")
    warnings = [r for r in caplog.records if r.name == "connectors.tasks"]
    assert [r.getMessage().split(":")[0] for r in warnings] == ["polling HL shop failed"]
    assert all(r.exc_info is None for r in warnings)  # a line, not a traceback
