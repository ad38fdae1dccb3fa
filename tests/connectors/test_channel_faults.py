"""Faults of a channel that are not the item's nor the credentials' fault: a token endpoint
that is down or rate limited, and a sale on Elastic Path between our read and our write.
Real engine runs (connectors.services.push) against the sandboxes over HTTP."""

import pytest

from connectors.models import Channel, ChannelOrder, Listing, PushRecord
from connectors.platforms.sandbox.serve import start_sandbox
from connectors.services.push import sync_channel_run
from tests.connectors.sandbox_client import Client

pytestmark = pytest.mark.django_db

TOKEN_PATHS = {"highlevel": "/oauth/token", "elasticpath": "/oauth/access_token"}


@pytest.fixture(scope="module", params=sorted(TOKEN_PATHS))
def running(request):
    with start_sandbox(request.param) as sandbox:
        yield sandbox


@pytest.fixture
def listed(running, make, settings):
    """A live channel on the sandbox with one listing, pending: our target is 7."""
    settings.SYNC = {**settings.SYNC, "BACKOFF_BASE": 0.01, "BACKOFF_MAX": 0.01}
    sandbox = Client(running)
    sandbox.control("POST", "reset")
    hooks = sandbox.hooks
    [item] = hooks.make_items(1)
    hooks.seed(sandbox, [item], quantity=0)
    if running.platform == "highlevel":  # its 429 says to wait a bucket's interval: 1 s
        sandbox.seed(settings={"burst_interval_ms": 1000})
    wh = make.location("WH1")
    variant = make.variant("TEE-M-BLA")
    make.stock(variant, wh, 7)
    channel = Channel.objects.create(
        name=f"{running.platform} shop",
        platform=running.platform,
        base_url=sandbox.url,
        credentials=hooks.credentials(),
        settings=hooks.settings(),
    )
    channel.locations.set([wh])
    listing = Listing.objects.create(channel=channel, variant=variant, remote_id=item.remote_id)
    return channel, listing, sandbox, item


def run(channel):
    """One engine run, as a worker does it; a listing retried later is made due at once."""
    report = sync_channel_run(channel.pk, "test-run")
    Listing.objects.filter(channel=channel).update(next_attempt_at=None)
    return report


@pytest.mark.parametrize(
    ("switch", "stopped", "outcome"),
    [
        ({"error_next": 1, "error_statuses": [503]}, "transient", "transient"),
        ({"error_next": 1, "error_statuses": [500]}, "transient", "transient"),
        ({"drop_next": 1}, "transient", "transient"),
        ({"rate_limit_next": 1}, "rate limited", "rate_limited"),
    ],
    ids=["503", "500", "dropped", "429"],
)
def test_a_failing_token_endpoint_waits_and_retries_without_pausing(
    listed, switch, stopped, outcome
):
    channel, listing, sandbox, item = listed
    sandbox.fail(include_auth=True, paths=[TOKEN_PATHS[channel.platform]], **switch)

    report = run(channel)

    channel.refresh_from_db()
    assert report.stopped == stopped
    assert channel.mode == Channel.Mode.LIVE, channel.paused_reason
    assert channel.paused_reason == ""
    assert report.retry_in is not None  # the next push is already asked for
    token = PushRecord.objects.get(channel=channel, purpose="auth")
    assert token.outcome == outcome
    assert sandbox.hooks.remote_quantity(sandbox, item) == 0  # nothing sent meanwhile

    run(channel)  # the endpoint answers again

    listing.refresh_from_db()
    assert sandbox.hooks.remote_quantity(sandbox, item) == 7
    assert (listing.status, listing.pending_since, listing.confirmed_quantity) == ("ok", None, 7)


def test_refused_credentials_still_pause_the_channel(listed):
    channel, listing, _, _ = listed
    Channel.objects.filter(pk=channel.pk).update(
        credentials={**channel.credentials, "client_secret": "not-the-secret"}
    )

    report = run(channel)

    channel.refresh_from_db()
    assert report.stopped == "paused"
    assert channel.mode == Channel.Mode.PAUSED
    assert channel.paused_reason.startswith("bad credentials")
    assert "(401)" in channel.paused_reason
    listing.refresh_from_db()
    assert listing.pending_since is not None  # kept for when the credentials are fixed


@pytest.mark.parametrize("running", ["elasticpath"], indirect=True)
def test_a_checkout_between_our_read_and_our_decrement_is_taken_in_and_sent_again(listed, make):
    channel, listing, sandbox, item = listed
    make.stock(listing.variant, channel.locations.get(), 10)
    Channel.objects.filter(pk=channel.pk).update(buffer=3)  # we should show 10 - 3 = 7
    sandbox.hooks.seed(sandbox, [item], quantity=10)
    # A shopper pays for 8 right after our read: our decrement of 3 finds 2 available.
    sale = {"after_read": True, "lines": [{"remote_id": item.remote_id, "quantity": 8}]}
    sandbox.control("POST", "orders", sale)

    report = run(channel)

    listing.refresh_from_db()
    assert (report.stopped, report.failed) == ("", 0)
    assert listing.status == "ok"
    refused = PushRecord.objects.get(channel=channel, status=422)
    assert "insufficient stock levels" in refused.items[0]["message"]
    # The sale was taken in before sending again: 10 - 8 allocated = 2, less the buffer: 0.
    order = ChannelOrder.objects.get(channel=channel)
    assert order.lines.get().state == "allocated"
    assert listing.confirmed_quantity == 0
    stock = sandbox.state()["stock"][item.remote_id]
    assert (stock["available"], stock["allocated"]) == (0, 8)  # the sale stays held there
    writes = PushRecord.objects.filter(channel=channel, purpose="write").count()
    run(channel)  # the sale's own change left it pending: the channel already shows it
    listing.refresh_from_db()
    assert listing.pending_since is None
    assert PushRecord.objects.filter(channel=channel, purpose="write").count() == writes
